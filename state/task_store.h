// The RocksDB store of one stage-2 task: committed windows plus the checkpoint they
// reflect. Only ever holds committed state: apply() writes a whole commit (puts, deletes,
// checkpoint) in one WriteBatch, so a crash leaves either the old or the new commit.
//
// get() answers from an in-memory copy of the windows that can still change when it can
// (state/window_cache.h), so a commit reads RocksDB only for windows it does not hold.
//
// Thread-safety: one thread at a time (the worker's processing thread; HTTP queries reach
// the store through it) for every call but read_status(), which is safe from any thread.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/status.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "state/key_encoding.h"
#include "state/window_cache.h"
#include "topology/window_aggregator.h"

namespace auditor::state {

// The memory every store of the process shares (docs/architecture.md, "Memory"): one LRU
// block cache (data, index and filter blocks) with the memtables charged to it through a
// write buffer manager, and the size of one memtable.
struct StoreMemory {
  std::size_t block_cache_bytes = 128 << 20;
  std::size_t memtable_budget_bytes = 64 << 20;  // part of block_cache_bytes
  std::size_t write_buffer_bytes = 8 << 20;
};

class TaskStore final : public WindowReader {
 public:
  // Sets the shared memory of every store this process opens. Call it once, before the
  // first open(); without it the stores use StoreMemory's defaults. Throws
  // std::logic_error once a store has been opened (the cache exists and keeps its size).
  static void configure_memory(const StoreMemory& memory);

  // What the window cache of one store may hold when open() is not told.
  static constexpr std::size_t kDefaultWindowCacheBytes = 16U << 20U;

  // Opens (creating if absent) the store in `dir`, with a window cache of at most
  // `window_cache_bytes`. Throws StoreDamaged (store_damage.h)
  // naming the directory when its files are damaged (RocksDB reports corruption or a
  // missing file, CURRENT is gone, the checkpoint is unreadable), std::runtime_error when
  // it cannot be opened otherwise (locked, no space, permission, an earlier version).
  // RocksDB checks at open that every SST file the MANIFEST lists exists and has its
  // recorded size, which catches deleted and truncated files without reading the data.
  static std::unique_ptr<TaskStore> open(const std::filesystem::path& dir,
                                         std::size_t window_cache_bytes = kDefaultWindowCacheBytes);

  ~TaskStore() override;
  TaskStore(const TaskStore&) = delete;
  TaskStore& operator=(const TaskStore&) = delete;

  // The checkpoint stored by the last apply() (empty for a new store).
  [[nodiscard]] const TaskCheckpoint& checkpoint() const { return checkpoint_; }

  // WindowReader. A read error is remembered (see read_status) and reported as absent.
  [[nodiscard]] std::optional<WindowCounts> get(const WindowKey& key) const override;
  void scan(DurationMs size, EventTime from, EventTime to,
            const std::function<void(const WindowKey&, const WindowCounts&)>& visit) const override;

  // The first read error (or malformed entry) since the last clear_read_status(); OK when
  // none. A commit built from a store with a read error must not be applied: its
  // "absolute" counts would be deltas. apply() enforces this by refusing to write.
  [[nodiscard]] rocksdb::Status read_status() const;
  void clear_read_status();

  // Writes the commit and the checkpoint in one batch (WAL on, no fsync: the WAL in the
  // page cache survives a process crash). On success, checkpoint() returns `checkpoint`.
  // Returns Aborted without writing while read_status() is not OK.
  [[nodiscard]] rocksdb::Status apply(const CommitResult& commit, const TaskCheckpoint& checkpoint);
  // The same, writing the window records of `changelog` (changelog_records(commit), as
  // produced to the changelog topic: puts, deletes, then the progress record) instead of
  // encoding them again. InvalidArgument when it does not have that shape.
  [[nodiscard]] rocksdb::Status apply(const CommitResult& commit,
                                      const std::vector<ChangelogRecord>& changelog,
                                      const TaskCheckpoint& checkpoint);

  // Raw entries for changelog restore (exactly-once): `value` nullopt means delete (an
  // empty string is a value). Written with the checkpoint in one batch. Keys in the
  // metadata namespace ('m' prefix) are rejected with InvalidArgument: a changelog record
  // must never overwrite the checkpoint.
  struct RawEntry {
    std::string key;
    std::optional<std::string> value;
  };
  [[nodiscard]] rocksdb::Status apply_raw(const std::vector<RawEntry>& entries,
                                          const TaskCheckpoint& checkpoint);

  // Estimates for metrics. memory_bytes(): this store's own memory outside the shared
  // budget; shared_memory_bytes(): the budget every store of the process shares (block
  // cache with data, index and filter blocks, and the memtables; configure_memory).
  [[nodiscard]] std::uint64_t estimated_keys() const;
  [[nodiscard]] std::uint64_t memory_bytes() const;
  [[nodiscard]] static std::uint64_t shared_memory_bytes();

  // Flushes memtables (unless the disk lacks the room: the WAL holds them) and closes;
  // any error is returned, not thrown. After a failed write the store is not closed but
  // abandoned to the process's exit (Aborted is returned): RocksDB would abort. Afterwards only
  // destruction is allowed (reads report an error, writes return one). The destructor
  // closes an open store itself but has to drop any error: call close() to see it.
  [[nodiscard]] rocksdb::Status close();

 private:
  TaskStore(std::unique_ptr<rocksdb::DB> db, TaskCheckpoint checkpoint,
            std::size_t window_cache_bytes);

  // The largest window start stored for `size` (the window cache's bound); on a read error
  // kMaxEventTime, so that every lookup goes to RocksDB and meets the error there.
  [[nodiscard]] std::optional<EventTime> stored_max_start(DurationMs size) const;
  // After a durable write of `commit`: the cache follows it.
  void follow_in_cache(const CommitResult& commit, const TaskCheckpoint& checkpoint);

  std::unique_ptr<rocksdb::DB> db_;
  TaskCheckpoint checkpoint_;
  mutable WindowCache cache_;
  mutable std::mutex read_status_mu_;
  mutable rocksdb::Status read_status_;  // guarded by read_status_mu_
  rocksdb::Status failed_write_;         // the first write that failed; OK when none

  void record_read_error(const rocksdb::Status& status) const;
  // After a failed write (failed_write_ not OK): lets go of the RocksDB handle without
  // closing it (see the definition) and returns true.
  bool abandon_after_failed_write();
  // The store's file system has room to flush its memtables into an SST file.
  [[nodiscard]] bool room_to_flush() const;
};

}  // namespace auditor::state
