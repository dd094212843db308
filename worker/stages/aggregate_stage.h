// Stage 2 of the topology: this worker's aggregate tasks (one per assigned repartition
// partition), from pre-aggregates and watermarks to windows in RocksDB and rollups.
//
//   [standby: a warm copy (standby_tasks.h)] ─► assigned ─► restoring (changelog ─► store;
//   partition paused) ─► running ─► revoked ─► [standby]
//   running:  delta ─► window aggregator;  watermark ─► closes windows at the next commit
//   commit:   build(): rollups + changelog records produced, results kept
//             apply(): once the commit is durable, each store writes its result in one batch
//             rewind(): after an aborted commit, back to the durable state and offsets
//
// Thread-safety: none; the worker's loop thread owns it. The stores it holds may also be
// read from HTTP threads (state/task_store.h); queries reach it through the worker loop.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "state/key_encoding.h"
#include "topology/rollup_format.h"
#include "topology/window_aggregator.h"
#include "worker/common/config.h"
#include "worker/kafka/producer.h"
#include "worker/stages/aggregate_task.h"
#include "worker/stages/changelog_restorer.h"
#include "worker/stages/metrics.h"
#include "worker/stages/record_sink.h"
#include "worker/stages/rollup_query.h"
#include "worker/stages/standby_tasks.h"
#include "worker/stages/status_board.h"

namespace auditor {

// Why the worker cannot go on (on the processing path errors are values, not exceptions).
using Failure = std::optional<std::string>;

class AggregateStage {
 public:
  // `config`, `metrics`, `sink` and `producer` (for the changelog offsets it acknowledged)
  // must outlive the stage. `partitions`: of the input and the repartition topic.
  AggregateStage(const WorkerConfig& config, std::int32_t partitions, WorkerMetrics& metrics,
                 RecordSink& sink, kafka::Producer& producer);
  ~AggregateStage() = default;
  AggregateStage(const AggregateStage&) = delete;
  AggregateStage& operator=(const AggregateStage&) = delete;

  // Opens the stores of the repartition partitions in `partitions` (other topics are left
  // alone) and starts restoring them. After the consumer's assignment, pause_restoring()
  // keeps their partitions from being read until restored.
  [[nodiscard]] Failure assign(const rd_kafka_topic_partition_list_t& partitions);
  [[nodiscard]] Failure pause_restoring(rd_kafka_t* consumer,
                                        const rd_kafka_topic_partition_list_t& partitions);
  // Restores for a while, then lets restored tasks run: each resumes its repartition
  // partition at the committed offset (blocking calls with `timeout`).
  [[nodiscard]] Failure restore_step(rd_kafka_t* consumer, std::chrono::milliseconds timeout);
  void revoke(PartitionId partition);

  // --standby-tasks all: follows every task not assigned here (and each one revoked from
  // now on) until stop_standbys().
  [[nodiscard]] Failure start_standbys();
  void stop_standbys();
  // Keeps the standby copies current for a while.
  [[nodiscard]] Failure standby_step(std::chrono::milliseconds budget);
  // No standby copies, or every one reached the end of its changelog at least once.
  [[nodiscard]] bool standbys_warm() const { return !standby_ || standby_->caught_up(); }

  // A consumed repartition record. Returns a failure only for a record the worker must
  // not read on past (one of an earlier version).
  [[nodiscard]] Failure process(const rd_kafka_message_t& message);
  // The consumer reached the end of a repartition partition. True when the position moved.
  bool reached_end(PartitionId partition, Offset end);

  // One task's part of a commit.
  struct TaskCommit {
    PartitionId partition;
    CommitResult result;
    std::optional<Offset> next_offset;  // the repartition position the commit covers
    // As produced to the changelog; the store writes the same bytes.
    std::vector<state::ChangelogRecord> changelog;
  };
  // Builds the tasks' part of a commit: reads the changed windows, produces rollups and
  // changelog records, and returns what the stores must write once it is durable.
  [[nodiscard]] Failure build(std::vector<TaskCommit>& out);
  // The commit is durable: each store writes its part with its new checkpoint. A failure
  // here is fatal (Kafka has the commit, the store does not; a restart replays it).
  [[nodiscard]] Failure apply(std::vector<TaskCommit>& commit);
  // Adds the running tasks' repartition positions to `offsets`.
  void add_offsets(rd_kafka_topic_partition_list_t& offsets) const;
  // The positions the stores reflect: the repartition topic may be purged before them.
  [[nodiscard]] std::map<std::int32_t, Offset> durable_offsets() const;
  // After an aborted commit: every running task back to its durable state; their
  // repartition positions are added to `positions` for a seek.
  void rewind(rd_kafka_topic_partition_list_t& positions);

  [[nodiscard]] std::size_t pending_entries() const;
  [[nodiscard]] std::size_t task_count() const { return tasks_.size(); }
  [[nodiscard]] bool restoring() const { return !restorer_.idle(); }
  void report(rd_kafka_t* consumer, StatusSnapshot& status) const;
  [[nodiscard]] HttpAnswer answer_query(const RollupQuery& query);

 private:
  [[nodiscard]] Failure finish_restore(rd_kafka_t* consumer, AggregateTask& task,
                                       std::chrono::milliseconds timeout);
  // Opens the task's store and starts restoring it. A damaged store, or one whose offsets
  // the topics contradict, is set aside and the task restored into an empty one. Throws
  // std::runtime_error when the store cannot be opened or set aside.
  [[nodiscard]] std::unique_ptr<AggregateTask> start_task(PartitionId id);
  // Closes `damaged` (if any), moves its store aside, logs one line saying which task,
  // `what` and `why`, and returns the task with an empty store. Throws like start_task.
  [[nodiscard]] std::unique_ptr<AggregateTask> rebuild(PartitionId id,
                                                       std::unique_ptr<AggregateTask> damaged,
                                                       std::string_view what,
                                                       const std::string& why);

  const WorkerConfig& config_;
  std::int32_t partitions_;
  std::string repartition_topic_;
  std::string changelog_topic_;
  WorkerMetrics& metrics_;
  RecordSink& sink_;
  kafka::Producer& producer_;
  RollupFormatter rollup_formatter_;
  ChangelogRestorer restorer_;
  std::map<PartitionId, std::unique_ptr<AggregateTask>> tasks_;
  std::unique_ptr<StandbyTasks> standby_;  // while following (start_standbys)
};

}  // namespace auditor
