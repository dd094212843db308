#include "worker/engine/options.h"

#include <array>
#include <set>
#include <string_view>

#include "worker/common/application_options.h"
#include "worker/engine/advertised_http.h"
#include "worker/kafka/options.h"

namespace auditor {
namespace {

namespace po = cli::po;

// Properties the worker sets itself: overriding them through --kafka would silently break
// the group, the transactions or the read_committed isolation the guarantees rest on.
constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kOwnedProperties = {{
    {"group.id", "it is --application-id"},
    {"group.instance.id", "use --instance-id"},
    {"transactional.id", "the worker derives it from --application-id and --instance-id"},
    {"enable.auto.commit", "the worker commits with its outputs"},
    {"enable.auto.offset.store", "the worker commits with its outputs"},
    {"isolation.level", "the worker reads read_committed"},
    {"partition.assignment.strategy", "the worker relies on cooperative-sticky"},
}};

std::string text(const po::variables_map& v, const char* name) {
  return v[name].as<std::string>();
}

template <typename T>
T parse_choice(const std::string& label, const std::string& value,
               std::initializer_list<std::pair<std::string_view, T>> choices) {
  std::string names;
  for (const auto& [name, choice] : choices) {
    if (value == name) return choice;
    names += (names.empty() ? "" : " or ") + std::string(name);
  }
  throw ConfigError(label + ": '" + value + "' is not one of " + names);
}

}  // namespace

void add_worker_options(po::options_description& options) {
  cli::add_kafka_options(options);
  add_application_options(options);
  options.add_options()("output-topic", po::value<std::string>()->default_value("audit_rollups"),
                        "rollups out")("dlq-topic",
                                       po::value<std::string>()->default_value("audit_events.dlq"),
                                       "dead letters (invalid and late records)")(
      "windows", po::value<std::string>()->default_value("1m,1h,1d"), "tumbling window sizes")(
      "grace", po::value<std::string>()->default_value("30s"),
      "how long after its end a window still accepts ticks (event time, per input partition)")(
      "idle-timeout", po::value<std::string>()->default_value("60s"),
      "an input partition at its end with no record for this long stops holding windows open")(
      "commit-interval", po::value<std::string>()->default_value("1s"), "commit every")(
      "state-retention", po::value<std::string>()->default_value("1d"),
      "how long closed windows stay in the local store")(
      "rollup-retention", po::value<std::string>()->default_value("7d"),
      "retention of the rollup topic when the worker creates it")(
      "partitions", po::value<int>()->default_value(6),
      "partitions of the input topic when the worker creates it")(
      "instance-id", po::value<std::string>(), "static group membership id")(
      "guarantee", po::value<std::string>()->default_value("exactly-once"),
      "exactly-once or at-least-once")("emit", po::value<std::string>()->default_value("updates"),
                                       "updates or final")(
      "http-port", po::value<int>()->default_value(8080), "HTTP port (0: any free port)")(
      "advertised-http", po::value<std::string>(),
      "host:port at which the other replicas reach this one's HTTP port, to forward "
      "GET /rollups for the keys it owns (default: the host name and the bound --http-port)")(
      "standby-tasks", po::value<std::string>()->default_value("none"),
      "none, or all: keep a warm copy of every aggregate task this replica does not run, and "
      "warm them before taking tasks over, so a moved task resumes at once")(
      "memory", po::value<std::string>()->default_value("512MiB"),
      "the worker's memory (bytes, KiB, MiB or GiB; at least 128MiB), split over the RocksDB "
      "block cache, the consumers' prefetch, the producer queue, the pending aggregates, the "
      "open-window cache and the deferred dead letters, with 64 MiB left for the rest "
      "(docs/architecture.md, "
      "\"Memory\")");
}

WorkerConfig worker_config(const po::variables_map& v, const cli::Origins& origins) {
  const auto label = [&](const char* name) { return cli::option_label(origins, name); };
  WorkerConfig c;
  c.kafka = cli::kafka_settings(v, origins);
  for (const auto& [key, value] : c.kafka.properties) {
    for (const auto& [owned, why] : kOwnedProperties) {
      if (key == owned) {
        throw ConfigError(label("kafka") + ": " + key + " cannot be set (" + std::string(why) +
                          ")");
      }
    }
  }

  c.topics = application_topics(v, origins);
  c.topics.output = text(v, "output-topic");
  c.topics.dlq = text(v, "dlq-topic");
  validate_topic_name(label("output-topic"), c.topics.output);
  validate_topic_name(label("dlq-topic"), c.topics.dlq);
  // Writing rollups or dead letters into a topic the worker reads would feed it its own
  // output forever.
  const std::array<std::pair<const char*, std::string>, 5> topics = {{
      {"input-topic", c.topics.input},
      {"output-topic", c.topics.output},
      {"dlq-topic", c.topics.dlq},
      {"application-id", c.topics.repartition()},
      {"application-id", c.topics.changelog()},
  }};
  for (std::size_t i = 0; i < topics.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (topics[i].second == topics[j].second) {
        throw ConfigError(label(topics[i].first) + ": topic '" + topics[i].second +
                          "' is also the topic of --" + topics[j].first +
                          " (each topic must be different)");
      }
    }
  }

