#include "worker/engine/worker.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <thread>

#include "state/key_encoding.h"
#include "topology/repartition_record.h"
#include "topology/rollup_format.h"
#include "worker/kafka/callback_invoker.h"
#include "worker/kafka/client.h"
#include "worker/common/log.h"
#include "worker/kafka/topic_admin.h"

namespace auditor {
namespace {

constexpr std::chrono::seconds kProgressInterval{10};
// Commit early when this many distinct pre-aggregates and window deltas are pending:
// bounds memory when a commit interval sees very many keys.
constexpr std::size_t kMaxPendingEntries = 500'000;

std::string transactional_id(const WorkerConfig& config) {
  if (config.instance_id) return config.topics.application_id + "-" + *config.instance_id;
  std::array<char, 256> host{};
  ::gethostname(host.data(), host.size() - 1);
  std::random_device random;
  return config.topics.application_id + "-" + host.data() + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(random());
}

kafka::Properties consumer_properties(const WorkerConfig& config) {
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

ClockMs steady_now() {
  return ClockMs{std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now().time_since_epoch())
                     .count()};
}

std::string topic_of(const rd_kafka_message_t& m) {
  return rd_kafka_topic_name(m.rkt);
}

}  // namespace

Worker::Worker(WorkerConfig config)
    : config_(std::move(config)),
      repartition_topic_(config_.topics.repartition()),
      changelog_topic_(config_.topics.changelog()),
      all_windows_mask_(config_.windows.size() >= 32
                            ? ~std::uint32_t{0}
                            : (std::uint32_t{1} << config_.windows.size()) - 1),
      pre_aggregator_(config_.windows.bucket()),
      loop_now_(steady_now()),
      last_progress_log_(Clock::now()) {
  auto logger = log::get("worker");
  kafka::Properties producer_props = {
      {"client.id", config_.topics.application_id + "-producer"},
      // One commit enqueues its rollups, changelog records and pre-aggregates at once,
      // often more than librdkafka's default 100,000 messages; a full queue would stall the
      // loop until the broker caught up. Memory stays bounded by the byte limit (128 MiB).
      {"queue.buffering.max.messages", "1000000"},
      {"queue.buffering.max.kbytes", "131072"},
  };
  if (config_.guarantee == Guarantee::kExactlyOnce) {
    producer_props.emplace_back("transactional.id", transactional_id(config_));
    // A crashed worker's open transaction blocks read_committed readers until it times
    // out: keep it short, but well above one commit interval. Deliveries must give up
    // before the transaction does (librdkafka requires it).
    const auto timeout_ms =
        std::to_string(std::max<std::int64_t>(10'000, 3 * config_.commit_interval.value + 5'000));
    producer_props.emplace_back("transaction.timeout.ms", timeout_ms);
    producer_props.emplace_back("message.timeout.ms", timeout_ms);
  }
  producer_ = std::make_unique<kafka::Producer>(config_.kafka, producer_props);
  producer_->track_offsets_of(changelog_topic_);
  ensure_topics();
  producer_->register_topics({repartition_topic_, changelog_topic_, config_.topics.output});
  restorer_ = std::make_unique<ChangelogRestorer>(config_.kafka, changelog_topic_);

  kafka::ConfPtr conf = kafka::make_conf(config_.kafka, consumer_properties(config_));
  rd_kafka_conf_set_rebalance_cb(conf.get(), &Worker::on_rebalance);
  rd_kafka_conf_set_opaque(conf.get(), this);
  consumer_ = kafka::make_client(RD_KAFKA_CONSUMER, std::move(conf));
  rd_kafka_poll_set_consumer(consumer_.get());

  transaction_ = std::make_unique<OutputTransaction>(*producer_, consumer_.get(), config_.guarantee,
                                                     kBlockingTimeout);
  transaction_->init();
  purger_ = std::make_unique<RepartitionPurger>(producer_->handle(), repartition_topic_,
                                                std::chrono::seconds(30));

  kafka::TopicPartitionListPtr topics(rd_kafka_topic_partition_list_new(2));
  rd_kafka_topic_partition_list_add(topics.get(), config_.topics.input.c_str(),
                                    RD_KAFKA_PARTITION_UA);
  rd_kafka_topic_partition_list_add(topics.get(), repartition_topic_.c_str(),
                                    RD_KAFKA_PARTITION_UA);
  if (const auto err = rd_kafka_subscribe(consumer_.get(), topics.get())) {
    throw std::runtime_error("cannot subscribe: " + kafka::error_text(err));
  }
  http_ =
      std::make_unique<WorkerHttp>(config_.http_port, metrics_, status_, queries_, config_.windows);
  logger->info("started: group {}, input {}, {} partitions, guarantee {}, windows {}",
               config_.topics.application_id, config_.topics.input, partitions_,
               config_.guarantee == Guarantee::kExactlyOnce ? "exactly-once" : "at-least-once",
               config_.windows.names(~0U));
}

Worker::~Worker() = default;

void Worker::ensure_topics() {
  const auto& t = config_.topics;
  const std::vector<std::string> names = {t.input, repartition_topic_, changelog_topic_, t.output,
                                          t.dlq};
  auto counts = kafka::partition_counts(producer_->handle(), names, kBlockingTimeout);
  std::vector<kafka::TopicSpec> missing;
  if (!counts.contains(t.input)) {
    log::get("worker")->info("input topic {} does not exist: creating it with {} partitions",
                             t.input, config_.default_partitions);
    missing.push_back({t.input, config_.default_partitions, {}});
  }
  partitions_ = counts.contains(t.input) ? counts.at(t.input) : config_.default_partitions;
  for (const auto& internal : {repartition_topic_, changelog_topic_}) {
    if (counts.contains(internal) && counts.at(internal) != partitions_) {
      throw std::runtime_error(
          "internal topic " + internal + " has " + std::to_string(counts.at(internal)) +
          " partitions but the input topic " + t.input + " has " + std::to_string(partitions_) +
          ": delete the application's internal topics (auditor reset) "
          "or use the input's partition count");
    }
  }
  if (!counts.contains(repartition_topic_)) {
    // Unlimited retention: records are deleted once consumed (RepartitionPurger), never
    // before, however long the worker is down.
    missing.push_back({repartition_topic_, partitions_, {{"retention.ms", "-1"}}});
  }
  if (!counts.contains(changelog_topic_)) {
    missing.push_back({changelog_topic_, partitions_, {{"cleanup.policy", "compact"}}});
  }
  if (!counts.contains(t.output)) {
    missing.push_back({t.output,
                       partitions_,
                       {{"cleanup.policy", "compact,delete"},
                        {"retention.ms", std::to_string(config_.rollup_retention.value)}}});
  }
  if (!counts.contains(t.dlq)) missing.push_back({t.dlq, partitions_, {}});
  for (const auto& spec : missing) {
    log::get("worker")->info("creating topic {} ({} partitions)", spec.name, spec.partitions);
  }
  kafka::create_topics(producer_->handle(), missing, kBlockingTimeout);
  // New topics take a moment to have leaders; wait so the first assignment finds them.
  const auto deadline = Clock::now() + kBlockingTimeout;
  while (!missing.empty()) {
    counts = kafka::partition_counts(producer_->handle(), names, kBlockingTimeout);
    if (std::all_of(names.begin(), names.end(),
                    [&](const auto& n) { return counts.contains(n); })) {
      break;
    }
    if (Clock::now() > deadline) throw std::runtime_error("created topics did not appear in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void Worker::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  kafka::invoke_callback("rebalance", [&] {
    auto* self = static_cast<Worker*>(opaque);
    WorkerMetrics::inc(self->metrics_.rebalances);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      self->assign(partitions);
    } else {
      self->revoke(partitions, rd_kafka_assignment_lost(rk) != 0);
    }
  });
}

