#include "worker/engine/worker.h"

#include <algorithm>
#include <array>
#include <stdexcept>

#include "worker/common/log.h"
#include "worker/engine/clients.h"
#include "worker/engine/topic_provisioning.h"
#include "worker/kafka/callback_invoker.h"
#include "worker/kafka/client.h"
#include "worker/kafka/partition_list.h"

namespace auditor {
namespace {

constexpr std::chrono::seconds kProgressInterval{10};
constexpr std::chrono::seconds kConsumerErrorLogInterval{10};
// Commit early when this many distinct pre-aggregates and window deltas are pending:
// bounds memory when a commit interval sees very many keys.
constexpr std::size_t kMaxPendingEntries = 500'000;
// Dead letters deferred while a commit is in flight; past this the loop waits for the
// commit instead of reading on.
constexpr std::size_t kMaxDeferredBytes = 64U << 20U;
// Housekeeping (commit decisions, delivery reports, liveness, queries, restores) runs once
// per batch of records, or whenever the poll comes back empty: none of it belongs on the
// per-record path.
constexpr std::uint32_t kRecordsPerHousekeeping = 1000;

ClockMs steady_now() {
  return ClockMs{std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now().time_since_epoch())
                     .count()};
}

}  // namespace

Worker::Worker(WorkerConfig config)
    : config_(std::move(config)),
      cycle_(CommitLimits{config_.commit_interval, kMaxPendingEntries, kMaxDeferredBytes},
             steady_now()),
      loop_now_(steady_now()),
      last_progress_log_(Clock::now()) {
  auto logger = log::get("worker");
  producer_ = std::make_unique<kafka::Producer>(config_.kafka, worker_producer_properties(config_));
  producer_->track_offsets_of(config_.topics.changelog());
  partitions_ = provision_topics(producer_->handle(), config_, kBlockingTimeout);
  producer_->register_topics({config_.topics.repartition(), config_.topics.changelog(),
                              config_.topics.output, config_.topics.dlq});

  kafka::ConfPtr conf = kafka::make_conf(config_.kafka, worker_consumer_properties(config_));
  rd_kafka_conf_set_rebalance_cb(conf.get(), &Worker::on_rebalance);
  rd_kafka_conf_set_opaque(conf.get(), this);
  consumer_ = kafka::make_client(RD_KAFKA_CONSUMER, std::move(conf));
  if (const auto err = rd_kafka_poll_set_consumer(consumer_.get())) {
    throw std::runtime_error("cannot route the consumer's events: " + kafka::error_text(err));
  }

  transaction_ = std::make_unique<OutputTransaction>(*producer_, consumer_.get(), config_.guarantee,
                                                     kBlockingTimeout);
  transaction_->init();
  purger_ = std::make_unique<RepartitionPurger>(producer_->handle(), config_.topics.repartition(),
                                                std::chrono::seconds(30));
  ingest_ = std::make_unique<IngestStage>(config_, partitions_, metrics_, sink());
  aggregate_ = std::make_unique<AggregateStage>(config_, partitions_, metrics_, sink(), *producer_);

  kafka::TopicPartitionListPtr topics = kafka::new_partition_list(2);
  kafka::add_partition(*topics, config_.topics.input, PartitionId{RD_KAFKA_PARTITION_UA});
  kafka::add_partition(*topics, config_.topics.repartition(), PartitionId{RD_KAFKA_PARTITION_UA});
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

void Worker::fail(std::string reason) {
  cycle_.stop();
  if (fatal_) return;  // the first reason is the one that matters
  fatal_ = true;
  fatal_error_ = std::move(reason);
  log::get("worker")->critical("{}", fatal_error_);
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
  joined_ = true;
  ever_assigned_ = true;
  if (const auto error =
          ingest_->assign(consumer_.get(), partitions, loop_now_, kBlockingTimeout)) {
    fail(error.message());
    return;
  }
  if (auto failure = aggregate_->assign(*partitions)) {
    fail(*failure);
    return;
  }
  log::get("worker")->info("assigned {} partitions: now {} input partitions and {} tasks",
                           partitions->cnt, ingest_->partition_count(), aggregate_->task_count());
  kafka::ErrorPtr error(rd_kafka_incremental_assign(consumer_.get(), partitions));
  if (error) {
    fail(std::string("incremental assign failed: ") + rd_kafka_error_string(error.get()));
    return;
  }
  if (auto failure = aggregate_->pause_restoring(consumer_.get(), *partitions)) fail(*failure);
}

void Worker::revoke(rd_kafka_topic_partition_list_t* partitions, bool lost) {
  auto logger = log::get("worker");
  const CommitCycle::BeforeRevoke before = cycle_.before_revoke(lost);
  if (before.complete && inflight_) complete();
  if (before.abort_and_rewind) {
    // Another member may own these partitions already: nothing of ours may be committed.
    logger->warn("assignment lost: dropping uncommitted work and rewinding");
    joined_ = false;
    if (const auto error = transaction_->abort(); error && error.fatal()) {
      fail(error.message());
    } else {
      rewind();
    }
  } else if (before.commit && !cycle_.stopped()) {
    commit_now();
  }
  for (int i = 0; i < partitions->cnt; ++i) {
    const auto& tp = partitions->elems[i];
    if (config_.topics.input == tp.topic) {
      ingest_->revoke(PartitionId{tp.partition});
    } else {
      aggregate_->revoke(PartitionId{tp.partition});
    }
  }
  kafka::ErrorPtr error(rd_kafka_incremental_unassign(consumer_.get(), partitions));
  if (error) logger->error("incremental unassign failed: {}", rd_kafka_error_string(error.get()));
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

void Worker::process(const rd_kafka_message_t& message) {
  if (message.err == RD_KAFKA_RESP_ERR__FATAL) {
    std::array<char, 512> reason{};
    rd_kafka_fatal_error(consumer_.get(), reason.data(), reason.size());
    fail(std::string("consumer: ") + reason.data());
    return;
  }
  // Errors other than the end of a partition need not name a topic (rkt may be null).
  const bool at_end = message.err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
  if ((message.err != RD_KAFKA_RESP_ERR_NO_ERROR && !at_end) || message.rkt == nullptr) {
    log_consumer_error(message);
    return;
  }
  const bool input = config_.topics.input == rd_kafka_topic_name(message.rkt);
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
  if (auto failure = aggregate_->restore_step(consumer_.get(), kBlockingTimeout)) {
    fail(*failure);
    return;
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
  ingest_->report(consumer_.get(), loop_now_, s);
  aggregate_->report(consumer_.get(), s);
  status_.publish(std::move(s));
}

int Worker::run(const std::atomic<bool>& stop) {
  auto logger = log::get("worker");
  std::uint32_t since_housekeeping = 0;
  while (!stop.load(std::memory_order_relaxed) && !fatal_) {
    // Short polls while a commit is in flight or a task restores: their progress is
    // noticed between polls.
    const int poll_ms = aggregate_->restoring() ? 0 : inflight_ ? 5 : 100;
    kafka::MessagePtr message(rd_kafka_consumer_poll(consumer_.get(), poll_ms));
    if (message) {
      process(*message);
      if (++since_housekeeping < kRecordsPerHousekeeping && !cycle_.deferred_full()) continue;
    }
    since_housekeeping = 0;
    housekeeping();
  }
  const CommitCycle::BeforeStop before = cycle_.before_stop();
  // Even after a fatal error: the commit thread must end before the producer does.
  if (inflight_) complete();
  if (before.commit && !cycle_.stopped()) {
    logger->info("stopping: final commit");
    commit_now();
  }
  close_consumer();
  if (!ever_assigned_) {
    // librdkafka 2.0.2 asserts when a cooperative-sticky consumer that never received an
    // assignment is destroyed (its assignor state is still null; librdkafka #4312, fixed
    // in 2.3.0). The group was left above and the process is about to exit: let the OS
    // reclaim the handle instead of aborting a clean stop.
    (void)consumer_.release();
  }
  http_.reset();
  if (fatal_) {
    logger->critical("stopped after a fatal error: {}", fatal_error_);
    return 1;
  }
  logger->info("stopped cleanly");
  return 0;
}

}  // namespace auditor
