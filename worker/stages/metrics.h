// Counters of the worker. Written by the processing thread, read by the progress log (and
// the HTTP endpoint) from any thread: relaxed atomics are enough, each value is independent.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "topology/tick_parser.h"
#include "worker/common/prometheus.h"

namespace auditor {

struct WorkerMetrics {
  using Counter = std::atomic<std::uint64_t>;

  Counter input_records{0};                            // stage 1 records consumed
  Counter valid_ticks{0};                              // stage 1 ticks accepted
  std::array<Counter, kInvalidReasonCount> invalid{};  // by InvalidReason
  Counter repartition_records_out{0};                  // pre-aggregates and watermarks
  Counter watermarks_out{0};          // watermark records (one per task per change)
  Counter repartition_records_in{0};  // stage 2 records consumed
  // Ticks (stage 1) and pre-aggregates (stage 2, after an idle partition woke up) late for
  // at least one window.
  Counter late_records{0};
  std::array<Counter, 32> late_by_window{};  // by window index
  Counter dead_letters{0};
  Counter rollups_published{0};
  Counter changelog_records{0};
  Counter restored_records{0};
  Counter damaged_stores{0};  // task stores set aside and rebuilt (state/store_damage.h)
  Counter commits{0};
  Counter commit_failures{0};  // aborted transactions / failed at-least-once commits
  prometheus::Histogram commit_seconds;
  Counter rebalances{0};
  // GET /rollups answers (engine/rollup_endpoint.h): from the local stores, passed on
  // from the owning replica, or 503 while no replica could answer.
  Counter queries_local{0};
  Counter queries_forwarded{0};
  Counter queries_unavailable{0};

  static void inc(Counter& c, std::uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

  // One record late for the window indices set in `late_mask`.
  void count_late(std::uint32_t late_mask) {
    inc(late_records);
    for (std::size_t i = 0; i < late_by_window.size(); ++i) {
      if (((late_mask >> i) & 1U) != 0) inc(late_by_window[i]);
    }
  }
};

}  // namespace auditor
