#include "worker/engine/worker.h"

#include <algorithm>
#include <array>
#include <stdexcept>

#include "worker/common/log.h"
#include "worker/engine/clients.h"
#include "worker/engine/topic_provisioning.h"
#include "worker/kafka/access.h"
#include "worker/kafka/client.h"
#include "worker/kafka/partition_list.h"

namespace auditor {
namespace {

constexpr std::chrono::seconds kProgressInterval{10};
constexpr std::chrono::seconds kConsumerErrorLogInterval{10};
// Housekeeping (commit decisions, delivery reports, liveness, queries, restores) runs after
// a burst of records from each stage, or whenever both queues are empty: none of it
// belongs on the per-record path.
constexpr std::size_t kRecordsPerBurst = 500;
constexpr std::chrono::seconds kCloseTimeout{10};
// /healthz turns unhealthy once a stage's group coordinator has been out of reach this
// long: longer than a coordinator move or a broker restart's blip, well within a session.
constexpr std::chrono::seconds kUnreachableAfter{5};

// Both memory bounds are shares of --memory (worker_memory): commit early when this many
// distinct pre-aggregates and window deltas are pending (bounds memory when a commit
// interval sees very many keys); past the deferred bytes (dead letters produced while a
// commit is in flight) the loop waits for the commit instead of reading on.
CommitLimits commit_limits(const WorkerConfig& config) {
  const MemoryBudget memory = worker_memory(config);
  return CommitLimits{config.commit_interval, memory.max_pending_entries,
                      memory.deferred_dead_letter_bytes};
}

ClockMs steady_now() {
  return ClockMs{std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now().time_since_epoch())
                     .count()};
}

}  // namespace

Worker::Worker(WorkerConfig config, WorkerShared& shared)
    : config_(std::move(config)),
      metrics_(shared.metrics),
      cycle_(commit_limits(config_), steady_now()),
      status_(shared.status),
      queries_(shared.queries),
      loop_now_(steady_now()),
      last_progress_log_(Clock::now()) {
  auto logger = log::get("worker");
  burst_.resize(kRecordsPerBurst);
  producer_ = std::make_unique<kafka::Producer>(config_.kafka, worker_producer_properties(config_));
  producer_->track_offsets_of(config_.topics.changelog());
  partitions_ = provision_topics(producer_->handle(), config_, kBlockingTimeout);
  producer_->register_topics({config_.topics.repartition(), config_.topics.changelog(),
                              config_.topics.output, config_.topics.dlq});
  transaction_ =
      std::make_unique<OutputTransaction>(*producer_, config_.guarantee, kBlockingTimeout);
  transaction_->init();
  purger_ = std::make_unique<RepartitionPurger>(producer_->handle(), config_.topics.repartition(),
                                                std::chrono::seconds(30));
  ingest_ = std::make_unique<IngestStage>(config_, partitions_, metrics_, sink());
  aggregate_ = std::make_unique<AggregateStage>(config_, partitions_, metrics_, sink(), *producer_);
  ingest_consumer_ = std::make_unique<StageConsumer>(
      WorkerStage::kIngest, config_.kafka,
      worker_consumer_properties(config_, WorkerStage::kIngest), listener(), wakeup_);
  aggregate_consumer_ = std::make_unique<StageConsumer>(
      WorkerStage::kAggregate, config_.kafka,
      worker_consumer_properties(config_, WorkerStage::kAggregate), listener(), wakeup_);
  ingest_consumer_->subscribe(config_.topics.input);
  if (auto failure = aggregate_->start_standbys()) throw std::runtime_error(*failure);
  if (aggregate_->standbys_warm()) {
    aggregate_consumer_->subscribe(config_.topics.repartition());
  } else {
    logger->info("warming the standby copies of all {} tasks before joining group {}", partitions_,
                 config_.topics.aggregate_group());
  }
  status_.set_restarting("");
  logger->info(
      "started: groups {} (input) and {} (aggregate tasks), input {}, {} partitions, guarantee "
      "{}, windows {}",
      config_.topics.ingest_group(), config_.topics.aggregate_group(), config_.topics.input,
      partitions_, config_.guarantee == Guarantee::kExactlyOnce ? "exactly-once" : "at-least-once",
      config_.windows.names(~0U));
}

Worker::~Worker() = default;

void Worker::fail(std::string reason, WorkerExit::Kind kind) {
  cycle_.stop();
  if (fatal_) return;  // the first reason is the one that matters
  fatal_ = true;
  exit_ = {kind, std::move(reason)};
  // A client failure is usually cured by new clients (engine/command.cpp says which).
  if (kind == WorkerExit::Kind::kClientFatal) {
    log::get("worker")->error("{}", exit_.reason);
  } else {
    log::get("worker")->critical("{}", exit_.reason);
  }
}

