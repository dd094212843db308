// The worker's HTTP endpoints against a real broker (issue 4, "Tests", first bullet).
//
// 1. /metrics: a known data set (N valid ticks, B invalid ones of known reasons, late
//    ticks made deterministic like end_to_end_test does); every scrape must parse as strict
//    Prometheus text (format 0.0.4) and follow the naming conventions (the parser is
//    tests/support/prometheus_text.h, tested in tests/unit/support_prometheus_text_test.cpp),
//    and once processing is done the counters must equal what was produced.
// 2. /readyz: after a state wipe the worker restores its tasks from the changelog; /readyz
//    is 503 (or not listening) before and 200 only once the restore is done; /healthz 200.
// 3. /rollups: after every window of the data is final, the answers equal the values
//    published to the output topic, for several keys and each window size; bad parameters
//    get 400 with a one-line error; with two replicas both answer every key with the
//    same values and the same owner (X-Auditor-Owner), one of them by forwarding (more in
//    tests/robustness/query_any_replica_test.cpp).
//
// Grace is 1h and the data spans 30 minutes, so no data tick can be late in its own input
// partition (DESIGN.md, "Event time"); lateness is provoked explicitly: advancer ticks push
// two partitions' times ahead, and ticks produced after them into the same partitions are
// late.
#include <gtest/gtest.h>
#include <httplib.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/harness.h"
#include "tests/support/prometheus_text.h"
#include "tests/support/services.h"

namespace auditor::it {
namespace {

using namespace std::chrono_literals;
using test::Exposition;
using test::Labels;
using test::naming_problems;
using test::parse_exposition;
using test::PromSample;

// ---------------------------------------------------------------------------------------
// HTTP

struct HttpReply {
  int status = 0;  // 0: no connection / no answer
  std::string body;
  std::string content_type;
  std::string owner;  // X-Auditor-Owner
};

HttpReply http_get(int port, const std::string& target) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1, 0);
  client.set_read_timeout(10, 0);
  const auto res = client.Get(target.c_str());
  if (!res) return {};
  return {res->status, res->body, res->get_header_value("Content-Type"),
          res->get_header_value("X-Auditor-Owner")};
}

using api_test::url_encode;

std::string query_string(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    out += (out.empty() ? "?" : "&") + url_encode(k) + "=" + url_encode(v);
  }
  return out;
}

// /rollups for a key, one window size (or all when empty), over [from, to).
std::string rollups_target(const Key& key, const std::string& window, std::int64_t from,
                           std::int64_t to) {
  std::vector<std::pair<std::string, std::string>> params = {{"process_name", key.name},
                                                             {"process_activity", key.activity}};
  if (!window.empty()) params.emplace_back("window", window);
  params.emplace_back("from", utc_text(from));
  params.emplace_back("to", std::to_string(to));  // the other accepted form, epoch ms
  return "/rollups" + query_string(params);
}

// The port the worker logged ("listening on port P"); -1 when it exited or the deadline
// passed first.
int wait_for_port(ChildProcess& worker, Deadline deadline) {
  static const std::regex listening("listening on port ([0-9]+)");
  for (;;) {
    std::ifstream log(worker.log_file());
    std::stringstream text;
    text << log.rdbuf();
    const std::string s = text.str();
    std::smatch m;
    if (std::regex_search(s, m, listening)) return std::stoi(m[1].str());
    if (!worker.running() || Clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(20ms);
  }
}

// One scrape, parsed; the parse and naming problems of every scrape are collected.
struct Scraper {
  explicit Scraper(int p) : port(p) {}
  int port = 0;
  std::vector<std::string> problems;
  int scrapes = 0;

  std::optional<Exposition> scrape() {
    const HttpReply reply = http_get(port, "/metrics");
    if (reply.status != 200) {
      problems.push_back("GET /metrics answered " + std::to_string(reply.status));
      return std::nullopt;
    }
    ++scrapes;
    if (!reply.content_type.starts_with("text/plain")) {
      problems.push_back("GET /metrics Content-Type " + reply.content_type);
    }
    Exposition e = parse_exposition(reply.body);
    for (const auto& p : e.errors)
      problems.push_back("scrape " + std::to_string(scrapes) + ": " + p);
    for (const auto& p : naming_problems(e)) {
      problems.push_back("scrape " + std::to_string(scrapes) + ": " + p);
    }
    if (!e.errors.empty() && problems.size() < 200) {
      problems.push_back("body of scrape " + std::to_string(scrapes) + ":\n" + reply.body);
    }
    return e;
  }
};

double value_or_nan(const Exposition& e, const std::string& name, const Labels& labels = {}) {
  return e.value(name, labels).value_or(std::nan(""));
}

// ---------------------------------------------------------------------------------------
// Test data

constexpr int kPartitions = 4;

// A bad record and the `reason` label it must be counted under.
struct BadRecord {
  std::optional<std::string> value;
  std::string reason;
};

std::vector<BadRecord> bad_records() {
  std::string too_large = R"({"process_name":"a","process_activity":"b","pad":")";
  too_large += std::string(65537 - too_large.size() - 2, 'p') + "\"}";
  return {
      {std::nullopt, "null_value"},
      {std::nullopt, "null_value"},
      {too_large, "too_large"},
      {std::string("{\"process_name\":\"\xff\",\"process_activity\":\"b\"}"), "invalid_utf8"},
      {std::string("{\"process_name\":\"\xc0\xaf\",\"process_activity\":\"b\"}"), "invalid_utf8"},
      {std::string("{not json"), "not_json"},
      {std::string(R"({"process_name":"a","process_activity":"b"} x)"), "not_json"},
      {std::string(R"({"process_name":"a","process_activity":"b")"), "not_json"},
      {std::string("[1,2,3]"), "not_object"},
      {std::string("42"), "not_object"},
      {std::string(R"({"process_activity":"b","count":2})"), "missing_field"},
      {std::string(R"({"process_name":"a","process_activity":"b","count":"5"})"), "wrong_type"},
      {std::string(R"({"process_name":7,"process_activity":"b"})"), "wrong_type"},
      {std::string(R"({"process_name":"a","process_name":"z","process_activity":"b"})"),
       "duplicate_field"},
      {std::string(R"({"process_name":"","process_activity":"b"})"), "empty_name"},
      {tick_json(std::string(257, 'n'), "b", 1), "name_too_long"},
      {std::string(R"({"process_name":"a","process_activity":"b","count":0})"),
       "count_out_of_range"},
      {std::string(R"({"process_name":"a","process_activity":"b","count":1000000001})"),
       "count_out_of_range"},
      {std::string(R"({"process_name":"a","process_activity":"b","timestamp":"yesterday"})"),
       "bad_timestamp"},
      {std::string(
           R"({"process_name":"a","process_activity":"b","timestamp":"2026-02-30T00:00:00Z"})"),
       "bad_timestamp"},
  };
}

