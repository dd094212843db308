#include "worker/kafka/admin.h"

#include <array>
#include <stdexcept>
#include <thread>

#include "worker/kafka/access.h"
#include "worker/kafka/client.h"
#include "worker/kafka/handles.h"
#include "worker/kafka/partition_list.h"

namespace auditor::kafka {
namespace {

using Clock = std::chrono::steady_clock;
using DescribeGroupsResult = const rd_kafka_DescribeConsumerGroups_result_t;
using DeleteRecordsPtr = Owned<rd_kafka_DeleteRecords_t, rd_kafka_DeleteRecords_destroy>;
using DeleteTopicPtr = Owned<rd_kafka_DeleteTopic_t, rd_kafka_DeleteTopic_destroy>;
using ListOffsetsPtr =
    Owned<rd_kafka_ListConsumerGroupOffsets_t, rd_kafka_ListConsumerGroupOffsets_destroy>;
using AlterOffsetsPtr =
    Owned<rd_kafka_AlterConsumerGroupOffsets_t, rd_kafka_AlterConsumerGroupOffsets_destroy>;
using DeleteOffsetsPtr =
    Owned<rd_kafka_DeleteConsumerGroupOffsets_t, rd_kafka_DeleteConsumerGroupOffsets_destroy>;

int millis(Timeout timeout) {
  return static_cast<int>(timeout.count());
}

// `with_operation`: the broker-side wait of DeleteRecords / DeleteTopics gets the same
// deadline as the request.
AdminOptionsPtr admin_options(rd_kafka_t* client, rd_kafka_admin_op_t op, Timeout timeout,
                              bool with_operation = false) {
  AdminOptionsPtr options(rd_kafka_AdminOptions_new(client, op));
  // These only fail for a timeout out of range (over 3,600,000 ms), which callers never pass.
  std::array<char, 256> err{};
  (void)rd_kafka_AdminOptions_set_request_timeout(options.get(), millis(timeout), err.data(),
                                                  err.size());
  if (with_operation) {
    (void)rd_kafka_AdminOptions_set_operation_timeout(options.get(), millis(timeout), err.data(),
                                                      err.size());
  }
  return options;
}

// librdkafka fails the request itself at the request timeout; the margin only covers the
// hand-over of that result, so this wait never hangs.
EventPtr await_event(rd_kafka_queue_t* queue, Timeout timeout, const std::string& what) {
  EventPtr event(rd_kafka_queue_poll(queue, millis(timeout) + 2000));
  if (!event) {
    throw std::runtime_error(what + ": no answer from the broker within " +
                             std::to_string(timeout.count()) + " ms");
  }
  return event;
}

EventPtr await_result(rd_kafka_queue_t* queue, Timeout timeout, const std::string& what) {
  auto event = await_event(queue, timeout, what);
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(what + ": " + rd_kafka_event_error_string(event.get()));
  }
  return event;
}

void check_partitions(const rd_kafka_topic_partition_list_t* list, const std::string& what) {
  for (int i = 0; list != nullptr && i < list->cnt; ++i) {
    const auto& tp = list->elems[i];
    if (tp.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error(what + " " + tp.topic + "[" + std::to_string(tp.partition) +
                               "]: " + error_text(tp.err));
    }
  }
}

// The per-group result of the group offset calls: a group error, then partition errors.
const rd_kafka_topic_partition_list_t* check_group(const rd_kafka_group_result_t* const* groups,
                                                   std::size_t count, const std::string& what) {
  if (count != 1) throw std::runtime_error(what + ": unexpected answer from the broker");
  if (const auto* error = rd_kafka_group_result_error(groups[0])) {
    throw std::runtime_error(what + ": " + rd_kafka_error_string(error));
  }
  const auto* partitions = rd_kafka_group_result_partitions(groups[0]);
  check_partitions(partitions, what);
  return partitions;
}

}  // namespace

std::map<std::string, std::int32_t> partition_counts(rd_kafka_t* client,
                                                     const std::vector<std::string>& topics,
                                                     Timeout timeout) {
  const rd_kafka_metadata_t* raw = nullptr;
  // all_topics=1: one request answers for every topic, and asking about an absent topic
  // this way never auto-creates it.
  const auto err = rd_kafka_metadata(client, 1, nullptr, &raw, static_cast<int>(timeout.count()));
  MetadataPtr metadata(raw);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error("cannot read topic metadata from the broker: " + error_text(err));
  }
  std::map<std::string, std::int32_t> counts;
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const auto& topic = metadata->topics[i];
    for (const auto& wanted : topics) {
      if (wanted == topic.topic && topic.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        counts[wanted] = topic.partition_cnt;
      }
    }
  }
  return counts;
}

