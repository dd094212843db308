// `auditor rollups`: reads the (compacted) rollup topic from the beginning, keeps the
// latest value per window and prints a table sorted by count, or JSON lines. --follow
// keeps reading and reprints when something changed.
#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "worker/commands.h"
#include "worker/common/cli_options.h"
#include "worker/common/log.h"
#include "worker/common/stop_signal.h"
#include "worker/kafka/access.h"
#include "worker/kafka/admin.h"
#include "worker/kafka/client.h"
#include "worker/kafka/options.h"
#include "worker/kafka/partition_list.h"

namespace auditor::commands {
namespace {

using Clock = std::chrono::steady_clock;

struct RollupRow {
  std::string window;
  std::string window_start;
  std::string process_name;
  std::string process_activity;
  std::int64_t count = 0;
  std::int64_t ticks = 0;
  bool final = false;
};

void print_table(const std::map<std::string, RollupRow>& latest, const std::string& window,
                 std::size_t limit) {
  std::vector<const RollupRow*> rows;
  for (const auto& [key, row] : latest) {
    if (window.empty() || row.window == window) rows.push_back(&row);
  }
  std::sort(rows.begin(), rows.end(), [](const RollupRow* a, const RollupRow* b) {
    if (a->count != b->count) return a->count > b->count;
    return a->window_start > b->window_start;
  });
  std::cout << std::left << std::setw(7) << "window" << std::setw(22) << "window_start"
            << std::setw(24) << "process_name" << std::setw(20) << "process_activity" << std::right
            << std::setw(14) << "count" << std::setw(10) << "ticks"
            << "  final\n";
  for (std::size_t i = 0; i < rows.size() && i < limit; ++i) {
    const auto& r = *rows[i];
    std::cout << std::left << std::setw(7) << r.window << std::setw(22) << r.window_start
              << std::setw(24) << r.process_name << std::setw(20) << r.process_activity
              << std::right << std::setw(14) << r.count << std::setw(10) << r.ticks
              << (r.final ? "  yes" : "  no") << "\n";
  }
  std::cout << "(" << rows.size() << " windows";
  if (rows.size() > limit) std::cout << ", top " << limit << " shown";
  std::cout << ")\n" << std::flush;
}

int run_rollups(int argc, char** argv) {
  namespace po = cli::po;
  po::options_description options("rollups options");
  cli::add_kafka_options(options);
  options.add_options()("output-topic", po::value<std::string>()->default_value("audit_rollups"),
                        "rollup topic")("window", po::value<std::string>()->default_value(""),
                                        "only this window size, e.g. 1m")(
      "limit", po::value<std::size_t>()->default_value(20), "rows to print")(
      "follow", "keep reading and reprint on change")(
      "interval", po::value<std::string>()->default_value("2s"), "reprint interval with --follow")(
      "json", "print the latest value of every window as JSON lines instead of a table")(
      "timeout", po::value<std::string>()->default_value("30s"),
      "give up reading to the end after this long");
  po::variables_map v;
  if (!cli::parse(argc, argv, "rollups", "Prints the latest rollups.", options, v)) return 0;
  const KafkaSettings kafka = cli::kafka_settings(v);
  const auto topic = v["output-topic"].as<std::string>();
  validate_topic_name("--output-topic", topic);
  const auto window = v["window"].as<std::string>();
  const auto limit = v["limit"].as<std::size_t>();
  const bool follow = v.count("follow") != 0U;
  const bool json = v.count("json") != 0U;
  const auto interval = std::chrono::milliseconds(
      parse_duration_option("--interval", v["interval"].as<std::string>()).value);
  const auto timeout = std::chrono::milliseconds(
      parse_duration_option("--timeout", v["timeout"].as<std::string>()).value);

  kafka::check_credentials(kafka, kafka::kCredentialsCheckTimeout);
  auto consumer = kafka::make_client(
      RD_KAFKA_CONSUMER, kafka::make_conf(kafka, {{"group.id", "auditor-rollups-reader"},
                                                  {"enable.auto.commit", "false"},
                                                  {"enable.partition.eof", "true"},
                                                  {"isolation.level", "read_committed"}}));
  const auto counts = kafka::partition_counts(consumer.get(), {topic}, std::chrono::seconds(10));
  if (!counts.contains(topic)) {
    std::cerr << "auditor rollups: topic " << topic << " does not exist (is a worker running?)\n";
    return 1;
  }
  kafka::TopicPartitionListPtr assignment =
      kafka::all_partitions(topic, counts.at(topic), RD_KAFKA_OFFSET_BEGINNING);
  if (const auto err = rd_kafka_assign(consumer.get(), assignment.get())) {
    throw std::runtime_error("cannot assign " + topic + ": " + kafka::error_text(err));
  }
  const std::atomic<bool>& stop = install_stop_signals();

  std::map<std::string, RollupRow> latest;
  std::set<std::int32_t> at_end;
  std::uint64_t malformed = 0;
  bool changed = false;
  const auto read_deadline = Clock::now() + timeout;
  auto next_print = Clock::now() + interval;
  bool caught_up = false;
  while (!stop.load()) {
    kafka::MessagePtr m(rd_kafka_consumer_poll(consumer.get(), 100));
    if (m && m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_end.insert(m->partition);
    } else if (m && m->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED) {
      // The group only exists because librdkafka wants one: without access to it (README,
      // ACLs: the reader has none) the assigned partitions read all the same.
      log::get("rollups")->debug("{}", rd_kafka_message_errstr(m.get()));
    } else if (m && m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      log::get("rollups")->warn("{}", rd_kafka_message_errstr(m.get()));
    } else if (m) {
      const std::string key(static_cast<const char*>(m->key), m->key_len);
      if (m->payload == nullptr) {
        changed |= latest.erase(key) > 0;  // tombstone
      } else {
        const auto value =
            nlohmann::json::parse(static_cast<const char*>(m->payload),
                                  static_cast<const char*>(m->payload) + m->len, nullptr, false);
        try {
          latest[key] = RollupRow{value.at("window"),       value.at("window_start"),
                                  value.at("process_name"), value.at("process_activity"),
                                  value.at("count"),        value.at("ticks"),
                                  value.at("final")};
          changed = true;
        } catch (const nlohmann::json::exception&) {
          ++malformed;
        }
      }
    }
    if (!caught_up && static_cast<std::int32_t>(at_end.size()) == counts.at(topic)) {
      caught_up = true;
      if (!follow) break;
    }
    if (!caught_up && Clock::now() > read_deadline) {
      std::cerr << "auditor rollups: did not reach the end of " << topic << " in time\n";
      return 1;
    }
    if (follow && caught_up && changed && Clock::now() >= next_print) {
      print_table(latest, window, limit);
      changed = false;
      next_print = Clock::now() + interval;
    }
  }
  if (malformed > 0) std::cerr << "auditor rollups: " << malformed << " malformed values skipped\n";
  if (json) {
    for (const auto& [key, r] : latest) {
      if (!window.empty() && r.window != window) continue;
      nlohmann::ordered_json line = {{"process_name", r.process_name},
                                     {"process_activity", r.process_activity},
                                     {"window", r.window},
                                     {"window_start", r.window_start},
                                     {"count", r.count},
                                     {"ticks", r.ticks},
                                     {"final", r.final}};
      std::cout << line.dump() << "\n";
    }
  } else if (!follow) {
    print_table(latest, window, limit);
  }
  return 0;
}

}  // namespace

int rollups(int argc, char** argv) {
  return cli::run_guarded("rollups", run_rollups, argc, argv);
}

}  // namespace auditor::commands
