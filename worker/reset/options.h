// The options of `auditor reset` and their validated form. Everything here is checked
// before the tool connects: a bad value exits with code 2 and names the option.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "topology/types.h"
#include "worker/common/cli_options.h"
#include "worker/common/config.h"

namespace auditor {

// Where the application's input offsets move to.
struct ResetTarget {
  enum class Kind : std::uint8_t { kEarliest, kDatetime, kOffsets };
  Kind kind = Kind::kEarliest;
  EventTime time{0};                             // kDatetime: first record at or after it
  std::map<std::int32_t, std::int64_t> offsets;  // kOffsets: partition -> offset
};

// What happens to the local task stores under <state-dir>/<application-id>.
enum class LocalState : std::uint8_t {
  kUndecided,  // neither flag: allowed only when there is no local state
  kDelete,     // --delete-state
  kKeep,       // --keep-state: the operator wipes every worker's state himself
};

struct ResetConfig {
  KafkaSettings kafka;
  TopicNames topics;
  std::filesystem::path state_dir = "./auditor-state";
  ResetTarget target;
  LocalState local_state = LocalState::kUndecided;
  bool dry_run = false;
  std::chrono::milliseconds timeout{30'000};  // deadline of each broker call

  [[nodiscard]] std::filesystem::path application_state_dir() const {
    return state_dir / topics.application_id;
  }
};

void add_reset_options(cli::po::options_description& options);

// Builds and checks the configuration (applies --log-level). Throws ConfigError.
[[nodiscard]] ResetConfig reset_config(const cli::po::variables_map& values,
                                       const cli::Origins& origins = {});

// "0:1200,1:1300" -> {0: 1200, 1: 1300}. Throws ConfigError mentioning `label`.
[[nodiscard]] std::map<std::int32_t, std::int64_t> parse_partition_offsets(const std::string& label,
                                                                           const std::string& text);

// A replay on top of existing task stores counts their ticks twice: refuses (ConfigError)
// when <state-dir>/<application-id> exists and neither --delete-state nor --keep-state
// was given.
void check_local_state(const ResetConfig& config);

}  // namespace auditor
