// `auditor generate`: synthetic ticks for demos and benchmarks. Keys are Zipf-skewed over
// processes x activities; records are unkeyed, so every process shows up in every
// partition (what the repartition stage exists for).
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "topology/duration.h"
#include "worker/commands.h"
#include "worker/common/cli_options.h"
#include "worker/common/log.h"
#include "worker/common/stop_signal.h"
#include "worker/kafka/access.h"
#include "worker/kafka/admin.h"
#include "worker/kafka/options.h"
#include "worker/kafka/producer.h"
#include "worker/tools/zipf_sampler.h"

namespace auditor::commands {
namespace {

using Clock = std::chrono::steady_clock;

struct GenerateOptions {
  std::string topic;
  double rate = 0;          // ticks per second; 0 = as fast as possible
  std::uint64_t total = 0;  // 0 = until duration / signal
  std::int64_t duration_ms = 0;
  int processes = 20;
  int activities = 5;
  double skew = 1.0;      // Zipf exponent; 0 = uniform
  double bad_share = 0;   // share of invalid records
  double late_share = 0;  // share of ticks stamped 2 hours in the past
  int partitions = 6;
  std::uint64_t seed = 1;
};

const std::vector<std::string>& bad_records() {
  static const std::vector<std::string> records = {
      "not json",
      R"({"process_name":"","process_activity":"x","count":1})",
      R"({"process_name":"svc","process_activity":"x","count":0})",
      R"({"process_name":"svc","process_activity":"x","count":"5"})",
      R"(["process_name","svc"])",
      R"({"process_activity":"x"})",
  };
  return records;
}

int run_generate(int argc, char** argv) {
  namespace po = cli::po;
  po::options_description options("generate options");
  cli::add_kafka_options(options);
  options.add_options()("input-topic", po::value<std::string>()->default_value("audit_events"),
                        "topic to write")("rate", po::value<double>()->default_value(0),
                                          "ticks per second (0: as fast as possible)")(
      "total", po::value<std::uint64_t>()->default_value(0), "stop after this many records")(
      "duration", po::value<std::string>(), "stop after this long (e.g. 30s)")(
      "processes", po::value<int>()->default_value(20), "distinct process names")(
      "activities", po::value<int>()->default_value(5), "distinct activities per process")(
      "skew", po::value<double>()->default_value(1.0), "Zipf exponent of key popularity")(
      "bad-share", po::value<double>()->default_value(0), "share of invalid records (0-1)")(
      "late-share", po::value<double>()->default_value(0),
      "share of ticks with an event time 2 hours in the past (0-1)")(
      "partitions", po::value<int>()->default_value(6), "partitions if the topic is created")(
      "seed", po::value<std::uint64_t>()->default_value(1), "random seed");
  po::variables_map v;
  if (!cli::parse(argc, argv, "generate", "Produces synthetic audit ticks.", options, v)) return 0;
  const KafkaSettings kafka = cli::kafka_settings(v);
  GenerateOptions o;
  o.topic = v["input-topic"].as<std::string>();
  validate_topic_name("--input-topic", o.topic);
  o.rate = v["rate"].as<double>();
  o.total = v["total"].as<std::uint64_t>();
  if (v.count("duration") != 0U) {
    o.duration_ms = parse_duration_option("--duration", v["duration"].as<std::string>()).value;
  }
  o.processes = v["processes"].as<int>();
  o.activities = v["activities"].as<int>();
  o.skew = v["skew"].as<double>();
  o.bad_share = v["bad-share"].as<double>();
  o.late_share = v["late-share"].as<double>();
  o.partitions = v["partitions"].as<int>();
  o.seed = v["seed"].as<std::uint64_t>();
  if (o.rate < 0) throw ConfigError("--rate: must be >= 0");
  if (o.total == 0 && o.duration_ms == 0) throw ConfigError("--total or --duration is required");
  if (o.processes < 1 || o.activities < 1 ||
      o.processes * static_cast<std::int64_t>(o.activities) > 10'000'000) {
    throw ConfigError("--processes/--activities: between 1 and 10 million keys in all");
  }
  if (o.skew < 0 || o.skew > 10) throw ConfigError("--skew: must be between 0 and 10");
  if (o.bad_share < 0 || o.bad_share > 1) throw ConfigError("--bad-share: must be between 0 and 1");
  if (o.late_share < 0 || o.late_share > 1)
    throw ConfigError("--late-share: must be between 0 and 1");
  if (o.partitions < 1) throw ConfigError("--partitions: must be >= 1");

  auto logger = log::get("generate");
  kafka::check_credentials(kafka, kafka::kCredentialsCheckTimeout);
  kafka::Producer producer(kafka, {{"client.id", "auditor-generate"}});
  // Only when absent: a principal that may write the topic need not be allowed to create it.
  if (!kafka::partition_counts(producer.handle(), {o.topic}, std::chrono::seconds(30))
           .contains(o.topic)) {
    kafka::create_topics(producer.handle(), {{o.topic, o.partitions, {}}},
                         std::chrono::seconds(30));
  }
  const std::atomic<bool>& stop = install_stop_signals();

  std::vector<std::string> names;
  for (int p = 0; p < o.processes; ++p) {
    for (int a = 0; a < o.activities; ++a) {
      names.push_back(R"("process_name":"process-)" + std::to_string(p) +
                      R"(","process_activity":"activity-)" + std::to_string(a) + "\"");
    }
  }
  std::mt19937_64 rng(o.seed);
  ZipfSampler sampler(names.size(), o.skew);
  std::uniform_real_distribution<double> unit(0, 1);
  std::uniform_int_distribution<int> counts(1, 10);

