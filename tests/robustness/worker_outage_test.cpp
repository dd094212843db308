// The broker goes away for longer than the consumers' session timeout while three static
// members (--instance-id) and the tick API run under load, then comes back (issue 13,
// fault 1). Nobody restarts anything by hand:
//   - every worker is still running afterwards (a static member whose own rejoin fenced it
//     recreates its consumer instead of exiting: docs/architecture.md, "Faults");
//   - each worker's /healthz answers 503 during the outage and 200 again after it;
//   - the tick API answers 503 (not written) or 504 (outcome unknown) within its produce
//     timeout (+ slack) during the outage;
//   - every batch the API acknowledged is in the input topic exactly once, no batch it
//     refused (503) is, one whose outcome it could not know (504) is there whole or not at
//     all, and the rollups equal a brute-force count of the input topic.
//
// Runs against a broker of its own (second_broker.h).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/robustness/replicas.h"
#include "tests/support/second_broker.h"
#include "tests/support/services.h"

namespace auditor::rb {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using std::chrono::milliseconds;

constexpr int kTicksPerBatch = 50;
constexpr auto kOutage = 20s;                        // the workers' session timeout is 10 s
constexpr auto kProduceTimeout = 3s;                 // the tick API's --produce-timeout
constexpr auto kAnswerBound = kProduceTimeout + 2s;  // + scheduling slack on a busy machine

// POSTs a batch of kTicksPerBatch ticks ("p0".."p49" x "b<id>") every 250 ms until stopped;
// remembers which batches were acknowledged and how every call was answered.
class TickApiLoad {
 public:
  explicit TickApiLoad(api_test::Service& api) : api_(api) {}
  ~TickApiLoad() { stop(); }
  TickApiLoad(const TickApiLoad&) = delete;
  TickApiLoad& operator=(const TickApiLoad&) = delete;

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Counts answers from now on under `label` (e.g. "outage").
  void phase(const std::string& label) {
    const std::lock_guard lock(mutex_);
    phase_ = label;
  }

  struct PhaseAnswers {
    std::map<int, int> by_status;  // -1: no answer
    milliseconds slowest{0};
  };
  [[nodiscard]] std::map<std::string, PhaseAnswers> answers() const {
    const std::lock_guard lock(mutex_);
    return answers_;
  }
  [[nodiscard]] std::set<int> acknowledged() const {
    const std::lock_guard lock(mutex_);
    return acknowledged_;
  }
  [[nodiscard]] std::set<int> refused() const {
    const std::lock_guard lock(mutex_);
    return refused_;
  }
  [[nodiscard]] int batches_sent() const { return next_batch_; }

 private:
  void run() {
    auto client = api_.client();
    client.set_connection_timeout(2, 0);
    client.set_read_timeout(15, 0);
    while (!stop_) {
      const int batch = next_batch_++;
      json ticks = json::array();
      for (int i = 0; i < kTicksPerBatch; ++i) {
        ticks.push_back({{"process_name", "p" + std::to_string(i)},
                         {"process_activity", "b" + std::to_string(batch)},
                         {"count", 1 + (batch + i) % 5}});
      }
      const auto started = Clock::now();
      const auto res = client.Post("/ticks", ticks.dump(), "application/json");
      const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
      {
        const std::lock_guard lock(mutex_);
        PhaseAnswers& a = answers_[phase_];
        ++a.by_status[res ? res->status : -1];
        a.slowest = std::max(a.slowest, took);
        if (res && res->status == 200) acknowledged_.insert(batch);
        if (res && res->status == 503) refused_.insert(batch);
      }
      std::this_thread::sleep_for(250ms);
    }
  }

