// Byte layout of a task's RocksDB store.
//
// Window entries, ordered by (size, start, name, activity) under RocksDB's bytewise
// comparator -- the same order as WindowKey's operator<=> -- so that "all windows of size
// S with start in [a, b)" is one range scan and scans visit keys in std::map order:
//   'w' | u64 BE size ms | u64 BE (start ms XOR sign bit) | esc(name) 0x00 0x01 | activity
//   value: i64 BE count | i64 BE ticks
// Flipping the sign bit makes negative (pre-1970) starts sort before positive ones.
// esc() writes each 0x00 byte of the name as 0x00 0xFF; the terminator 0x00 0x01 sorts
// below every continuation, so names of any bytes compare as std::string does. (A length
// prefix would be unambiguous too but would order names by length first.) The activity
// runs to the end of the key. Sizes must be positive; decode rejects anything else.
//
// Metadata entries live under the 'm' prefix (never inside the 'w' range):
//   "m:checkpoint" -> TaskCheckpoint (see encode_checkpoint)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "topology/types.h"
#include "topology/window_aggregator.h"

namespace auditor::state {

inline constexpr std::string_view kCheckpointKey = "m:checkpoint";

[[nodiscard]] std::string encode_window_key(const WindowKey& key);
[[nodiscard]] std::optional<WindowKey> decode_window_key(std::string_view bytes);

// The smallest key of a window of `size` starting at `start` (any name): scan bound.
[[nodiscard]] std::string window_range_bound(DurationMs size, EventTime start);

// Exactly 16 bytes; decode rejects other lengths and negative values (never written).
[[nodiscard]] std::string encode_counts(const WindowCounts& counts);
[[nodiscard]] std::optional<WindowCounts> decode_counts(std::string_view bytes);

// One record of a task's changelog topic, as written to the store too: a window or the
// progress record; no value is a tombstone.
struct ChangelogRecord {
  std::string key;
  std::optional<std::string> value;  // nullopt: tombstone
};

// Everything a task records next to its windows, atomically with them.
struct TaskCheckpoint {
  // Next repartition offset to read: the input this store reflects.
  std::optional<Offset> input_offset;
  // Next changelog offset: the changelog position this store reflects.
  std::optional<Offset> changelog_offset;
  TaskProgress progress;
  bool operator==(const TaskCheckpoint&) const = default;
};

// Versioned binary encoding; decode returns nullopt on anything malformed, including a
// checkpoint of an earlier version.
[[nodiscard]] std::string encode_checkpoint(const TaskCheckpoint& checkpoint);
[[nodiscard]] std::optional<TaskCheckpoint> decode_checkpoint(std::string_view bytes);

// True for a checkpoint written before per-partition event time (version 1: one
// task-wide stream time). Its windows were closed under other rules: it must not be read
// as if it were current (docs/event-time.md, "Upgrading").
[[nodiscard]] bool is_earlier_checkpoint_version(std::string_view bytes);

// What to tell an operator who has state of the earlier version.
inline constexpr std::string_view kEarlierStateAdvice =
    "it was written by an auditor version before per-partition event time; stop every "
    "worker of the application and replay: auditor reset --application-id <id> "
    "--to-earliest --delete-state --state-dir <dir> (or use a new --application-id)";

}  // namespace auditor::state
