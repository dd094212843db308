// `auditor worker`: options -> WorkerConfig, signal handling, run.
#include <csignal>
#include <string>

#include "topology/duration.h"
#include "worker/cli_options.h"
#include "worker/commands.h"
#include "worker/log.h"
#include "worker/worker.h"

namespace auditor::commands {
namespace {

std::atomic<bool> g_stop{false};

void on_signal(int /*signal*/) {
  g_stop.store(true);
}

WorkerConfig worker_config(const cli::po::variables_map& v) {
  WorkerConfig c;
  c.kafka = cli::kafka_settings(v);
  c.topics.application_id = v["application-id"].as<std::string>();
  c.topics.input = v["input-topic"].as<std::string>();
  c.topics.output = v["output-topic"].as<std::string>();
  c.topics.dlq = v["dlq-topic"].as<std::string>();
  validate_topic_name("--application-id", c.topics.application_id);
  validate_topic_name("--application-id", c.topics.changelog());
  validate_topic_name("--input-topic", c.topics.input);
  validate_topic_name("--output-topic", c.topics.output);
  validate_topic_name("--dlq-topic", c.topics.dlq);
  try {
    c.windows = WindowSet::parse(v["windows"].as<std::string>());
  } catch (const std::invalid_argument& e) {
    throw ConfigError(std::string("--windows: ") + e.what());
  }
  c.grace = parse_duration_option("--grace", v["grace"].as<std::string>());
  c.commit_interval =
      parse_duration_option("--commit-interval", v["commit-interval"].as<std::string>());
  if (c.commit_interval.value < 10 || c.commit_interval.value > 60'000) {
    throw ConfigError("--commit-interval: must be between 10ms and 1m");
  }
  c.state_retention =
      parse_duration_option("--state-retention", v["state-retention"].as<std::string>());
  c.rollup_retention =
      parse_duration_option("--rollup-retention", v["rollup-retention"].as<std::string>());
  if (c.rollup_retention.value == 0) throw ConfigError("--rollup-retention: must be above 0");
  c.default_partitions = v["partitions"].as<int>();
  if (c.default_partitions < 1 || c.default_partitions > 10'000) {
    throw ConfigError("--partitions: must be between 1 and 10000");
  }
  c.state_dir = v["state-dir"].as<std::string>();
  if (v.count("instance-id") != 0U) {
    c.instance_id = v["instance-id"].as<std::string>();
    if (c.instance_id->empty()) throw ConfigError("--instance-id: empty");
  }
  const auto guarantee = v["guarantee"].as<std::string>();
  if (guarantee == "exactly-once") {
    c.guarantee = Guarantee::kExactlyOnce;
  } else if (guarantee == "at-least-once") {
    c.guarantee = Guarantee::kAtLeastOnce;
  } else {
    throw ConfigError("--guarantee: '" + guarantee + "' (exactly-once or at-least-once)");
  }
  const auto emit = v["emit"].as<std::string>();
  if (emit == "updates") {
    c.emit = EmitMode::kUpdates;
  } else if (emit == "final") {
    c.emit = EmitMode::kFinal;
  } else {
    throw ConfigError("--emit: '" + emit + "' (updates or final)");
  }
  c.http_port = v["http-port"].as<int>();
  if (c.http_port < 0 || c.http_port > 65535) throw ConfigError("--http-port: must be 0-65535");
  return c;
}

int run_worker(int argc, char** argv) {
  cli::po::options_description options("worker options");
  cli::add_kafka_options(options);
  options.add_options()("application-id", cli::po::value<std::string>()->default_value("auditor"),
                        "consumer group and prefix of internal topics")(
      "input-topic", cli::po::value<std::string>()->default_value("audit_events"), "ticks in")(
      "output-topic", cli::po::value<std::string>()->default_value("audit_rollups"), "rollups out")(
      "dlq-topic", cli::po::value<std::string>()->default_value("audit_events.dlq"),
      "dead letters (invalid and late records)")(
      "windows", cli::po::value<std::string>()->default_value("1m,1h,1d"), "tumbling window sizes")(
      "grace", cli::po::value<std::string>()->default_value("30s"),
      "how long after its end a window still accepts ticks (event time)")(
      "commit-interval", cli::po::value<std::string>()->default_value("1s"), "commit every")(
      "state-retention", cli::po::value<std::string>()->default_value("1d"),
      "how long closed windows stay in the local store")(
      "rollup-retention", cli::po::value<std::string>()->default_value("7d"),
      "retention of the rollup topic when the worker creates it")(
      "partitions", cli::po::value<int>()->default_value(6),
      "partitions of the input topic when the worker creates it")(
      "state-dir", cli::po::value<std::string>()->default_value("./auditor-state"),
      "where the task stores live")("instance-id", cli::po::value<std::string>(),
                                    "static group membership id")(
      "guarantee", cli::po::value<std::string>()->default_value("exactly-once"),
      "exactly-once or at-least-once")(
      "emit", cli::po::value<std::string>()->default_value("updates"), "updates or final")(
      "http-port", cli::po::value<int>()->default_value(8080), "HTTP port (0: any free port)");
  cli::po::variables_map values;
  if (!cli::parse(argc, argv, "worker", "Counts audit ticks in windowed rollups.", options,
                  values)) {
    return 0;
  }
  Worker worker(worker_config(values));
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  return worker.run(g_stop);
}

}  // namespace

int worker(int argc, char** argv) {
  return cli::run_guarded("worker", run_worker, argc, argv);
}

}  // namespace auditor::commands
