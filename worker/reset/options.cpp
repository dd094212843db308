#include "worker/reset/options.h"

#include <charconv>
#include <system_error>

#include "topology/event_time.h"
#include "worker/common/application_options.h"
#include "worker/kafka/options.h"

namespace auditor {
namespace {

namespace po = cli::po;

template <typename T>
bool parse_number(std::string_view text, T& out) {
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end && out >= 0;
}

}  // namespace

void add_reset_options(po::options_description& options) {
  cli::add_kafka_options(options);
  add_application_options(options);
  options.add_options()("to-earliest", po::bool_switch(),
                        "replay everything the input topic still holds")(
      "to-datetime", po::value<std::string>(),
      "replay from the first record whose Kafka timestamp is at or after this RFC 3339 time, "
      "e.g. 2026-11-22T00:00:00Z")(
      "to-offsets", po::value<std::string>(),
      "replay from these offsets, every input partition listed: 0:1200,1:1300,...")(
      "delete-state", po::bool_switch(),
      "delete the local task stores under <state-dir>/<application-id> (needed for a replay)")(
      "keep-state", po::bool_switch(),
      "leave local task stores alone: you wipe every worker's state dir yourself")(
      "dry-run", po::bool_switch(), "print what would be done, change nothing")(
      "timeout", po::value<std::string>()->default_value("30s"), "deadline of each broker call");
}

std::map<std::int32_t, std::int64_t> parse_partition_offsets(const std::string& label,
                                                             const std::string& text) {
  std::map<std::int32_t, std::int64_t> offsets;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const std::size_t end = std::min(text.find(',', begin), text.size());
    const std::string_view item(text.data() + begin, end - begin);
    const auto colon = item.find(':');
    std::int32_t partition = 0;
    std::int64_t offset = 0;
    if (colon == std::string_view::npos || !parse_number(item.substr(0, colon), partition) ||
        !parse_number(item.substr(colon + 1), offset)) {
      throw ConfigError(label + ": '" + std::string(item) +
                        "' is not partition:offset (two numbers >= 0, like 0:1200)");
    }
    if (!offsets.emplace(partition, offset).second) {
      throw ConfigError(label + ": partition " + std::to_string(partition) + " given twice");
    }
    begin = end + 1;
  }
  return offsets;
}

ResetConfig reset_config(const po::variables_map& v, const cli::Origins& origins) {
  const auto label = [&](const char* name) { return cli::option_label(origins, name); };
  ResetConfig c;
  c.kafka = cli::kafka_settings(v, origins);
  c.topics = application_topics(v, origins);
  c.state_dir = v["state-dir"].as<std::string>();
  if (c.state_dir.empty()) throw ConfigError(label("state-dir") + ": empty");

  const bool earliest = v["to-earliest"].as<bool>();
  const bool datetime = v.count("to-datetime") != 0U;
  const bool offsets = v.count("to-offsets") != 0U;
  if (static_cast<int>(earliest) + static_cast<int>(datetime) + static_cast<int>(offsets) != 1) {
    throw ConfigError(
        "--to-earliest, --to-datetime, --to-offsets: give exactly one (where the replay starts)");
  }
  if (datetime) {
    const auto text = v["to-datetime"].as<std::string>();
    const auto time = parse_rfc3339(text);
    if (!time) {
      throw ConfigError(label("to-datetime") + ": '" + text +
                        "' is not an RFC 3339 date-time (like 2026-11-22T09:00:00Z)");
    }
    // Kafka reads negative timestamps as "latest" (-1) and "earliest" (-2).
    if (time->value < 0) {
      throw ConfigError(label("to-datetime") + ": must not be before 1970-01-01T00:00:00Z");
    }
    c.target = {ResetTarget::Kind::kDatetime, *time, {}};
  } else if (offsets) {
    c.target = {ResetTarget::Kind::kOffsets, EventTime{0},
                parse_partition_offsets(label("to-offsets"), v["to-offsets"].as<std::string>())};
  }

  const bool delete_state = v["delete-state"].as<bool>();
  const bool keep_state = v["keep-state"].as<bool>();
  if (delete_state && keep_state) {
    throw ConfigError("--delete-state, --keep-state: give at most one");
  }
  c.local_state = delete_state ? LocalState::kDelete
                  : keep_state ? LocalState::kKeep
                               : LocalState::kUndecided;
  c.dry_run = v["dry-run"].as<bool>();
  const auto timeout = parse_duration_option(label("timeout"), v["timeout"].as<std::string>());
  if (timeout.value < 100 || timeout.value > 3'600'000) {
    throw ConfigError(label("timeout") + ": must be between 100ms and 1h");
  }
  c.timeout = std::chrono::milliseconds(timeout.value);
  return c;
}

void check_local_state(const ResetConfig& config) {
  if (config.local_state != LocalState::kUndecided) return;
  std::error_code error;
  const auto dir = config.application_state_dir();
  const bool exists = std::filesystem::exists(dir, error);
  if (error)
    throw ConfigError("--state-dir: cannot check " + dir.string() + ": " + error.message());
  if (!exists) return;
  throw ConfigError("--delete-state: local state exists in " + dir.string() +
                    " and a replay on top of it would count its ticks twice; pass "
                    "--delete-state to delete it, or --keep-state if you wipe the state of "
                    "every worker yourself");
}

}  // namespace auditor
