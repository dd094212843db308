#include "worker/stages/aggregate_task.h"

#include <algorithm>
#include <cstdint>

namespace auditor {

std::filesystem::path task_store_dir(const WorkerConfig& config, PartitionId partition) {
  return config.state_dir / config.topics.application_id /
         ("task-" + std::to_string(partition.value));
}

AggregateTask::AggregateTask(const WorkerConfig& config, PartitionId partition,
                             std::int32_t input_partitions)
    : config_(config),
      partition_(partition),
      input_partitions_(input_partitions),
      // The process's window cache budget, shared evenly by the tasks it may hold.
      store_(state::TaskStore::open(
          task_store_dir(config, partition),
          worker_memory(config).window_cache_bytes /
              static_cast<std::uint64_t>(std::max<std::int32_t>(1, input_partitions)))),
      aggregator_(config.windows, config.grace, config.state_retention, config.emit,
                  input_partitions, store_->checkpoint().progress),
      next_offset_(store_->checkpoint().input_offset) {}

rocksdb::Status AggregateTask::finish_restore(Offset resume_at) {
  state::TaskCheckpoint checkpoint = store_->checkpoint();
  checkpoint.input_offset = resume_at;
  auto status = store_->apply_raw({}, checkpoint);
  if (!status.ok()) return status;
  aggregator_ = WindowAggregator(config_.windows, config_.grace, config_.state_retention,
                                 config_.emit, input_partitions_, checkpoint.progress);
  next_offset_ = resume_at;
  restoring_ = false;
  return status;
}

void AggregateTask::rollback() {
  aggregator_.rollback(store_->checkpoint().progress);
  next_offset_ = store_->checkpoint().input_offset;
  store_->clear_read_status();
}

bool AggregateTask::has_pending() const {
  return !restoring_ &&
         (aggregator_.has_pending() || next_offset_ != store_->checkpoint().input_offset);
}

}  // namespace auditor
