// `auditor worker`: both stages of the topology in one consumer group.
//
//   audit_events ──stage 1 (parse, validate, pre-aggregate)──► <app>-ticks-repartition
//   <app>-ticks-repartition ──stage 2 (windows in RocksDB)──► audit_rollups
//   bad input / late records ──► dead-letter topic
//
// One thread runs the loop: poll a record, route it to its stage, and every
// --commit-interval seal everything since the last commit into a transaction
// (OutputTransaction), which finishes on a second thread while the loop reads on; once it
// is durable the loop writes the task stores (worker_commit.cpp). Rebalance callbacks run
// on the loop thread, inside poll.
//
// Registered as the consumer's opaque pointer (rebalance callback): neither copyable nor
// movable, and it must outlive the consumer handle it owns.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "topology/partition_time.h"
#include "topology/pre_aggregator.h"
#include "topology/rollup_format.h"
#include "topology/tick_parser.h"
#include "worker/engine/aggregate_task.h"
#include "worker/engine/changelog_restorer.h"
#include "worker/common/config.h"
#include "worker/engine/metrics.h"
#include "worker/kafka/transaction.h"
#include "worker/kafka/producer.h"
#include "worker/engine/repartition_purger.h"
#include "worker/engine/rollup_query.h"
#include "worker/engine/status_board.h"
#include "worker/engine/worker_http.h"

namespace auditor {

class Worker {
 public:
  // Connects to the broker, creates missing topics and checks the partition counts of
  // existing ones. Throws ConfigError / std::runtime_error with a clear message.
  explicit Worker(WorkerConfig config);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  Worker(Worker&&) = delete;
  Worker& operator=(Worker&&) = delete;

  // Runs until `stop` is set (then commits and leaves the group) or a fatal error.
  // Returns the process exit code: 0 after a clean stop, 1 after a fatal error.
  [[nodiscard]] int run(const std::atomic<bool>& stop);

 private:
  // Stage 1's state of one assigned input partition (docs/event-time.md).
  struct InputPartition {
    std::optional<Offset> next;  // next offset to commit (absent until a record was read)
    PartitionClock clock;        // partition time, lateness, idleness
    // The watermark last written to the repartition topic since the assignment or the
    // last rewind; none: not yet.
    std::optional<PartitionWatermark> sent;
  };

  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque);
  void assign(rd_kafka_topic_partition_list_t* partitions);
  void restore_step();
  void finish_restore(AggregateTask& task);
  void revoke(rd_kafka_topic_partition_list_t* partitions, bool lost);

  void ensure_topics();
  void assign_inputs(rd_kafka_topic_partition_list_t* partitions);
  void resume_input(std::int32_t partition, const rd_kafka_topic_partition_t& committed);
  [[nodiscard]] bool watermarks_changed() const;
  [[nodiscard]] std::optional<PartitionWatermark> watermark_to_send(const InputPartition& input) const;
  void produce_watermarks();
  void process(const rd_kafka_message_t& message);
  void reached_end(const rd_kafka_message_t& eof);
  void process_input(const rd_kafka_message_t& message);
  void process_repartition(const rd_kafka_message_t& message);
  void count_late(std::uint32_t late_mask);
  void dead_letter(const rd_kafka_message_t& source, std::string_view error, const void* value,
                   std::size_t value_size);
  void produce(const kafka::OutgoingRecord& record);

  // Commits (worker_commit.cpp). start_commit() seals everything processed so far into
  // a commit that finishes on a background thread; requires none in flight.
  // complete_commit() waits for the one in flight and makes the stores follow; requires
  // one in flight. commit_now() does both, after completing one in flight. On failure
  // they rewind to the last durable state (kAborted) or flag the worker fatal (kFatal).
  CommitOutcome start_commit();
  CommitOutcome complete_commit();
  CommitOutcome commit_now();
  [[nodiscard]] bool commit_ready() const;
  [[nodiscard]] bool deferred_full() const;
  void produce_deferred();
  void rewind();
  void handle_failed_commit(const CommitOutcome& outcome);
  [[nodiscard]] kafka::TopicPartitionListPtr offsets_to_commit() const;
  void close_consumer();
  void log_progress();
  void publish_status();
  [[nodiscard]] std::size_t pending_entries() const;
  [[nodiscard]] HttpAnswer answer_query(const RollupQuery& query);

  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kBlockingTimeout{30'000};

  // A commit whose records are all enqueued and whose transaction finishes on a
  // background thread (OutputTransaction::finish) while the loop reads on.
  struct InflightCommit {
    struct TaskPart {
      PartitionId partition;
      CommitResult result;
      std::optional<Offset> next_offset;  // the repartition position the commit covers
    };
    std::vector<TaskPart> tasks;
    std::size_t pre_aggregates = 0;
    Clock::time_point started;
    kafka::TopicPartitionListPtr offsets;  // read by the commit thread
    std::future<CommitOutcome> outcome;    // declared last: its destructor joins the thread
  };

  // A record produced while a commit is in flight, kept until the next transaction opens.
  struct DeferredRecord {
    std::string topic;
    std::string key;
    std::optional<std::string> value;  // none: a null value, as produced
    std::vector<std::pair<std::string, std::string>> headers;
  };

  WorkerConfig config_;
  WorkerMetrics metrics_;
  std::int32_t partitions_ = 0;  // of the input and the repartition topic
  std::string repartition_topic_;
  std::string changelog_topic_;

  std::unique_ptr<kafka::Producer> producer_;
  kafka::HandlePtr consumer_;
  std::unique_ptr<OutputTransaction> transaction_;
  std::unique_ptr<RepartitionPurger> purger_;
  std::unique_ptr<ChangelogRestorer> restorer_;
  // After the producer and the transaction: destroyed (joined) before them.
  std::optional<InflightCommit> inflight_;
  std::vector<DeferredRecord> deferred_;
  std::size_t deferred_bytes_ = 0;

  std::uint32_t all_windows_mask_ = 0;  // a tick late for all of these counts nowhere
  TickParser parser_;
  PreAggregator pre_aggregator_;
  RollupFormatter rollup_formatter_;
  std::map<std::int32_t, InputPartition> inputs_;
  // The monotonic clock, read once per housekeeping round, not per record: idleness needs
  // no finer resolution.
  ClockMs loop_now_;
  std::map<std::int32_t, std::unique_ptr<AggregateTask>> tasks_;

  bool produce_failed_ = false;  // a record of the current commit could not be enqueued
  bool dirty_ = false;           // something was processed since the last commit
  bool joined_ = false;          // received an assignment from the group
  bool fatal_ = false;
  std::string fatal_error_;

  StatusBoard status_;
  QueryMailbox queries_;
  std::unique_ptr<WorkerHttp> http_;  // last: stopped first, while the rest still exists

  std::chrono::steady_clock::time_point last_progress_log_;
  std::chrono::steady_clock::time_point last_status_publish_;
  std::uint64_t input_at_last_log_ = 0;
  std::uint64_t repartition_at_last_log_ = 0;
};

}  // namespace auditor