std::set<std::string> create_topics(rd_kafka_t* client, const std::vector<TopicSpec>& specs,
                                    Timeout timeout) {
  std::set<std::string> existed;
  if (specs.empty()) return existed;
  std::vector<NewTopicPtr> owned;
  std::vector<rd_kafka_NewTopic_t*> raw;
  std::array<char, 512> err{};
  for (const auto& spec : specs) {
    NewTopicPtr topic(
        rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions, -1, err.data(), err.size()));
    if (!topic) throw std::runtime_error("cannot create topic " + spec.name + ": " + err.data());
    for (const auto& [key, value] : spec.configs) {
      const auto e = rd_kafka_NewTopic_set_config(topic.get(), key.c_str(), value.c_str());
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        throw std::runtime_error("topic " + spec.name + " config " + key + ": " + error_text(e));
      }
    }
    raw.push_back(topic.get());
    owned.push_back(std::move(topic));
  }

  const std::string what = "creating topics";
  QueuePtr queue(rd_kafka_queue_new(client));
  const auto options = admin_options(client, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout, true);
  rd_kafka_CreateTopics(client, raw.data(), raw.size(), options.get(), queue.get());
  const auto event = await_result(queue.get(), timeout, what);
  const auto* result = rd_kafka_event_CreateTopics_result(event.get());
  std::size_t count = 0;
  const auto** results = rd_kafka_CreateTopics_result_topics(result, &count);
  for (std::size_t i = 0; i < count; ++i) {
    const auto e = rd_kafka_topic_result_error(results[i]);
    const std::string name = rd_kafka_topic_result_name(results[i]);
    if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) existed.insert(name);
    if (e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
      // Kafka checks CREATE before existence: the topic may exist but be invisible to us.
      const std::string principal = principal_of(client);
      throw std::runtime_error(missing_acl("create", "Topic", name, "CREATE", principal) +
                               " (if the topic exists, " + principal +
                               " cannot describe it either)");
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      const char* msg = rd_kafka_topic_result_error_string(results[i]);
      throw std::runtime_error(std::string("cannot create topic ") +
                               rd_kafka_topic_result_name(results[i]) + ": " +
                               (msg != nullptr ? msg : error_text(e).c_str()));
    }
  }
  return existed;
}

GroupDescription describe_group(rd_kafka_t* client, const std::string& group, Timeout timeout) {
  const std::string what = "describing group " + group;
  QueuePtr queue(rd_kafka_queue_new(client));
  const auto options = admin_options(client, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, timeout);
  std::array<const char*, 1> groups = {group.c_str()};
  rd_kafka_DescribeConsumerGroups(client, groups.data(), groups.size(), options.get(), queue.get());
  const auto event = await_result(queue.get(), timeout, what);
  std::size_t count = 0;
  const auto* const* descriptions = rd_kafka_DescribeConsumerGroups_result_groups(
      rd_kafka_event_DescribeConsumerGroups_result(event.get()), &count);
  if (count != 1) throw std::runtime_error(what + ": unexpected answer from the broker");
  const auto* description = descriptions[0];
  GroupDescription result;
  if (const auto* error = rd_kafka_ConsumerGroupDescription_error(description)) {
    // Newer brokers answer for a group that never existed with an error, older with "Dead".
    if (rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) {
      result.state = "Dead";
      return result;
    }
    throw std::runtime_error(what + ": " + rd_kafka_error_string(error));
  }
  result.state =
      rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(description));
  const std::size_t members = rd_kafka_ConsumerGroupDescription_member_count(description);
  for (std::size_t i = 0; i < members; ++i) {
    const auto* member = rd_kafka_ConsumerGroupDescription_member(description, i);
    const char* instance = rd_kafka_MemberDescription_group_instance_id(member);
    GroupMember& m =
        result.members.emplace_back(GroupMember{rd_kafka_MemberDescription_client_id(member),
                                                rd_kafka_MemberDescription_host(member),
                                                instance != nullptr ? instance : "",
                                                {}});
    const auto* assignment = rd_kafka_MemberDescription_assignment(member);
    const auto* partitions =
        assignment != nullptr ? rd_kafka_MemberAssignment_partitions(assignment) : nullptr;
    for (int p = 0; partitions != nullptr && p < partitions->cnt; ++p) {
      m.assignment.push_back({partitions->elems[p].topic, partitions->elems[p].partition});
    }
  }
  return result;
}

