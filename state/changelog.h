// The changelog of a task store: what a commit writes to `<app-id>-rollups-changelog`
// (partition = task), and how a store is brought up to date from it.
//
// Record key = the store key of the window (key_encoding.h), value = encoded counts, or a
// null value (tombstone) for a deleted window; plus one record under kProgressKey holding
// the task's TaskProgress (watermarks, close and expiry bounds) after the commit. The
// topic is compacted, so it keeps the latest value per window and the latest progress.
#pragma once

#include <rocksdb/status.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "state/task_store.h"
#include "topology/types.h"
#include "topology/window_aggregator.h"

namespace auditor::state {

inline constexpr std::string_view kProgressKey = "m:progress";

// The records of one commit, in order: puts, deletes, then the progress record.
[[nodiscard]] std::vector<ChangelogRecord> changelog_records(const CommitResult& commit);

// Applies changelog records read in offset order to a store, in batches, each batch
// written with the checkpoint (changelog position and progress) it reflects, so a restore
// interrupted by a crash resumes where it stopped. Not thread-safe.
class ChangelogRestore {
 public:
  // `store` must outlive this object.
  explicit ChangelogRestore(TaskStore& store, std::size_t batch_records = 10'000);

  // Adds the record at `offset`. A malformed record is an error (Corruption), a progress
  // record of an earlier version another (NotSupported, saying what to do); nothing of it
  // is applied. It may write a batch when enough records are pending.
  [[nodiscard]] rocksdb::Status add(std::string_view key, std::optional<std::string_view> value,
                                    Offset offset);

  // Writes what is pending; `next` is the changelog offset the store then reflects (the
  // end the restore reached, which may be past the last record: transaction markers).
  [[nodiscard]] rocksdb::Status flush(Offset next);

  [[nodiscard]] std::uint64_t records_applied() const { return records_applied_; }

 private:
  TaskStore& store_;
  std::size_t batch_records_;
  std::vector<TaskStore::RawEntry> pending_;
  std::optional<TaskProgress> progress_;
  Offset next_{0};
  std::uint64_t records_applied_ = 0;
};

}  // namespace auditor::state