void Worker::assign(rd_kafka_topic_partition_list_t* partitions) {
  auto logger = log::get("worker");
  joined_ = true;
  assign_inputs(partitions);
  for (int i = 0; i < partitions->cnt && !fatal_; ++i) {
    auto& tp = partitions->elems[i];
    if (config_.topics.input == tp.topic) continue;
    const PartitionId id{tp.partition};
    try {
      auto task = std::make_unique<AggregateTask>(config_, id, partitions_);
      logger->info("task {} assigned: store {}", tp.partition,
                   task_store_dir(config_, id).string());
      restorer_->start(*task);
      tasks_[tp.partition] = std::move(task);
    } catch (const std::exception& e) {
      fatal_ = true;
      fatal_error_ =
          "cannot open the store of task " + std::to_string(tp.partition) + ": " + e.what();
      logger->critical("{}", fatal_error_);
    }
  }
  metrics_.assigned_tasks.store(static_cast<std::int64_t>(tasks_.size()));
  logger->info("assigned {} partitions: now {} input partitions and {} tasks", partitions->cnt,
               inputs_.size(), tasks_.size());
  kafka::ErrorPtr error(rd_kafka_incremental_assign(consumer_.get(), partitions));
  if (error) {
    fatal_ = true;
    fatal_error_ = std::string("incremental assign failed: ") + rd_kafka_error_string(error.get());
    logger->critical("{}", fatal_error_);
    return;
  }
  // A task reads its repartition partition only once its store is restored.
  kafka::TopicPartitionListPtr restoring(rd_kafka_topic_partition_list_new(0));
  for (int i = 0; i < partitions->cnt; ++i) {
    if (repartition_topic_ == partitions->elems[i].topic) {
      rd_kafka_topic_partition_list_add(restoring.get(), repartition_topic_.c_str(),
                                        partitions->elems[i].partition);
    }
  }
  if (restoring->cnt > 0) (void)rd_kafka_pause_partitions(consumer_.get(), restoring.get());
}

