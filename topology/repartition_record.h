// The record format of the internal `<app-id>-ticks-repartition` topic (stage 1 -> 2).
//
// Key:   u16 big-endian length of process_name, process_name, process_activity.
//        Unambiguous for any bytes in the names.
// Value: u8 version (1), i64 BE event time (ms), i64 BE count, i64 BE ticks.
// The partition is chosen by us (not librdkafka's partitioner) so it is a pure function of
// the key: partition_for(key, n).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "topology/pre_aggregator.h"
#include "topology/types.h"

namespace auditor {

[[nodiscard]] std::string encode_repartition_key(std::string_view process_name,
                                                 std::string_view process_activity);
[[nodiscard]] std::string encode_repartition_value(EventTime event_time, std::int64_t count,
                                                   std::int64_t ticks);

// A decoded record; the views point into the key bytes given to decode.
struct RepartitionRecord {
  std::string_view process_name;
  std::string_view process_activity;
  EventTime event_time;
  std::int64_t count = 0;
  std::int64_t ticks = 0;
};

// nullopt when the bytes are not a well-formed record (wrong lengths, version, negative
// or zero counts, count < ticks, an empty name, event time out of range).
[[nodiscard]] std::optional<RepartitionRecord> decode_repartition_record(std::string_view key,
                                                                         std::string_view value);

// FNV-1a 64 of the key bytes modulo `partitions`. Requires partitions > 0.
[[nodiscard]] PartitionId partition_for(std::string_view repartition_key, std::int32_t partitions);

}  // namespace auditor