const std::vector<std::string> kReasons = {"null_value",    "too_large",          "invalid_utf8",
                                           "not_json",      "not_object",         "missing_field",
                                           "wrong_type",    "duplicate_field",    "empty_name",
                                           "name_too_long", "count_out_of_range", "bad_timestamp"};

// Keys that need URL encoding and an unambiguous key encoding, plus probes until every
// repartition partition holds at least one key.
std::vector<Key> query_keys() {
  std::vector<Key> keys = {{"auth", "login"},
                           {"a|b", "c"},
                           {"a", "b|c"},
                           {"quote\"d", "back\\slash"},
                           {"ünïcødé 服务", "emoji 😀"},
                           {"a&b=c+d %20", "?#/;"},
                           {std::string(256, 'x'), "long name"}};
  std::set<int> covered;
  for (const Key& k : keys) covered.insert(repartition_partition(k, kPartitions));
  for (int i = 0; covered.size() < static_cast<std::size_t>(kPartitions); ++i) {
    Key probe{"probe", "p" + std::to_string(i)};
    if (covered.insert(repartition_partition(probe, kPartitions)).second) keys.push_back(probe);
  }
  return keys;
}

std::string labels_text(const Labels& labels) {
  std::string out = "{";
  for (const auto& [k, v] : labels) out += (out.size() > 1 ? "," : "") + k + "=\"" + v + "\"";
  return out + "}";
}

// Waits for the worker to have consumed `input_records` in stage 1, committed every input
// offset, consumed in stage 2 everything stage 1 produced, and committed that too: the
// conditions hold and auditor_commits_total stays the same for over two commit intervals
// (stage 2's results become durable, and are published, only at the next commit).
// Returns the last scrape.
std::optional<Exposition> wait_until_processed(const WorkerConfig& cfg, Scraper& scraper,
                                               ChildProcess& worker, double input_records,
                                               Deadline deadline) {
  std::optional<Exposition> last;
  double stable_commits = -1;
  auto stable_since = Clock::now();
  (void)wait_for(
      [&] {
        if (!input_consumed(cfg, kPartitions)) return false;
        last = scraper.scrape();
        if (!last) return false;
        const double in = value_or_nan(*last, "auditor_records_consumed_total",
                                       {{"stage", "ingest"}, {"topic", "input"}});
        const double repartition_out =
            value_or_nan(*last, "auditor_records_produced_total",
                         {{"stage", "ingest"}, {"topic", "repartition"}});
        const double repartition_in =
            value_or_nan(*last, "auditor_records_consumed_total",
                         {{"stage", "aggregate"}, {"topic", "repartition"}});
        const double commits = value_or_nan(*last, "auditor_commits_total");
        if (in != input_records || repartition_in != repartition_out) {
          stable_commits = -1;
          return false;
        }
        if (commits != stable_commits) {
          stable_commits = commits;
          stable_since = Clock::now();
          return false;
        }
        return Clock::now() - stable_since >= 1200ms;
      },
      deadline, worker);
  return last;
}

