// librdkafka partition lists, built in one place: strong partition and offset types in, the
// owning TopicPartitionListPtr out, metadata copied the way the list frees it.
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "topology/types.h"
#include "worker/kafka/handles.h"

namespace auditor::kafka {

[[nodiscard]] TopicPartitionListPtr new_partition_list(int capacity = 0);

// Adds `topic` / `partition` to `list` with RD_KAFKA_OFFSET_INVALID; returns the element
// (owned by the list, valid until the list changes).
rd_kafka_topic_partition_t& add_partition(rd_kafka_topic_partition_list_t& list,
                                          const std::string& topic, PartitionId partition);
// The same with a position (the next offset to read).
rd_kafka_topic_partition_t& add_partition(rd_kafka_topic_partition_list_t& list,
                                          const std::string& topic, PartitionId partition,
                                          Offset offset);

// Partitions 0..count-1 of `topic`, each at `logical_offset` (RD_KAFKA_OFFSET_BEGINNING,
// RD_KAFKA_OFFSET_END, RD_KAFKA_PARTITION_UA-style subscriptions use add_partition).
[[nodiscard]] TopicPartitionListPtr all_partitions(const std::string& topic, std::int32_t count,
                                                   std::int64_t logical_offset);

// Copies `metadata` into the element; the list frees it (with free()). Throws std::bad_alloc.
void set_metadata(rd_kafka_topic_partition_t& element, std::string_view metadata);

// The element's metadata as text (empty when it has none).
[[nodiscard]] std::string_view metadata_of(const rd_kafka_topic_partition_t& element);

}  // namespace auditor::kafka
