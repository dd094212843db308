#include "worker/engine/clients.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <random>

#include "worker/engine/advertised_http.h"

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

// Stage 2's members advertise their HTTP address in their client id: the other replicas
// read it, with the members' assignments, from the group's description to forward queries
// (engine/owner_directory.h).
std::string client_id(const WorkerConfig& config, WorkerStage stage) {
  const std::string base = config.topics.application_id + "-" + stage_name(stage);
  if (stage != WorkerStage::kAggregate || !config.advertised_http) return base;
  return client_id_with_http(base, *config.advertised_http);
}

}  // namespace

const char* stage_name(WorkerStage stage) {
  return stage == WorkerStage::kIngest ? "ingest" : "aggregate";
}

std::string stage_group(const WorkerConfig& config, WorkerStage stage) {
  return stage == WorkerStage::kIngest ? config.topics.ingest_group()
                                       : config.topics.aggregate_group();
}

kafka::Properties worker_consumer_properties(const WorkerConfig& config, WorkerStage stage) {
  kafka::Properties props = {
      {"group.id", stage_group(config, stage)},
      {"client.id", client_id(config, stage)},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      // The end of a partition is where its position may move past transaction markers.
      {"enable.partition.eof", "true"},
      {"auto.offset.reset", "earliest"},
      {"partition.assignment.strategy", "cooperative-sticky"},
      // Also under at-least-once: never count records of aborted transactions.
      {"isolation.level", "read_committed"},
      {"session.timeout.ms", "10000"},
      {"heartbeat.interval.ms", "500"},
      // The loop waits on both stages' consumers at once (engine/stage_consumer.h): a
      // fetch the broker holds back delays only its own stage; a short wait keeps a
      // repartition partition with little committed data from lagging a whole 500 ms.
      {"fetch.wait.max.ms", "20"},
      // For /healthz: whether the group coordinator answers (StageConsumer::on_statistics).
      {"statistics.interval.ms", "1000"},
  };
  kafka::add_prefetch_properties(props, worker_memory(config).prefetch_kbytes_per_consumer);
  // Unique per group, so both stages may use the same one.
  if (config.instance_id) props.emplace_back("group.instance.id", *config.instance_id);
  return props;
}

kafka::Properties worker_producer_properties(const WorkerConfig& config) {
  const MemoryBudget memory = worker_memory(config);
  kafka::Properties props = {
      {"client.id", config.topics.application_id + "-producer"},
      // One commit enqueues its rollups, changelog records and pre-aggregates at once,
      // often more than librdkafka's default 100,000 messages; a full queue stalls the loop
      // until the broker caught up. Both limits are the producer's share of --memory: the
      // byte limit counts payload only, the message limit bounds the rest (struct and key).
      {"queue.buffering.max.messages", std::to_string(memory.producer_queue_messages)},
      {"queue.buffering.max.kbytes", std::to_string(memory.producer_queue_kbytes)},
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
