// `auditor worker`: both stages of the topology, each with its own consumer in its own
// group so that each is balanced over the replicas on its own (docs/architecture.md).
//
//   audit_events ──IngestStage (parse, lateness, pre-aggregate)──► <app>-ticks-repartition
//     group <app>
//   <app>-ticks-repartition ──AggregateStage (windows in RocksDB)──► audit_rollups
//     group <app>-aggregate
//   bad input / late records ──► dead-letter topic
//
// One thread runs the loop: read a burst from each stage's consumer, and let the commit
// cycle (engine/commit_cycle.h) decide when everything since the last commit is sealed
// into one transaction (OutputTransaction) with both groups' offsets, which finishes on a
// second thread while the loop reads on; once it is durable the stores follow
// (worker_commit.cpp). Rebalance callbacks run on the loop thread, inside a consumer's
// poll. HTTP threads reach the stores only through the query mailbox and the status board.
//
// The listener of its consumers: neither copyable nor movable, and it outlives them.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "worker/common/config.h"
#include "worker/engine/commit_cycle.h"
#include "worker/engine/stage_consumer.h"
#include "worker/engine/worker_exit.h"
#include "worker/kafka/producer.h"
#include "worker/kafka/transaction.h"
#include "worker/stages/aggregate_stage.h"
#include "worker/stages/ingest_stage.h"
#include "worker/stages/metrics.h"
#include "worker/stages/record_sink.h"
#include "worker/stages/repartition_purger.h"
#include "worker/stages/rollup_query.h"
#include "worker/stages/status_board.h"

namespace auditor {

// What outlives one Worker: the counters, the status the HTTP endpoints read and the query
// hand-off, kept across restarts of the Kafka clients (engine/restart_policy.h) so that
// counters never go back and /healthz, /metrics and /rollups answer throughout. Each
// member states its own thread-safety contract.
struct WorkerShared {
  WorkerMetrics metrics;
  StatusBoard status;
  QueryMailbox queries;
};

class Worker final : private RecordSink, private StageConsumer::Listener {
 public:
  // Connects to the broker, creates missing topics and checks the partition counts of
  // existing ones. `shared` must outlive the worker. Throws ConfigError /
  // std::runtime_error with a clear message.
  Worker(WorkerConfig config, WorkerShared& shared);
  ~Worker() override;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  Worker(Worker&&) = delete;
  Worker& operator=(Worker&&) = delete;

  // Runs until `stop` is set (then commits and leaves the groups) or a fatal error (then
  // leaves them without committing). Call once.
  [[nodiscard]] WorkerExit run(const std::atomic<bool>& stop);

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kBlockingTimeout{30'000};

  // A commit whose records are all enqueued and whose transaction finishes on a
  // background thread (OutputTransaction::finish) while the loop reads on.
  struct InflightCommit {
    std::vector<AggregateStage::TaskCommit> tasks;
    std::size_t pre_aggregates = 0;
    Clock::time_point started;
    std::vector<GroupOffsets> offsets;  // read by the commit thread
    std::future<kafka::Error> outcome;  // declared last: its destructor joins the thread
  };

  // A record produced while a commit is in flight, kept until the next transaction opens.
  struct DeferredRecord {
    std::string topic;
    std::int32_t partition = RD_KAFKA_PARTITION_UA;
    std::string key;
    std::optional<std::string> value;  // none: a null value, as produced
    std::vector<std::pair<std::string, std::string>> headers;
  };

  // RecordSink: everything the stages produce goes through the commit cycle.
  void produce(const kafka::OutgoingRecord& record) override;
  void dead_letter(const rd_kafka_message_t& source, std::string_view error, const void* value,
                   std::size_t value_size) override;
  RecordSink& sink() { return *this; }
  StageConsumer::Listener& listener() { return *this; }

  // StageConsumer::Listener: rebalances of either stage's group.
  void assigned(StageConsumer& consumer, rd_kafka_topic_partition_list_t& partitions) override;
  void revoked(StageConsumer& consumer, rd_kafka_topic_partition_list_t& partitions,
               bool lost) override;

  // Reads what `consumer` has queued, up to a burst. Returns how many it read.
  std::size_t read_burst(StageConsumer& consumer);
  void process(const StageConsumer& consumer, const rd_kafka_message_t& message);
  // A consumer error (not a partition's end): fatal, a missing ACL, or logged and retried.
  void on_consumer_error(const StageConsumer& consumer, const rd_kafka_message_t& message);
  void housekeeping();
  // The one way to stop on a fatal error: logged once, the commit cycle stopped, the loop
  // ends and run() returns kFatal, or kClientFatal for fail_client().
  void fail(std::string reason, WorkerExit::Kind kind = WorkerExit::Kind::kFatal);
  void fail_client(std::string reason) { fail(std::move(reason), WorkerExit::Kind::kClientFatal); }

  // Commits (worker_commit.cpp).
  void seal();
  void complete();
  void commit_now();
  void abort_and_rewind(const std::string& reason);
  void rewind();
  [[nodiscard]] bool seek(const StageConsumer& consumer,
                          rd_kafka_topic_partition_list_t& positions);
  void produce_deferred();
  void on_produce_error(const kafka::Error& error);
  [[nodiscard]] bool commit_ready() const;
  [[nodiscard]] std::vector<GroupOffsets> offsets_to_commit() const;

  void log_progress();
  void publish_status();
  // What a fatal commit error is reported as when it is a missing ACL; nullopt otherwise.
  [[nodiscard]] std::optional<std::string> access_denied(const kafka::Error& error) const;
  // The message for a consumer error that is a missing ACL (kafka/access.h).
  [[nodiscard]] std::string consumer_denied(const StageConsumer& consumer,
                                            const rd_kafka_message_t& message) const;
  void log_consumer_error(const rd_kafka_message_t& message);

  WorkerConfig config_;
  WorkerMetrics& metrics_;
  std::int32_t partitions_ = 0;  // of the input and the repartition topic

  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<OutputTransaction> transaction_;
  std::unique_ptr<RepartitionPurger> purger_;
  std::unique_ptr<IngestStage> ingest_;
  std::unique_ptr<AggregateStage> aggregate_;
  LoopWakeup wakeup_;  // before the consumers: they write to it until destroyed
  std::unique_ptr<StageConsumer> ingest_consumer_;
  std::unique_ptr<StageConsumer> aggregate_consumer_;
  CommitCycle cycle_;
  // After the producer, the transaction and the stages: destroyed (joined) before them.
  std::optional<InflightCommit> inflight_;
  std::vector<DeferredRecord> deferred_;
  std::vector<kafka::MessagePtr> burst_;  // read_burst()'s records, one burst at a time

  bool fatal_ = false;
  WorkerExit exit_;

  StatusBoard& status_;
  QueryMailbox& queries_;

  // The monotonic clock, read once per housekeeping round, not per record.
  ClockMs loop_now_;
  Clock::time_point last_progress_log_;
  Clock::time_point last_status_publish_;
  Clock::time_point last_consumer_error_log_;
  std::uint64_t consumer_errors_unlogged_ = 0;
  std::uint64_t input_at_last_log_ = 0;
  std::uint64_t repartition_at_last_log_ = 0;
};

}  // namespace auditor
