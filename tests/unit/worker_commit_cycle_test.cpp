// The commit decisions of the stream engine (worker/engine/commit_cycle.h), driven without a
// broker: when a commit is sealed, where records go while one is in flight, what follows
// each outcome, and what a revocation or a stop must do first. The last test drives random
// event sequences against a small reference model written from the header's contracts.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <random>
#include <string>

#include "worker/engine/commit_cycle.h"

namespace auditor {

// Readable failure messages (found by argument-dependent lookup, so in this namespace;
// static keeps them out of other test files' way).
static void PrintTo(CommitPhase p, std::ostream* os) {
  constexpr const char* kNames[] = {"kIdle", "kOpen", "kDoomed", "kInFlight", "kStopped"};
  *os << kNames[static_cast<int>(p)];
}
static void PrintTo(RecordRoute r, std::ostream* os) {
  constexpr const char* kNames[] = {"kBegin", "kProduce", "kDefer", "kDrop"};
  *os << kNames[static_cast<int>(r)];
}
static void PrintTo(SealOutcome s, std::ostream* os) {
  constexpr const char* kNames[] = {"kBuild", "kEmpty", "kStarted", "kRewind", "kStop"};
  *os << kNames[static_cast<int>(s)];
}
static void PrintTo(AfterCommit a, std::ostream* os) {
  constexpr const char* kNames[] = {"kApplyStores", "kRewind", "kStop"};
  *os << kNames[static_cast<int>(a)];
}

namespace {

constexpr std::int64_t kStart = 1'000'000;
constexpr std::int64_t kInterval = 100;
constexpr std::size_t kMaxPending = 10;
constexpr std::size_t kMaxDeferred = 100;

CommitLimits limits() {
  CommitLimits l;
  l.interval = DurationMs{kInterval};
  l.max_pending_entries = kMaxPending;
  l.max_deferred_bytes = kMaxDeferred;
  return l;
}

ClockMs at(std::int64_t ms_after_start) {
  return ClockMs{kStart + ms_after_start};
}

// A cycle with one record produced and its commit started on the commit thread.
CommitCycle in_flight_cycle() {
  CommitCycle c(limits(), at(0));
  EXPECT_EQ(c.route(10), RecordRoute::kBegin);
  EXPECT_EQ(c.begin_seal(at(kInterval)), SealOutcome::kBuild);
  EXPECT_EQ(c.end_seal(), SealOutcome::kStarted);
  EXPECT_TRUE(c.in_flight());
  return c;
}

// --- Opening the transaction -------------------------------------------------------------

TEST(CommitCycle, RecordsBeforeAnyCommitBeginTheTransactionOnceThenProduce) {
  CommitCycle c(limits(), at(0));
  EXPECT_EQ(c.phase(), CommitPhase::kIdle);
  EXPECT_EQ(c.route(10), RecordRoute::kBegin);
  EXPECT_EQ(c.phase(), CommitPhase::kOpen);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(c.route(10), RecordRoute::kProduce);
  EXPECT_EQ(c.phase(), CommitPhase::kOpen);
  EXPECT_EQ(c.deferred_bytes(), 0u);  // produced, not deferred
}

// --- The commit interval -----------------------------------------------------------------

TEST(CommitCycle, StepSealsOnlyWhenTheIntervalIsDue) {
  CommitCycle c(limits(), at(0));
  (void)c.route(10);
  for (const std::int64_t t : {0, 1, 50, 99}) {
    const auto s = c.step(at(t), false, kMaxPending - 1);
    EXPECT_FALSE(s.seal) << "at +" << t << "ms";
    EXPECT_FALSE(s.complete) << "nothing is in flight";
  }
  EXPECT_TRUE(c.step(at(100), false, 0).seal);
  EXPECT_TRUE(c.step(at(1'000), false, 0).seal);
  EXPECT_FALSE(c.step(at(100), false, 0).complete);
}

TEST(CommitCycle, StepSealsEarlyWhenPendingEntriesReachTheLimit) {
  CommitCycle c(limits(), at(0));
  (void)c.route(10);
  EXPECT_FALSE(c.step(at(1), false, kMaxPending - 1).seal);
  EXPECT_TRUE(c.step(at(1), false, kMaxPending).seal);
  EXPECT_TRUE(c.step(at(1), false, kMaxPending + 5).seal);
}

TEST(CommitCycle, BeginSealRestartsTheInterval) {
  CommitCycle c(limits(), at(0));
  (void)c.route(10);
  ASSERT_TRUE(c.step(at(130), false, 0).seal);  // late: due since +100
  EXPECT_EQ(c.begin_seal(at(130)), SealOutcome::kBuild);
  EXPECT_EQ(c.end_seal(), SealOutcome::kStarted);
  EXPECT_EQ(c.finished(CommitStatus::kOk), AfterCommit::kApplyStores);
  // The next interval counts from the seal (+130), not from when the last one was due.
  EXPECT_FALSE(c.step(at(200), false, 0).seal);
  EXPECT_FALSE(c.step(at(229), false, 0).seal);
  EXPECT_TRUE(c.step(at(230), false, 0).seal);

  // An empty seal restarts it too.
  EXPECT_EQ(c.begin_seal(at(230)), SealOutcome::kEmpty);
  EXPECT_FALSE(c.step(at(329), false, 0).seal);
  EXPECT_TRUE(c.step(at(330), false, 0).seal);
}

// --- Sealing -----------------------------------------------------------------------------

TEST(CommitCycle, NothingProcessedSealsEmpty) {
  CommitCycle c(limits(), at(0));
  EXPECT_EQ(c.begin_seal(at(100)), SealOutcome::kEmpty);
  EXPECT_EQ(c.phase(), CommitPhase::kIdle);

  // Nor after a commit when nothing came since.
  (void)c.route(10);
  EXPECT_EQ(c.begin_seal(at(200)), SealOutcome::kBuild);
  EXPECT_EQ(c.end_seal(), SealOutcome::kStarted);
  EXPECT_EQ(c.finished(CommitStatus::kOk), AfterCommit::kApplyStores);
  EXPECT_EQ(c.begin_seal(at(300)), SealOutcome::kEmpty);
  EXPECT_EQ(c.phase(), CommitPhase::kIdle);
}

TEST(CommitCycle, ProcessedInputWithoutRecordsStillBuildsACommit) {
  // A record read that produced nothing still moves the input offsets: they need a commit.
  CommitCycle c(limits(), at(0));
  c.processed();
  EXPECT_EQ(c.begin_seal(at(100)), SealOutcome::kBuild);
  EXPECT_EQ(c.end_seal(), SealOutcome::kStarted);
  EXPECT_TRUE(c.in_flight());
  EXPECT_EQ(c.finished(CommitStatus::kOk), AfterCommit::kApplyStores);
  EXPECT_EQ(c.begin_seal(at(200)), SealOutcome::kEmpty);
}

TEST(CommitCycle, CommitOkAppliesStoresAndReturnsToIdle) {
  CommitCycle c = in_flight_cycle();
  EXPECT_EQ(c.phase(), CommitPhase::kInFlight);
  EXPECT_EQ(c.finished(CommitStatus::kOk), AfterCommit::kApplyStores);
  EXPECT_EQ(c.phase(), CommitPhase::kIdle);
  EXPECT_FALSE(c.in_flight());
  EXPECT_FALSE(c.stopped());
  EXPECT_EQ(c.route(10), RecordRoute::kBegin);  // the next commit's transaction
}

// --- While a commit is in flight ---------------------------------------------------------

TEST(CommitCycle, RecordsWhileACommitIsInFlightAreDeferredAndTheirBytesCounted) {
  CommitCycle c = in_flight_cycle();
  EXPECT_EQ(c.deferred_bytes(), 0u);
  EXPECT_EQ(c.route(7), RecordRoute::kDefer);
  EXPECT_EQ(c.route(20), RecordRoute::kDefer);
  EXPECT_EQ(c.route(0), RecordRoute::kDefer);
  EXPECT_EQ(c.deferred_bytes(), 27u);
  EXPECT_FALSE(c.deferred_full());
  EXPECT_EQ(c.phase(), CommitPhase::kInFlight);

  // Not done, nothing full, even past the interval: wait (one commit at a time).
  const auto s = c.step(at(10'000), false, 0);
  EXPECT_FALSE(s.complete);
  EXPECT_FALSE(s.seal);

  // Done: complete, and seal since the interval is up.
  const auto done = c.step(at(10'000), true, 0);
  EXPECT_TRUE(done.complete);
  EXPECT_TRUE(done.seal);

  // After kApplyStores the deferred records are produced again: a new transaction.
  EXPECT_EQ(c.finished(CommitStatus::kOk), AfterCommit::kApplyStores);
  EXPECT_EQ(c.deferred_bytes(), 0u);
  EXPECT_EQ(c.route(7), RecordRoute::kBegin);
  EXPECT_EQ(c.route(20), RecordRoute::kProduce);
  EXPECT_EQ(c.route(0), RecordRoute::kProduce);
  EXPECT_EQ(c.deferred_bytes(), 0u);
}

TEST(CommitCycle, StepCompletesADoneCommitWithoutSealingBeforeTheInterval) {
  CommitCycle c = in_flight_cycle();  // sealed at +100, next due at +200
  const auto s = c.step(at(150), true, 0);
  EXPECT_TRUE(s.complete);
  EXPECT_FALSE(s.seal);
}

TEST(CommitCycle, FullDeferredBudgetMakesStepCompleteTheCommitBeforeItIsDone) {
  CommitCycle c = in_flight_cycle();  // next due at +200
  EXPECT_EQ(c.route(kMaxDeferred - 1), RecordRoute::kDefer);
  EXPECT_FALSE(c.deferred_full());
  EXPECT_FALSE(c.step(at(150), false, 0).complete);

  EXPECT_EQ(c.route(1), RecordRoute::kDefer);
  EXPECT_TRUE(c.deferred_full());
  const auto s = c.step(at(150), false, 0);
  EXPECT_TRUE(s.complete);  // wait for it rather than read on
  EXPECT_FALSE(s.seal);     // not due, pending not full
  EXPECT_EQ(c.finished(CommitStatus::kOk), AfterCommit::kApplyStores);
  EXPECT_FALSE(c.deferred_full());
}

TEST(CommitCycle, FullPendingWhileInFlightCompletesFirstThenSeals) {
  CommitCycle c = in_flight_cycle();  // next due at +200
  (void)c.route(5);
  const auto s = c.step(at(150), false, kMaxPending);
  EXPECT_TRUE(s.complete);
  EXPECT_TRUE(s.seal);
  // Carried out in that order: the seal happens once nothing is in flight.
  EXPECT_EQ(c.finished(CommitStatus::kOk), AfterCommit::kApplyStores);
  EXPECT_EQ(c.route(5), RecordRoute::kBegin);
  EXPECT_EQ(c.begin_seal(at(150)), SealOutcome::kBuild);
  EXPECT_EQ(c.end_seal(), SealOutcome::kStarted);
  EXPECT_TRUE(c.in_flight());
}

// --- Failures ----------------------------------------------------------------------------

TEST(CommitCycle, AbortedCommitRewindsAndDropsRecordsUntilRewound) {
  CommitCycle c = in_flight_cycle();
  (void)c.route(30);  // deferred for the next commit
  EXPECT_EQ(c.finished(CommitStatus::kAborted), AfterCommit::kRewind);
  EXPECT_FALSE(c.in_flight());
  EXPECT_FALSE(c.stopped());
  EXPECT_EQ(c.route(10), RecordRoute::kDrop);  // it will be re-read
  EXPECT_EQ(c.route(10), RecordRoute::kDrop);

  c.rewound();
  EXPECT_EQ(c.phase(), CommitPhase::kIdle);
  EXPECT_EQ(c.deferred_bytes(), 0u);
  EXPECT_EQ(c.begin_seal(at(200)), SealOutcome::kEmpty);  // nothing pending after a rewind
  EXPECT_EQ(c.route(10), RecordRoute::kBegin);            // a new transaction
  EXPECT_EQ(c.route(10), RecordRoute::kProduce);
}

TEST(CommitCycle, ProduceFailureDoomsTheOpenTransaction) {
  CommitCycle c(limits(), at(0));
  EXPECT_EQ(c.route(10), RecordRoute::kBegin);
  c.build_failed(false);  // enqueueing a record failed
  EXPECT_EQ(c.phase(), CommitPhase::kDoomed);
  EXPECT_FALSE(c.stopped());
  EXPECT_EQ(c.route(10), RecordRoute::kDrop);
  EXPECT_EQ(c.route(10), RecordRoute::kDrop);
  EXPECT_EQ(c.deferred_bytes(), 0u);

  const auto s = c.step(at(100), false, 0);
  EXPECT_FALSE(s.complete);
  EXPECT_TRUE(s.seal);
  EXPECT_EQ(c.begin_seal(at(100)), SealOutcome::kRewind);
  c.rewound();
  EXPECT_EQ(c.phase(), CommitPhase::kIdle);
  EXPECT_EQ(c.begin_seal(at(200)), SealOutcome::kEmpty);  // the lost work is re-read
  EXPECT_EQ(c.route(10), RecordRoute::kBegin);
}

TEST(CommitCycle, BuildFailureDuringSealRewindsInsteadOfStarting) {
  CommitCycle c(limits(), at(0));
  (void)c.route(10);
  EXPECT_EQ(c.begin_seal(at(100)), SealOutcome::kBuild);
  c.build_failed(false);  // staging outputs or offsets failed
  EXPECT_EQ(c.route(10), RecordRoute::kDrop);
  EXPECT_EQ(c.end_seal(), SealOutcome::kRewind);
  EXPECT_FALSE(c.in_flight());
  EXPECT_EQ(c.route(10), RecordRoute::kDrop);  // still, until rewound()
  c.rewound();
  EXPECT_EQ(c.phase(), CommitPhase::kIdle);
  EXPECT_EQ(c.route(10), RecordRoute::kBegin);
}

void expect_stopped_for_good(CommitCycle& c) {
  EXPECT_TRUE(c.stopped());
  EXPECT_FALSE(c.in_flight());
  EXPECT_EQ(c.route(10), RecordRoute::kDrop);
  EXPECT_EQ(c.route(10), RecordRoute::kDrop);
  for (const bool done : {false, true}) {
    for (const std::size_t pending : {std::size_t{0}, kMaxPending, kMaxPending * 10}) {
      const auto s = c.step(at(1'000'000), done, pending);
      EXPECT_FALSE(s.complete);
      EXPECT_FALSE(s.seal);
    }
  }
  c.processed();
  EXPECT_EQ(c.begin_seal(at(1'000'000)), SealOutcome::kStop);
  EXPECT_EQ(c.end_seal(), SealOutcome::kStop);
  const auto stop = c.before_stop();
  EXPECT_FALSE(stop.complete);
  EXPECT_FALSE(stop.commit);
  EXPECT_FALSE(c.before_revoke(false).commit);
  // Nothing brings it back.
  c.build_failed(false);
  EXPECT_TRUE(c.stopped());
  c.rewound();
  EXPECT_TRUE(c.stopped());
  EXPECT_EQ(c.route(10), RecordRoute::kDrop);
}

TEST(CommitCycle, FatalBuildFailureStopsEverything) {
  CommitCycle c(limits(), at(0));
  (void)c.route(10);
  EXPECT_EQ(c.begin_seal(at(100)), SealOutcome::kBuild);
  c.build_failed(true);
  EXPECT_EQ(c.phase(), CommitPhase::kStopped);
  EXPECT_EQ(c.end_seal(), SealOutcome::kStop);
  expect_stopped_for_good(c);
}

TEST(CommitCycle, FatalFailureWhileOpenStopsEverything) {
  CommitCycle c(limits(), at(0));
  (void)c.route(10);
  c.build_failed(true);  // beginning the transaction: the producer is fenced
  EXPECT_EQ(c.phase(), CommitPhase::kStopped);
  expect_stopped_for_good(c);
}

TEST(CommitCycle, FatalFailureOfADoomedCommitStopsEverything) {
  CommitCycle c(limits(), at(0));
  (void)c.route(10);
  c.build_failed(false);
  c.build_failed(true);
  EXPECT_EQ(c.phase(), CommitPhase::kStopped);
  expect_stopped_for_good(c);
}

TEST(CommitCycle, FatalCommitOutcomeStopsEverything) {
  CommitCycle c = in_flight_cycle();
  (void)c.route(10);
  EXPECT_EQ(c.finished(CommitStatus::kFatal), AfterCommit::kStop);
  EXPECT_EQ(c.phase(), CommitPhase::kStopped);
  expect_stopped_for_good(c);
}

TEST(CommitCycle, FatalErrorElsewhereStopsEverything) {
  for (const bool building : {false, true}) {
    SCOPED_TRACE(building ? "while building" : "while open");
    CommitCycle c(limits(), at(0));
    (void)c.route(10);
    if (building) {
      EXPECT_EQ(c.begin_seal(at(100)), SealOutcome::kBuild);
    }
    c.stop();  // the consumer or a store failed
    EXPECT_EQ(c.phase(), CommitPhase::kStopped);
    if (building) {
      EXPECT_EQ(c.end_seal(), SealOutcome::kStop);
    }
    expect_stopped_for_good(c);
    c.stop();  // again: no change
    EXPECT_TRUE(c.stopped());
  }
}

TEST(CommitCycle, StopWhileACommitIsInFlightIgnoresItsOutcome) {
  for (const CommitStatus status :
       {CommitStatus::kOk, CommitStatus::kAborted, CommitStatus::kFatal}) {
    SCOPED_TRACE("outcome " + std::to_string(static_cast<int>(status)));
    CommitCycle c = in_flight_cycle();
    (void)c.route(10);  // deferred
    c.stop();
    EXPECT_TRUE(c.stopped());
    EXPECT_EQ(c.route(10), RecordRoute::kDrop);
    // The worker waits for the commit thread; whatever it says is not acted on.
    EXPECT_EQ(c.finished(status), AfterCommit::kStop);
    EXPECT_EQ(c.phase(), CommitPhase::kStopped);
    expect_stopped_for_good(c);
  }
}

// A fatal error while a commit is in flight: the commit thread must still be waited for,
// so the rebalance and stop plans still say to complete it, until finished().
TEST(CommitCycle, StopWhileACommitIsInFlightStillSaysToWaitForIt) {
  CommitCycle c = in_flight_cycle();
  c.stop();
  EXPECT_TRUE(c.in_flight());
  EXPECT_TRUE(c.before_stop().complete);
  EXPECT_FALSE(c.before_stop().commit);
  EXPECT_TRUE(c.before_revoke(false).complete);
  EXPECT_TRUE(c.before_revoke(true).complete);
  EXPECT_EQ(c.finished(CommitStatus::kOk), AfterCommit::kStop);
  EXPECT_FALSE(c.in_flight());
  EXPECT_FALSE(c.before_stop().complete);
}

// --- Rebalances --------------------------------------------------------------------------

TEST(CommitCycle, RevokeWithACommitInFlightCompletesItThenCommits) {
  CommitCycle c = in_flight_cycle();
  (void)c.route(10);  // deferred
  const auto r = c.before_revoke(false);
  EXPECT_TRUE(r.complete);
  EXPECT_FALSE(r.abort_and_rewind);
  EXPECT_TRUE(r.commit);
  // Carried out: completion, then (not stopped) the commit of the deferred records.
  EXPECT_EQ(c.finished(CommitStatus::kOk), AfterCommit::kApplyStores);
  EXPECT_FALSE(c.stopped());
  EXPECT_EQ(c.route(10), RecordRoute::kBegin);
  EXPECT_EQ(c.begin_seal(at(150)), SealOutcome::kBuild);
  EXPECT_EQ(c.end_seal(), SealOutcome::kStarted);
}

TEST(CommitCycle, RevokeWithoutACommitInFlightCommitsDirectly) {
  CommitCycle c(limits(), at(0));
  (void)c.route(10);
  const auto r = c.before_revoke(false);
  EXPECT_FALSE(r.complete);
  EXPECT_FALSE(r.abort_and_rewind);
  EXPECT_TRUE(r.commit);
}

TEST(CommitCycle, RevokeWhoseCompletionIsFatalDoesNotCommit) {
  CommitCycle c = in_flight_cycle();
  ASSERT_TRUE(c.before_revoke(false).complete);
  EXPECT_EQ(c.finished(CommitStatus::kFatal), AfterCommit::kStop);
  EXPECT_TRUE(c.stopped());  // what "check stopped() in between" sees
  EXPECT_FALSE(c.before_revoke(false).commit);
}

TEST(CommitCycle, LostAssignmentCompletesTheCommitInFlightThenAbortsAndRewindsNeverCommits) {
  CommitCycle c = in_flight_cycle();
  (void)c.route(10);  // deferred
  const auto r = c.before_revoke(true);
  EXPECT_TRUE(r.complete);
  EXPECT_TRUE(r.abort_and_rewind);
  EXPECT_FALSE(r.commit);
  EXPECT_EQ(c.finished(CommitStatus::kOk), AfterCommit::kApplyStores);
  c.rewound();
  EXPECT_EQ(c.phase(), CommitPhase::kIdle);
  EXPECT_EQ(c.deferred_bytes(), 0u);
  EXPECT_EQ(c.begin_seal(at(150)), SealOutcome::kEmpty);

  // Without a commit in flight: straight to abort and rewind.
  CommitCycle open(limits(), at(0));
  (void)open.route(10);
  const auto o = open.before_revoke(true);
  EXPECT_FALSE(o.complete);
  EXPECT_TRUE(o.abort_and_rewind);
  EXPECT_FALSE(o.commit);
}

// --- Stopping ----------------------------------------------------------------------------

TEST(CommitCycle, StopWithACommitInFlightCompletesItThenCommits) {
  CommitCycle c = in_flight_cycle();
  (void)c.route(10);  // deferred
  const auto s = c.before_stop();
  EXPECT_TRUE(s.complete);
  EXPECT_TRUE(s.commit);
  EXPECT_EQ(c.finished(CommitStatus::kOk), AfterCommit::kApplyStores);
  EXPECT_EQ(c.route(10), RecordRoute::kBegin);
  EXPECT_EQ(c.begin_seal(at(150)), SealOutcome::kBuild);
  EXPECT_EQ(c.end_seal(), SealOutcome::kStarted);
  EXPECT_EQ(c.finished(CommitStatus::kOk), AfterCommit::kApplyStores);
  EXPECT_FALSE(c.before_stop().complete);
}

TEST(CommitCycle, StopWithoutACommitInFlightCommitsDirectly) {
  CommitCycle c(limits(), at(0));
  (void)c.route(10);
  const auto s = c.before_stop();
  EXPECT_FALSE(s.complete);
  EXPECT_TRUE(s.commit);
}

TEST(CommitCycle, StopWhoseCompletionIsFatalSkipsTheFinalCommit) {
  CommitCycle c = in_flight_cycle();
  ASSERT_TRUE(c.before_stop().complete);
  EXPECT_EQ(c.finished(CommitStatus::kFatal), AfterCommit::kStop);
  EXPECT_TRUE(c.stopped());
  EXPECT_FALSE(c.before_stop().commit);
}

// --- Random sequences against a reference model ------------------------------------------

// The header's contracts, restated: a phase, whether the next commit has work, the deferred
// bytes and when the interval is up.
struct Model {
  CommitLimits lim;
  CommitPhase phase = CommitPhase::kIdle;
  bool dirty = false;
  std::size_t deferred = 0;
  std::int64_t next_seal = 0;
  bool stopped_in_flight = false;  // the commit thread still runs after a stop

  bool in_flight() const { return phase == CommitPhase::kInFlight || stopped_in_flight; }
  bool stopped() const { return phase == CommitPhase::kStopped; }
  bool deferred_full() const { return deferred >= lim.max_deferred_bytes; }

  RecordRoute route(std::size_t bytes) {
    switch (phase) {
      case CommitPhase::kIdle:
        phase = CommitPhase::kOpen;
        dirty = true;
        return RecordRoute::kBegin;
      case CommitPhase::kOpen:
        return RecordRoute::kProduce;
      case CommitPhase::kInFlight:
        deferred += bytes;
        return RecordRoute::kDefer;
      default:
        return RecordRoute::kDrop;
    }
  }
  void build_failed(bool fatal) {
    if (fatal) {
      stop();
    } else if (!stopped()) {
      phase = CommitPhase::kDoomed;
    }
  }
  void stop() {
    if (phase == CommitPhase::kInFlight) stopped_in_flight = true;
    phase = CommitPhase::kStopped;
  }
  CommitCycle::Step step(std::int64_t now, bool done, std::size_t pending) const {
    CommitCycle::Step s;
    if (stopped()) return s;
    const bool full = pending >= lim.max_pending_entries;
    s.complete = in_flight() && (done || deferred_full() || full);
    s.seal = (!in_flight() || s.complete) && (now >= next_seal || full);
    return s;
  }
  SealOutcome begin_seal(std::int64_t now) {
    next_seal = now + lim.interval.value;
    if (stopped()) return SealOutcome::kStop;
    if (phase == CommitPhase::kDoomed) return SealOutcome::kRewind;
    return phase == CommitPhase::kOpen || dirty ? SealOutcome::kBuild : SealOutcome::kEmpty;
  }
  SealOutcome end_seal() {
    if (stopped()) return SealOutcome::kStop;
    if (phase == CommitPhase::kDoomed) return SealOutcome::kRewind;
    phase = CommitPhase::kInFlight;
    dirty = false;
    return SealOutcome::kStarted;
  }
  AfterCommit finished(CommitStatus status) {
    stopped_in_flight = false;
    if (stopped()) return AfterCommit::kStop;  // stopped meanwhile: not acted on
    switch (status) {
      case CommitStatus::kOk:
        phase = CommitPhase::kIdle;
        deferred = 0;
        return AfterCommit::kApplyStores;
      case CommitStatus::kAborted:
        phase = CommitPhase::kDoomed;  // records dropped until rewound()
        return AfterCommit::kRewind;
      default:
        phase = CommitPhase::kStopped;
        return AfterCommit::kStop;
    }
  }
  void rewound() {
    if (stopped()) return;
    phase = CommitPhase::kIdle;
    dirty = false;
    deferred = 0;
  }
};

// Drives a CommitCycle the way the worker does (respecting every "requires"), with random
// choices, and checks each answer against the model and the invariants.
class Driver {
 public:
  explicit Driver(std::uint64_t seed) : rng_(seed) {
    lim_.interval = DurationMs{pick(1, 200)};
    lim_.max_pending_entries = static_cast<std::size_t>(pick(1, 8));
    lim_.max_deferred_bytes = static_cast<std::size_t>(pick(1, 120));
    now_ = pick(0, 1'000'000);
    model_.lim = lim_;
    model_.next_seal = now_ + lim_.interval.value;
    cycle_.emplace(lim_, ClockMs{now_});
  }

  // Returns false once the sequence is over (stopped for good or a stop was carried out).
  bool event() {
    if (::testing::Test::HasFatalFailure()) return false;
    const int dice = static_cast<int>(pick(0, 99));
    if (building_) {  // between begin_seal() and end_seal(): records, failures, end_seal()
      if (dice < 50) {
        route();
      } else if (dice < 56) {
        build_failed();
      } else if (dice < 57) {
        fail();
      } else {
        end_seal();
      }
    } else if (rewind_owed_ && dice < 40) {
      rewound();
    } else if (commits_in_flight_ == 1 && model_.stopped() && dice < 30) {
      complete();  // the worker waits for the commit thread after a fatal error
    } else if (dice < 10) {
      model_.dirty = true;
      cycle_->processed();
    } else if (dice < 45) {
      route();
    } else if (dice < 60) {
      now_ += pick(0, 60);
    } else if (dice < 62) {
      if (!model_.in_flight() && model_.phase != CommitPhase::kIdle) build_failed();
    } else if (dice < 63) {
      if (pick(0, 1) == 0) fail();
    } else if (dice < 94) {
      step();
    } else if (dice < 99) {
      revoke(pick(0, 2) == 0);
    } else if (pick(0, 3) == 0) {
      shut_down();
      return false;
    }
    check_state();
    return !(model_.stopped() && pick(0, 9) == 0);
  }

 private:
  std::int64_t pick(std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_);
  }

  void check_state() {
    ASSERT_EQ(cycle_->phase(), model_.phase);
    ASSERT_EQ(cycle_->in_flight(), model_.in_flight());
    ASSERT_EQ(cycle_->stopped(), model_.stopped());
    ASSERT_EQ(cycle_->deferred_bytes(), model_.deferred);
    ASSERT_EQ(cycle_->deferred_full(), model_.deferred_full());
    // The commit thread runs exactly when the cycle says in flight, or after a stop().
    if (model_.in_flight()) {
      ASSERT_EQ(commits_in_flight_, 1);
    } else if (commits_in_flight_ == 1) {
      ASSERT_TRUE(model_.stopped());
    }
  }

  void route() {
    const auto bytes = static_cast<std::size_t>(pick(0, 40));
    const bool was_in_flight = model_.in_flight();
    const RecordRoute expected = model_.route(bytes);
    const RecordRoute got = cycle_->route(bytes);
    ASSERT_EQ(got, expected) << "route(" << bytes << ")";
    // The invariants, independently of the model.
    if (was_in_flight && !model_.stopped()) {
      ASSERT_EQ(got, RecordRoute::kDefer) << "the commit thread owns the producer";
    } else if (was_in_flight) {
      ASSERT_EQ(got, RecordRoute::kDrop) << "stopped: nothing is committed any more";
    } else {
      ASSERT_NE(got, RecordRoute::kDefer) << "nothing in flight to defer behind";
    }
    if (got == RecordRoute::kBegin) {
      ASSERT_FALSE(transaction_open_) << "began twice";
    }
    if (got == RecordRoute::kProduce) {
      ASSERT_TRUE(transaction_open_) << "produced outside";
    }
    if (got == RecordRoute::kBegin) transaction_open_ = true;
  }

  void build_failed() {
    const bool fatal = pick(0, 9) == 0;
    model_.build_failed(fatal);
    cycle_->build_failed(fatal);
  }

  void step() {
    const bool done = pick(0, 1) == 0;
    const auto pending = static_cast<std::size_t>(pick(0, 9));
    const auto expected = model_.step(now_, done, pending);
    const auto got = cycle_->step(ClockMs{now_}, done, pending);
    ASSERT_EQ(got.complete, expected.complete)
        << "step(done=" << done << ", pending=" << pending << ")";
    ASSERT_EQ(got.seal, expected.seal) << "step(done=" << done << ", pending=" << pending << ")";
    if (model_.stopped()) {
      ASSERT_FALSE(got.complete || got.seal) << "stopped";
    }
    if (got.complete) {
      ASSERT_TRUE(model_.in_flight()) << "nothing to complete";
    }
    if (model_.in_flight() && !got.complete) {
      ASSERT_FALSE(got.seal) << "two commits in flight";
    }
    if (got.complete) complete();
    if (got.seal) {
      if (rewind_owed_ && pick(0, 1) == 0) rewound();
      seal();
    }
  }

  // Waits for the commit in flight and acts on how it ended.
  void complete() {
    ASSERT_EQ(commits_in_flight_, 1);
    const bool was_stopped = model_.stopped();
    const int dice = static_cast<int>(pick(0, 99));
    const CommitStatus status = dice < 80   ? CommitStatus::kOk
                                : dice < 97 ? CommitStatus::kAborted
                                            : CommitStatus::kFatal;
    const AfterCommit expected = model_.finished(status);
    ASSERT_EQ(cycle_->finished(status), expected);
    if (was_stopped) {
      ASSERT_EQ(expected, AfterCommit::kStop) << "acted on after a stop";
    }
    commits_in_flight_ = 0;
    if (expected == AfterCommit::kRewind) rewind_owed_ = true;
  }

  void seal() {
    ASSERT_FALSE(model_.in_flight()) << "begin_seal() requires !in_flight()";
    const bool was_stopped = model_.stopped();
    const SealOutcome expected = model_.begin_seal(now_);
    const SealOutcome got = cycle_->begin_seal(ClockMs{now_});
    ASSERT_EQ(got, expected) << "begin_seal()";
    if (was_stopped) {
      ASSERT_EQ(got, SealOutcome::kStop) << "a seal started while stopped";
    }
    ASSERT_NE(got, SealOutcome::kStarted);
    if (got == SealOutcome::kBuild) building_ = true;
    if (got == SealOutcome::kRewind) rewind_owed_ = true;
  }

  void end_seal() {
    ASSERT_TRUE(building_);
    building_ = false;
    const bool was_stopped = model_.stopped();
    const SealOutcome expected = model_.end_seal();
    const SealOutcome got = cycle_->end_seal();
    ASSERT_EQ(got, expected) << "end_seal()";
    if (was_stopped) {
      ASSERT_EQ(got, SealOutcome::kStop);
    }
    ASSERT_TRUE(got == SealOutcome::kStarted || got == SealOutcome::kRewind ||
                got == SealOutcome::kStop);
    if (got == SealOutcome::kStarted) {
      ASSERT_EQ(commits_in_flight_, 0) << "two commits in flight";
      commits_in_flight_ = 1;
      transaction_open_ = false;  // the transaction now belongs to the commit thread
    }
    if (got == SealOutcome::kRewind) rewind_owed_ = true;
  }

  // A fatal error elsewhere (consumer, store).
  void fail() {
    model_.stop();
    cycle_->stop();
  }

  void rewound() {
    model_.rewound();
    cycle_->rewound();
    rewind_owed_ = false;
    if (!model_.stopped()) transaction_open_ = false;
  }

  // A revocation carried out: completion, then abort and rewind or a commit (which the
  // worker waits for, since the tasks are about to go).
  void revoke(bool lost) {
    const auto r = cycle_->before_revoke(lost);
    ASSERT_EQ(r.complete, model_.in_flight());
    ASSERT_EQ(r.abort_and_rewind, lost);
    ASSERT_EQ(r.commit, !lost && !model_.stopped());
    if (r.complete || commits_in_flight_ == 1) complete();
    if (r.abort_and_rewind) {
      rewound();
    } else if (r.commit && !cycle_->stopped()) {
      if (rewind_owed_) rewound();
      seal();
      if (building_) end_seal();
      if (model_.in_flight()) complete();
      if (rewind_owed_) rewound();
    }
  }

  // The processing loop ends: completion, then a final commit.
  void shut_down() {
    const auto s = cycle_->before_stop();
    ASSERT_EQ(s.complete, model_.in_flight());
    ASSERT_EQ(s.commit, !model_.stopped());
    if (s.complete || commits_in_flight_ == 1) complete();
    if (s.commit && !cycle_->stopped()) {
      if (rewind_owed_) rewound();
      seal();
      if (building_) end_seal();
      if (model_.in_flight()) complete();
    }
    check_state();
  }

  std::mt19937_64 rng_;
  CommitLimits lim_;
  std::int64_t now_ = 0;
  Model model_;
  std::optional<CommitCycle> cycle_;
  bool building_ = false;          // begin_seal() said kBuild, end_seal() not called yet
  bool rewind_owed_ = false;       // a kRewind was answered, rewound() not called yet
  bool transaction_open_ = false;  // route() said kBegin since the last start or rewind
  int commits_in_flight_ = 0;
};

TEST(CommitCycle, RandomEventSequencesNeverContradictTheReferenceModel) {
  for (std::uint64_t seed = 1; seed <= 1'000; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Driver driver(seed);
    for (int i = 0; i < 2'000 && driver.event(); ++i) {
    }
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace auditor
