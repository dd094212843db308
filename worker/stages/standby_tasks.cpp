#include "worker/stages/standby_tasks.h"

#include <stdexcept>

#include "state/store_damage.h"
#include "worker/common/log.h"
#include "worker/kafka/client.h"
#include "worker/kafka/partition_list.h"
#include "worker/stages/aggregate_task.h"
#include "worker/stages/changelog_restorer.h"

namespace auditor {

StandbyTasks::StandbyTasks(const WorkerConfig& config, std::string changelog_topic)
    : config_(config),
      topic_(std::move(changelog_topic)),
      consumer_(kafka::make_client(
          RD_KAFKA_CONSUMER,
          kafka::make_conf(
              config.kafka,
              changelog_reader_properties(config.topics.restore_group(),
                                          worker_memory(config).prefetch_kbytes_per_consumer)))) {}

void StandbyTasks::follow(PartitionId partition) {
  if (copies_.contains(partition.value)) return;
  Copy copy;
  const std::filesystem::path dir = task_store_dir(config_, partition);
  try {
    try {
      copy.store = state::TaskStore::open(dir);
    } catch (const state::StoreDamaged& e) {
      const auto aside = state::set_aside(dir);
      log::get("standby")->error(
          "standby task {}: its store {} is damaged ({}): moved aside to {}; rebuilding from the "
          "changelog",
          partition.value, dir.string(), e.what(), aside.string());
      copy.store = state::TaskStore::open(dir);
    }
  } catch (const std::exception& e) {
    throw std::runtime_error("standby task " + std::to_string(partition.value) +
                             ": cannot open its store: " + e.what());
  }
  copy.restore = std::make_unique<state::ChangelogRestore>(*copy.store);
  const auto from = copy.store->checkpoint().changelog_offset;
  copy.position = from ? from->value : 0;
  kafka::TopicPartitionListPtr list = kafka::new_partition_list(1);
  kafka::add_partition(*list, topic_, partition,
                       Offset{from ? from->value : RD_KAFKA_OFFSET_BEGINNING});
  kafka::ErrorPtr error(rd_kafka_incremental_assign(consumer_.get(), list.get()));
  if (error) {
    throw std::runtime_error("standby task " + std::to_string(partition.value) +
                             ": cannot read the changelog: " + rd_kafka_error_string(error.get()));
  }
  log::get("standby")->info("task {}: standby, following the changelog from offset {}",
                            partition.value, copy.position);
  copies_[partition.value] = std::move(copy);
}

std::string StandbyTasks::release(PartitionId partition) {
  const auto it = copies_.find(partition.value);
  if (it == copies_.end()) return {};
  Copy copy = std::move(it->second);
  copies_.erase(it);
  kafka::TopicPartitionListPtr list = kafka::new_partition_list(1);
  kafka::add_partition(*list, topic_, partition);
  kafka::ErrorPtr error(rd_kafka_incremental_unassign(consumer_.get(), list.get()));
  if (error) {
    log::get("standby")->warn("task {}: unassigning the changelog: {}", partition.value,
                              rd_kafka_error_string(error.get()));
  }
  auto status = copy.restore->flush(Offset{copy.position});
  if (status.ok()) status = copy.store->close();
  if (!status.ok()) {
    return "standby task " + std::to_string(partition.value) +
           ": writing its store: " + status.ToString();
  }
  log::get("standby")->info("task {}: standby released at changelog offset {}", partition.value,
                            copy.position);
  return {};
}

std::vector<std::int32_t> StandbyTasks::partitions() const {
  std::vector<std::int32_t> out;
  for (const auto& [partition, copy] : copies_) out.push_back(partition);
  return out;
}

bool StandbyTasks::caught_up() const {
  for (const auto& [partition, copy] : copies_) {
    if (!copy.caught_up) return false;
  }
  return true;
}

void StandbyTasks::poll(std::chrono::milliseconds budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  while (!copies_.empty() && std::chrono::steady_clock::now() < deadline) {
    kafka::MessagePtr m(rd_kafka_consumer_poll(consumer_.get(), 0));
    if (!m) return;
    const auto it = copies_.find(m->partition);
    if (it == copies_.end()) continue;  // released meanwhile
    Copy& copy = it->second;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      // The end of what is committed: write what was read, so that a takeover (or a
      // restart) replays only what comes after.
      copy.position = std::max(copy.position, m->offset);
      const auto status = copy.restore->flush(Offset{copy.position});
      if (!status.ok()) {
        throw std::runtime_error("standby task " + std::to_string(m->partition) +
                                 ": writing its store: " + status.ToString());
      }
      if (!copy.caught_up) {
        copy.caught_up = true;
        log::get("standby")->info("task {}: standby caught up at changelog offset {}", m->partition,
                                  copy.position);
      }
      continue;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      log::get("standby")->warn("standby task {}: {}", m->partition,
                                rd_kafka_message_errstr(m.get()));
      continue;
    }
    apply_changelog_record(*copy.restore, *m, "standby task");
    copy.position = m->offset + 1;
    ++records_applied_;
  }
}

}  // namespace auditor
