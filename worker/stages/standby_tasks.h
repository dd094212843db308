// Warm standby copies of aggregate tasks this replica does not run (`--standby-tasks all`,
// docs/architecture.md "Scaling"): each copy is the task's own local store, kept current
// by following its changelog partition, so that when the task moves here its restore
// replays only the tail written since the copy last caught up.
//
//   follow(task) ─► reading the changelog from the store's checkpoint ─► caught up (end
//   reached at least once; keeps following) ─► release(task): checkpoint written, store
//   closed, the task's own restore takes over from there
//
// Same store directory as the running task would use: a task is either standby or
// assigned here, never both (the aggregate stage releases before it opens the task).
//
// Thread-safety: none; the worker's loop thread drives it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "state/changelog.h"
#include "state/task_store.h"
#include "topology/types.h"
#include "worker/common/config.h"
#include "worker/kafka/handles.h"

namespace auditor {

class StandbyTasks {
 public:
  // `config` must outlive it.
  StandbyTasks(const WorkerConfig& config, std::string changelog_topic);

  // Opens the task's store and starts following its changelog. Throws std::runtime_error
  // when the store cannot be opened or the changelog read.
  void follow(PartitionId partition);
  // Stops following: what was read is written with its changelog offset, the store closed.
  // Returns an error text, or "" (also when the task was not a standby here).
  [[nodiscard]] std::string release(PartitionId partition);

  // Applies what arrives within `budget`. Throws std::runtime_error when a store cannot
  // be written or the changelog is corrupt.
  void poll(std::chrono::milliseconds budget);

  [[nodiscard]] std::vector<std::int32_t> partitions() const;
  // Every copy reached the end of its changelog at least once.
  [[nodiscard]] bool caught_up() const;
  [[nodiscard]] std::uint64_t records_applied() const { return records_applied_; }

 private:
  struct Copy {
    std::unique_ptr<state::TaskStore> store;
    std::unique_ptr<state::ChangelogRestore> restore;  // of `store`
    std::int64_t position = 0;                         // next changelog offset to read
    bool caught_up = false;
  };

  const WorkerConfig& config_;
  std::string topic_;
  kafka::HandlePtr consumer_;  // group-less: assign only
  std::map<std::int32_t, Copy> copies_;
  std::uint64_t records_applied_ = 0;
};

}  // namespace auditor