  const auto started = Clock::now();
  const auto stop_at = o.duration_ms > 0 ? started + std::chrono::milliseconds(o.duration_ms)
                                         : Clock::time_point::max();
  auto last_log = started;
  std::uint64_t produced = 0;
  std::string value;
  std::int32_t partition = 0;
  while (!stop.load() && (o.total == 0 || produced < o.total) && Clock::now() < stop_at) {
    if (o.rate > 0) {
      // Pace by the schedule of the whole run, so short stalls are caught up.
      const auto due = started + std::chrono::microseconds(static_cast<std::int64_t>(
                                     static_cast<double>(produced) * 1e6 / o.rate));
      if (due > Clock::now()) std::this_thread::sleep_until(due);
    }
    if (o.bad_share > 0 && unit(rng) < o.bad_share) {
      value = bad_records()[produced % bad_records().size()];
    } else {
      value = "{" + names[sampler(rng)] + ",\"count\":" + std::to_string(counts(rng));
      if (o.late_share > 0 && unit(rng) < o.late_share) {
        const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
        value += ",\"timestamp\":" + std::to_string(now_ms - std::int64_t{2} * 3'600'000);
      }
      value += "}";
    }
    // Round-robin over partitions, unkeyed: any process lands anywhere.
    partition = (partition + 1) % o.partitions;
    const auto err = producer.produce({o.topic, partition, {}, value.data(), value.size(), {}},
                                      std::chrono::seconds(30));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      logger->error("cannot produce: {}", kafka::error_text(err));
      return 1;
    }
    ++produced;
    if ((produced & 1023U) == 0) {
      producer.poll();
      const auto now = Clock::now();
      if (now - last_log >= std::chrono::seconds(5)) {
        logger->info(
            "{} records produced ({:.0f}/s)", produced,
            static_cast<double>(produced) / std::chrono::duration<double>(now - started).count());
        last_log = now;
      }
    }
  }
  const auto flushed = producer.flush(Clock::now() + std::chrono::seconds(60));
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (!flushed.ok) {
    logger->error("{} records not acknowledged: {}", flushed.failed, flushed.first_error);
    return 1;
  }
  logger->info("done: {} records acknowledged in {:.1f} s ({:.0f}/s)", produced, seconds,
               static_cast<double>(produced) / seconds);
  return 0;
}

}  // namespace

int generate(int argc, char** argv) {
  return cli::run_guarded("generate", run_generate, argc, argv);
}

}  // namespace auditor::commands
