#include "worker/stages/aggregate_stage.h"

#include <nlohmann/json.hpp>

#include "state/changelog.h"
#include "state/key_encoding.h"
#include "state/store_damage.h"
#include "topology/repartition_record.h"
#include "worker/common/log.h"
#include "worker/kafka/client.h"
#include "worker/kafka/partition_list.h"

namespace auditor {

AggregateStage::AggregateStage(const WorkerConfig& config, std::int32_t partitions,
                               WorkerMetrics& metrics, RecordSink& sink, kafka::Producer& producer)
    : config_(config),
      partitions_(partitions),
      repartition_topic_(config.topics.repartition()),
      changelog_topic_(config.topics.changelog()),
      metrics_(metrics),
      sink_(sink),
      producer_(producer),
      restorer_(config.kafka, changelog_topic_, repartition_topic_, config.topics.restore_group(),
                worker_memory(config).prefetch_kbytes_per_consumer) {}

std::unique_ptr<AggregateTask> AggregateStage::start_task(PartitionId id) {
  std::unique_ptr<AggregateTask> task;
  try {
    task = std::make_unique<AggregateTask>(config_, id, partitions_);
  } catch (const state::StoreDamaged& e) {
    task = rebuild(id, nullptr, "is damaged", e.what());
  }
  if (auto reason = restorer_.start(*task)) {
    task = rebuild(id, std::move(task), "does not match its changelog", *reason);
    // An empty store records no offsets: nothing can contradict them.
    if (auto again = restorer_.start(*task)) {
      throw std::runtime_error("task " + std::to_string(id.value) + ": " + *again);
    }
  }
  return task;
}

std::unique_ptr<AggregateTask> AggregateStage::rebuild(PartitionId id,
                                                       std::unique_ptr<AggregateTask> damaged,
                                                       std::string_view what,
                                                       const std::string& why) {
  const std::filesystem::path dir = task_store_dir(config_, id);
  std::string closing;
  if (damaged) {
    // The store is abandoned either way; a close error goes into the one line below.
    if (const auto closed = damaged->store().close(); !closed.ok()) {
      closing = "; closing it: " + closed.ToString();
    }
    damaged.reset();
  }
  const std::filesystem::path aside = state::set_aside(dir);
  WorkerMetrics::inc(metrics_.damaged_stores);
  // The one line an operator needs: which task, what was wrong, what happens now.
  log::get("restore")->error(
      "task {}: its store {} {} ({}{}): moved aside to {}; rebuilding from the changelog", id.value,
      dir.string(), what, why, closing, aside.string());
  return std::make_unique<AggregateTask>(config_, id, partitions_);
}

Failure AggregateStage::assign(const rd_kafka_topic_partition_list_t& partitions) {
  for (int i = 0; i < partitions.cnt; ++i) {
    const auto& tp = partitions.elems[i];
    if (repartition_topic_ != tp.topic) continue;
    const PartitionId id{tp.partition};
    if (standby_) {
      // The copy's store becomes the task's: its restore replays only what came after.
      if (auto error = standby_->release(id); !error.empty()) return error;
    }
    try {
      log::get("worker")->info("task {} assigned: store {}", tp.partition,
                               task_store_dir(config_, id).string());
      tasks_[id] = start_task(id);
    } catch (const std::exception& e) {
      return "cannot open the store of task " + std::to_string(tp.partition) + ": " + e.what();
    }
  }
  return std::nullopt;
}

Failure AggregateStage::pause_restoring(rd_kafka_t* consumer,
                                        const rd_kafka_topic_partition_list_t& partitions) {
  // A task reads its repartition partition only once its store is restored.
  kafka::TopicPartitionListPtr restoring = kafka::new_partition_list();
  for (int i = 0; i < partitions.cnt; ++i) {
    if (repartition_topic_ == partitions.elems[i].topic) {
      kafka::add_partition(*restoring, repartition_topic_,
                           PartitionId{partitions.elems[i].partition});
    }
  }
  if (restoring->cnt == 0) return std::nullopt;
  if (const auto err = rd_kafka_pause_partitions(consumer, restoring.get())) {
    return "cannot pause restoring tasks: " + kafka::error_text(err);
  }
  return std::nullopt;
}

Failure AggregateStage::restore_step(rd_kafka_t* consumer, std::chrono::milliseconds timeout) {
  if (restorer_.idle()) return std::nullopt;
  try {
    const auto restored_before = restorer_.records_restored();
    const auto finished = restorer_.poll(std::chrono::milliseconds(50));
    WorkerMetrics::inc(metrics_.restored_records, restorer_.records_restored() - restored_before);
    for (auto& [partition, reason] : restorer_.take_inconsistent()) {
      std::unique_ptr<AggregateTask>& task = tasks_.at(partition);
      task = rebuild(partition, std::move(task), "does not match its changelog", reason);
      if (auto again = restorer_.start(*task)) {
        return "task " + std::to_string(partition.value) + ": " + *again;
      }
    }
    for (const PartitionId partition : finished) {
      if (auto failure = finish_restore(consumer, *tasks_.at(partition), timeout)) {
        return failure;
      }
    }
  } catch (const std::exception& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

Failure AggregateStage::finish_restore(rd_kafka_t* consumer, AggregateTask& task,
                                       std::chrono::milliseconds timeout) {
  const std::string name = "task " + std::to_string(task.partition().value);
  // Resume at the group's committed offset: the changelog (now fully applied) holds
  // exactly the commits those offsets were committed with. Under at-least-once the store
  // may be ahead of the group offsets (it is written first): never go behind the store.
  kafka::TopicPartitionListPtr position = kafka::new_partition_list(1);
  rd_kafka_topic_partition_t* tp =
      &kafka::add_partition(*position, repartition_topic_, task.partition());
  const auto err = rd_kafka_committed(consumer, position.get(), static_cast<int>(timeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return name + ": cannot read its committed offset: " + kafka::error_text(err);
  }
  std::int64_t resume_at = std::max<std::int64_t>(tp->offset, 0);
  if (const auto stored = task.durable_offset()) resume_at = std::max(resume_at, stored->value);
  const auto status = task.finish_restore(Offset{resume_at});
  if (!status.ok()) return name + ": writing its checkpoint: " + status.ToString();
  tp->offset = resume_at;
  kafka::ErrorPtr error(
      rd_kafka_seek_partitions(consumer, position.get(), static_cast<int>(timeout.count())));
  if (error) return name + ": cannot seek: " + rd_kafka_error_string(error.get());
  if (const auto resumed = rd_kafka_resume_partitions(consumer, position.get())) {
    return name + ": cannot resume its partition: " + kafka::error_text(resumed);
  }
  log::get("restore")->info("{} running from repartition offset {}", name, resume_at);
  return std::nullopt;
}

void AggregateStage::revoke(PartitionId partition) {
  auto it = tasks_.find(partition);
  if (it == tasks_.end()) return;
  restorer_.cancel(partition);
  const auto status = it->second->store().close();
  if (!status.ok()) {
    log::get("worker")->error("task {}: closing its store: {}", partition.value, status.ToString());
  }
  tasks_.erase(it);
  log::get("worker")->info("task {} revoked", partition.value);
  if (!standby_) return;
  try {
    standby_->follow(partition);
  } catch (const std::exception& e) {
    // A standby only speeds up a later takeover: the task restores without it.
    log::get("standby")->error("{}", e.what());
  }
}

Failure AggregateStage::start_standbys() {
  if (config_.standby_tasks == StandbyTasksMode::kNone) return std::nullopt;
  try {
    standby_ = std::make_unique<StandbyTasks>(config_, changelog_topic_);
    for (std::int32_t p = 0; p < partitions_; ++p) {
      if (!tasks_.contains(PartitionId{p})) standby_->follow(PartitionId{p});
    }
  } catch (const std::exception& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

void AggregateStage::stop_standbys() {
  if (!standby_) return;
  for (const std::int32_t p : standby_->partitions()) {
    if (auto error = standby_->release(PartitionId{p}); !error.empty()) {
      log::get("standby")->error("{}", error);
    }
  }
  standby_.reset();
}

Failure AggregateStage::standby_step(std::chrono::milliseconds budget) {
  if (!standby_) return std::nullopt;
  try {
    standby_->poll(budget);
  } catch (const std::exception& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

Failure AggregateStage::process(const rd_kafka_message_t& message) {
  auto it = tasks_.find(PartitionId{message.partition});
  // Revoked, or fetched before the partition was paused for restoring.
  if (it == tasks_.end() || it->second->restoring()) return std::nullopt;
  AggregateTask& task = *it->second;
  task.advance(Offset{message.offset + 1});
  WorkerMetrics::inc(metrics_.repartition_records_in);

  const RepartitionMessage decoded = decode_repartition_message(
      std::string_view(static_cast<const char*>(message.key), message.key_len),
      std::string_view(static_cast<const char*>(message.payload), message.len), config_.windows);
  switch (decoded.kind) {
    case RepartitionMessage::Kind::kWatermark:
      task.aggregator().observe_watermark(decoded.input, decoded.watermark);
      return std::nullopt;
    case RepartitionMessage::Kind::kEarlierVersion:
      return repartition_topic_ + " partition " + std::to_string(message.partition) + " offset " +
             std::to_string(message.offset) + ": a record of an earlier auditor version; " +
             std::string(state::kEarlierStateAdvice);
    case RepartitionMessage::Kind::kMalformed:
      sink_.dead_letter(message, "repartition record: malformed", message.payload, message.len);
      return std::nullopt;
    case RepartitionMessage::Kind::kDelta:
      break;
  }
  const RepartitionRecord& record = decoded.delta;
  // Late here only when an idle input partition woke up after its windows had closed.
  const std::uint32_t late_mask =
      task.aggregator().add(record.process_name, record.process_activity, record.event_time,
                            WindowCounts{record.count, record.ticks}, record.late_mask);
  if (late_mask == 0) return std::nullopt;
  metrics_.count_late(late_mask);
  const std::string value = late_record_json(record.process_name, record.process_activity,
                                             record.event_time, record.count, record.ticks);
  sink_.dead_letter(message, "late: " + config_.windows.names(late_mask), value.data(),
                    value.size());
  return std::nullopt;
}

bool AggregateStage::reached_end(PartitionId partition, Offset end) {
  auto it = tasks_.find(partition);
  if (it == tasks_.end() || it->second->restoring()) return false;
  const auto next = it->second->next_offset();
  if (!next || !(*next < end)) return false;
  it->second->advance(end);
  return true;
}

Failure AggregateStage::build(std::vector<TaskCommit>& out) {
  for (auto& [partition, task] : tasks_) {
    if (!task->has_pending()) continue;
    // The windows' new values, read from the store once per changed window.
    CommitResult result = task->aggregator().commit(task->store());
    if (!task->store().read_status().ok()) {
      return "task " + std::to_string(partition.value) +
             ": reading its store: " + task->store().read_status().ToString();
    }
    for (const Rollup& rollup : result.rollups) {
      rollup_formatter_.format(rollup);
      const std::string_view value = rollup_formatter_.value();
      sink_.produce({config_.topics.output,
                     RD_KAFKA_PARTITION_UA,
                     rollup_formatter_.key(),
                     value.data(),
                     value.size(),
                     {}});
    }
    WorkerMetrics::inc(metrics_.rollups_published, result.rollups.size());
    result.rollups = {};  // enqueued (copied): not needed while the commit is in flight
    std::vector<state::ChangelogRecord> changelog = state::changelog_records(result);
    WorkerMetrics::inc(metrics_.changelog_records, changelog.size());
    for (const auto& record : changelog) {
      sink_.produce({changelog_topic_,
                     partition.value,
                     record.key,
                     record.value ? record.value->data() : nullptr,
                     record.value ? record.value->size() : 0,
                     {}});
    }
    out.push_back({partition, std::move(result), task->next_offset(), std::move(changelog)});
  }
  return std::nullopt;
}

Failure AggregateStage::apply(std::vector<TaskCommit>& commit) {
  for (auto& [partition, result, next_offset, changelog] : commit) {
    // Tasks are revoked only once the commit in flight has completed.
    const auto it = tasks_.find(partition);
    if (it == tasks_.end()) continue;
    AggregateTask& task = *it->second;
    state::TaskCheckpoint checkpoint = task.store().checkpoint();
    checkpoint.input_offset = next_offset;
    checkpoint.progress = result.progress;
    // Every changelog record of this commit is acknowledged: the store now reflects the
    // changelog up to there.
    if (const auto last = producer_.last_offset(partition.value)) {
      checkpoint.changelog_offset = Offset{*last + 1};
    }
    const auto status = task.store().apply(result, changelog, checkpoint);
    if (!status.ok()) {
      // Kafka has the commit, the store does not (the batch is atomic: none of it is
      // written). A restart restores the store from the changelog, which holds this
      // commit, and resumes at the committed offsets: stopping here loses nothing.
      const std::string detail = status.ToString();
      const bool no_space = status.IsNoSpace() || detail.find("No space left") != std::string::npos;
      return "task " + std::to_string(partition.value) + ": cannot write its store " +
             task_store_dir(config_, partition).string() + ": " +
             (no_space ? "no space left on device (" + detail + ")" : detail);
    }
    task.aggregator().committed(result.progress);
  }
  return std::nullopt;
}

void AggregateStage::add_offsets(rd_kafka_topic_partition_list_t& offsets) const {
  for (const auto& [partition, task] : tasks_) {
    if (task->restoring() || !task->next_offset()) continue;
    kafka::add_partition(offsets, repartition_topic_, partition, *task->next_offset());
  }
}

std::map<std::int32_t, Offset> AggregateStage::durable_offsets() const {
  std::map<std::int32_t, Offset> durable;
  for (const auto& [partition, task] : tasks_) {
    if (task->durable_offset()) durable[partition.value] = *task->durable_offset();
  }
  return durable;
}

void AggregateStage::rewind(rd_kafka_topic_partition_list_t& positions) {
  for (auto& [partition, task] : tasks_) {
    if (task->restoring()) continue;  // its position is set when the restore finishes
    task->rollback();
    kafka::add_partition(positions, repartition_topic_, partition,
                         task->durable_offset().value_or(Offset{RD_KAFKA_OFFSET_INVALID}));
  }
}

std::size_t AggregateStage::pending_entries() const {
  std::size_t pending = 0;
  for (const auto& [partition, task] : tasks_) pending += task->aggregator().pending_windows();
  return pending;
}

void AggregateStage::report(rd_kafka_t* consumer, StatusSnapshot& s) const {
  s.restore_remaining_records = restorer_.remaining();
  if (standby_) s.standby_tasks = standby_->partitions();
  for (const auto& [partition, task] : tasks_) {
    if (task->restoring()) {
      s.restoring_tasks.push_back(partition.value);
      continue;
    }
    s.running_tasks.push_back(partition.value);
    std::int64_t low = 0;
    std::int64_t high = 0;
    // Cached from the last fetch: no broker round trip.
    const auto next = task->next_offset();
    if (next &&
        rd_kafka_get_watermark_offsets(consumer, repartition_topic_.c_str(), partition.value, &low,
                                       &high) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      s.consumer_lag.push_back(
          {repartition_topic_, partition.value, std::max<std::int64_t>(0, high - next->value)});
    }
    if (const auto watermark = task->aggregator().durable_progress().watermark) {
      s.task_watermarks.push_back({partition.value, watermark->value});
    }
    s.store_estimated_keys += task->store().estimated_keys();
    s.store_memory_bytes += task->store().memory_bytes();
  }
  s.store_memory_bytes += state::TaskStore::shared_memory_bytes();
}

HttpAnswer AggregateStage::answer_query(const RollupQuery& query) {
  const std::string key = encode_repartition_key(query.process_name, query.process_activity);
  const PartitionId partition = partition_for(key, partitions_);
  nlohmann::ordered_json body = {{"process_name", query.process_name},
                                 {"process_activity", query.process_activity},
                                 {"partition", partition.value}};
  const auto it = tasks_.find(partition);
  if (it == tasks_.end()) {
    body["error"] = "partition " + std::to_string(partition.value) +
                    " of this key is not assigned to this worker";
    return {404, body.dump(), TaskHere::kNotAssigned, partition.value};
  }
  AggregateTask& task = *it->second;
  if (task.restoring()) {
    body["error"] = "the task of this key is restoring";
    return {503, body.dump(), TaskHere::kRestoring, partition.value};
  }
  const TaskProgress& progress = task.aggregator().durable_progress();
  const EventTime now = latest_time(progress.watermarks).value_or(EventTime{0});
  constexpr std::int64_t kMaxWindowsPerSize = 10'000;
  body["windows"] = nlohmann::ordered_json::array();
  for (const auto& spec : config_.windows.windows()) {
    if (query.window && *query.window != spec.size) continue;
    // Default range: the 60 most recent windows up to the latest event time of the task.
    // Windows with from <= window_start < to.
    const EventTime wanted_from = query.from.value_or(EventTime{now.value - 60 * spec.size.value});
    EventTime from = window_start(wanted_from, spec.size);
    if (from < wanted_from) from = from.plus(spec.size);
    const EventTime to = query.to.value_or(now.plus(spec.size));
    if ((to.value - from.value) / spec.size.value > kMaxWindowsPerSize) {
      return {400, nlohmann::json{{"error", "from/to: more than 10000 " + spec.name +
                                                " windows; narrow the range or pick a window"}}
                       .dump()};
    }
    const auto closed = progress.closed_before.find(spec.size.value);
    for (EventTime start = from; start < to; start = start.plus(spec.size)) {
      const WindowKey window{spec.size, start, query.process_name, query.process_activity};
      const auto counts = task.store().get(window);
      if (!counts) continue;
      const bool final = closed != progress.closed_before.end() && start < closed->second;
      body["windows"].push_back(
          nlohmann::ordered_json::parse(rollup_value_json(Rollup{window, *counts, final})));
    }
  }
  if (!task.store().read_status().ok()) {
    return {500, nlohmann::json{{"error", task.store().read_status().ToString()}}.dump()};
  }
  return {200, body.dump(), TaskHere::kRunning, partition.value};
}

}  // namespace auditor
