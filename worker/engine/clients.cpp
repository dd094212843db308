#include "worker/engine/clients.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <random>

namespace auditor {
namespace {

std::string transactional_id(const WorkerConfig& config) {
  if (config.instance_id) return config.topics.application_id + "-" + *config.instance_id;
  std::array<char, 256> host{};
  ::gethostname(host.data(), host.size() - 1);
  std::random_device random;
  return config.topics.application_id + "-" + host.data() + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(random());
}

}  // namespace

kafka::Properties worker_consumer_properties(const WorkerConfig& config) {
  kafka::Properties props = {
      {"group.id", config.topics.application_id},
      {"client.id", config.topics.application_id + "-consumer"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      // The end of a partition is where its position may move past transaction markers.
      {"enable.partition.eof", "true"},
      {"auto.offset.reset", "earliest"},
      {"partition.assignment.strategy", "cooperative-sticky"},
      // Also under at-least-once: never count records of aborted transactions.
      {"isolation.level", "read_committed"},
      {"session.timeout.ms", "10000"},
      {"heartbeat.interval.ms", "2000"},
      // One fetch request per broker is in flight. When the input partitions' local queues
      // are full, it holds only repartition partitions, which often have nothing committed
      // yet: the broker would hold it for the default 500 ms while the loop drains the
      // input and then starves. A short wait keeps the input flowing.
      {"fetch.wait.max.ms", "20"},
  };
  kafka::add_prefetch_properties(props);
  if (config.instance_id) props.emplace_back("group.instance.id", *config.instance_id);
  return props;
}

kafka::Properties worker_producer_properties(const WorkerConfig& config) {
  kafka::Properties props = {
      {"client.id", config.topics.application_id + "-producer"},
      // One commit enqueues its rollups, changelog records and pre-aggregates at once,
      // often more than librdkafka's default 100,000 messages; a full queue would stall the
      // loop until the broker caught up. Memory stays bounded by the byte limit (128 MiB).
      {"queue.buffering.max.messages", "1000000"},
      {"queue.buffering.max.kbytes", "131072"},
  };
  if (config.guarantee == Guarantee::kExactlyOnce) {
    props.emplace_back("transactional.id", transactional_id(config));
    // A crashed worker's open transaction blocks read_committed readers until it times
    // out: keep it short, but well above one commit interval. Deliveries must give up
    // before the transaction does (librdkafka requires it).
    const auto timeout_ms =
        std::to_string(std::max<std::int64_t>(10'000, 3 * config.commit_interval.value + 5'000));
    props.emplace_back("transaction.timeout.ms", timeout_ms);
    props.emplace_back("message.timeout.ms", timeout_ms);
  }
  return props;
}

}  // namespace auditor
