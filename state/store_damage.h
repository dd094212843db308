// When a task's local store must not be trusted, and what to do with it: set it aside and
// rebuild the task from its changelog (docs/architecture.md, "Damaged state").
//
// Two kinds of damage, both found before the task processes anything:
//   - its files: RocksDB cannot open them (Corruption, a file it needs is missing), the
//     checkpoint is unreadable, or the directory holds files but no CURRENT;
//   - its checkpoint: the changelog or repartition offsets it records do not exist in the
//     topics (they were deleted, recreated or lost: `auditor reset --keep-state`), so the
//     store's windows are not what the changelog describes.
// A store that is merely unavailable (locked by another process, no space left, no
// permission) is not damaged: it is reported, never set aside.
//
// Everything here is pure or touches only the given directory. Thread-safety: none needed.
#pragma once

#include <rocksdb/status.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>

#include "state/key_encoding.h"

namespace auditor::state {

// Thrown by TaskStore::open when the store's files are damaged; what() says how. Any
// other open failure stays a plain std::runtime_error.
class StoreDamaged : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// True when `status` (from opening or reading a store) means its files are damaged:
// Corruption, or a file it needs is missing. False for OK and for an unavailable store
// (lock held, no space, permission), which a retry or the operator fixes.
[[nodiscard]] bool is_damage(const rocksdb::Status& status);

// A topic partition's offsets as the broker reports them: records live in [low, high).
struct PartitionBounds {
  std::int64_t low = 0;
  std::int64_t high = 0;
};

// Why `checkpoint` cannot be the state of a task whose changelog partition has `changelog`
// bounds (and repartition partition `repartition`, when known), or nullopt when it can.
// Sound, not complete: every reason it gives is a real inconsistency (the store reflects
// changelog records that are no longer there, or input that is not in the topic), but a
// recreated changelog that has grown past the store's offset looks consistent.
[[nodiscard]] std::optional<std::string> checkpoint_inconsistency(
    const TaskCheckpoint& checkpoint, PartitionBounds changelog,
    std::optional<PartitionBounds> repartition);

// Moves the store in `dir` out of the way, to `<dir>.damaged` (an earlier copy there is
// deleted first: at most one per task, so damage cannot fill the disk). Returns the new
// path. Throws std::runtime_error naming both paths when it cannot.
std::filesystem::path set_aside(const std::filesystem::path& dir);

}  // namespace auditor::state