  api_test::Service& api_;
  std::atomic<bool> stop_{false};
  std::atomic<int> next_batch_{0};
  mutable std::mutex mutex_;
  std::string phase_ = "start-up";  // until the API took its first batch
  std::map<std::string, PhaseAnswers> answers_;
  std::set<int> acknowledged_;
  std::set<int> refused_;
  std::thread thread_;
};

// GET /healthz of a replica's current run: its status, or -1 without an answer.
int healthz(Replica& replica) {
  const auto port = http_port(replica.log());
  if (!port) return -1;
  httplib::Client client("127.0.0.1", *port);
  client.set_connection_timeout(1, 0);
  client.set_read_timeout(2, 0);
  const auto res = client.Get("/healthz");
  return res ? res->status : -1;
}

TEST(BrokerOutage, ThreeStaticWorkersAndTheTickApiRideOutAnOutageLongerThanTheSession) {
  test::SecondBroker broker("kafka-b", 19092);
  ASSERT_EQ(broker.run("start"), "");
  // Every client of the test (topics, readers, the workers' --bootstrap-servers) uses it.
  ::setenv("AUDITOR_IT_BOOTSTRAP_SERVERS", broker.bootstrap().c_str(), 1);
  const Scenario scenario("outage");
  const WorkerConfig& cfg = scenario.cfg;
  // The API stamps ticks with the current time: today's windows.
  const std::int64_t data_day = it::utc_day_start(0);

  Replica a(cfg, "a", "a");
  Replica b(cfg, "b", "b");
  Replica c(cfg, "c", "c");
  const std::vector<Replica*> all = {&a, &b, &c};
  for (Replica* r : all) r->start();
  api_test::Service api = api_test::start_service(
      "tick-api",
      {"--input-topic", cfg.input_topic, "--produce-timeout",
       std::to_string(std::chrono::duration_cast<std::chrono::seconds>(kProduceTimeout).count()) +
           "s"},
      cfg.app_id + "-tick-api", broker.bootstrap());
  auto balanced = [&] {
    int inputs = 0;
    int running = 0;
    for (Replica* r : all) {
      const auto s = read_shares(*r);
      if (!s) return false;
      inputs += s->input_partitions;
      running += s->running;
    }
    return inputs == kPartitions && running == kPartitions;
  };
  ASSERT_EQ(wait_until(balanced, deadline_in(90s), all, "three replicas share both stages"), "");

  TickApiLoad load(api);
  load.start();
  // The API's transactional producer starts with its first batch.
  ASSERT_EQ(wait_until([&] { return !load.acknowledged().empty(); }, deadline_in(30s), all,
                       "the tick API takes a first batch"),
            "");
  load.phase("before");
  std::this_thread::sleep_for(10s);

  // The outage: /healthz of every replica must say so while the broker is away.
  load.phase("outage");  // from the moment the broker begins to stop
  ASSERT_EQ(broker.run("stop"), "");
  const auto stopped = Clock::now();
  std::set<std::string> unhealthy_during_outage;
  while (Clock::now() - stopped < kOutage) {
    for (Replica* r : all) {
      if (healthz(*r) == 503) unhealthy_during_outage.insert(r->name());
    }
    std::this_thread::sleep_for(500ms);
  }
  std::cerr << "outage: " << seconds_since(stopped) << " s\n";
  ASSERT_EQ(broker.run("start"), "");
  const auto restarted = Clock::now();
  load.phase("after");

  std::map<std::string, double> healthy_after;
  ASSERT_EQ(wait_until(
                [&] {
                  for (Replica* r : all) {
                    if (!healthy_after.contains(r->name()) && healthz(*r) == 200) {
                      healthy_after[r->name()] = seconds_since(restarted);
                    }
                  }
                  return healthy_after.size() == all.size() && balanced();
                },
                deadline_in(120s), all, "every replica healthy and both stages shared again"),
            "");
  for (const auto& [name, s] : healthy_after) {
    std::cerr << "[ healthy ] " << name << " " << s << " s after the broker was back\n";
  }
  std::cerr << "[ balanced ] " << seconds_since(restarted) << " s after the broker was back\n";
  std::this_thread::sleep_for(10s);
  load.stop();

  EXPECT_EQ(unhealthy_during_outage.size(), all.size())
      << "replicas whose /healthz said 503 during the outage: " << unhealthy_during_outage.size();
  for (const auto& [phase, answers] : load.answers()) {
    std::cerr << "[ tick API ] " << phase << ":";
    for (const auto& [status, n] : answers.by_status) std::cerr << " " << n << "x" << status;
    std::cerr << ", slowest " << answers.slowest.count() << " ms\n";
    if (phase == "outage") {
      EXPECT_LE(answers.slowest, kAnswerBound);
      for (const auto& [status, n] : answers.by_status) {
        EXPECT_TRUE(status == 200 || status == 503 || status == 504) << n << " answers " << status;
      }
    } else if (phase == "before") {
      EXPECT_EQ(answers.by_status.size(), 1U) << "before the outage every batch must go through";
      EXPECT_TRUE(answers.by_status.contains(200));
    }
  }

  // The input topic, read_committed: every acknowledged batch exactly once, no refused
  // batch at all (a batch is one transaction); the model counts what is there.
  ExpectedRollups expected;
  std::map<int, int> ticks_of_batch;
  {
    test::ConsumeOptions options;
    options.idle = 3s;
    options.deadline = deadline_in(60s);
    for (const auto& r : test::consume_all(cfg.input_topic, options)) {
      const json tick = json::parse(*r.value);
      const auto name = tick.at("process_name").get<std::string>();
      const auto activity = tick.at("process_activity").get<std::string>();
      expected.add(name, activity, r.timestamp_ms, tick.at("count").get<std::int64_t>());
      ++ticks_of_batch[std::stoi(activity.substr(1))];
    }
  }
  const std::set<int> acknowledged = load.acknowledged();
  const std::set<int> refused = load.refused();
  for (const auto& [batch, ticks] : ticks_of_batch) {
    EXPECT_FALSE(refused.contains(batch)) << "batch " << batch << " was refused (503) but is in";
    EXPECT_EQ(ticks, kTicksPerBatch) << "batch " << batch;
  }
  for (const int batch : acknowledged) {
    EXPECT_TRUE(ticks_of_batch.contains(batch)) << "acknowledged batch " << batch << " is lost";
  }
  std::cerr << load.batches_sent() << " batches sent, " << acknowledged.size() << " acknowledged, "
            << expected.ticks() << " ticks in the input\n";

  RollupView view(cfg.output_topic, deadline_in(60s));
  const Verdict verdict =
      close_windows_and_compare(cfg, view, expected, data_day, all, std::chrono::seconds(180));
  EXPECT_TRUE(verdict.ok()) << verdict.describe();
  for (Replica* r : all) EXPECT_EQ(r->runs(), 1) << r->name() << " was restarted";
  const auto failures = stop_all(all, 30s);
  EXPECT_TRUE(failures.empty()) << api_test::first_lines(failures);
  EXPECT_EQ(api_test::stop(*api.process), "");
}

}  // namespace
}  // namespace auditor::rb
