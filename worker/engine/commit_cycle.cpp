#include "worker/engine/commit_cycle.h"

namespace auditor {

CommitCycle::CommitCycle(CommitLimits limits, ClockMs now)
    : limits_(limits), next_seal_(now.value + limits.interval.value) {}

RecordRoute CommitCycle::route(std::size_t bytes) {
  switch (phase_) {
    case CommitPhase::kIdle:
      phase_ = CommitPhase::kOpen;
      dirty_ = true;
      return RecordRoute::kBegin;
    case CommitPhase::kOpen:
      return RecordRoute::kProduce;
    case CommitPhase::kInFlight:
      deferred_bytes_ += bytes;
      return RecordRoute::kDefer;
    case CommitPhase::kDoomed:
    case CommitPhase::kStopped:
      return RecordRoute::kDrop;
  }
  return RecordRoute::kDrop;
}

void CommitCycle::build_failed(bool fatal) {
  if (fatal) {
    stop();
  } else if (phase_ != CommitPhase::kStopped) {
    phase_ = CommitPhase::kDoomed;
  }
}

void CommitCycle::stop() {
  if (phase_ == CommitPhase::kInFlight) stopped_in_flight_ = true;
  phase_ = CommitPhase::kStopped;
}

bool CommitCycle::deferred_full() const {
  return deferred_bytes_ >= limits_.max_deferred_bytes;
}

CommitCycle::Step CommitCycle::step(ClockMs now, bool in_flight_done,
                                    std::size_t pending_entries) const {
  Step s;
  if (phase_ == CommitPhase::kStopped) return s;
  const bool full = pending_entries >= limits_.max_pending_entries;
  // One commit at a time: a full buffer or deferral budget waits for the one in flight.
  if (phase_ == CommitPhase::kInFlight) s.complete = in_flight_done || deferred_full() || full;
  const bool in_flight_after = phase_ == CommitPhase::kInFlight && !s.complete;
  s.seal = !in_flight_after && (now.value >= next_seal_.value || full);
  return s;
}

SealOutcome CommitCycle::begin_seal(ClockMs now) {
  next_seal_ = ClockMs{now.value + limits_.interval.value};
  switch (phase_) {
    case CommitPhase::kStopped:
      return SealOutcome::kStop;
    case CommitPhase::kDoomed:
      return SealOutcome::kRewind;
    case CommitPhase::kOpen:
      return SealOutcome::kBuild;
    case CommitPhase::kIdle:
      return dirty_ ? SealOutcome::kBuild : SealOutcome::kEmpty;
    case CommitPhase::kInFlight:
      break;
  }
  return SealOutcome::kEmpty;  // requires !in_flight(): nothing to seal
}

SealOutcome CommitCycle::end_seal() {
  switch (phase_) {
    case CommitPhase::kStopped:
      return SealOutcome::kStop;
    case CommitPhase::kDoomed:
      return SealOutcome::kRewind;
    case CommitPhase::kIdle:
    case CommitPhase::kOpen:
      phase_ = CommitPhase::kInFlight;
      dirty_ = false;
      return SealOutcome::kStarted;
    case CommitPhase::kInFlight:
      break;
  }
  return SealOutcome::kEmpty;
}

AfterCommit CommitCycle::finished(CommitStatus status) {
  stopped_in_flight_ = false;
  if (phase_ == CommitPhase::kStopped) return AfterCommit::kStop;
  switch (status) {
    case CommitStatus::kOk:
      phase_ = CommitPhase::kIdle;
      deferred_bytes_ = 0;
      return AfterCommit::kApplyStores;
    case CommitStatus::kAborted:
      phase_ = CommitPhase::kDoomed;
      return AfterCommit::kRewind;
    case CommitStatus::kFatal:
      phase_ = CommitPhase::kStopped;
      return AfterCommit::kStop;
  }
  return AfterCommit::kStop;
}

void CommitCycle::rewound() {
  if (phase_ == CommitPhase::kStopped) return;
  phase_ = CommitPhase::kIdle;
  dirty_ = false;
  deferred_bytes_ = 0;
}

CommitCycle::BeforeRevoke CommitCycle::before_revoke(bool lost) const {
  BeforeRevoke b;
  b.complete = in_flight();
  b.abort_and_rewind = lost;
  b.commit = !lost && !stopped();
  return b;
}

CommitCycle::BeforeStop CommitCycle::before_stop() const {
  return {in_flight(), !stopped()};
}

}  // namespace auditor
