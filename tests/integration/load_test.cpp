// A bounded load run on loopback: N keep-alive connections POST /tick for a fixed time,
// then the worker's rollups must add up to exactly the acknowledged ticks. Prints requests
// per second and latency percentiles, and appends them to
// <build>/tests/integration/work/load-report.txt.
//
// Length and connections come from AUDITOR_LOAD_SECONDS / AUDITOR_LOAD_CONNECTIONS, so
// the same test is a short CI check (label integration) and a longer benchmark (bench).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <thread>

#include "tests/support/services.h"

namespace auditor::api_test {
namespace {

using std::chrono::microseconds;
using std::chrono::seconds;

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

struct ClientStats {
  std::vector<std::int64_t> latencies_us;  // of acknowledged requests
  std::int64_t acknowledged_count = 0;     // sum of `count` of the 200s
  std::int64_t failed = 0;
  std::int64_t warmup_count = 0;  // acknowledged too, so counted by the worker
};

TEST(TickApiLoad, RollupsEqualAcknowledgedTicks) {
  const int duration_s = env_int("AUDITOR_LOAD_SECONDS", 3);
  const int connections = env_int("AUDITOR_LOAD_CONNECTIONS", 16);
  const std::string suffix = test::unique_suffix();
  const std::string input = "api_load_" + suffix;
  const std::string output = "api_load_rollups_" + suffix;
  test::create_topic(input, 6);
  auto worker = start_worker("api-load-" + suffix, input, output);
  Service api = start_service("tick-api", {"--input-topic", input}, input);

  std::atomic<bool> go{false};
  std::atomic<int> ready{0};
  std::vector<ClientStats> stats(static_cast<std::size_t>(connections));
  std::vector<std::thread> clients;
  for (int c = 0; c < connections; ++c) {
    clients.emplace_back([&, c] {
      auto client = api.client();
      auto& s = stats[static_cast<std::size_t>(c)];
      // Warm-up, not measured: opens the keep-alive connection, and the first produce of a
      // fresh API waits about a second for the producer id and the topic's metadata.
      for (const auto warm_by = deadline_in(seconds(30)); Clock::now() < warm_by;) {
        const auto res = client.Post("/tick?process_name=warmup&process_activity=load");
        if (res && res->status == 200) {
          ++s.warmup_count;
          break;
        }
      }
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      const auto end = Clock::now() + seconds(duration_s);
      for (int i = 0; Clock::now() < end; ++i) {
        const int count = i % 3 + 1;
        const std::string path = "/tick?process_name=load-" + std::to_string(c % 8) +
                                 "&process_activity=act-" + std::to_string(i % 4) +
                                 "&count=" + std::to_string(count);
        const auto started = Clock::now();
        const auto res = client.Post(path);
        const auto took = std::chrono::duration_cast<microseconds>(Clock::now() - started);
        if (res && res->status == 200) {
          s.latencies_us.push_back(took.count());
          s.acknowledged_count += count;
        } else {
          ++s.failed;
        }
      }
    });
  }
  while (ready.load() < connections) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const auto started = Clock::now();
  go.store(true);
  for (auto& t : clients) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();

  std::vector<std::int64_t> all;
  std::int64_t acknowledged = 0;
  std::int64_t failed = 0;
  for (const auto& s : stats) {
    all.insert(all.end(), s.latencies_us.begin(), s.latencies_us.end());
    acknowledged += s.acknowledged_count + s.warmup_count;
    failed += s.failed;
  }
  ASSERT_FALSE(all.empty());
  std::sort(all.begin(), all.end());
  const auto pct = [&](double p) {
    return static_cast<double>(all[std::min(
               all.size() - 1, static_cast<std::size_t>(p * static_cast<double>(all.size())))]) /
           1000.0;
  };
  std::ostringstream report;
  report << "tick-api load: " << connections << " connections, " << elapsed << " s, " << all.size()
         << " acknowledged requests (" << failed << " failed), "
         << static_cast<double>(all.size()) / elapsed << " req/s; latency ms p50 " << pct(0.50)
         << " p90 " << pct(0.90) << " p99 " << pct(0.99) << " max " << pct(1.0) << "\n";
  std::cout << "[ load ] " << report.str();
  std::ofstream(work_dir() / "load-report.txt", std::ios::app) << report.str();
  EXPECT_EQ(failed, 0);

  // Every acknowledged tick is counted once: the 1d windows add up to exactly that many.
  std::int64_t counted = 0;
  (void)latest_rollups(
      output,
      [&](const auto& l) {
        counted = total_count(l, "1d");
        return counted >= acknowledged;
      },
      deadline_in(seconds(120)));
  // A moment longer, to see an overcount if there is one.
  std::this_thread::sleep_for(seconds(3));
  EXPECT_EQ(total_count(latest_rollups(
                            output, [](const auto&) { return false; }, deadline_in(seconds(3))),
                        "1d"),
            acknowledged);
  EXPECT_EQ(counted, acknowledged) << "worker log:\n" << worker->log_tail();
  EXPECT_EQ(stop(*api.process), "");
  EXPECT_EQ(stop(*worker), "");
  if (!HasFailure()) test::delete_topics({input, output, input + ".dlq"});
}

}  // namespace
}  // namespace auditor::api_test
