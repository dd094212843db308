// The worker's commit: sealing what was processed into a transaction, finishing it on a
// background thread while the loop reads on, and making the stores follow once it is
// durable (or rewinding when it is not).
//
//   loop thread                                       commit thread
//   ───────────                                       ─────────────
//   start_commit: aggregators' commit(), produce
//     rollups, changelog, pre-aggregates; snapshot
//     offsets ──────────────────────────────────────► finish(offsets): flush + commit txn
//   process records (next commit's); dead letters
//     wait in deferred_ (the producer is busy)
//   complete_commit: outcome ◄────────────────────────┘
//     ok:    stores.apply(result + checkpoint), aggregators committed()
//     else:  abort, rewind to the last durable commit (drops the in-flight's successors too)
//
// Only one commit is in flight; while it is, only the commit thread uses the producer.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <future>
#include <new>

#include "state/changelog.h"
#include "topology/repartition_record.h"
#include "worker/common/log.h"
#include "worker/engine/worker.h"

namespace auditor {
namespace {

// Dead letters deferred while a commit is in flight; past this the loop waits for the
// commit instead of reading on.
constexpr std::size_t kMaxDeferredBytes = 64U << 20U;

}  // namespace

void Worker::produce(const kafka::OutgoingRecord& record) {
  if (produce_failed_) return;  // this commit will be aborted anyway
  if (inflight_) {
    DeferredRecord& deferred = deferred_.emplace_back();
    deferred.topic = record.topic;
    deferred.key = record.key;
    if (record.value != nullptr) {
      deferred.value.emplace(static_cast<const char*>(record.value), record.value_size);
    }
    for (const auto& h : record.headers) deferred.headers.emplace_back(h.name, h.value);
    deferred_bytes_ += record.key.size() + record.value_size + 64;
    return;
  }
  const auto begun = transaction_->begin();
  if (begun.status != CommitStatus::kOk) {
    produce_failed_ = true;
    if (begun.status == CommitStatus::kFatal) {
      fatal_ = true;
      fatal_error_ = begun.error;
    }
    log::get("worker")->error("{}", begun.error);
    return;
  }
  const auto err = producer_->produce(record, kBlockingTimeout);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    produce_failed_ = true;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      fatal_ = true;
      fatal_error_ = "producer: fatal error";
    }
    log::get("worker")->error("cannot produce to {}: {}", record.topic, kafka::error_text(err));
  }
}

void Worker::produce_deferred() {
  for (const DeferredRecord& deferred : deferred_) {
    kafka::OutgoingRecord record;
    record.topic = deferred.topic;
    record.key = deferred.key;
    if (deferred.value) {
      record.value = deferred.value->data();
      record.value_size = deferred.value->size();
    }
    for (const auto& [name, value] : deferred.headers) record.headers.push_back({name, value});
    produce(record);
  }
  deferred_.clear();
  deferred_bytes_ = 0;
}

std::optional<PartitionWatermark> Worker::watermark_to_send(const InputPartition& input) const {
  const PartitionWatermark watermark = input.clock.watermark(loop_now_, config_.idle_timeout);
  // A partition with no valid tick that is not idle has nothing to say yet.
  if (input.sent == watermark || (!watermark.time && !watermark.idle)) return std::nullopt;
  return watermark;
}

bool Worker::watermarks_changed() const {
  return std::any_of(inputs_.begin(), inputs_.end(), [this](const auto& entry) {
    return watermark_to_send(entry.second).has_value();
  });
}

void Worker::produce_watermarks() {
  // After this commit's data, in the same transaction: every task reads a partition's
  // watermark after the ticks it covers (docs/event-time.md).
  for (auto& [partition, input] : inputs_) {
    const std::optional<PartitionWatermark> to_send = watermark_to_send(input);
    if (!to_send) continue;
    const PartitionWatermark& watermark = *to_send;
    if (watermark.idle != input.sent.value_or(PartitionWatermark{}).idle) {
      if (watermark.idle) {
        log::get("worker")->info(
            "input partition {} is idle (at its end, no record for {} ms): it no longer holds "
            "windows open",
            partition, config_.idle_timeout.value);
      } else {
        log::get("worker")->info("input partition {} has records again", partition);
      }
    }
    const std::string value = encode_watermark_value(PartitionId{partition}, watermark);
    for (std::int32_t task = 0; task < partitions_; ++task) {
      produce({repartition_topic_, task, {}, value.data(), value.size(), {}});
    }
    // Records on the repartition topic like the pre-aggregates, and also counted apart.
    WorkerMetrics::inc(metrics_.repartition_records_out, static_cast<std::uint64_t>(partitions_));
    WorkerMetrics::inc(metrics_.watermarks_out, static_cast<std::uint64_t>(partitions_));
    input.sent = watermark;
  }
}

bool Worker::deferred_full() const {
  return deferred_bytes_ >= kMaxDeferredBytes;
}

