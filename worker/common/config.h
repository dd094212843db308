// Validated configuration of the subcommands. Built from the command line, AUDITOR_*
// environment variables and --config files (cli_options, worker_options, reset_options);
// every check that can fail happens before connecting.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "topology/memory_budget.h"
#include "topology/types.h"
#include "topology/window_aggregator.h"
#include "topology/windows.h"

namespace auditor {

// A bad option value: the message names the option. The program exits with code 2.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Guarantee : std::uint8_t { kExactlyOnce, kAtLeastOnce };

// Which aggregate tasks a replica keeps warm copies of, besides the ones it runs
// (docs/architecture.md, "Scaling"): none, or all it does not run.
enum class StandbyTasksMode : std::uint8_t { kNone, kAll };

// Options every subcommand that talks to Kafka shares.
struct KafkaSettings {
  std::string bootstrap_servers = "127.0.0.1:9092";
  // Pass-through librdkafka properties (--kafka key=value and the security options),
  // applied to every client.
  std::vector<std::pair<std::string, std::string>> properties;

  // The broker-side principal for messages that say which ACL to grant: "User:<name>" with
  // a SASL username, else a description.
  [[nodiscard]] std::string principal() const;
};

struct TopicNames {
  std::string application_id = "auditor";
  std::string input = "audit_events";
  std::string output = "audit_rollups";
  std::string dlq = "audit_events.dlq";

  [[nodiscard]] std::string repartition() const { return application_id + "-ticks-repartition"; }
  [[nodiscard]] std::string changelog() const { return application_id + "-rollups-changelog"; }
  // One consumer group per stage, so that each stage is balanced over the replicas on its
  // own (docs/architecture.md, "Scaling"): stage 1 reads the input, stage 2 the
  // repartition topic.
  [[nodiscard]] const std::string& ingest_group() const { return application_id; }
  [[nodiscard]] std::string aggregate_group() const { return application_id + "-aggregate"; }
  // Named by the changelog readers (restore, standby copies), which never join it.
  [[nodiscard]] std::string restore_group() const { return application_id + "-restore"; }
};

struct WorkerConfig {
  KafkaSettings kafka;
  TopicNames topics;
  WindowSet windows = WindowSet::parse("1m,1h,1d");
  DurationMs grace{30'000};
  DurationMs commit_interval{1'000};
  // An input partition at its end with no record for this long (wall clock) is idle: it
  // no longer holds windows open (docs/event-time.md).
  DurationMs idle_timeout{60'000};
  // How long a closed window stays in the local store (queryable) before it is deleted.
  DurationMs state_retention{86'400'000};
  // Retention of the rollup topic (cleanup.policy=compact,delete).
  DurationMs rollup_retention{7 * 86'400'000LL};
  // Partitions of topics the worker creates when the input topic does not exist yet.
  std::int32_t default_partitions = 6;
  std::filesystem::path state_dir = "./auditor-state";
  std::optional<std::string> instance_id;
  Guarantee guarantee = Guarantee::kExactlyOnce;
  EmitMode emit = EmitMode::kUpdates;
  StandbyTasksMode standby_tasks = StandbyTasksMode::kNone;
  int http_port = 8080;
  // host:port at which the other replicas reach this one's HTTP endpoints (forwarded
  // queries); unset: this host's name and the bound port (engine/advertised_http.h).
  std::optional<std::string> advertised_http;
  // The whole process's memory (--memory), split by split_memory (worker_memory below).
  std::uint64_t memory_bytes = kDefaultMemoryBytes;
};

// The split of config.memory_bytes for this worker's consumers (ingest, aggregate, changelog
// restorer, and the standby copies' follower with --standby-tasks all).
[[nodiscard]] MemoryBudget worker_memory(const WorkerConfig& config);

// Checks shared by all subcommands; throw ConfigError naming the option. `option` is the
// label used in the message ("--grace", "--grace (from AUDITOR_GRACE)").
void validate_topic_name(const std::string& option, const std::string& name);
// A comma-separated list of host[:port] (optionally with a "protocol://" prefix, IPv6 in
// brackets); a port, when given, is a number 1-65535.
void validate_bootstrap_servers(const std::string& option, const std::string& servers);
[[nodiscard]] DurationMs parse_duration_option(const std::string& option, const std::string& text);
// A size in bytes: a whole number, or one with the binary unit B, KiB, MiB or GiB
// ("1048576", "64KiB", "512MiB", "1GiB"); decimal units (MB, GB) are refused.
[[nodiscard]] std::uint64_t parse_size_option(const std::string& option, const std::string& text);
[[nodiscard]] std::pair<std::string, std::string> parse_kafka_property(const std::string& text);

}  // namespace auditor