// The differences between a /rollups answer and the brute-force counts of `key`'s windows.
std::vector<std::string> model_differences(const HttpReply& reply, const ExpectedRollups& expected,
                                           const Key& key) {
  if (reply.status != 200) return {"status " + std::to_string(reply.status)};
  std::map<std::string, Counts> got;
  const auto body = nlohmann::json::parse(reply.body);
  for (const auto& w : body.at("windows")) {
    nlohmann::json k = nlohmann::json::object();
    for (const char* field : {"process_name", "process_activity", "window", "window_start"}) {
      k[field] = w.at(field);
    }
    const std::string rollup = k.dump();
    got[rollup] = {w.at("count").get<std::int64_t>(), w.at("ticks").get<std::int64_t>()};
  }
  std::map<std::string, Counts> want;
  for (const auto& [rollup, counts] : expected.windows()) {
    const auto k = nlohmann::json::parse(rollup);
    if (k.at("process_name") == key.name && k.at("process_activity") == key.activity) {
      want[rollup] = counts;
    }
  }
  std::vector<std::string> out;
  auto show = [](const Counts& c) {
    return "count " + std::to_string(c.count) + " ticks " + std::to_string(c.ticks);
  };
  for (const auto& [rollup, counts] : want) {
    const auto it = got.find(rollup);
    if (it == got.end()) {
      out.push_back("missing " + rollup + " (" + show(counts) + ")");
    } else if (it->second != counts) {
      out.push_back(rollup + ": " + show(it->second) + ", expected " + show(counts));
    }
  }
  for (const auto& [rollup, counts] : got) {
    if (!want.contains(rollup)) out.push_back("unexpected " + rollup + " (" + show(counts) + ")");
  }
  return out;
}

// ---------------------------------------------------------------------------------------

