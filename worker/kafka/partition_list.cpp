#include "worker/kafka/partition_list.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace auditor::kafka {

TopicPartitionListPtr new_partition_list(int capacity) {
  return TopicPartitionListPtr(rd_kafka_topic_partition_list_new(capacity));
}

rd_kafka_topic_partition_t& add_partition(rd_kafka_topic_partition_list_t& list,
                                          const std::string& topic, PartitionId partition) {
  return *rd_kafka_topic_partition_list_add(&list, topic.c_str(), partition.value);
}

rd_kafka_topic_partition_t& add_partition(rd_kafka_topic_partition_list_t& list,
                                          const std::string& topic, PartitionId partition,
                                          Offset offset) {
  rd_kafka_topic_partition_t& element = add_partition(list, topic, partition);
  element.offset = offset.value;
  return element;
}

TopicPartitionListPtr all_partitions(const std::string& topic, std::int32_t count,
                                     std::int64_t logical_offset) {
  TopicPartitionListPtr list = new_partition_list(count);
  for (std::int32_t p = 0; p < count; ++p) {
    add_partition(*list, topic, PartitionId{p}).offset = logical_offset;
  }
  return list;
}

void set_metadata(rd_kafka_topic_partition_t& element, std::string_view metadata) {
  std::free(element.metadata);
  element.metadata = nullptr;
  element.metadata_size = 0;
  if (metadata.empty()) return;
  element.metadata = std::malloc(metadata.size());
  if (element.metadata == nullptr) throw std::bad_alloc();
  std::memcpy(element.metadata, metadata.data(), metadata.size());
  element.metadata_size = metadata.size();
}

std::string_view metadata_of(const rd_kafka_topic_partition_t& element) {
  if (element.metadata == nullptr) return {};
  return {static_cast<const char*>(element.metadata), element.metadata_size};
}

}  // namespace auditor::kafka
