// The commit decisions of the stream engine, free of I/O: when to seal a commit, where a
// record goes while one is in flight, what follows a commit's outcome, and what a
// rebalance or a stop must do first. The Worker asks and carries out the answers
// (docs/architecture.md, "Commits"); tests drive it without a broker.
//
//            route(): kBegin              end_seal(): kStarted
//   kIdle ─────────────────────► kOpen ──────────────────────► kInFlight
//     │ ▲  ▲                       │ build_failed()               │ route(): kDefer (the next
//     │ │  │                       ▼                              │ commit's records wait)
//     │ │  │                     kDoomed ─ end_seal(): kRewind ─► │
//     │ │  │                                                      │
//     │ │  └──── finished(kOk): kApplyStores ◄────────────────────┤
//     │ └─────── finished(kAborted): kRewind, rewound() ◄─────────┤
//     │                                  finished(kFatal): kStop ─┴──► kStopped
//     └─ end_seal(): kStarted (input processed, nothing produced: offsets only) ─► kInFlight
//   Any phase ── stop(), build_failed(true) ──► kStopped (final; a commit that was in
//   flight still has to be waited for: in_flight() stays true until finished()).
//
// Only one commit is in flight at a time; while it is, the commit thread owns the
// producer, so records are deferred to the next transaction (bounded: on reaching the
// limit the loop waits for the commit instead of reading on).
//
// Thread-safety: none; the processing loop owns it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "topology/types.h"

namespace auditor {

// How a commit ended (kafka/transaction.h reports it for the Kafka part).
enum class CommitStatus : std::uint8_t {
  kOk,
  kAborted,  // nothing of this commit is durable: rewind the input and drop pending state
  kFatal,    // the producer is fenced or broken: leave the group and exit non-zero
};

enum class CommitPhase : std::uint8_t {
  kIdle,      // no transaction open
  kOpen,      // records of the next commit are being produced
  kDoomed,    // producing failed: the commit being built can only be rewound
  kInFlight,  // sealed; its transaction finishes on the commit thread
  kStopped,   // fatal: nothing more is committed
};

enum class RecordRoute : std::uint8_t {
  kBegin,    // open the transaction, then produce (route() assumes that worked)
  kProduce,  // the transaction is open: produce
  kDefer,    // a commit is in flight: keep the record for the next transaction
  kDrop,     // the commit being built is doomed (it will be rewound and re-read) or stopped
};

enum class SealOutcome : std::uint8_t {
  kBuild,    // begin_seal(): build the commit (stage outputs, offsets), then end_seal()
  kEmpty,    // begin_seal(): nothing was processed since the last commit
  kStarted,  // end_seal(): finish the sealed commit on the commit thread
  kRewind,   // building or producing failed: abort, rewind, then rewound()
  kStop,     // a fatal error: stop
};

enum class AfterCommit : std::uint8_t {
  kApplyStores,  // durable: make the stores follow, then produce the deferred records
  kRewind,       // abort, drop uncommitted state, re-read from the committed offsets
  kStop,         // leave the group and exit 1
};

struct CommitLimits {
  DurationMs interval{1'000};                   // --commit-interval
  std::size_t max_pending_entries = 500'000;    // pending aggregates: commit early
  std::size_t max_deferred_bytes = 64U << 20U;  // deferred while a commit is in flight
};

class CommitCycle {
 public:
  CommitCycle(CommitLimits limits, ClockMs now);

  [[nodiscard]] CommitPhase phase() const { return phase_; }
  // A commit is in flight (also after stop(), until finished() says what became of it).
  [[nodiscard]] bool in_flight() const {
    return phase_ == CommitPhase::kInFlight || stopped_in_flight_;
  }
  [[nodiscard]] bool stopped() const { return phase_ == CommitPhase::kStopped; }

  // Input was processed (a record read, a position moved): the next commit has work.
  void processed() { dirty_ = true; }

  // Where a record that is produced now goes. `bytes` counts against the deferred budget
  // when it is deferred.
  [[nodiscard]] RecordRoute route(std::size_t bytes);

  // Beginning the transaction, enqueueing a record or building the commit failed: the
  // commit being built is lost (kDoomed), or everything is (kStopped) when `fatal`.
  void build_failed(bool fatal);

  // A fatal error anywhere (consumer, store, producer): nothing more is committed. A
  // commit still in flight must be waited for, but its outcome is not acted on.
  void stop();

  // Housekeeping, once per batch of records: what to do now, in this order.
  struct Step {
    bool complete = false;  // wait for the commit in flight and act on finished()
    bool seal = false;      // then begin_seal()
  };
  [[nodiscard]] Step step(ClockMs now, bool in_flight_done, std::size_t pending_entries) const;

  // Whether the deferred records fill their budget: the loop should wait for the commit
  // in flight before reading on.
  [[nodiscard]] bool deferred_full() const;

  // Sealing, in two calls around the worker's building of the commit (requires
  // !in_flight()). begin_seal() restarts the commit interval and says whether there is
  // anything to build; end_seal() whether the built commit may start.
  [[nodiscard]] SealOutcome begin_seal(ClockMs now);
  [[nodiscard]] SealOutcome end_seal();

  // The commit in flight ended (requires in_flight(), or stopped() meanwhile: then kStop).
  // After kApplyStores the deferred records are no longer deferred: the worker produces
  // them now (route() again).
  [[nodiscard]] AfterCommit finished(CommitStatus status);

  // The worker aborted and rewound: back to kIdle with nothing deferred or pending.
  void rewound();

  // What a revocation needs first, in this order: the commit in flight completes whatever
  // follows (its tasks are about to go); then a lost assignment is aborted and rewound
  // (another member may own the partitions already), a normal one committed unless the
  // completion stopped everything (check stopped() in between).
  struct BeforeRevoke {
    bool complete = false;
    bool abort_and_rewind = false;
    bool commit = false;
  };
  [[nodiscard]] BeforeRevoke before_revoke(bool lost) const;

  // What a stop needs first: complete the commit in flight, then a final commit unless
  // stopped by a fatal error (check stopped() in between).
  struct BeforeStop {
    bool complete = false;
    bool commit = false;
  };
  [[nodiscard]] BeforeStop before_stop() const;

  [[nodiscard]] std::size_t deferred_bytes() const { return deferred_bytes_; }

 private:
  CommitLimits limits_;
  CommitPhase phase_ = CommitPhase::kIdle;
  bool dirty_ = false;
  std::size_t deferred_bytes_ = 0;
  ClockMs next_seal_;               // when the commit interval is up
  bool stopped_in_flight_ = false;  // stopped while a commit was in flight
};

}  // namespace auditor