bool Worker::commit_ready() const {
  return inflight_ &&
         inflight_->outcome.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

kafka::TopicPartitionListPtr Worker::offsets_to_commit() const {
  kafka::TopicPartitionListPtr list(
      rd_kafka_topic_partition_list_new(static_cast<int>(inputs_.size() + tasks_.size())));
  for (const auto& [partition, input] : inputs_) {
    if (!input.next) continue;
    auto* tp = rd_kafka_topic_partition_list_add(list.get(), config_.topics.input.c_str(), partition);
    tp->offset = input.next->value;
    // The partition time at exactly this offset: everything before it is in this commit.
    // The list frees the metadata with free().
    const std::string metadata = encode_partition_time_metadata(input.clock.time());
    tp->metadata = std::malloc(metadata.size());
    if (tp->metadata == nullptr) throw std::bad_alloc();
    std::memcpy(tp->metadata, metadata.data(), metadata.size());
    tp->metadata_size = metadata.size();
  }
  for (const auto& [partition, task] : tasks_) {
    if (task->restoring() || !task->next_offset()) continue;
    rd_kafka_topic_partition_list_add(list.get(), repartition_topic_.c_str(), partition)->offset =
        task->next_offset()->value;
  }
  return list;
}

CommitOutcome Worker::start_commit() {
  InflightCommit commit;
  commit.started = Clock::now();
  produce_deferred();
  if (produce_failed_) {
    CommitOutcome failed{fatal_ ? CommitStatus::kFatal : CommitStatus::kAborted,
                         "a record of this commit could not be produced"};
    handle_failed_commit(failed);
    return failed;
  }

  // Stage 2: the windows' new values, read from the stores once per changed window.
  for (auto& [partition, task] : tasks_) {
    if (!task->has_pending()) continue;
    CommitResult result = task->aggregator().commit(task->store());
    if (!task->store().read_status().ok()) {
      CommitOutcome failed{CommitStatus::kAborted,
                           "task " + std::to_string(partition) +
                               ": reading its store: " + task->store().read_status().ToString()};
      handle_failed_commit(failed);
      return failed;
    }
    for (const Rollup& rollup : result.rollups) {
      rollup_formatter_.format(rollup);
      const std::string_view value = rollup_formatter_.value();
      produce({config_.topics.output,
               RD_KAFKA_PARTITION_UA,
               rollup_formatter_.key(),
               value.data(),
               value.size(),
               {}});
    }
    WorkerMetrics::inc(metrics_.rollups_published, result.rollups.size());
    result.rollups = {};  // enqueued (copied): not needed while the commit is in flight
    const auto changelog = state::changelog_records(result);
    WorkerMetrics::inc(metrics_.changelog_records, changelog.size());
    for (const auto& record : changelog) {
      produce({changelog_topic_,
               partition,
               record.key,
               record.value ? record.value->data() : nullptr,
               record.value ? record.value->size() : 0,
               {}});
    }
    commit.tasks.push_back({PartitionId{partition}, std::move(result), task->next_offset()});
  }

  // Stage 1: the pre-aggregates, to the task that owns their key.
  const auto pre_aggregates = pre_aggregator_.take();
  for (const PreAggregate& pa : pre_aggregates) {
    const std::string key = encode_repartition_key(pa.process_name, pa.process_activity);
    const std::string value =
        encode_repartition_value(pa.event_time, pa.count, pa.ticks, pa.late_mask, config_.windows);
    produce({repartition_topic_,
             partition_for(key, partitions_).value,
             key,
             value.data(),
             value.size(),
             {}});
  }
  WorkerMetrics::inc(metrics_.repartition_records_out, pre_aggregates.size());
  commit.pre_aggregates = pre_aggregates.size();
  produce_watermarks();
  dirty_ = false;
  if (produce_failed_) {
    CommitOutcome failed{fatal_ ? CommitStatus::kFatal : CommitStatus::kAborted,
                         "producing failed"};
    handle_failed_commit(failed);
    return failed;
  }

  commit.offsets = offsets_to_commit();
  commit.outcome = std::async(std::launch::async,
                              [transaction = transaction_.get(), offsets = commit.offsets.get()] {
                                return transaction->finish(offsets);
                              });
  inflight_ = std::move(commit);
  return {};
}

CommitOutcome Worker::complete_commit() {
  auto logger = log::get("worker");
  InflightCommit commit = std::move(*inflight_);
  inflight_.reset();
  const CommitOutcome outcome = commit.outcome.get();
  if (outcome.status != CommitStatus::kOk) {
    handle_failed_commit(outcome);
    return outcome;
  }

  // The outputs are durable: now the stores may reflect them.
  for (auto& [partition, result, next_offset] : commit.tasks) {
    // Tasks are revoked only once the commit in flight has completed (see revoke()).
    const auto it = tasks_.find(partition.value);
    if (it == tasks_.end()) continue;
    AggregateTask& task = *it->second;
    state::TaskCheckpoint checkpoint = task.store().checkpoint();
    checkpoint.input_offset = next_offset;
    checkpoint.progress = result.progress;
    // Every changelog record of this commit is acknowledged: the store now reflects the
    // changelog up to there.
    if (const auto last = producer_->last_offset(partition.value)) {
      checkpoint.changelog_offset = Offset{*last + 1};
    }
    const auto status = task.store().apply(result, checkpoint);
    if (!status.ok()) {
      // Kafka has the commit, the store does not: a restart replays the difference from
      // the repartition topic (the store's offset), so stopping here loses nothing.
      fatal_ = true;
      fatal_error_ = "task " + std::to_string(partition.value) +
                     ": writing its store failed: " + status.ToString();
      logger->critical("{}", fatal_error_);
      return {CommitStatus::kFatal, fatal_error_};
    }
    task.aggregator().committed(result.progress);
  }
  std::map<std::int32_t, Offset> durable;
  for (const auto& [partition, task] : tasks_) {
    if (task->durable_offset()) durable[partition] = *task->durable_offset();
  }

  const auto committed = transaction_->commit_offsets(commit.offsets.get());
  if (committed.status != CommitStatus::kOk) {
    // Under at-least-once the stores are ahead of the group offsets, which only means some
    // input is read again later; the next commit retries.
    logger->warn("{}", committed.error);
  }
  purger_->maybe_purge(durable);
  WorkerMetrics::inc(metrics_.commits);
  status_.commit_succeeded();
  const auto took = Clock::now() - commit.started;
  metrics_.commit_seconds.observe(std::chrono::duration<double>(took).count());
  logger->debug("commit: {} pre-aggregates, {} tasks, {} ms", commit.pre_aggregates,
                commit.tasks.size(),
                std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
  return {};
}

CommitOutcome Worker::commit_now() {
  if (inflight_) {
    const auto outcome = complete_commit();
    if (outcome.status != CommitStatus::kOk) return outcome;
  }
  if (!dirty_ || fatal_) return {};
  const auto started = start_commit();
  if (started.status != CommitStatus::kOk) return started;
  return complete_commit();
}

void Worker::handle_failed_commit(const CommitOutcome& outcome) {
  auto logger = log::get("worker");
  WorkerMetrics::inc(metrics_.commit_failures);
  status_.commit_failed();
  if (outcome.status == CommitStatus::kFatal) {
    fatal_ = true;
    fatal_error_ = outcome.error;
    logger->critical("commit failed fatally: {}", outcome.error);
    return;
  }
  logger->error("commit aborted, re-reading from the last commit: {}", outcome.error);
  transaction_->abort();
  rewind();
}

void Worker::rewind() {
  auto logger = log::get("worker");
  pre_aggregator_.clear();
  deferred_.clear();
  deferred_bytes_ = 0;
  produce_failed_ = false;
  dirty_ = false;
  kafka::TopicPartitionListPtr positions(rd_kafka_topic_partition_list_new(0));
  for (const auto& [partition, input] : inputs_) {
    rd_kafka_topic_partition_list_add(positions.get(), config_.topics.input.c_str(), partition);
  }
  if (positions->cnt > 0) {
    const auto err = rd_kafka_committed(consumer_.get(), positions.get(),
                                        static_cast<int>(kBlockingTimeout.count()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      fatal_ = true;
      fatal_error_ = "cannot read committed offsets to rewind: " + kafka::error_text(err);
      logger->critical("{}", fatal_error_);
      return;
    }
    // Partition times go back with the offsets they were committed with.
    for (int i = 0; i < positions->cnt; ++i) {
      resume_input(positions->elems[i].partition, positions->elems[i]);
    }
  }
  for (auto& [partition, task] : tasks_) {
    if (task->restoring()) continue;  // its position is set when the restore finishes
    task->rollback();
    rd_kafka_topic_partition_list_add(positions.get(), repartition_topic_.c_str(), partition)
        ->offset = task->durable_offset() ? task->durable_offset()->value : RD_KAFKA_OFFSET_INVALID;
  }
  if (positions->cnt > 0) {
    for (int i = 0; i < positions->cnt; ++i) {
      auto& tp = positions->elems[i];
      // No committed offset: start over, like auto.offset.reset=earliest.
      if (tp.offset < 0) tp.offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    kafka::ErrorPtr error(rd_kafka_seek_partitions(consumer_.get(), positions.get(),
                                                   static_cast<int>(kBlockingTimeout.count())));
    if (error) {
      fatal_ = true;
      fatal_error_ = std::string("cannot rewind: ") + rd_kafka_error_string(error.get());
      logger->critical("{}", fatal_error_);
    }
  }
}

}  // namespace auditor
