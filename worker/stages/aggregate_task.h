// Stage 2 task: the windows of one repartition partition, their store and their progress.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "state/task_store.h"
#include "topology/types.h"
#include "topology/window_aggregator.h"
#include "worker/common/config.h"

namespace auditor {

class AggregateTask {
 public:
  // Opens (or creates) the task's store under `<state-dir>/<app-id>/task-<partition>`.
  // The task starts restoring. Throws std::runtime_error when the store cannot be opened.
  // `config` must outlive the task. `input_partitions`: how many input partitions send
  // watermarks to it.
  AggregateTask(const WorkerConfig& config, PartitionId partition, std::int32_t input_partitions);

  // Restoring: the store is being brought up to date from the changelog; the task must
  // not process records or commit offsets.
  [[nodiscard]] bool restoring() const { return restoring_; }

  // The store is up to date: records `resume_at` (next repartition offset) as the input it
  // reflects and reloads the aggregator from the restored progress.
  [[nodiscard]] rocksdb::Status finish_restore(Offset resume_at);

  [[nodiscard]] PartitionId partition() const { return partition_; }
  [[nodiscard]] state::TaskStore& store() { return *store_; }
  [[nodiscard]] WindowAggregator& aggregator() { return aggregator_; }

  // Next repartition offset to read: the processed position (may be ahead of the store).
  [[nodiscard]] std::optional<Offset> next_offset() const { return next_offset_; }
  void advance(Offset next) { next_offset_ = next; }

  // Position the store reflects; where to resume after a restart or a failed commit.
  [[nodiscard]] std::optional<Offset> durable_offset() const {
    return store_->checkpoint().input_offset;
  }

  // Forgets everything since the last durable commit.
  void rollback();

  [[nodiscard]] bool has_pending() const;

 private:
  const WorkerConfig& config_;
  PartitionId partition_;
  std::int32_t input_partitions_;
  bool restoring_ = true;
  std::unique_ptr<state::TaskStore> store_;
  WindowAggregator aggregator_;
  std::optional<Offset> next_offset_;
};

[[nodiscard]] std::filesystem::path task_store_dir(const WorkerConfig& config,
                                                   PartitionId partition);

}  // namespace auditor