std::map<std::int32_t, std::int64_t> committed_offsets(rd_kafka_t* client, const std::string& group,
                                                       const std::string& topic,
                                                       std::int32_t partitions, Timeout timeout) {
  const std::string what = "reading the committed offsets of group " + group;
  QueuePtr queue(rd_kafka_queue_new(client));
  const auto options = admin_options(client, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, timeout);
  const auto list = all_partitions(topic, partitions, RD_KAFKA_OFFSET_INVALID);
  ListOffsetsPtr request(rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), list.get()));
  auto* raw = request.get();
  rd_kafka_ListConsumerGroupOffsets(client, &raw, 1, options.get(), queue.get());
  const auto event = await_result(queue.get(), timeout, what);
  std::size_t count = 0;
  const auto* const* groups = rd_kafka_ListConsumerGroupOffsets_result_groups(
      rd_kafka_event_ListConsumerGroupOffsets_result(event.get()), &count);
  const auto* offsets = check_group(groups, count, what);
  std::map<std::int32_t, std::int64_t> committed;
  for (int i = 0; offsets != nullptr && i < offsets->cnt; ++i) {
    if (offsets->elems[i].offset >= 0) {
      committed[offsets->elems[i].partition] = offsets->elems[i].offset;
    }
  }
  return committed;
}

std::map<std::int32_t, std::pair<std::int64_t, std::int64_t>> watermarks(rd_kafka_t* client,
                                                                         const std::string& topic,
                                                                         std::int32_t partitions,
                                                                         Timeout timeout) {
  const auto deadline = Clock::now() + timeout;
  std::map<std::int32_t, std::pair<std::int64_t, std::int64_t>> result;
  for (std::int32_t p = 0; p < partitions; ++p) {
    const auto left = std::chrono::duration_cast<Timeout>(deadline - Clock::now());
    std::int64_t low = 0;
    std::int64_t high = 0;
    const auto err = rd_kafka_query_watermark_offsets(client, topic.c_str(), p, &low, &high,
                                                      std::max(1, millis(left)));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error("reading the offsets of " + topic + "[" + std::to_string(p) +
                               "]: " + error_text(err));
    }
    result[p] = {low, high};
  }
  return result;
}

std::map<std::int32_t, std::optional<std::int64_t>> offsets_at(rd_kafka_t* client,
                                                               const std::string& topic,
                                                               std::int32_t partitions,
                                                               EventTime time, Timeout timeout) {
  const std::string what = "looking up offsets by time in";
  // The query carries the timestamp in the offset field and answers in place.
  auto list = all_partitions(topic, partitions, time.value);
  const auto err = rd_kafka_offsets_for_times(client, list.get(), millis(timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(what + " " + topic + ": " + error_text(err));
  }
  check_partitions(list.get(), what);
  std::map<std::int32_t, std::optional<std::int64_t>> result;
  for (int i = 0; i < list->cnt; ++i) {
    const auto offset = list->elems[i].offset;
    result[list->elems[i].partition] = offset >= 0 ? std::optional(offset) : std::nullopt;
  }
  return result;
}

std::map<std::int32_t, std::int64_t> delete_all_records(rd_kafka_t* client,
                                                        const std::string& topic,
                                                        std::int32_t partitions, Timeout timeout) {
  const std::string what = "deleting the records of";
  QueuePtr queue(rd_kafka_queue_new(client));
  const auto options = admin_options(client, RD_KAFKA_ADMIN_OP_DELETERECORDS, timeout, true);
  // RD_KAFKA_OFFSET_END: up to the end offset the broker sees when it executes the request.
  const auto list = all_partitions(topic, partitions, RD_KAFKA_OFFSET_END);
  DeleteRecordsPtr request(rd_kafka_DeleteRecords_new(list.get()));
  auto* raw = request.get();
  rd_kafka_DeleteRecords(client, &raw, 1, options.get(), queue.get());
  const auto event = await_result(queue.get(), timeout, what + " " + topic);
  const auto* offsets =
      rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(event.get()));
  check_partitions(offsets, what);
  std::map<std::int32_t, std::int64_t> starts;
  for (int i = 0; offsets != nullptr && i < offsets->cnt; ++i) {
    starts[offsets->elems[i].partition] = offsets->elems[i].offset;
  }
  if (static_cast<std::int32_t>(starts.size()) != partitions) {
    throw std::runtime_error(what + " " + topic + ": the broker answered for " +
                             std::to_string(starts.size()) + " of " + std::to_string(partitions) +
                             " partitions");
  }
  return starts;
}

