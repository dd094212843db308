// The record format of the internal `<app-id>-ticks-repartition` topic (stage 1 -> 2).
// Two kinds of record, told apart by the value's first byte (its format):
//
// Window delta (a pre-aggregate; format 2):
//   key:   u16 big-endian length of process_name, process_name, process_activity.
//          Unambiguous for any bytes in the names.
//   value: u8 2, i64 BE event time (ms), i64 BE count, i64 BE ticks,
//          u8 n, n x i64 BE window size (ms): the sizes the ticks were late for (and so
//          do not count in). Sizes, not indices: the meaning survives a changed --windows.
// Watermark (format 3): written by stage 1 after its data, to every partition.
//   key:   empty
//   value: u8 3, i32 BE input partition, u8 flags (1 = has time, 2 = idle),
//          [i64 BE partition time when flag 1]
//
// Format 1 (a delta without late sizes, before per-partition event time) is recognised
// and reported, never read: its windows were decided under other rules.
// The partition of a delta is chosen by us (not librdkafka's partitioner) so it is a pure
// function of the key: partition_for(key, n).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "topology/pre_aggregator.h"
#include "topology/types.h"
#include "topology/watermark.h"
#include "topology/windows.h"

namespace auditor {

[[nodiscard]] std::string encode_repartition_key(std::string_view process_name,
                                                 std::string_view process_activity);
// `late_mask` bits index `windows`. Requires every set bit to name one of them.
[[nodiscard]] std::string encode_repartition_value(EventTime event_time, std::int64_t count,
                                                   std::int64_t ticks, std::uint32_t late_mask,
                                                   const WindowSet& windows);
[[nodiscard]] std::string encode_watermark_value(PartitionId input, const PartitionWatermark& wm);

// A decoded window delta; the views point into the key bytes given to decode.
struct RepartitionRecord {
  std::string_view process_name;
  std::string_view process_activity;
  EventTime event_time;
  std::int64_t count = 0;
  std::int64_t ticks = 0;
  std::uint32_t late_mask = 0;  // over the decoder's WindowSet; unknown sizes are ignored
};

struct RepartitionMessage {
  enum class Kind : std::uint8_t {
    kDelta,
    kWatermark,
    kMalformed,       // wrong lengths, negative or zero counts, count < ticks, an empty
                      // name, an event time out of range, an unknown format
    kEarlierVersion,  // format 1: written by an auditor before per-partition event time
  };
  Kind kind = Kind::kMalformed;
  RepartitionRecord delta;       // kDelta
  PartitionId input;             // kWatermark
  PartitionWatermark watermark;  // kWatermark
};

[[nodiscard]] RepartitionMessage decode_repartition_message(std::string_view key,
                                                            std::string_view value,
                                                            const WindowSet& windows);

// FNV-1a 64 of the key bytes modulo `partitions`. Requires partitions > 0.
[[nodiscard]] PartitionId partition_for(std::string_view repartition_key, std::int32_t partitions);

}  // namespace auditor
