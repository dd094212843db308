// Stage 2: tumbling-window aggregation for one task (one repartition partition).
//
// Lifecycle of a window, driven only by event time (never the wall clock):
//
//   add() ──► pending delta ──commit()──► stored (absolute counts)
//                                          │  task watermark >= end + grace
//                                          ▼
//                                        closed: `final` rollup emitted once, later
//                                          │  deltas for it are late
//                                          │  task watermark >= end + grace + retention
//                                          ▼
//                                        expired: deleted from the store
//
// The task watermark combines the watermarks stage 1 sends per input partition
// (topology/watermark.h, docs/event-time.md); it never goes back. Whether a tick was late
// was decided in stage 1 against its own partition; a delta only says which sizes it does
// not count in. The aggregator holds only the deltas of the current commit; absolute
// counts live in the store, which it reads through WindowReader at commit time (one read
// per changed window per commit, never per record). commit() takes the deltas and returns
// everything to write and publish; the caller makes it durable atomically (store batch
// with TaskProgress + produced records) and then calls committed(), or rollback() when the
// commit failed. Records may be added while a commit is in flight: they belong to the
// next one.
//
//   add()* ─► commit() ─► add()* ─► committed() ─► add()* ─► commit() ─► ...
//                                 └► rollback(): every delta and watermark since the last
//                                    durable commit is dropped (the caller re-reads them)
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "topology/types.h"
#include "topology/watermark.h"
#include "topology/windows.h"

namespace auditor {

enum class EmitMode : std::uint8_t {
  kUpdates,  // every changed window at each commit, plus the final record at close
  kFinal,    // only the final record at close
};

struct WindowKey {
  DurationMs size;
  EventTime start;
  std::string process_name;
  std::string process_activity;

  auto operator<=>(const WindowKey&) const = default;
  bool operator==(const WindowKey&) const = default;
  [[nodiscard]] EventTime end() const { return start.plus(size); }
};

struct WindowCounts {
  std::int64_t count = 0;  // sum of the ticks' `count`
  std::int64_t ticks = 0;  // number of ticks
  bool operator==(const WindowCounts&) const = default;
};

// What a task persists next to its windows, in the same atomic write.
struct TaskProgress {
  // The latest watermark of each input partition, and the task watermark: the largest
  // combined_watermark() so far (none until every input partition has sent one).
  PartitionWatermarks watermarks;
  std::optional<EventTime> watermark;
  // Per window size (ms): every window with start < this bound has been finalized
  // (closed_before) or deleted (expired_before). Absent = nothing yet.
  std::map<std::int64_t, EventTime> closed_before;
  std::map<std::int64_t, EventTime> expired_before;
  bool operator==(const TaskProgress&) const = default;
};

// Read access to the committed windows of one task.
class WindowReader {
 public:
  virtual ~WindowReader() = default;
  [[nodiscard]] virtual std::optional<WindowCounts> get(const WindowKey& key) const = 0;
  // Calls `visit` for every stored window of `size` with from <= start < to, in key order.
  virtual void scan(
      DurationMs size, EventTime from, EventTime to,
      const std::function<void(const WindowKey&, const WindowCounts&)>& visit) const = 0;
};

struct Rollup {
  WindowKey key;
  WindowCounts counts;
  bool final = false;
};

struct CommitResult {
  std::vector<std::pair<WindowKey, WindowCounts>> puts;  // new absolute values
  std::vector<WindowKey> deletes;                        // expired windows
  std::vector<Rollup> rollups;                           // to publish, in this order
  TaskProgress progress;                                 // to persist with puts/deletes
};

class WindowAggregator {
 public:
  // `retention`: how long a closed window stays queryable in the store before it is
  // deleted (counted from window end + grace). `input_partitions`: how many input
  // partitions send watermarks. Requires grace, retention >= 0, input_partitions > 0.
  WindowAggregator(WindowSet windows, DurationMs grace, DurationMs retention, EmitMode emit,
                   std::int32_t input_partitions, TaskProgress restored);

  // Applies one pre-aggregated record: adds `delta` to each of its windows whose size is
  // not in `late_mask` (stage 1 found its ticks late there) and that is still open.
  // Returns the mask of window indices (bit i = windows().windows()[i]) whose window was
  // already closed, which happens only when an idle input partition woke up; 0 when it
  // counted everywhere it should. Requires kMinEventTime <= event_time <= kMaxEventTime,
  // delta.count/ticks > 0.
  [[nodiscard]] std::uint32_t add(std::string_view process_name, std::string_view process_activity,
                                  EventTime event_time, WindowCounts delta,
                                  std::uint32_t late_mask = 0);

  // Applies a watermark of input partition `input` (merge_watermark); windows it closes
  // are published by the next commit().
  void observe_watermark(PartitionId input, const PartitionWatermark& watermark);

  // Takes the pending deltas into a commit: reads the current counts of every changed
  // window, adds the deltas, decides which windows close (final rollups) and expire
  // (deletes). Later add()s belong to the next commit. Requires that the previous commit
  // was committed() or rolled back: the reads must see its values in the store.
  [[nodiscard]] CommitResult commit(const WindowReader& store);

  // The last commit() is durable (its result is in the store).
  void committed(const TaskProgress& progress);

  // A commit failed: forget every delta and watermark since `last_durable`, including
  // those added while the commit was in flight.
  void rollback(const TaskProgress& last_durable);

  [[nodiscard]] bool has_pending() const { return !pending_.empty() || progress_dirty_; }
  [[nodiscard]] std::size_t pending_windows() const { return pending_.size(); }
  [[nodiscard]] const TaskProgress& durable_progress() const { return durable_; }
  // The task watermark including what is not committed yet.
  [[nodiscard]] std::optional<EventTime> watermark() const { return watermark_; }
  [[nodiscard]] const WindowSet& windows() const { return windows_; }

 private:
  WindowSet windows_;
  DurationMs grace_;
  DurationMs retention_;
  EmitMode emit_;
  std::int32_t input_partitions_;
  TaskProgress durable_;
  // The current (not yet durable) watermarks, as in TaskProgress.
  PartitionWatermarks watermarks_;
  std::optional<EventTime> watermark_;
  bool progress_dirty_ = false;

  // Transparent ordering (same as WindowKey's), so that add() finds a window that already
  // has a delta without building a WindowKey: no string copies per record.
  struct KeyRef {
    DurationMs size;
    EventTime start;
    std::string_view process_name;
    std::string_view process_activity;
  };
  struct KeyLess {
    using is_transparent = void;
    bool operator()(const WindowKey& a, const WindowKey& b) const { return a < b; }
    bool operator()(const KeyRef& a, const WindowKey& b) const;
    bool operator()(const WindowKey& a, const KeyRef& b) const;
  };
  std::map<WindowKey, WindowCounts, KeyLess> pending_;
};

}  // namespace auditor