void Worker::assign_inputs(rd_kafka_topic_partition_list_t* partitions) {
  // The partition time is committed as the offset's metadata, in the same transaction.
  // Reading both here and assigning at exactly that offset keeps the two together.
  kafka::TopicPartitionListPtr committed(rd_kafka_topic_partition_list_new(partitions->cnt));
  for (int i = 0; i < partitions->cnt; ++i) {
    if (config_.topics.input == partitions->elems[i].topic) {
      rd_kafka_topic_partition_list_add(committed.get(), config_.topics.input.c_str(),
                                        partitions->elems[i].partition);
    }
  }
  if (committed->cnt == 0) return;
  const auto err = rd_kafka_committed(consumer_.get(), committed.get(),
                                      static_cast<int>(kBlockingTimeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fatal_ = true;
    fatal_error_ = "cannot read the committed input offsets: " + kafka::error_text(err);
    log::get("worker")->critical("{}", fatal_error_);
    return;
  }
  for (int i = 0; i < committed->cnt; ++i) {
    const rd_kafka_topic_partition_t& tp = committed->elems[i];
    resume_input(tp.partition, tp);
    auto* assigned = rd_kafka_topic_partition_list_find(partitions, config_.topics.input.c_str(),
                                                        tp.partition);
    if (assigned != nullptr && tp.offset >= 0) assigned->offset = tp.offset;
  }
}

void Worker::resume_input(std::int32_t partition, const rd_kafka_topic_partition_t& committed) {
  const std::string_view metadata(static_cast<const char*>(committed.metadata),
                                  committed.metadata != nullptr ? committed.metadata_size : 0);
  const CommittedPartitionTime restored = decode_partition_time_metadata(metadata);
  if (committed.offset >= 0 && !restored.recognised) {
    log::get("worker")->info(
        "input partition {}: the committed offset {} carries no partition time (moved by a "
        "tool or committed by an earlier version): its partition time starts afresh",
        partition, committed.offset);
  }
  inputs_.insert_or_assign(partition, InputPartition{std::nullopt,
                                                     PartitionClock(restored.time, loop_now_),
                                                     std::nullopt});
}

void Worker::restore_step() {
  if (restorer_->idle()) return;
  try {
    const auto restored_before = restorer_->records_restored();
    const auto finished = restorer_->poll(std::chrono::milliseconds(50));
    WorkerMetrics::inc(metrics_.restored_records, restorer_->records_restored() - restored_before);
    for (const PartitionId partition : finished) {
      finish_restore(*tasks_.at(partition.value));
    }
  } catch (const std::exception& e) {
    fatal_ = true;
    fatal_error_ = e.what();
    log::get("restore")->critical("{}", fatal_error_);
  }
}

void Worker::finish_restore(AggregateTask& task) {
  // Resume at the group's committed offset: the changelog (now fully applied) holds
  // exactly the commits those offsets were committed with. Under at-least-once the store
  // may be ahead of the group offsets (it is written first): never go behind the store.
  kafka::TopicPartitionListPtr position(rd_kafka_topic_partition_list_new(1));
  auto* tp = rd_kafka_topic_partition_list_add(position.get(), repartition_topic_.c_str(),
                                               task.partition().value);
  const auto err = rd_kafka_committed(consumer_.get(), position.get(),
                                      static_cast<int>(kBlockingTimeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error("task " + std::to_string(task.partition().value) +
                             ": cannot read its committed offset: " + kafka::error_text(err));
  }
  std::int64_t resume_at = std::max<std::int64_t>(tp->offset, 0);
  if (const auto stored = task.durable_offset()) resume_at = std::max(resume_at, stored->value);
  const auto status = task.finish_restore(Offset{resume_at});
  if (!status.ok()) {
    throw std::runtime_error("task " + std::to_string(task.partition().value) +
                             ": writing its checkpoint: " + status.ToString());
  }
  tp->offset = resume_at;
  kafka::ErrorPtr error(rd_kafka_seek_partitions(consumer_.get(), position.get(),
                                                 static_cast<int>(kBlockingTimeout.count())));
  if (error) {
    throw std::runtime_error("task " + std::to_string(task.partition().value) +
                             ": cannot seek: " + rd_kafka_error_string(error.get()));
  }
  (void)rd_kafka_resume_partitions(consumer_.get(), position.get());
  log::get("restore")->info("task {} running from repartition offset {}", task.partition().value,
                            resume_at);
}

void Worker::revoke(rd_kafka_topic_partition_list_t* partitions, bool lost) {
  auto logger = log::get("worker");
  // The commit in flight covers tasks about to go: it completes first, whatever comes next.
  // If the assignment was lost, the broker decides whether it still counts (it fences a
  // commit from a member that is no longer in the group).
  if (inflight_) (void)complete_commit();
  if (lost) {
    // Another member may own these partitions already: nothing of ours may be committed.
    logger->warn("assignment lost: dropping uncommitted work and rewinding");
    joined_ = false;
    transaction_->abort();
    rewind();
  } else if (!fatal_) {
    const auto outcome = commit_now();
    if (outcome.status != CommitStatus::kOk) {
      logger->warn("commit before revocation failed: {}", outcome.error);
    }
  }
  for (int i = 0; i < partitions->cnt; ++i) {
    const auto& tp = partitions->elems[i];
    if (config_.topics.input == tp.topic) {
      inputs_.erase(tp.partition);
      continue;
    }
    auto it = tasks_.find(tp.partition);
    if (it == tasks_.end()) continue;
    restorer_->cancel(PartitionId{tp.partition});
    const auto status = it->second->store().close();
    if (!status.ok()) {
      logger->error("task {}: closing its store: {}", tp.partition, status.ToString());
    }
    tasks_.erase(it);
    logger->info("task {} revoked", tp.partition);
  }
  metrics_.assigned_tasks.store(static_cast<std::int64_t>(tasks_.size()));
  kafka::ErrorPtr error(rd_kafka_incremental_unassign(consumer_.get(), partitions));
  if (error) logger->error("incremental unassign failed: {}", rd_kafka_error_string(error.get()));
}

void Worker::dead_letter(const rd_kafka_message_t& source, std::string_view error,
                         const void* value, std::size_t value_size) {
  const std::string source_topic = topic_of(source);
  const std::string partition = std::to_string(source.partition);
  const std::string offset = std::to_string(source.offset);
  kafka::OutgoingRecord record;
  record.topic = config_.topics.dlq;
  record.key = std::string_view(static_cast<const char*>(source.key), source.key_len);
  record.value = value;
  record.value_size = value_size;
  record.headers = {{"error", error},
                    {"source.topic", source_topic},
                    {"source.partition", partition},
                    {"source.offset", offset}};
  produce(record);
  WorkerMetrics::inc(metrics_.dead_letters);
}

void Worker::process(const rd_kafka_message_t& message) {
  if (message.err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    reached_end(message);
    return;
  }
  if (message.err == RD_KAFKA_RESP_ERR__FATAL) {
    std::array<char, 512> reason{};
    rd_kafka_fatal_error(consumer_.get(), reason.data(), reason.size());
    fatal_ = true;
    fatal_error_ = std::string("consumer: ") + reason.data();
    log::get("worker")->critical("{}", fatal_error_);
    return;
  }
  if (message.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    log::get("worker")->warn("consumer: {}", rd_kafka_message_errstr(&message));
    return;
  }
  dirty_ = true;
  if (config_.topics.input == rd_kafka_topic_name(message.rkt)) {
    process_input(message);
  } else {
    process_repartition(message);
  }
}

void Worker::reached_end(const rd_kafka_message_t& eof) {
  // Everything before eof.offset was delivered (and processed) in order: the position may
  // skip to it, past the marker a transactional producer leaves at the end, so committed
  // offsets and lag reach the end of the partition.
  const Offset end{eof.offset};
  if (config_.topics.input == rd_kafka_topic_name(eof.rkt)) {
    auto it = inputs_.find(eof.partition);
    if (it == inputs_.end()) return;
    InputPartition& input = it->second;
    input.clock.reached_end();
    if (!input.next || *input.next < end) {
      input.next = end;
      dirty_ = true;
    }
    return;
  }
  auto it = tasks_.find(eof.partition);
  if (it == tasks_.end() || it->second->restoring()) return;
  const auto next = it->second->next_offset();
  if (next && *next < end) {
    it->second->advance(end);
    dirty_ = true;
  }
}

void Worker::process_input(const rd_kafka_message_t& message) {
  auto it = inputs_.find(message.partition);
  if (it == inputs_.end()) return;  // revoked meanwhile
  InputPartition& input = it->second;
  input.next = Offset{message.offset + 1};
  input.clock.record_read(loop_now_);
  WorkerMetrics::inc(metrics_.input_records);

  const auto parsed = parser_.parse(message.payload, message.len);
  if (parsed.error) {
    WorkerMetrics::inc(metrics_.invalid[static_cast<std::size_t>(parsed.error->reason)]);
    dead_letter(message, parsed.error->message, message.payload, message.len);
    return;
  }
  const Tick& tick = *parsed.tick;
  EventTime event_time{0};
  if (tick.timestamp) {
    event_time = *tick.timestamp;
  } else {
    rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    const std::int64_t record_time = rd_kafka_message_timestamp(&message, &type);
    if (type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || record_time < kMinEventTime.value ||
        record_time > kMaxEventTime.value) {
      WorkerMetrics::inc(metrics_.invalid[static_cast<std::size_t>(InvalidReason::kBadTimestamp)]);
      dead_letter(message, "timestamp: absent and the record has no usable timestamp",
                  message.payload, message.len);
      return;
    }
    event_time = EventTime{record_time};
  }
  WorkerMetrics::inc(metrics_.valid_ticks);
  // Lateness against the tick's own partition (docs/event-time.md): it counts in every
  // size it is not late for, and goes to the dead-letter topic if late for any.
  const std::uint32_t late_mask = input.clock.add_tick(event_time, config_.windows, config_.grace);
  if (late_mask != 0) {
    count_late(late_mask);
    dead_letter(message, "late: " + config_.windows.names(late_mask), message.payload,
                message.len);
  }
  if (late_mask != all_windows_mask_) {
    pre_aggregator_.add(tick.process_name, tick.process_activity, event_time, tick.count,
                        late_mask);
  }
}

void Worker::count_late(std::uint32_t late_mask) {
  WorkerMetrics::inc(metrics_.late_records);
  for (std::size_t i = 0; i < config_.windows.size(); ++i) {
    if ((late_mask >> i) & 1U) WorkerMetrics::inc(metrics_.late_by_window[i]);
  }
}

void Worker::process_repartition(const rd_kafka_message_t& message) {
  auto it = tasks_.find(message.partition);
  if (it == tasks_.end() || it->second->restoring()) return;  // revoked, or fetched before pause
  AggregateTask& task = *it->second;
  task.advance(Offset{message.offset + 1});
  WorkerMetrics::inc(metrics_.repartition_records_in);

  const auto message_key =
      std::string_view(static_cast<const char*>(message.key), message.key_len);
  const RepartitionMessage decoded = decode_repartition_message(
      message_key, std::string_view(static_cast<const char*>(message.payload), message.len),
      config_.windows);
  switch (decoded.kind) {
    case RepartitionMessage::Kind::kWatermark:
      task.aggregator().observe_watermark(decoded.input, decoded.watermark);
      return;
    case RepartitionMessage::Kind::kEarlierVersion:
      fatal_ = true;
      fatal_error_ = repartition_topic_ + " partition " + std::to_string(message.partition) +
                     " offset " + std::to_string(message.offset) + ": a record of an earlier "
                     "auditor version; " + std::string(state::kEarlierStateAdvice);
      log::get("worker")->critical("{}", fatal_error_);
      return;
    case RepartitionMessage::Kind::kMalformed:
      dead_letter(message, "repartition record: malformed", message.payload, message.len);
      return;
    case RepartitionMessage::Kind::kDelta:
      break;
  }
  const RepartitionRecord& record = decoded.delta;
  // Late here only when an idle input partition woke up after its windows had closed.
  const std::uint32_t late_mask =
      task.aggregator().add(record.process_name, record.process_activity, record.event_time,
                            WindowCounts{record.count, record.ticks}, record.late_mask);
  if (late_mask == 0) return;

  count_late(late_mask);
  const std::string value = late_record_json(record.process_name, record.process_activity,
                                             record.event_time, record.count, record.ticks);
  dead_letter(message, "late: " + config_.windows.names(late_mask), value.data(), value.size());
}

void Worker::log_progress() {
  const auto now = Clock::now();
  if (now - last_progress_log_ < kProgressInterval) return;
  const double seconds = std::chrono::duration<double>(now - last_progress_log_).count();
  const auto input = metrics_.input_records.load();
  const auto repartition = metrics_.repartition_records_in.load();
  std::uint64_t invalid = 0;
  for (const auto& c : metrics_.invalid) invalid += c.load();
  log::get("worker")->info(
      "progress: {:.0f} input records/s, {:.0f} repartition records/s; totals: {} input, {} "
      "invalid, {} late, {} rollups, {} commits ({} failed), {} tasks",
      static_cast<double>(input - input_at_last_log_) / seconds,
      static_cast<double>(repartition - repartition_at_last_log_) / seconds, input, invalid,
      metrics_.late_records.load(), metrics_.rollups_published.load(), metrics_.commits.load(),
      metrics_.commit_failures.load(), tasks_.size());
  last_progress_log_ = now;
  input_at_last_log_ = input;
  repartition_at_last_log_ = repartition;
}

void Worker::close_consumer() {
  // Leaving the group revokes everything through the rebalance callback, which commits
  // and closes the task stores. The close is served on a queue so it has a deadline.
  auto logger = log::get("worker");
  kafka::QueuePtr queue(rd_kafka_queue_new(consumer_.get()));
  kafka::ErrorPtr error(rd_kafka_consumer_close_queue(consumer_.get(), queue.get()));
  if (error) {
    logger->error("closing the consumer: {}", rd_kafka_error_string(error.get()));
    return;
  }
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!rd_kafka_consumer_closed(consumer_.get()) && Clock::now() < deadline) {
    kafka::EventPtr event(rd_kafka_queue_poll(queue.get(), 100));
    if (event && rd_kafka_event_type(event.get()) == RD_KAFKA_EVENT_REBALANCE) {
      on_rebalance(consumer_.get(), rd_kafka_event_error(event.get()),
                   rd_kafka_event_topic_partition_list(event.get()), this);
    }
  }
  if (!rd_kafka_consumer_closed(consumer_.get())) {
    logger->error("the consumer did not close within 10 s");
  }
}

void Worker::publish_status() {
  last_status_publish_ = Clock::now();
  StatusSnapshot s;
  s.in_group = joined_;
  s.input_partitions = inputs_.size();
  s.assigned_tasks = tasks_.size();
  s.restore_remaining_records = restorer_->remaining();
  auto add_lag = [&](const std::string& topic, std::int32_t partition, std::optional<Offset> next) {
    std::int64_t low = 0;
    std::int64_t high = 0;
    // Cached from the last fetch: no broker round trip.
    if (!next || rd_kafka_get_watermark_offsets(consumer_.get(), topic.c_str(), partition, &low,
                                                &high) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return;
    }
    s.consumer_lag.push_back({topic, partition, std::max<std::int64_t>(0, high - next->value)});
  };
  for (const auto& [partition, input] : inputs_) {
    add_lag(config_.topics.input, partition, input.next);
    if (input.clock.idle(loop_now_, config_.idle_timeout)) ++s.idle_input_partitions;
  }
  for (const auto& [partition, task] : tasks_) {
    if (task->restoring()) {
      ++s.restoring_tasks;
      continue;
    }
    add_lag(repartition_topic_, partition, task->next_offset());
    if (const auto watermark = task->aggregator().durable_progress().watermark) {
      s.task_watermarks.push_back({partition, watermark->value});
    }
    s.store_estimated_keys += task->store().estimated_keys();
    s.store_memory_bytes += task->store().memory_bytes();
  }
  s.store_memory_bytes += state::TaskStore::shared_memory_bytes();
  status_.publish(std::move(s));
}

HttpAnswer Worker::answer_query(const RollupQuery& query) {
  const std::string key = encode_repartition_key(query.process_name, query.process_activity);
  const PartitionId partition = partition_for(key, partitions_);
  nlohmann::ordered_json body = {{"process_name", query.process_name},
                                 {"process_activity", query.process_activity},
                                 {"partition", partition.value}};
  const auto it = tasks_.find(partition.value);
  if (it == tasks_.end()) {
    body["error"] = "partition " + std::to_string(partition.value) +
                    " of this key is not assigned to this worker";
    return {404, body.dump()};
  }
  AggregateTask& task = *it->second;
  if (task.restoring()) {
    body["error"] = "the task of this key is restoring";
    return {503, body.dump()};
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
  return {200, body.dump()};
}

std::size_t Worker::pending_entries() const {
  std::size_t pending = pre_aggregator_.pending_records();
  for (const auto& [partition, task] : tasks_) pending += task->aggregator().pending_windows();
  return pending;
}

int Worker::run(const std::atomic<bool>& stop) {
  auto logger = log::get("worker");
  auto next_commit = Clock::now() + std::chrono::milliseconds(config_.commit_interval.value);
  // Housekeeping (commit completion, delivery reports, liveness, queries, restores, the
  // commit clock) runs once per batch of records, or whenever the poll comes back empty:
  // none of it belongs on the per-record path.
  constexpr std::uint32_t kRecordsPerHousekeeping = 1000;
  std::uint32_t since_housekeeping = 0;
  while (!stop.load(std::memory_order_relaxed) && !fatal_) {
    // Short polls while a commit is in flight: its completion is noticed between polls.
    const int poll_ms = !restorer_->idle() ? 0 : inflight_ ? 5 : 100;
    kafka::MessagePtr message(rd_kafka_consumer_poll(consumer_.get(), poll_ms));
    if (message) {
      process(*message);
      if (++since_housekeeping < kRecordsPerHousekeeping && !deferred_full()) continue;
    }
    since_housekeeping = 0;
    loop_now_ = steady_now();
    if (watermarks_changed()) dirty_ = true;
    if (commit_ready() || (inflight_ && deferred_full())) (void)complete_commit();
    if (!inflight_) producer_->poll();  // the commit thread serves delivery reports meanwhile
    status_.heartbeat();
    queries_.serve([this](const RollupQuery& query) { return answer_query(query); });
    restore_step();
    const auto now = Clock::now();
    const bool full = pending_entries() >= kMaxPendingEntries;
    // One commit at a time: a full buffer waits for the one in flight.
    if (full && inflight_) (void)complete_commit();
    if (!inflight_ && (now >= next_commit || full)) {
      if (dirty_) (void)start_commit();
      next_commit = now + std::chrono::milliseconds(config_.commit_interval.value);
      log_progress();
    }
    if (now - last_status_publish_ >= std::chrono::seconds(1)) publish_status();
  }
  // Even after a fatal error: the commit thread must end before the producer does.
  if (inflight_) (void)complete_commit();
  if (!fatal_) {
    logger->info("stopping: final commit");
    (void)commit_now();
  }
  close_consumer();
  tasks_.clear();
  http_.reset();
  if (fatal_) {
    logger->critical("stopped after a fatal error: {}", fatal_error_);
    return 1;
  }
  logger->info("stopped cleanly");
  return 0;
}

}  // namespace auditor
