// What `auditor reset` will do, decided from what the broker reported and nothing else:
// pure, so --dry-run prints exactly the plan a real run executes, and tests need no broker.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "worker/reset/options.h"

namespace auditor {

// One input partition as the broker reported it before the reset.
struct InputPartition {
  std::int32_t partition = 0;
  std::int64_t low = 0;                   // log start offset
  std::int64_t high = 0;                  // end offset
  std::optional<std::int64_t> committed;  // the group's committed offset, if any
  std::optional<std::int64_t> at_time;    // --to-datetime: first offset at or after it
};

struct OffsetMove {
  std::int32_t partition = 0;
  std::optional<std::int64_t> from;  // committed before (none: never committed)
  std::int64_t to = 0;
};

enum class InternalTopicAction : std::uint8_t {
  kAbsent,         // nothing to do: the worker creates it
  kDeleteRecords,  // DeleteRecords up to the end; the group's offsets move to the new start
  kDeleteTopic,    // delete the topic and the group's offsets on it; the worker recreates it
};

struct InternalTopicPlan {
  std::string name;
  InternalTopicAction action = InternalTopicAction::kAbsent;
  std::int32_t partitions = 0;  // as it exists now
  std::string reason;           // why this action, for the log
};

struct ResetPlan {
  std::vector<OffsetMove> input;
  InternalTopicPlan repartition;
  InternalTopicPlan changelog;
  LocalState local_state = LocalState::kUndecided;
  std::filesystem::path state_dir;  // <state-dir>/<application-id>
  bool state_exists = false;
  std::vector<std::string> warnings;
};

// The new committed offset of every input partition. Offsets outside a partition's
// [low, high] are clamped (with a warning, as kafka-streams-application-reset does).
// Throws ConfigError when --to-offsets misses a partition or names one that does not exist.
[[nodiscard]] std::vector<OffsetMove> plan_input_offsets(const ResetTarget& target,
                                                         const std::vector<InputPartition>& input,
                                                         std::vector<std::string>& warnings);

// `partitions`: nullopt when the topic does not exist. A compacted topic cannot be
// purged (Kafka answers DeleteRecords with POLICY_VIOLATION), and a topic whose partition
// count differs from the input's must be recreated: both are deleted instead.
[[nodiscard]] InternalTopicPlan plan_internal_topic(const std::string& name,
                                                    std::optional<std::int32_t> partitions,
                                                    std::int32_t input_partitions, bool compacted);

// One line per action, in the order they are executed.
[[nodiscard]] std::vector<std::string> describe(const ResetPlan& plan, const ResetConfig& config);

}  // namespace auditor