void Worker::assigned(StageConsumer& consumer, rd_kafka_topic_partition_list_t& partitions) {
  WorkerMetrics::inc(metrics_.rebalances);
  const bool ingest = consumer.stage() == WorkerStage::kIngest;
  if (ingest) {
    if (const auto error =
            ingest_->assign(consumer.handle(), &partitions, loop_now_, kBlockingTimeout)) {
      fail(error.message());
      return;
    }
  } else if (auto failure = aggregate_->assign(partitions)) {
    fail(*failure);
    return;
  }
  log::get("worker")->info("{} stage: assigned {} partitions: now {} input partitions and {} tasks",
                           consumer.name(), partitions.cnt, ingest_->partition_count(),
                           aggregate_->task_count());
  if (auto error = consumer.incremental_assign(partitions); !error.empty()) {
    fail(std::move(error));
    return;
  }
  if (ingest) return;
  if (auto failure = aggregate_->pause_restoring(consumer.handle(), partitions)) fail(*failure);
}

void Worker::revoked(StageConsumer& consumer, rd_kafka_topic_partition_list_t& partitions,
                     bool lost) {
  WorkerMetrics::inc(metrics_.rebalances);
  auto logger = log::get("worker");
  const CommitCycle::BeforeRevoke before = cycle_.before_revoke(lost);
  if (before.complete && inflight_) complete();
  // After a fatal error nothing is committed any more and these clients are dropped: a
  // rewind would only wait on a broker that may be away.
  if (before.abort_and_rewind && !cycle_.stopped()) {
    // Another member may own these partitions already: nothing of ours may be committed.
    logger->warn("{} stage: assignment lost: dropping uncommitted work and rewinding",
                 consumer.name());
    if (const auto error = transaction_->abort(); error && error.fatal()) {
      fail_client(error.message());
    } else {
      rewind();
    }
  } else if (before.commit && !cycle_.stopped()) {
    commit_now();
  }
  for (int i = 0; i < partitions.cnt; ++i) {
    const PartitionId partition{partitions.elems[i].partition};
    if (consumer.stage() == WorkerStage::kIngest) {
      ingest_->revoke(partition);
    } else {
      aggregate_->revoke(partition);
    }
  }
  if (auto error = consumer.incremental_unassign(partitions); !error.empty()) {
    logger->error("{}", error);
  }
}

