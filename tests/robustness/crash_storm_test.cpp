// Crash storm (DESIGN.md invariant 2): three replicas of one application; while a producer
// writes 200,000 unkeyed ticks over 1,000 keys round-robin into 6 partitions, the test
// SIGKILLs a random replica every 2-4 s and restarts it (same state dir) 0.3-1 s later.
// Once the producer is done the killing stops; when the input is consumed, sentinels close
// every window and each final rollup must equal the brute-force count: no tick lost, none
// counted twice, no window finalised twice.
//
// Membership: replica r0 is a static member (--instance-id r0), r1 and r2 are dynamic.
//  - r0's quick restarts exercise the static path: the restarted process takes its old
//    member's place without a rebalance and, with the same transactional.id, fences the
//    killed process's open transaction at init_transactions.
//  - r1/r2 (no --instance-id) exercise task migration: a SIGKILLed dynamic member stays in
//    the group until its session times out (10 s), then its tasks move to the survivors
//    and are restored there from the changelog; the restarted process joins as a new
//    member and takes tasks back, often restoring them from a local store left stale by
//    an earlier run. Its killed transaction (random transactional.id) is only aborted by
//    the broker's transaction timeout, so read_committed readers wait for it: that is the
//    slow part of the storm, and the zombie-fencing path (KIP-447 generation checks) is
//    what keeps the killed member's work out.
//
// --emit final keeps the rollup topic small (one record per window); the changelog still
// carries every update. Grace 1h > the 10-minute span of the data: no tick can be late.
#include <gtest/gtest.h>

#include <csignal>
#include <iostream>

#include "tests/robustness/replicas.h"

namespace auditor::rb {
namespace {

using namespace std::chrono_literals;

constexpr int kKeys = 1'000;
constexpr std::int64_t kTicks = 200'000;
constexpr int kMinKills = 6;

TEST(CrashStorm, RandomSigkillsOfThreeReplicasLoseNothingAndCountNothingTwice) {
  const Scenario scenario("storm", "final");
  const WorkerConfig& cfg = scenario.cfg;
  const std::int64_t day = scenario.day;
  const std::uint64_t seed = scenario.seed;
  PacedProducer producer(cfg.input_topic,
                         TickSource(make_keys(kKeys), day + 10 * it::kHour, 10 * it::kMinute, seed),
                         2'500, 250ms, kTicks);

  std::vector<std::unique_ptr<Replica>> replicas;
  replicas.push_back(std::make_unique<Replica>(cfg, "r0", "r0"));
  replicas.push_back(std::make_unique<Replica>(cfg, "r1"));
  replicas.push_back(std::make_unique<Replica>(cfg, "r2"));
  std::vector<Replica*> all;
  for (auto& r : replicas) {
    r->start();
    all.push_back(r.get());
  }
  RollupView view(cfg.output_topic, deadline_in(60s));
  producer.start();

  // The storm.
  std::mt19937_64 rng(seed);
  int kills = 0;
  const auto storm_started = Clock::now();
  while ((!producer.done() || kills < kMinKills) && seconds_since(storm_started) < 150) {
    const auto until = Clock::now() + std::chrono::milliseconds(2'000 + rng() % 2'001);
    while (Clock::now() < until) view.poll(200ms);
    for (Replica* r : all) {
      ASSERT_TRUE(r->running()) << "a replica exited by itself during the storm\n" << r->report();
    }
    Replica& victim = *all[rng() % all.size()];
    victim.kill_and_reap();
    ++kills;
    std::cerr << "kill " << kills << " at " << static_cast<int>(seconds_since(storm_started))
              << " s: " << victim.name() << " run " << victim.runs() << " (SIGKILL), "
              << producer.acknowledged() << "/" << kTicks << " ticks produced\n";
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 701));
    victim.start();
  }
  producer.join();
  const double storm_seconds = seconds_since(storm_started);
  std::cerr << "storm over after " << storm_seconds << " s: " << kills << " kills, "
            << producer.acknowledged() << " ticks produced\n";
  ASSERT_EQ(producer.acknowledged(), kTicks);
  ASSERT_GE(kills, kMinKills);

  const auto drain_started = Clock::now();
  const std::string drained = wait_until(
      [&] {
        view.poll(200ms);
        return input_consumed(cfg);
      },
      deadline_in(150s), all, "waiting for the group to commit all input");
  ASSERT_EQ(drained, "");
  std::cerr << "input consumed " << seconds_since(drain_started) << " s after the storm\n";

  const auto close_started = Clock::now();
  const Verdict verdict = close_windows_and_compare(cfg, view, producer.expected(), day, all, 150s);
  std::cerr << "all windows final " << seconds_since(close_started) << " s after the sentinels; "
            << producer.expected().windows().size() << " windows compared, " << view.records()
            << " rollup records read\n";
  EXPECT_TRUE(verdict.ok()) << verdict.describe();

  // What the kills made the replicas do (logs of every run).
  RestoreSummary kept_total;
  RestoreSummary scratch_total;
  for (Replica* r : all) {
    for (int run = 1; run <= r->runs(); ++run) {
      for (const auto& e : restore_events(r->log(run))) {
        RestoreSummary& s = e.local_store_kept ? kept_total : scratch_total;
        ++s.tasks;
        if (e.records >= 0) s.records += e.records;
      }
    }
  }
  std::cerr << "restores: " << kept_total.tasks << " from a local store (" << kept_total.records
            << " changelog records), " << scratch_total.tasks << " from scratch ("
            << scratch_total.records << " records)\n";

  const auto stop_failures = stop_all(all, 20s);
  EXPECT_TRUE(stop_failures.empty()) << "replicas must stop cleanly at the end:\n"
                                     << it::first_lines(stop_failures);
  std::cerr << "crash storm: " << seconds_since(scenario.started) << " s in all\n";
}

}  // namespace
}  // namespace auditor::rb
