// Topic administration through librdkafka's admin API: partition counts, creating topics.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace auditor::kafka {

struct TopicSpec {
  std::string name;
  std::int32_t partitions = 1;
  std::vector<std::pair<std::string, std::string>> configs;
};

// Partition count of each named topic; topics that do not exist are absent from the map.
// Throws std::runtime_error when the broker does not answer within `timeout`.
[[nodiscard]] std::map<std::string, std::int32_t> partition_counts(
    rd_kafka_t* client, const std::vector<std::string>& topics, std::chrono::milliseconds timeout);

// Creates the topics (replication factor: broker default). A topic that already exists
// is not an error. Throws std::runtime_error naming the topic on any other failure.
void create_topics(rd_kafka_t* client, const std::vector<TopicSpec>& specs,
                   std::chrono::milliseconds timeout);

}  // namespace auditor::kafka