  try {
    c.windows = WindowSet::parse(text(v, "windows"));
  } catch (const std::invalid_argument& e) {
    throw ConfigError(label("windows") + ": " + e.what());
  }
  c.grace = parse_duration_option(label("grace"), text(v, "grace"));
  c.commit_interval = parse_duration_option(label("commit-interval"), text(v, "commit-interval"));
  if (c.commit_interval.value < 10 || c.commit_interval.value > 60'000) {
    throw ConfigError(label("commit-interval") + ": must be between 10ms and 1m");
  }
  c.idle_timeout = parse_duration_option(label("idle-timeout"), text(v, "idle-timeout"));
  if (c.idle_timeout.value < 100)
    throw ConfigError(label("idle-timeout") + ": must be at least 100ms");
  c.state_retention = parse_duration_option(label("state-retention"), text(v, "state-retention"));
  c.rollup_retention =
      parse_duration_option(label("rollup-retention"), text(v, "rollup-retention"));
  if (c.rollup_retention.value == 0)
    throw ConfigError(label("rollup-retention") + ": must be above 0");
  c.default_partitions = v["partitions"].as<int>();
  if (c.default_partitions < 1 || c.default_partitions > 10'000) {
    throw ConfigError(label("partitions") + ": must be between 1 and 10000");
  }
  c.state_dir = text(v, "state-dir");
  if (c.state_dir.empty()) throw ConfigError(label("state-dir") + ": empty");
  if (v.count("instance-id") != 0U) {
    c.instance_id = text(v, "instance-id");
    if (c.instance_id->empty()) throw ConfigError(label("instance-id") + ": empty");
  }
  c.guarantee = parse_choice<Guarantee>(
      label("guarantee"), text(v, "guarantee"),
      {{"exactly-once", Guarantee::kExactlyOnce}, {"at-least-once", Guarantee::kAtLeastOnce}});
  c.emit = parse_choice<EmitMode>(label("emit"), text(v, "emit"),
                                  {{"updates", EmitMode::kUpdates}, {"final", EmitMode::kFinal}});
  c.standby_tasks = parse_choice<StandbyTasksMode>(
      label("standby-tasks"), text(v, "standby-tasks"),
      {{"none", StandbyTasksMode::kNone}, {"all", StandbyTasksMode::kAll}});
  c.http_port = v["http-port"].as<int>();
  if (c.http_port < 0 || c.http_port > 65535) {
    throw ConfigError(label("http-port") + ": must be between 0 and 65535");
  }
  if (v.count("advertised-http") != 0U) {
    c.advertised_http = text(v, "advertised-http");
    validate_advertised_http(label("advertised-http"), *c.advertised_http);
  }
  c.memory_bytes = parse_size_option(label("memory"), text(v, "memory"));
  if (c.memory_bytes < kMinMemoryBytes || c.memory_bytes > kMaxMemoryBytes) {
    throw ConfigError(label("memory") +
                      ": must be between 128MiB and 64GiB (the parts it is "
                      "split into would be too small to work below 128MiB)");
  }
  return c;
}

}  // namespace auditor
