// Test B: a graceful restart mid-stream loses nothing and counts nothing twice.
//
// Ticks are produced at a steady pace from a second thread; once rollups appear the worker
// gets SIGTERM (it must finish its commit and exit 0 within 10 s), and a new one starts with
// the same application id and state dir while production goes on. After sentinels close
// every window, the final rollups must equal the brute-force count exactly.
//
// Grace is 1h and the data spans 30 minutes: each input partition gets its ticks in random
// event-time order, but none is late in its own partition (DESIGN.md, "Event time"),
// however the backlog that builds up while no worker runs is read: any difference is a
// lost or doubled tick. One sentinel per input partition closes every window.
#include <gtest/gtest.h>

#include <atomic>
#include <exception>
#include <iostream>
#include <thread>

#include "tests/support/harness.h"

namespace auditor::it {
namespace {

using namespace std::chrono_literals;

constexpr int kPartitions = 6;
constexpr int kTicks = 8'000;
constexpr int kChunk = 200;

TEST(Restart, SigtermMidStreamThenRestartCountsEveryTickOnce) {
  const WorkerConfig cfg = unique_worker_config("restart");
  std::cerr << "app id " << cfg.app_id << "\n";
  test::create_topic(cfg.input_topic, kPartitions);

  const std::int64_t day = utc_day_start(3);
  const std::int64_t base = day + 10 * kHour;
  const std::uint64_t seed = static_cast<std::uint64_t>(now_ms());
  std::cerr << "seed " << seed << "\n";
  std::vector<Key> keys = tricky_keys();
  keys.resize(12);
  ExpectedRollups expected;
  const std::vector<test::OutRecord> ticks =
      random_ticks(keys, kTicks, kPartitions, base, 30 * kMinute, seed, expected);

  auto worker = start_worker(cfg, 1);

  // 40 chunks, one every 250 ms: about 10 s of production, long enough to span the stop
  // and the restart.
  std::atomic<int> produced{0};
  std::exception_ptr producer_error;
  std::thread producer_thread([&] {
    try {
      test::Producer producer;
      for (int i = 0; i < kTicks; ++i) {
        producer.send(cfg.input_topic, ticks[static_cast<std::size_t>(i)]);
        if ((i + 1) % kChunk == 0) {
          producer.flush(deadline_in(30s));
          produced = i + 1;
          std::this_thread::sleep_for(250ms);
        }
      }
      producer.flush(deadline_in(30s));
      produced = kTicks;
    } catch (...) {
      producer_error = std::current_exception();
    }
  });
  struct Joiner {
    std::thread& t;
    ~Joiner() {
      if (t.joinable()) t.join();
    }
  } joiner{producer_thread};

  RollupView view(cfg.output_topic, deadline_in(60s));
  ASSERT_TRUE(wait_for(
      [&] {
        view.poll(200ms);
        return view.records() > 0;
      },
      deadline_in(60s), *worker))
      << "no rollup before the stop\n"
      << worker_report(*worker);

  std::cerr << "SIGTERM after " << view.records() << " rollups, " << produced << "/" << kTicks
            << " ticks produced\n";
  const auto stop_started = Clock::now();
  const std::string stopped = stop_worker(*worker, 10s);
  EXPECT_EQ(stopped, "") << "first worker must exit 0 within 10 s of SIGTERM";
  std::cerr
      << "first worker stopped in "
      << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stop_started).count()
      << " ms; " << produced << "/" << kTicks << " ticks produced\n";

  auto restarted = start_worker(cfg, 2);
  producer_thread.join();
  if (producer_error) std::rethrow_exception(producer_error);

  ASSERT_TRUE(
      wait_for([&] { return input_consumed(cfg, kPartitions); }, deadline_in(90s), *restarted))
      << "the restarted worker did not commit all input offsets\n"
      << worker_report(*restarted);

  test::Producer producer;
  send_sentinels(producer, cfg.input_topic, kPartitions, day + 2 * kDay + kHour);
  producer.flush(deadline_in(30s));

  const bool all_final = wait_for(
      [&] {
        view.poll(300ms);
        return view.missing_finals(expected) == 0;
      },
      deadline_in(90s), *restarted);
  view.poll(1500ms);
  EXPECT_TRUE(all_final) << view.missing_finals(expected) << " windows without a final value\n"
                         << worker_report(*restarted);

  EXPECT_TRUE(view.violations().empty()) << "output contract violations:\n"
                                         << first_lines(view.violations());
  const auto differences = view.diff(expected);
  EXPECT_TRUE(differences.empty()) << differences.size() << " differences from brute force:\n"
                                   << first_lines(differences);

  // Valid ticks only were sent: the dead-letter topic must stay empty (if it exists).
  const auto dead =
      test::consume_all(cfg.dlq_topic, {.idle = 1000ms, .deadline = deadline_in(10s)});
  EXPECT_TRUE(dead.empty()) << dead.size() << " dead letters, first: "
                            << dead.front().header("error").value_or("<no error header>");

  EXPECT_EQ(stop_worker(*restarted, 10s), "");
  if (HasFailure()) {
    std::cerr << "first run: " << worker_report(*worker)
              << "\nsecond run: " << worker_report(*restarted);
  } else {
    clean_up(cfg);
  }
}

}  // namespace
}  // namespace auditor::it
