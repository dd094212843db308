// Watermarks: how stage 1 tells stage 2 how far each input partition's event time has got,
// and how a stage-2 task combines them into the time that closes its windows
// (docs/event-time.md).
//
//   input partition p ──stage 1, each commit, after its data──► PartitionWatermark{time, idle}
//                                                                to every repartition partition
//   task watermark = min over all input partitions of their latest time, idle ones left out;
//                    none until every partition has sent one (or is idle)
//
// Because stage 1 writes a partition's watermark after the data it covers, in the same
// transaction, a tick that was on time in its own partition always reaches a task before
// the watermark that closes its windows: final values do not depend on how partitions
// were interleaved. The exception is an idle partition that wakes up: its ticks may find
// their windows closed by the other partitions' times.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "topology/types.h"

namespace auditor {

// What one input partition reported last.
struct PartitionWatermark {
  std::optional<EventTime> time;  // its partition time; none before its first valid tick
  bool idle = false;              // at its end with no record for the idle timeout
  bool operator==(const PartitionWatermark&) const = default;
};

// The latest watermark per input partition, as a task keeps it.
using PartitionWatermarks = std::map<std::int32_t, PartitionWatermark>;

// Merges a newly read watermark into `known`: the time never goes back (a duplicate of an
// older watermark, possible under at-least-once, changes nothing), the idle flag follows
// the latest.
void merge_watermark(PartitionWatermarks& known, PartitionId input, const PartitionWatermark& wm);

// The task watermark over input partitions 0..input_partitions-1: the minimum time of the
// partitions that are not idle; none while one of those has no time or sent nothing yet.
// When every partition is idle, the largest of their times (none if none has one).
// Entries for partitions >= input_partitions are ignored.
[[nodiscard]] std::optional<EventTime> combined_watermark(const PartitionWatermarks& known,
                                                          std::int32_t input_partitions);

// The largest time any input partition reported: the "now" of a task's data, for queries.
[[nodiscard]] std::optional<EventTime> latest_time(const PartitionWatermarks& known);

}  // namespace auditor
