// The broker's admin calls, in one place (librdkafka admin API and offset queries): topics
// (partition counts, create, delete, delete records) for the worker and the tools, groups
// (describe, committed offsets, alter, delete) for `auditor reset`. Each call waits at most
// `timeout` and throws std::runtime_error naming the topic, partition or group when the
// broker refuses or does not answer in time. Any thread; `client` is any librdkafka handle.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "topology/types.h"

namespace auditor::kafka {

using Timeout = std::chrono::milliseconds;

struct TopicSpec {
  std::string name;
  std::int32_t partitions = 1;
  std::vector<std::pair<std::string, std::string>> configs;
};

// Partition count of each named topic; topics that do not exist are absent from the map.
// Throws std::runtime_error when the broker does not answer within `timeout`.
[[nodiscard]] std::map<std::string, std::int32_t> partition_counts(
    rd_kafka_t* client, const std::vector<std::string>& topics, Timeout timeout);

// Creates the topics (replication factor: broker default). A topic that already exists
// is not an error: returns the names of those. Throws std::runtime_error naming the topic
// on any other failure (for a missing CREATE permission, the ACL to grant: access.h).
std::set<std::string> create_topics(rd_kafka_t* client, const std::vector<TopicSpec>& specs,
                                    Timeout timeout);

struct AssignedPartition {
  std::string topic;
  std::int32_t partition = 0;
  bool operator==(const AssignedPartition&) const = default;
};

struct GroupMember {
  std::string client_id;
  std::string host;
  std::string instance_id;  // static membership (--instance-id), may be empty
  // What the group's last completed assignment gave the member (under cooperative-sticky,
  // during a rebalance: less than it will have once it ends).
  std::vector<AssignedPartition> assignment;
};

struct GroupDescription {
  std::string state;  // "Empty", "Stable", "PreparingRebalance", "Dead" (unknown group), ...
  std::vector<GroupMember> members;
};

[[nodiscard]] GroupDescription describe_group(rd_kafka_t* client, const std::string& group,
                                              Timeout timeout);

// The group's committed offsets on partitions 0..partitions-1 of `topic`; partitions
// without one are absent.
[[nodiscard]] std::map<std::int32_t, std::int64_t> committed_offsets(rd_kafka_t* client,
                                                                     const std::string& group,
                                                                     const std::string& topic,
                                                                     std::int32_t partitions,
                                                                     Timeout timeout);

// {low, high} of each partition 0..partitions-1.
[[nodiscard]] std::map<std::int32_t, std::pair<std::int64_t, std::int64_t>> watermarks(
    rd_kafka_t* client, const std::string& topic, std::int32_t partitions, Timeout timeout);

// The first offset whose record timestamp is at or after `time`, per partition; nullopt
// where no record is that recent.
[[nodiscard]] std::map<std::int32_t, std::optional<std::int64_t>> offsets_at(
    rd_kafka_t* client, const std::string& topic, std::int32_t partitions, EventTime time,
    Timeout timeout);

// Deletes every record of partitions 0..partitions-1 (DeleteRecords to the end offset).
// Returns the new log start offset of each partition.
[[nodiscard]] std::map<std::int32_t, std::int64_t> delete_all_records(rd_kafka_t* client,
                                                                      const std::string& topic,
                                                                      std::int32_t partitions,
                                                                      Timeout timeout);

// Deletes the group's committed offsets on partitions 0..partitions-1 of `topic`.
void delete_group_offsets(rd_kafka_t* client, const std::string& group, const std::string& topic,
                          std::int32_t partitions, Timeout timeout);

// Deletes the topic and waits until the metadata no longer lists it, so a worker started
// next creates it afresh rather than finding it half deleted.
void delete_topic(rd_kafka_t* client, const std::string& topic, Timeout timeout);

struct GroupOffset {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
};

// Commits `offsets` for the group; the broker refuses while the group has members.
void alter_group_offsets(rd_kafka_t* client, const std::string& group,
                         const std::vector<GroupOffset>& offsets, Timeout timeout);

}  // namespace auditor::kafka
