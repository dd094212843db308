#include "worker/stages/changelog_restorer.h"

#include <stdexcept>

#include "worker/common/log.h"
#include "worker/kafka/client.h"
#include "worker/kafka/partition_list.h"

namespace auditor {

using Clock = std::chrono::steady_clock;
constexpr int kEndQueryTimeoutMs = 2'000;

kafka::Properties changelog_reader_properties(const std::string& group,
                                              std::uint64_t prefetch_kbytes) {
  kafka::Properties props = {{"group.id", group},  // never joins: assign only
                             {"enable.auto.commit", "false"},
                             {"enable.partition.eof", "true"},
                             {"isolation.level", "read_committed"},
                             {"auto.offset.reset", "earliest"},
                             {"fetch.wait.max.ms", "50"}};
  kafka::add_prefetch_properties(props, prefetch_kbytes);
  return props;
}

void apply_changelog_record(state::ChangelogRestore& restore, const rd_kafka_message_t& record,
                            std::string_view role) {
  const std::string_view key(static_cast<const char*>(record.key), record.key_len);
  const auto value = record.payload == nullptr
                         ? std::nullopt
                         : std::optional<std::string_view>(std::string_view(
                               static_cast<const char*>(record.payload), record.len));
  const auto status = restore.add(key, value, Offset{record.offset});
  if (!status.ok()) {
    throw std::runtime_error(std::string(role) + " " + std::to_string(record.partition) +
                             ": changelog offset " + std::to_string(record.offset) + ": " +
                             status.ToString());
  }
}

ChangelogRestorer::ChangelogRestorer(const KafkaSettings& settings, std::string changelog_topic,
                                     std::string repartition_topic, const std::string& group,
                                     std::uint64_t prefetch_kbytes)
    : consumer_(kafka::make_client(
          RD_KAFKA_CONSUMER,
          kafka::make_conf(settings, changelog_reader_properties(group, prefetch_kbytes)))),
      topic_(std::move(changelog_topic)),
      repartition_topic_(std::move(repartition_topic)) {}

std::optional<state::PartitionBounds> ChangelogRestorer::bounds(const std::string& topic,
                                                                std::int32_t partition) {
  state::PartitionBounds b;
  if (rd_kafka_query_watermark_offsets(consumer_.get(), topic.c_str(), partition, &b.low, &b.high,
                                       kEndQueryTimeoutMs) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::nullopt;
  }
  return b;
}

std::optional<std::string> ChangelogRestorer::start(AggregateTask& task) {
  const std::int32_t partition = task.partition().value;
  const state::TaskCheckpoint& checkpoint = task.store().checkpoint();
  const auto from = checkpoint.changelog_offset;
  // A store whose offsets the topics contradict must not be trusted: its windows are not
  // what the changelog holds. When the broker does not answer quickly, poll() still
  // notices a changelog that ends before the store's offset.
  const auto changelog = bounds(topic_, partition);
  if (changelog && (checkpoint.changelog_offset || checkpoint.input_offset)) {
    const auto repartition =
        checkpoint.input_offset ? bounds(repartition_topic_, partition) : std::nullopt;
    if (auto reason = state::checkpoint_inconsistency(checkpoint, *changelog, repartition)) {
      return reason;
    }
  }
  // The end is found by reading to it (partition EOF, which read_committed puts at the
  // last stable offset), so a changelog whose leader is still being elected just waits.
  const std::int64_t start_at = from ? from->value : RD_KAFKA_OFFSET_BEGINNING;
  const std::int64_t position = std::max<std::int64_t>(0, start_at);
  log::get("restore")->info("task {}: restoring from changelog offset {}", partition,
                            from ? std::to_string(from->value) + " (local store kept)"
                                 : std::string("0 (no local store)"));
  // Nothing past the store's offset at all (a warm standby copy, a store whose owner
  // stopped cleanly, an empty changelog): done without waiting for a fetch to report the
  // end, which takes 0.1-1 s. If the broker does not answer quickly, the fetch decides.
  if (changelog && changelog->high <= position) {
    log::get("restore")->info(
        "task {}: restored 0 changelog records in 0.00 s (offsets {}..{}, nothing after the "
        "store)",
        partition, position, position);
    up_to_date_.emplace_back(partition);
    return std::nullopt;
  }
  active_[partition] = Active{&task, std::make_unique<state::ChangelogRestore>(task.store()),
                              Clock::now(), from ? from->value : 0, position};
  kafka::TopicPartitionListPtr list = kafka::new_partition_list(1);
  kafka::add_partition(*list, topic_, PartitionId{partition}, Offset{start_at});
  kafka::ErrorPtr error(rd_kafka_incremental_assign(consumer_.get(), list.get()));
  if (error) {
    active_.erase(partition);
    throw std::runtime_error("task " + std::to_string(partition) +
                             ": cannot read the changelog: " + rd_kafka_error_string(error.get()));
  }
  return std::nullopt;
}

std::vector<ChangelogRestorer::Inconsistent> ChangelogRestorer::take_inconsistent() {
  std::vector<Inconsistent> taken = std::move(inconsistent_);
  inconsistent_.clear();
  return taken;
}

void ChangelogRestorer::stop_reading(std::int32_t partition) {
  active_.erase(partition);
  kafka::TopicPartitionListPtr list = kafka::new_partition_list(1);
  kafka::add_partition(*list, topic_, PartitionId{partition});
  kafka::ErrorPtr error(rd_kafka_incremental_unassign(consumer_.get(), list.get()));
  if (error) {
    log::get("restore")->warn("task {}: unassigning the changelog: {}", partition,
                              rd_kafka_error_string(error.get()));
  }
}

void ChangelogRestorer::cancel(PartitionId partition) {
  std::erase(up_to_date_, partition);
  if (!active_.contains(partition.value)) return;
  stop_reading(partition.value);
  log::get("restore")->info("task {}: restore cancelled (revoked)", partition.value);
}

std::int64_t ChangelogRestorer::remaining() const {
  std::int64_t total = 0;
  for (const auto& [partition, a] : active_) {
    std::int64_t low = 0;
    std::int64_t high = 0;
    // Cached by the fetcher: no request to the broker.
    if (rd_kafka_get_watermark_offsets(consumer_.get(), topic_.c_str(), partition, &low, &high) ==
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      total += std::max<std::int64_t>(0, high - a.position);
    }
  }
  return total;
}

std::vector<PartitionId> ChangelogRestorer::poll(std::chrono::milliseconds budget) {
  std::vector<PartitionId> finished = std::move(up_to_date_);
  up_to_date_.clear();
  const auto deadline = Clock::now() + budget;
  while (!active_.empty() && Clock::now() < deadline) {
    kafka::MessagePtr m(rd_kafka_consumer_poll(consumer_.get(), 10));
    if (!m) continue;
    auto it = active_.find(m->partition);
    if (it == active_.end()) continue;
    Active& a = it->second;
    const std::int32_t partition = m->partition;
    if ((m->err == RD_KAFKA_RESP_ERR_NO_ERROR || m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) &&
        m->offset < a.from) {
      // The store's offset was out of range, so the consumer started over at the beginning:
      // the changelog ends before what the store reflects (its end was not known up front).
      inconsistent_.push_back({PartitionId{partition}, "it reflects the changelog up to offset " +
                                                           std::to_string(a.from) +
                                                           " but the changelog ends before " +
                                                           "it (deleted or recreated since)"});
      stop_reading(partition);
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      const auto status = a.restore->flush(Offset{m->offset});
      if (!status.ok()) {
        throw std::runtime_error("task " + std::to_string(partition) +
                                 ": writing the restored store: " + status.ToString());
      }
      const double seconds = std::chrono::duration<double>(Clock::now() - a.started).count();
      log::get("restore")->info(
          "task {}: restored {} changelog records in {:.2f} s (offsets {}..{})", partition,
          a.restore->records_applied(), seconds, a.from, m->offset);
      finished.emplace_back(partition);
      stop_reading(partition);
      continue;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      log::get("restore")->warn("task {}: {}", partition, rd_kafka_message_errstr(m.get()));
      continue;
    }
    apply_changelog_record(*a.restore, *m, "task");
    a.position = m->offset + 1;
    ++records_restored_;
  }
  return finished;
}

}  // namespace auditor