TEST(WorkerHttp, MetricsMatchWhatWasProducedAndParseAsPrometheusText) {
  WorkerConfig cfg = unique_worker_config("http-metrics");
  cfg.commit_interval = "500ms";
  std::cerr << "app id " << cfg.app_id << "\n";
  test::create_topic(cfg.input_topic, kPartitions);

  const std::int64_t day = utc_day_start(3);
  const std::int64_t base = day + 10 * kHour;
  const auto seed = static_cast<std::uint64_t>(now_ms());
  ExpectedRollups expected;
  const std::vector<Key> keys = {{"auth", "login"}, {"auth", "logout"}, {"db", "query"},
                                 {"cache", "miss"}, {"a|b", "c"},       {"a", "b|c"}};
  const std::vector<test::OutRecord> valid =
      random_ticks(keys, 1500, kPartitions, base, 30 * kMinute, seed, expected);
  const std::vector<BadRecord> bad = bad_records();
  std::map<std::string, double> invalid_by_reason;
  for (const auto& b : bad) invalid_by_reason[b.reason] += 1;

  test::Producer producer;
  const std::size_t every = valid.size() / bad.size();
  for (std::size_t i = 0; i < valid.size(); ++i) {
    producer.send(cfg.input_topic, valid[i]);
    if (i % every == 0 && i / every < bad.size()) {
      const std::size_t b = i / every;
      producer.send(cfg.input_topic,
                    {static_cast<std::int32_t>(b % kPartitions), std::nullopt, bad[b].value, 0});
    }
  }
  producer.flush(deadline_in(30s));
  double records = static_cast<double>(valid.size() + bad.size());
  double valid_ticks = static_cast<double>(valid.size());

  const auto started = Clock::now();
  auto worker = start_worker(cfg, 1);
  Scraper scraper{wait_for_port(*worker, deadline_in(30s))};
  ASSERT_GT(scraper.port, 0) << "no 'listening on port' in the log\n" << worker_report(*worker);

  auto processed = wait_until_processed(cfg, scraper, *worker, records, deadline_in(60s));
  ASSERT_TRUE(processed) << worker_report(*worker);
  ASSERT_EQ(value_or_nan(*processed, "auditor_records_consumed_total",
                         {{"stage", "ingest"}, {"topic", "input"}}),
            records)
      << "the data was not processed\n"
      << worker_report(*worker);

  // Late ticks, deterministic: advancers push input partition 0's time to 11:10 and
  // partition 1's to 12:10; ticks produced after them into the same partition are late for
  // 1m (K's, in partition 0) or for 1m and 1h (K2's, in partition 1). Each one is a late
  // dead letter of its own.
  const Key k = keys[0];
  const Key k2 = *std::find_if(keys.begin(), keys.end(), [&](const Key& c) {
    return repartition_partition(c, kPartitions) != repartition_partition(k, kPartitions);
  });
  producer.send(
      cfg.input_topic,
      {0, std::nullopt, tick_json(k.name, k.activity, 4, std::to_string(base + 70 * kMinute)), 0});
  producer.send(cfg.input_topic,
                {1, std::nullopt,
                 tick_json(k2.name, k2.activity, 6, std::to_string(base + 130 * kMinute)), 0});
  producer.flush(deadline_in(30s));
  records += 2;
  valid_ticks += 2;
  processed = wait_until_processed(cfg, scraper, *worker, records, deadline_in(30s));
  ASSERT_TRUE(processed) << worker_report(*worker);

  const std::vector<std::pair<Key, std::int64_t>> late_ticks = {{k, base + 2 * kMinute + 10'000},
                                                                {k, base + 3 * kMinute + 20'500},
                                                                {k, base + 4 * kMinute + 59'999},
                                                                {k2, base + 20 * kMinute + 1000},
                                                                {k2, base + 21 * kMinute + 2000}};
  for (const auto& [key, event] : late_ticks) {
    // Behind its own partition's advancer.
    const std::int32_t partition = key.name == k.name && key.activity == k.activity ? 0 : 1;
    producer.send(
        cfg.input_topic,
        {partition, std::nullopt, tick_json(key.name, key.activity, 3, std::to_string(event)), 0});
  }
  producer.flush(deadline_in(30s));
  records += static_cast<double>(late_ticks.size());
  valid_ticks += static_cast<double>(late_ticks.size());
  const double late = static_cast<double>(late_ticks.size());
  processed = wait_until_processed(cfg, scraper, *worker, records, deadline_in(30s));
  ASSERT_TRUE(processed) << worker_report(*worker);
  std::cerr << "processed after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()
            << " ms, " << scraper.scrapes << " scrapes\n";

  // The topics, to compare the produced counters with: read until they hold as many
  // records as the counters say (or the deadline), then a little longer for any extra.
  auto read_topic = [](const std::string& topic, double expected_records) {
    test::TopicReader reader(topic, deadline_in(10s));
    const auto deadline = deadline_in(15s);
    while (static_cast<double>(reader.records().size()) < expected_records &&
           Clock::now() < deadline) {
      reader.poll(200ms);
    }
    reader.poll(300ms);
    return reader.records();
  };
  const auto output =
      read_topic(cfg.output_topic, value_or_nan(*processed, "auditor_rollups_published_total"));
  const auto dlq =
      read_topic(cfg.dlq_topic, value_or_nan(*processed, "auditor_dead_letters_total"));

  // Gauges are published about once a second: wait for a snapshot with no lag left.
  std::optional<Exposition> m;
  std::string lag_left;
  const bool no_lag = wait_for(
      [&] {
        m = scraper.scrape();
        if (!m) return false;
        lag_left.clear();
        for (const PromSample* s : m->series("auditor_consumer_lag_records")) {
          if (s->value != 0) {
            lag_left += " " + labels_text(s->labels) + "=" + std::to_string(s->value);
          }
        }
        return lag_left.empty() && !m->series("auditor_consumer_lag_records").empty();
      },
      deadline_in(8s), *worker);
  ASSERT_TRUE(m);
  const Exposition& e = *m;

  EXPECT_TRUE(scraper.problems.empty())
      << scraper.problems.size() << " problems in " << scraper.scrapes << " scrapes:\n"
      << first_lines(scraper.problems, 40);

  // Processing was clean, so the counters are exact (an aborted commit re-reads input).
  EXPECT_EQ(value_or_nan(e, "auditor_transaction_aborts_total"), 0);
  EXPECT_EQ(
      value_or_nan(e, "auditor_records_consumed_total", {{"stage", "ingest"}, {"topic", "input"}}),
      records);
  EXPECT_EQ(value_or_nan(e, "auditor_ticks_valid_total"), valid_ticks);
  double invalid_total = 0;
  for (const std::string& reason : kReasons) {
    EXPECT_EQ(value_or_nan(e, "auditor_records_invalid_total", {{"reason", reason}}),
              invalid_by_reason[reason])
        << "reason " << reason;
  }
  for (const PromSample* s : e.series("auditor_records_invalid_total")) invalid_total += s->value;
  EXPECT_EQ(invalid_total, static_cast<double>(bad.size()));
  EXPECT_EQ(value_or_nan(e, "auditor_records_late_total"), late);
  EXPECT_EQ(value_or_nan(e, "auditor_records_late_by_window_total", {{"window", "1m"}}), late);
  EXPECT_EQ(value_or_nan(e, "auditor_records_late_by_window_total", {{"window", "1h"}}), 2);
  EXPECT_EQ(value_or_nan(e, "auditor_records_late_by_window_total", {{"window", "1d"}}), 0);
  EXPECT_EQ(value_or_nan(e, "auditor_dead_letters_total"), static_cast<double>(bad.size()) + late);
  EXPECT_EQ(value_or_nan(e, "auditor_dead_letters_total"), static_cast<double>(dlq.size()))
      << "the dead-letter topic holds " << dlq.size() << " records";
  EXPECT_EQ(value_or_nan(e, "auditor_records_produced_total", {{"stage", "any"}, {"topic", "dlq"}}),
            static_cast<double>(dlq.size()));
  EXPECT_EQ(value_or_nan(e, "auditor_rollups_published_total"), static_cast<double>(output.size()))
      << "the output topic holds " << output.size() << " records";
  EXPECT_EQ(value_or_nan(e, "auditor_records_produced_total",
                         {{"stage", "aggregate"}, {"topic", "output"}}),
            static_cast<double>(output.size()));
  EXPECT_GT(output.size(), 0U);
  EXPECT_EQ(value_or_nan(e, "auditor_records_consumed_total",
                         {{"stage", "aggregate"}, {"topic", "repartition"}}),
            value_or_nan(e, "auditor_records_produced_total",
                         {{"stage", "ingest"}, {"topic", "repartition"}}));
  EXPECT_GT(value_or_nan(e, "auditor_records_produced_total",
                         {{"stage", "ingest"}, {"topic", "repartition"}}),
            0);
  EXPECT_GT(value_or_nan(e, "auditor_records_produced_total",
                         {{"stage", "aggregate"}, {"topic", "changelog"}}),
            0);
  const double commits = value_or_nan(e, "auditor_commits_total");
  EXPECT_GT(commits, 0);
  EXPECT_EQ(value_or_nan(e, "auditor_commit_duration_seconds_count"), commits);
  EXPECT_GT(value_or_nan(e, "auditor_commit_duration_seconds_sum"), 0);
  EXPECT_EQ(value_or_nan(e, "auditor_assigned_tasks"), kPartitions);
  EXPECT_EQ(value_or_nan(e, "auditor_restoring_tasks"), 0);
  EXPECT_EQ(value_or_nan(e, "auditor_restore_remaining_records"), 0);
  EXPECT_GE(value_or_nan(e, "auditor_rebalances_total"), 1);
  EXPECT_GT(value_or_nan(e, "auditor_process_resident_memory_bytes"), 0);
  EXPECT_GT(value_or_nan(e, "auditor_rocksdb_estimated_keys"), 0);
  EXPECT_GT(value_or_nan(e, "auditor_rocksdb_memory_bytes"), 0);
  // Consumer lag: one series per assigned partition of each topic, all 0 once caught up.
  std::set<std::string> lag_topics;
  for (const PromSample* s : e.series("auditor_consumer_lag_records")) {
    lag_topics.insert(s->labels.contains("topic") ? s->labels.at("topic") : "<none>");
  }
  EXPECT_EQ(e.series("auditor_consumer_lag_records").size(), 2U * kPartitions);
  EXPECT_EQ(lag_topics,
            (std::set<std::string>{cfg.input_topic, cfg.app_id + "-ticks-repartition"}));
  if (!no_lag) {
    // Where the group stands on the repartition topic (written transactionally: its last
    // offset in each partition is a commit marker, never delivered to consumers).
    const std::string repartition = cfg.app_id + "-ticks-repartition";
    std::string offsets;
    const auto ends = test::end_offsets(repartition, kPartitions);
    const auto committed = test::committed_offsets(cfg.app_id, repartition, kPartitions);
    for (int p = 0; p < kPartitions; ++p) {
      const auto i = static_cast<std::size_t>(p);
      offsets += " p" + std::to_string(p) + " end " + std::to_string(ends[i]) + " committed " +
                 std::to_string(committed[i]) + ";";
    }
    ADD_FAILURE() << "consumer lag not 0 after everything was consumed and committed:" << lag_left
                  << "\n"
                  << repartition << ":" << offsets;
  }

  EXPECT_EQ(stop_worker(*worker, 15s), "");
  std::cerr << "test took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()
            << " ms\n";
  if (HasFailure()) {
    std::cerr << worker_report(*worker);
  } else {
    clean_up(cfg);
  }
}

TEST(WorkerHttp, ReadyzFlipsTo200OnlyAfterTheRestore) {
  WorkerConfig cfg = unique_worker_config("http-ready");
  cfg.commit_interval = "500ms";
  std::cerr << "app id " << cfg.app_id << "\n";
  test::create_topic(cfg.input_topic, kPartitions);
  const std::int64_t day = utc_day_start(3);
  const std::int64_t base = day + 10 * kHour;
  ExpectedRollups expected;
  const std::vector<Key> keys = {{"auth", "login"}, {"db", "query"}, {"cache", "miss"}};
  test::Producer producer;
  for (const auto& r : random_ticks(keys, 600, kPartitions, base, 30 * kMinute, 7, expected)) {
    producer.send(cfg.input_topic, r);
  }
  producer.flush(deadline_in(30s));

  // Run 1 builds the changelog.
  const auto started = Clock::now();
  auto first = start_worker(cfg, 1);
  Scraper first_scraper{wait_for_port(*first, deadline_in(30s))};
  ASSERT_GT(first_scraper.port, 0) << worker_report(*first);
  const auto processed = wait_until_processed(cfg, first_scraper, *first, 600, deadline_in(60s));
  ASSERT_TRUE(processed && value_or_nan(*processed, "auditor_records_consumed_total",
                                        {{"stage", "ingest"}, {"topic", "input"}}) == 600)
      << worker_report(*first);
  const double changelog_records = value_or_nan(*processed, "auditor_records_produced_total",
                                                {{"stage", "aggregate"}, {"topic", "changelog"}});
  ASSERT_GT(changelog_records, 0);
  const std::string query = rollups_target(keys[0], "", day, day + kDay);
  const HttpReply before = http_get(first_scraper.port, query);
  ASSERT_EQ(before.status, 200) << before.body;
  const auto differences = model_differences(before, expected, keys[0]);
  ASSERT_TRUE(differences.empty()) << "run 1 answers other counts than the brute-force model:\n"
                                   << first_lines(differences);
  ASSERT_EQ(stop_worker(*first, 15s), "");

  // Run 2 without local state: every task restores from the changelog first.
  std::filesystem::remove_all(cfg.state_dir);
  std::filesystem::create_directories(cfg.state_dir);
  auto second = start_worker(cfg, 2);
  const int port = wait_for_port(*second, deadline_in(30s));
  ASSERT_GT(port, 0) << worker_report(*second);
  EXPECT_EQ(http_get(port, "/healthz").status, 200);
  std::vector<int> statuses;  // one per change
  HttpReply ready;
  const bool became_ready = wait_for(
      [&] {
        for (int i = 0; i < 10; ++i) {  // every 20 ms: wait_for sleeps 200 ms between calls
          ready = http_get(port, "/readyz");
          if (statuses.empty() || statuses.back() != ready.status) statuses.push_back(ready.status);
          if (ready.status == 200) return true;
          std::this_thread::sleep_for(20ms);
        }
        return false;
      },
      deadline_in(30s), *second);
  std::string seen;
  for (const int s : statuses) seen += " " + std::to_string(s);
  ASSERT_TRUE(became_ready) << "/readyz never answered 200; seen:" << seen << "\n"
                            << worker_report(*second);
  // Right at the flip, the state must be there: queries are answered from the store.
  const HttpReply after = http_get(port, query);
  Scraper scraper{port};
  const auto m = scraper.scrape();
  std::cerr << "/readyz statuses:" << seen << "; ready after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()
            << " ms: " << ready.body << "\n";

  EXPECT_EQ(statuses.front(), 503)
      << "/readyz must answer 503 before the worker is ready; seen:" << seen;
  EXPECT_EQ(statuses, (std::vector<int>{503, 200})) << "seen:" << seen;
  const auto body = nlohmann::json::parse(ready.body);
  EXPECT_EQ(body.value("in_group", false), true) << ready.body;
  EXPECT_EQ(body.value("restoring_tasks", -1), 0) << ready.body;
  EXPECT_EQ(body.value("assigned_tasks", -1), kPartitions) << ready.body;
  ASSERT_TRUE(body.contains("tasks")) << ready.body;
  EXPECT_EQ(body["tasks"]["running"].size(), static_cast<std::size_t>(kPartitions)) << ready.body;
  EXPECT_TRUE(body["tasks"]["restoring"].empty()) << ready.body;
  EXPECT_TRUE(body["tasks"]["standby"].empty()) << ready.body;
  EXPECT_EQ(after.status, 200) << "/rollups right after /readyz turned 200: " << after.body;
  EXPECT_EQ(nlohmann::json::parse(after.body), nlohmann::json::parse(before.body))
      << "restored state differs\nbefore: " << before.body << "\nafter:  " << after.body;
  ASSERT_TRUE(m);
  EXPECT_EQ(value_or_nan(*m, "auditor_restore_records_total"), changelog_records)
      << "run 1 wrote " << changelog_records << " changelog records";
  EXPECT_EQ(value_or_nan(*m, "auditor_restoring_tasks"), 0);
  EXPECT_EQ(http_get(port, "/healthz").status, 200);
  EXPECT_EQ(http_get(port, "/readyz").status, 200);
  EXPECT_TRUE(scraper.problems.empty()) << first_lines(scraper.problems);

  EXPECT_EQ(stop_worker(*second, 15s), "");
  if (HasFailure()) {
    std::cerr << worker_report(*second);
  } else {
    clean_up(cfg);
  }
}

// The latest value of every window in the output topic, by rollup key.
std::map<std::string, nlohmann::json> latest_values(const std::vector<Record>& records) {
  std::map<std::string, nlohmann::json> out;
  for (const Record& r : records) {
    if (r.key && r.value) out[*r.key] = nlohmann::json::parse(*r.value);
  }
  return out;
}

// The output topic's latest values of `key`'s `window` windows (all sizes when empty)
// with window_start in [from, to), in the order /rollups lists them: by size, then start.
nlohmann::json topic_windows(const std::map<std::string, nlohmann::json>& latest, const Key& key,
                             const std::string& window, std::int64_t from, std::int64_t to) {
  nlohmann::json out = nlohmann::json::array();
  for (const WindowSize& size : kWindows) {
    if (!window.empty() && window != size.name) continue;
    for (std::int64_t start = from - from % size.ms; start < to; start += size.ms) {
      if (start < from) continue;
      const auto it = latest.find(rollup_key(key.name, key.activity, size.name, start));
      if (it != latest.end()) out.push_back(it->second);
    }
  }
  return out;
}

// Compares a /rollups answer with the topic: the same windows with the same values.
std::vector<std::string> compare_answer(const HttpReply& reply, const Key& key,
                                        const nlohmann::json& want, const std::string& what) {
  std::vector<std::string> out;
  if (reply.status != 200) {
    return {what + ": status " + std::to_string(reply.status) + " " + reply.body};
  }
  nlohmann::json body;
  try {
    body = nlohmann::json::parse(reply.body);
  } catch (const std::exception&) {
    return {what + ": not JSON: " + reply.body};
  }
  if (body.value("process_name", "") != key.name ||
      body.value("process_activity", "") != key.activity ||
      body.value("partition", -1) != repartition_partition(key, kPartitions)) {
    out.push_back(what + ": wrong key or partition: " + reply.body.substr(0, 300));
  }
  if (!body.contains("windows") || body["windows"] != want) {
    out.push_back(what + ":\n    got  " +
                  (body.contains("windows") ? body["windows"].dump() : "<none>") + "\n    want " +
                  want.dump());
  }
  return out;
}

TEST(WorkerHttp, RollupsAnswerThePublishedValuesAndRejectBadParameters) {
  WorkerConfig cfg = unique_worker_config("http-rollups");
  cfg.commit_interval = "500ms";
  std::cerr << "app id " << cfg.app_id << "\n";
  test::create_topic(cfg.input_topic, kPartitions);

  // Data in [10:45, 11:15) of a UTC day three days back: 30 1m windows, two 1h windows and
  // one 1d window per key. The sentinels at 01:00 the next day close every window (1d: end
  // + 1h grace) but expire none from the store (--state-retention 1d counts from end +
  // grace: the first minute goes at 11:46 the next day); /rollups reads only the store.
  const std::int64_t day = utc_day_start(3);
  const std::int64_t base = day + 10 * kHour + 45 * kMinute;
  ExpectedRollups expected;
  const std::vector<Key> keys = query_keys();
  test::Producer producer;
  for (const auto& r : random_ticks(keys, 2000, kPartitions, base, 30 * kMinute,
                                    static_cast<std::uint64_t>(now_ms()), expected)) {
    producer.send(cfg.input_topic, r);
  }
  producer.flush(deadline_in(30s));

  const auto started = Clock::now();
  auto a = start_worker(cfg, 1);
  const int port_a = wait_for_port(*a, deadline_in(30s));
  ASSERT_GT(port_a, 0) << worker_report(*a);
  ASSERT_TRUE(wait_for([&] { return input_consumed(cfg, kPartitions); }, deadline_in(60s), *a))
      << worker_report(*a);
  send_sentinels(producer, cfg.input_topic, kPartitions, day + kDay + kHour);
  producer.flush(deadline_in(30s));

  RollupView view(cfg.output_topic, deadline_in(30s));
  const bool all_final = wait_for(
      [&] {
        view.poll(300ms);
        return view.missing_finals(expected) == 0;
      },
      deadline_in(60s), *a);
  ASSERT_TRUE(all_final) << view.missing_finals(expected) << " windows not final\n"
                         << worker_report(*a);
  EXPECT_TRUE(view.diff(expected).empty()) << first_lines(view.diff(expected));
  // Every record of the topic, for the latest raw values (nothing more comes: all final).
  const auto latest = latest_values(test::consume_all(cfg.output_topic, {.idle = 1000ms}));
  std::cerr << "all final after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()
            << " ms; " << latest.size() << " windows in the topic\n";

  // Several keys, each window size and all sizes at once, over [day - 1d, day + 1d).
  const std::int64_t from = day - kDay;
  const std::int64_t to = day + kDay;
  std::vector<std::string> problems;
  std::size_t windows_compared = 0;
  for (const Key& key : keys) {
    for (const std::string window : {"1m", "1h", "1d", ""}) {
      const nlohmann::json want = topic_windows(latest, key, window, from, to);
      windows_compared += want.size();
      if (want.empty()) problems.push_back("no windows in the topic for " + key.name);
      for (const auto& p :
           compare_answer(http_get(port_a, rollups_target(key, window, from, to)), key, want,
                          key.name + "/" + key.activity + " window=" + window)) {
        problems.push_back(p);
      }
    }
  }
  // `from` and `to` select by window_start (from inclusive, to exclusive, as rollup_query.h
  // says), also when they fall inside a window: from 11:00:30 excludes the 11:00 minute,
  // to 11:02:30 includes the 11:02 minute.
  {
    const Key& key = keys[0];
    const std::int64_t t0 = day + 11 * kHour;
    const nlohmann::json want = topic_windows(latest, key, "1m", t0 + kMinute, t0 + 3 * kMinute);
    std::vector<std::pair<std::string, std::string>> params = {
        {"process_name", key.name},
        {"process_activity", key.activity},
        {"window", "1m"},
        {"from", utc_text(t0 + 30'000)},
        {"to", utc_text(t0 + 2 * kMinute + 30'000)}};
    for (const auto& p : compare_answer(http_get(port_a, "/rollups" + query_string(params)), key,
                                        want, "from/to inside windows")) {
      problems.push_back(p);
    }
  }
  EXPECT_TRUE(problems.empty()) << problems.size() << " differences between /rollups and "
                                << cfg.output_topic << ":\n"
                                << first_lines(problems);
  EXPECT_GT(windows_compared, 100U);

  // Bad parameters: 400 with a one-line error, and the worker carries on.
  const std::string good = "process_name=auth&process_activity=login";
  const std::vector<std::pair<std::string, std::string>> bad_requests = {
      {"window=5x", "/rollups?" + good + "&window=5x"},
      {"window=2m (not configured)", "/rollups?" + good + "&window=2m"},
      {"missing process_name", "/rollups?process_activity=login&window=1m"},
      {"missing process_activity", "/rollups?process_name=auth"},
      {"empty process_name", "/rollups?process_name=&process_activity=login"},
      {"from after to", "/rollups?" + good + "&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"},
      {"from not a time", "/rollups?" + good + "&from=yesterday"},
      {"unknown parameter", "/rollups?" + good + "&limit=5"},
      {"parameter twice", "/rollups?" + good + "&window=1m&window=1h"},
      {"no parameters", "/rollups"},
  };
  for (const auto& [what, target] : bad_requests) {
    const HttpReply reply = http_get(port_a, target);
    std::string error;
    try {
      error = nlohmann::json::parse(reply.body).at("error").get<std::string>();
    } catch (const std::exception&) {
    }
    EXPECT_EQ(reply.status, 400) << what << ": " << reply.body;
    EXPECT_FALSE(error.empty()) << what << ": no \"error\" string in " << reply.body;
    EXPECT_EQ(error.find('\n'), std::string::npos) << what << ": error spans lines: " << error;
    EXPECT_TRUE(reply.content_type.starts_with("application/json"))
        << what << ": " << reply.content_type;
  }
  EXPECT_EQ(http_get(port_a, "/healthz").status, 200) << "after the bad requests";

  // A second replica: the group splits the tasks; the moved ones restore on it first.
  WorkerConfig cfg_b = cfg;
  cfg_b.state_dir = cfg.state_dir.string() + "-b";
  std::filesystem::create_directories(cfg_b.state_dir);
  auto b = start_worker(cfg_b, 2);
  const int port_b = wait_for_port(*b, deadline_in(30s));
  ASSERT_GT(port_b, 0) << worker_report(*b);
  auto assigned = [](int port) {
    const HttpReply r = http_get(port, "/readyz");
    if (r.status != 200) return -1;
    return nlohmann::json::parse(r.body).value("assigned_tasks", -1);
  };
  // Stable: both ready, every task assigned once, the same split for over a second (the
  // readiness snapshot is published about once a second).
  int tasks_a = -1;
  int tasks_b = -1;
  std::pair<int, int> split_seen{-1, -1};
  auto split_since = Clock::now();
  const bool split = wait_for(
      [&] {
        tasks_a = assigned(port_a);
        tasks_b = assigned(port_b);
        if (tasks_a < 0 || tasks_b < 0 || tasks_a + tasks_b != kPartitions) {
          split_seen = {-1, -1};
          return false;
        }
        if (split_seen != std::pair{tasks_a, tasks_b}) {
          split_seen = {tasks_a, tasks_b};
          split_since = Clock::now();
          return false;
        }
        return Clock::now() - split_since >= 1500ms;
      },
      deadline_in(40s), *b);
  ASSERT_TRUE(split) << "no stable split of the tasks between two ready replicas: " << tasks_a
                     << " + " << tasks_b << "\n"
                     << worker_report(*b);
  std::cerr << "tasks split " << tasks_a << " + " << tasks_b << " after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()
            << " ms\n";

  // Either replica answers for every key: the owner from its store, the other by
  // forwarding to it (engine/rollup_endpoint.h); both name the same owner.
  problems.clear();
  std::set<std::string> owners;
  for (const Key& key : keys) {
    const std::string target = rollups_target(key, "", from, to);
    const HttpReply ra = http_get(port_a, target);
    const HttpReply rb = http_get(port_b, target);
    const std::string what = key.name + "/" + key.activity + " (partition " +
                             std::to_string(repartition_partition(key, kPartitions)) + ")";
    if (ra.owner.empty() || ra.owner != rb.owner) {
      problems.push_back(what + ": owners '" + ra.owner + "' and '" + rb.owner + "'");
    }
    owners.insert(ra.owner);
    const nlohmann::json want = topic_windows(latest, key, "", from, to);
    for (const auto& p : compare_answer(ra, key, want, what + " from a")) problems.push_back(p);
    for (const auto& p : compare_answer(rb, key, want, what + " from b")) problems.push_back(p);
  }
  EXPECT_TRUE(problems.empty()) << first_lines(problems);
  // Cooperative-sticky balances topic partitions, not tasks: one replica may keep every
  // input partition and the other take every task.
  if (owners.size() < 2) {
    std::cerr << "note: one replica owns every task (" << tasks_a << " + " << tasks_b << ")\n";
  }

  EXPECT_EQ(stop_worker(*b, 15s), "");
  EXPECT_EQ(stop_worker(*a, 15s), "");
  std::cerr << "test took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()
            << " ms\n";
  if (HasFailure()) {
    std::cerr << worker_report(*a) << worker_report(*b);
  } else {
    clean_up(cfg);
    std::error_code ignored;
    std::filesystem::remove_all(cfg_b.state_dir, ignored);
  }
}

}  // namespace
}  // namespace auditor::it
