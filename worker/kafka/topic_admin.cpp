#include "worker/kafka/topic_admin.h"

#include <array>
#include <stdexcept>

#include "worker/kafka/client.h"
#include "worker/kafka/handles.h"

namespace auditor::kafka {

std::map<std::string, std::int32_t> partition_counts(rd_kafka_t* client,
                                                     const std::vector<std::string>& topics,
                                                     std::chrono::milliseconds timeout) {
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

void create_topics(rd_kafka_t* client, const std::vector<TopicSpec>& specs,
                   std::chrono::milliseconds timeout) {
  if (specs.empty()) return;
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

  QueuePtr queue(rd_kafka_queue_new(client));
  AdminOptionsPtr options(rd_kafka_AdminOptions_new(client, RD_KAFKA_ADMIN_OP_CREATETOPICS));
  rd_kafka_AdminOptions_set_operation_timeout(options.get(), static_cast<int>(timeout.count()),
                                              err.data(), err.size());
  rd_kafka_CreateTopics(client, raw.data(), raw.size(), options.get(), queue.get());

  EventPtr event(rd_kafka_queue_poll(queue.get(), static_cast<int>(timeout.count()) + 1000));
  if (!event) throw std::runtime_error("creating topics: no answer from the broker in time");
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(std::string("creating topics: ") +
                             rd_kafka_event_error_string(event.get()));
  }
  const auto* result = rd_kafka_event_CreateTopics_result(event.get());
  std::size_t count = 0;
  const auto** results = rd_kafka_CreateTopics_result_topics(result, &count);
  for (std::size_t i = 0; i < count; ++i) {
    const auto e = rd_kafka_topic_result_error(results[i]);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      const char* msg = rd_kafka_topic_result_error_string(results[i]);
      throw std::runtime_error(std::string("cannot create topic ") +
                               rd_kafka_topic_result_name(results[i]) + ": " +
                               (msg != nullptr ? msg : error_text(e).c_str()));
    }
  }
}

}  // namespace auditor::kafka
