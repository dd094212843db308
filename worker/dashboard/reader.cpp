#include "worker/dashboard/reader.h"

#include <chrono>
#include <set>
#include <thread>

#include "worker/common/log.h"
#include "worker/kafka/admin.h"
#include "worker/kafka/client.h"
#include "worker/kafka/partition_list.h"

namespace auditor::dashboard {
namespace {

// Sleeps up to `d`, waking early on stop.
void pause(const std::atomic<bool>& stop, std::chrono::milliseconds d) {
  for (auto left = d; left.count() > 0 && !stop.load(); left -= std::chrono::milliseconds(100)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// The topic's partition count once it exists; 0 if stopped first.
std::int32_t wait_for_topic(rd_kafka_t* consumer, const std::string& topic,
                            const std::atomic<bool>& stop) {
  auto logger = log::get("dashboard");
  bool said = false;
  while (!stop.load()) {
    try {
      const auto counts = kafka::partition_counts(consumer, {topic}, std::chrono::seconds(5));
      if (const auto it = counts.find(topic); it != counts.end() && it->second > 0) {
        return it->second;
      }
      if (!said) logger->info("waiting for topic {} (is a worker running?)", topic);
    } catch (const std::exception& e) {
      if (!said) logger->warn("waiting for Kafka: {}", e.what());
    }
    said = true;
    pause(stop, std::chrono::seconds(2));
  }
  return 0;
}

}  // namespace

void read_rollups(const KafkaSettings& kafka, const std::string& topic, RollupStore& store,
                  const std::atomic<bool>& stop) {
  auto logger = log::get("dashboard");
  auto consumer = kafka::make_client(
      RD_KAFKA_CONSUMER, kafka::make_conf(kafka, {{"group.id", "auditor-dashboard"},
                                                  {"enable.auto.commit", "false"},
                                                  {"enable.partition.eof", "true"},
                                                  {"isolation.level", "read_committed"}}));
  const std::int32_t partitions = wait_for_topic(consumer.get(), topic, stop);
  if (partitions == 0) return;
  kafka::TopicPartitionListPtr assignment =
      kafka::all_partitions(topic, partitions, RD_KAFKA_OFFSET_BEGINNING);
  if (const auto err = rd_kafka_assign(consumer.get(), assignment.get())) {
    throw std::runtime_error("cannot assign " + topic + ": " + kafka::error_text(err));
  }
  logger->info("reading {} ({} partitions) from the beginning", topic, partitions);
  std::set<std::int32_t> at_end;
  while (!stop.load()) {
    kafka::MessagePtr m(rd_kafka_consumer_poll(consumer.get(), 200));
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_end.insert(m->partition);
      if (static_cast<std::int32_t>(at_end.size()) == partitions) store.set_caught_up();
      continue;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // The group only exists because librdkafka wants one: a principal without access to
      // it (README, ACLs: the reader has none) reads the assigned partitions all the same.
      const bool group_denied = m->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED;
      logger->log(group_denied ? spdlog::level::debug : spdlog::level::warn, "{}",
                  rd_kafka_message_errstr(m.get()));
      continue;
    }
    const std::string_view key(static_cast<const char*>(m->key), m->key_len);
    std::optional<std::string_view> value;
    if (m->payload != nullptr) value.emplace(static_cast<const char*>(m->payload), m->len);
    if (!store.apply(key, value)) {
      logger->debug("skipped a record that is not a rollup at {}/{}", m->partition, m->offset);
    }
  }
  (void)rd_kafka_assign(consumer.get(), nullptr);  // shutting down: a failure changes nothing
}

}  // namespace auditor::dashboard
