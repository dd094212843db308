// Stage 1: the event time of one input partition, the lateness rule, and idleness
// (docs/event-time.md).
//
// Partition time is the largest event time of the valid ticks read from the partition so
// far. A tick with event time t is late for window size S exactly when the partition time
// *before* it is >= window_end_S(t) + grace. Each size decides on its own, so the answer
// depends only on the partition's own record sequence, never on other partitions.
//
// Idleness is the one input from the wall clock (injected as ClockMs):
//
//   ┌─ record_read() ──► reading ── reached_end() ──► at end ── idle timeout without a
//   │                                                          record ──► idle
//   └──────────────────────────────── record_read() ◄──────────────────────────┘
//
// Not thread-safe; one per assigned input partition, owned by the stage-1 loop.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "topology/types.h"
#include "topology/watermark.h"
#include "topology/windows.h"

namespace auditor {

class PartitionClock {
 public:
  // `restored`: the partition time committed with the offset it resumes from (none for a
  // partition read from the start, or whose offsets were moved by a tool). `now` starts the
  // idle clock: a partition that has nothing to read becomes idle one timeout later.
  PartitionClock(std::optional<EventTime> restored, ClockMs now);

  // A record of any kind (valid or not) was read: the partition is not idle.
  void record_read(ClockMs now);

  // A valid tick: returns the mask of window sizes it is late for (bit i =
  // windows.windows()[i]), judged against the partition time before it, then advances the
  // partition time. Requires kMinEventTime <= t <= kMaxEventTime and grace >= 0.
  [[nodiscard]] std::uint32_t add_tick(EventTime t, const WindowSet& windows, DurationMs grace);

  // The consumer reached the partition's end (everything committed was read).
  void reached_end();

  [[nodiscard]] std::optional<EventTime> time() const { return time_; }
  [[nodiscard]] bool idle(ClockMs now, DurationMs idle_timeout) const;
  [[nodiscard]] PartitionWatermark watermark(ClockMs now, DurationMs idle_timeout) const {
    return {time_, idle(now, idle_timeout)};
  }

 private:
  std::optional<EventTime> time_;
  bool at_end_ = false;
  ClockMs last_activity_;  // the last record, or the start
};

// The partition time as kept in the consumer group's offset metadata, committed in the
// same transaction as the offset: "auditor.pt=<epoch ms>" or "auditor.pt=" (no time yet).
[[nodiscard]] std::string encode_partition_time_metadata(std::optional<EventTime> time);

// What an input offset's metadata says about its partition.
struct CommittedPartitionTime {
  bool recognised = false;        // false: empty or foreign metadata (an older auditor, a
                                  // reset tool): the partition time starts afresh
  std::optional<EventTime> time;  // when recognised: the committed partition time
};
[[nodiscard]] CommittedPartitionTime decode_partition_time_metadata(std::string_view metadata);

}  // namespace auditor