void delete_group_offsets(rd_kafka_t* client, const std::string& group, const std::string& topic,
                          std::int32_t partitions, Timeout timeout) {
  const std::string what = "deleting the offsets of group " + group + " on";
  QueuePtr queue(rd_kafka_queue_new(client));
  const auto options = admin_options(client, RD_KAFKA_ADMIN_OP_DELETECONSUMERGROUPOFFSETS, timeout);
  const auto list = all_partitions(topic, partitions, RD_KAFKA_OFFSET_INVALID);
  DeleteOffsetsPtr request(rd_kafka_DeleteConsumerGroupOffsets_new(group.c_str(), list.get()));
  auto* raw = request.get();
  rd_kafka_DeleteConsumerGroupOffsets(client, &raw, 1, options.get(), queue.get());
  // A group that never committed, or whose offsets expired (offsets.retention.minutes),
  // has nothing to delete.
  const auto event = await_event(queue.get(), timeout, what + " " + topic);
  if (rd_kafka_event_error(event.get()) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) return;
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(what + " " + topic + ": " + rd_kafka_event_error_string(event.get()));
  }
  std::size_t count = 0;
  const auto* const* groups = rd_kafka_DeleteConsumerGroupOffsets_result_groups(
      rd_kafka_event_DeleteConsumerGroupOffsets_result(event.get()), &count);
  if (count == 1) {
    const auto* error = rd_kafka_group_result_error(groups[0]);
    if (error != nullptr && rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) {
      return;
    }
  }
  (void)check_group(groups, count, what);
}

void delete_topic(rd_kafka_t* client, const std::string& topic, Timeout timeout) {
  const std::string what = "deleting topic " + topic;
  const auto deadline = Clock::now() + timeout;
  QueuePtr queue(rd_kafka_queue_new(client));
  const auto options = admin_options(client, RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout, true);
  DeleteTopicPtr request(rd_kafka_DeleteTopic_new(topic.c_str()));
  auto* raw = request.get();
  rd_kafka_DeleteTopics(client, &raw, 1, options.get(), queue.get());
  const auto event = await_result(queue.get(), timeout, what);
  std::size_t count = 0;
  const auto* const* results =
      rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(event.get()), &count);
  for (std::size_t i = 0; i < count; ++i) {
    const auto err = rd_kafka_topic_result_error(results[i]);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      const char* message = rd_kafka_topic_result_error_string(results[i]);
      throw std::runtime_error(what + ": " + (message != nullptr ? message : error_text(err)));
    }
  }
  while (partition_counts(client, {topic}, timeout).contains(topic)) {
    if (Clock::now() > deadline) {
      throw std::runtime_error(what + ": still listed after " + std::to_string(timeout.count()) +
                               " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void alter_group_offsets(rd_kafka_t* client, const std::string& group,
                         const std::vector<GroupOffset>& offsets, Timeout timeout) {
  const std::string what = "committing offsets for group " + group;
  QueuePtr queue(rd_kafka_queue_new(client));
  const auto options = admin_options(client, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS, timeout);
  TopicPartitionListPtr list = new_partition_list(static_cast<int>(offsets.size()));
  for (const auto& o : offsets)
    add_partition(*list, o.topic, PartitionId{o.partition}).offset = o.offset;
  AlterOffsetsPtr request(rd_kafka_AlterConsumerGroupOffsets_new(group.c_str(), list.get()));
  auto* raw = request.get();
  rd_kafka_AlterConsumerGroupOffsets(client, &raw, 1, options.get(), queue.get());
  const auto event = await_result(queue.get(), timeout, what);
  std::size_t count = 0;
  const auto* const* groups = rd_kafka_AlterConsumerGroupOffsets_result_groups(
      rd_kafka_event_AlterConsumerGroupOffsets_result(event.get()), &count);
  (void)check_group(groups, count, what);
}

}  // namespace auditor::kafka