void Worker::dead_letter(const rd_kafka_message_t& source, std::string_view error,
                         const void* value, std::size_t value_size) {
  const std::string source_topic = rd_kafka_topic_name(source.rkt);
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

std::size_t Worker::read_burst(StageConsumer& consumer) {
  if (fatal_ || cycle_.deferred_full()) return 0;
  const std::size_t read = consumer.poll_batch(burst_);
  for (std::size_t i = 0; i < read; ++i) {
    // Each record is released here, processed or not: after a fatal error the rest of the
    // burst is dropped with the clients. A burst may take the deferred dead letters past
    // their limit by at most one burst of records.
    const kafka::MessagePtr message = std::move(burst_[i]);
    if (!fatal_) process(consumer, *message);
  }
  return read;
}

void Worker::process(const StageConsumer& consumer, const rd_kafka_message_t& message) {
  const bool at_end = message.err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
  if (message.err != RD_KAFKA_RESP_ERR_NO_ERROR && !at_end) {
    on_consumer_error(consumer, message);
    return;
  }
  // Only errors may come without a topic; never trust a record that does.
  if (message.rkt == nullptr) {
    log_consumer_error(message);
    return;
  }
  const bool input = consumer.stage() == WorkerStage::kIngest;
  if (at_end) {
    const PartitionId partition{message.partition};
    const Offset end{message.offset};
    if (input ? ingest_->reached_end(partition, end) : aggregate_->reached_end(partition, end)) {
      cycle_.processed();
    }
    return;
  }
  cycle_.processed();
  if (input) {
    ingest_->process(message, loop_now_);
  } else if (auto failure = aggregate_->process(message)) {
    fail(*failure);
  }
}

void Worker::on_consumer_error(const StageConsumer& consumer, const rd_kafka_message_t& message) {
  if (message.err == RD_KAFKA_RESP_ERR__FATAL) {
    std::array<char, 512> reason{};
    rd_kafka_fatal_error(consumer.handle(), reason.data(), reason.size());
    fail_client(std::string(consumer.name()) + " consumer: " + reason.data());
  } else if (kafka::is_authorization_error(message.err)) {
    fail(consumer_denied(consumer, message));
  } else {
    log_consumer_error(message);
  }
}

std::string Worker::consumer_denied(const StageConsumer& consumer,
                                    const rd_kafka_message_t& message) const {
  const std::string principal = config_.kafka.principal();
  const bool ingest = consumer.stage() == WorkerStage::kIngest;
  if (message.err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED) {
    return kafka::missing_acl("join", "Group", stage_group(config_, consumer.stage()), "READ",
                              principal);
  }
  if (message.err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
    const std::string topic = message.rkt != nullptr
                                  ? rd_kafka_topic_name(message.rkt)
                                  : (ingest ? config_.topics.input : config_.topics.repartition());
    return kafka::missing_acl("read", "Topic", topic, "READ", principal);
  }
  return std::string(consumer.name()) + " consumer: " + rd_kafka_message_errstr(&message);
}

void Worker::log_consumer_error(const rd_kafka_message_t& message) {
  // Errors such as an unreachable broker come once per fetch attempt: one line per
  // interval says the same, with how many were not logged.
  const auto now = Clock::now();
  if (now - last_consumer_error_log_ < kConsumerErrorLogInterval) {
    ++consumer_errors_unlogged_;
    return;
  }
  log::get("worker")->warn("consumer: {} ({} more consumer errors since the last one logged)",
                           rd_kafka_message_errstr(&message), consumer_errors_unlogged_);
  consumer_errors_unlogged_ = 0;
  last_consumer_error_log_ = now;
}

void Worker::housekeeping() {
  loop_now_ = steady_now();
  if (ingest_->watermarks_changed(loop_now_)) cycle_.processed();
  if (!inflight_) producer_->poll();  // the commit thread serves delivery reports meanwhile
  status_.heartbeat();
  queries_.serve([this](const RollupQuery& query) { return aggregate_->answer_query(query); });
  if (auto failure = aggregate_->restore_step(aggregate_consumer_->handle(), kBlockingTimeout)) {
    fail(*failure);
    return;
  }
  if (auto failure = aggregate_->standby_step(std::chrono::milliseconds(20))) {
    fail(*failure);
    return;
  }
  if (!aggregate_consumer_->subscribed() && aggregate_->standbys_warm()) {
    // Joining stage 2 only now: whatever tasks the group gives this replica are warm.
    log::get("worker")->info("standby copies warm: joining group {}",
                             config_.topics.aggregate_group());
    try {
      aggregate_consumer_->subscribe(config_.topics.repartition());
    } catch (const std::runtime_error& e) {
      fail(e.what());
      return;
    }
  }
  const CommitCycle::Step step = cycle_.step(
      loop_now_, commit_ready(), ingest_->pending_entries() + aggregate_->pending_entries());
  if (step.complete && inflight_) complete();
  if (step.seal) {
    seal();
    log_progress();
  }
  if (Clock::now() - last_status_publish_ >= std::chrono::seconds(1)) publish_status();
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
      metrics_.commit_failures.load(), aggregate_->task_count());
  last_progress_log_ = now;
  input_at_last_log_ = input;
  repartition_at_last_log_ = repartition;
}

void Worker::publish_status() {
  last_status_publish_ = Clock::now();
  StatusSnapshot s;
  s.in_group = ingest_consumer_->joined() && aggregate_consumer_->joined();
  for (const StageConsumer* consumer : {ingest_consumer_.get(), aggregate_consumer_.get()}) {
    const auto unreachable = consumer->coordinator_unreachable_for(last_status_publish_);
    if (unreachable >= kUnreachableAfter) {
      s.kafka_unreachable =
          "Kafka unreachable: no coordinator for group " + stage_group(config_, consumer->stage()) +
          " for " +
          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(unreachable).count()) +
          " s";
      break;
    }
  }
  ingest_->report(ingest_consumer_->handle(), loop_now_, s);
  aggregate_->report(aggregate_consumer_->handle(), s);
  status_.publish(std::move(s));
}

WorkerExit Worker::run(const std::atomic<bool>& stop) {
  auto logger = log::get("worker");
  while (!stop.load(std::memory_order_relaxed) && !fatal_) {
    const std::size_t read = read_burst(*ingest_consumer_) + read_burst(*aggregate_consumer_);
    housekeeping();
    if (read > 0 || fatal_) continue;
    // Both queues are empty: wait for either. Short waits while a commit is in flight or a
    // task restores: their progress is noticed in housekeeping.
    wakeup_.wait(std::chrono::milliseconds(aggregate_->restoring() ? 0 : inflight_ ? 5 : 100));
  }
  const CommitCycle::BeforeStop before = cycle_.before_stop();
  // Even after a fatal error: the commit thread must end before the producer does.
  if (inflight_) complete();
  if (before.commit && !cycle_.stopped()) {
    logger->info("stopping: final commit");
    commit_now();
  }
  // Leaving the groups revokes everything through the listener, which commits what is
  // left: stage 1 first, so that nothing new is pre-aggregated while tasks hand over.
  aggregate_->stop_standbys();
  ingest_consumer_->close(kCloseTimeout);
  aggregate_consumer_->close(kCloseTimeout);
  if (fatal_) return exit_;
  logger->info("stopped cleanly");
  return {};
}

}  // namespace auditor
