// No rebuild after a crash (DESIGN.md "Guarantees": local state is transactional; after a
// crash a task catches up from the changelog from the offset its store records, it is
// never wiped and rebuilt from zero).
//
// 1. One replica (static member "solo", state dir A) counts 120,000 ticks over 24,000 keys
//    spread over 10 minutes: about 145,000 windows in its six task stores.
// 2. While a second, slower batch of ticks flows, it is SIGKILLed and restarted at once
//    with the same instance id and state dir. Its log must show, for every task, a restore
//    "from changelog offset X (local store kept)" with X > 0 that replayed only the tail:
//    at most a tenth of the task's changelog records.
// 3. When it has caught up it is stopped (SIGTERM) and a replica with a fresh state dir B
//    (same application id and instance id) starts: a full changelog replay, for the
//    comparison of restore times, printed as "RESTORE FIGURES".
// 4. Sentinels close every window; the final rollups (built by that fresh replica on the
//    replayed state) must equal the brute-force count of both batches.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <numeric>

#include "tests/robustness/replicas.h"

namespace auditor::rb {
namespace {

using namespace std::chrono_literals;

constexpr int kKeys = 24'000;
constexpr std::int64_t kBigBatch = 120'000;
constexpr std::int64_t kTailBatch = 3'000;

std::int64_t sum(const std::vector<std::int64_t>& v) {
  return std::accumulate(v.begin(), v.end(), std::int64_t{0});
}

TEST(NoRebuild, SigkilledReplicaRestoresOnlyTheChangelogTail) {
  const Scenario scenario("restore", "final");
  const WorkerConfig& cfg = scenario.cfg;
  const std::int64_t day = scenario.day;
  const std::int64_t base = day + 10 * it::kHour;
  const std::uint64_t seed = scenario.seed;
  const std::vector<Key> keys = make_keys(kKeys);

  // 1. A large store.
  Replica solo(cfg, "solo", "solo", cfg.state_dir / "A");
  solo.start();
  PacedProducer big(cfg.input_topic, TickSource(keys, base, 10 * it::kMinute, seed), 10'000, 0ms,
                    kBigBatch);
  big.start();
  big.join();
  QuietChangelog built(cfg, 3s);
  ASSERT_EQ(wait_until(built, deadline_in(150s), {&solo}, "solo: counting the first batch"), "");
  const auto ends_built = changelog_ends(cfg);
  std::cerr << static_cast<int>(seconds_since(scenario.started))
            << " s: store built: " << big.expected().windows().size() << " windows, "
            << sum(ends_built) << " changelog offsets\n";

  // 2. SIGKILL mid-stream, restart with the same instance id and state dir.
  PacedProducer tail(cfg.input_topic, TickSource(keys, base, 10 * it::kMinute, seed + 1), 100,
                     200ms, kTailBatch, big.expected());
  tail.start();
  std::this_thread::sleep_for(2500ms);
  solo.kill_and_reap();
  const auto ends_at_crash = changelog_ends(cfg);
  std::cerr << "SIGKILL with " << tail.acknowledged() << "/" << kTailBatch
            << " tail ticks produced; changelog end offsets " << sum(ends_at_crash) << "\n";
  solo.start();
  ASSERT_EQ(wait_until([&] { return running_tasks(solo.log()) == all_tasks(); }, deadline_in(60s),
                       {&solo}, "solo run 2: every task restored"),
            "");
  const auto after_crash_events = restore_events(solo.log());
  const RestoreSummary after_crash = summarize(after_crash_events);
  ASSERT_EQ(after_crash_events.size(), static_cast<std::size_t>(kPartitions))
      << "one restore per task expected\n"
      << solo.report();
  for (const auto& e : after_crash_events) {
    const auto task_changelog = ends_at_crash[static_cast<std::size_t>(e.task)];
    EXPECT_TRUE(e.local_store_kept) << "task " << e.task << " did not keep its local store";
    EXPECT_GT(e.from_offset, 0) << "task " << e.task << " restored from the changelog's start";
    EXPECT_GE(e.records, 0) << "task " << e.task << " restore did not finish";
    EXPECT_LE(e.records * 10, task_changelog)
        << "task " << e.task << " replayed " << e.records << " of its " << task_changelog
        << " changelog records after the crash: more than the tail";
  }
  tail.join();

  // 3. Caught up, stopped; a fresh state dir replays the whole changelog.
  QuietChangelog caught_up(cfg, 3s);
  ASSERT_EQ(wait_until(caught_up, deadline_in(90s), {&solo}, "solo run 2: catching up"), "");
  const auto ends_full = changelog_ends(cfg);
  EXPECT_EQ(solo.stop(20s), "");
  Replica fresh(cfg, "fresh", "solo", cfg.state_dir / "B");
  fresh.start();
  ASSERT_EQ(wait_until([&] { return running_tasks(fresh.log()) == all_tasks(); }, deadline_in(120s),
                       {&fresh}, "fresh: every task restored"),
            "");
  const auto scratch_events = restore_events(fresh.log());
  const RestoreSummary scratch = summarize(scratch_events);
  EXPECT_EQ(scratch.kept, 0) << "a fresh state dir has no local store";
  EXPECT_TRUE(scratch.all_finished);
  // Every window of the data has at least one changelog record.
  EXPECT_GE(scratch.records, static_cast<std::int64_t>(tail.expected().windows().size()));

  char figures[512];
  std::snprintf(figures, sizeof figures,
                "RESTORE FIGURES (%zu windows, %d keys, 6 tasks, changelog %lld offsets):\n"
                "  after SIGKILL, local store kept: %lld records, %.2f s wall, slowest task "
                "%.2f s\n"
                "  from scratch (fresh state dir):  %lld records, %.2f s wall, slowest task "
                "%.2f s\n",
                tail.expected().windows().size(), kKeys, static_cast<long long>(sum(ends_full)),
                static_cast<long long>(after_crash.records), after_crash.wall_seconds,
                after_crash.max_task_seconds, static_cast<long long>(scratch.records),
                scratch.wall_seconds, scratch.max_task_seconds);
  std::cerr << figures;
  std::cerr << "  after crash: " << describe(after_crash)
            << "\n  from scratch: " << describe(scratch) << "\n";
  EXPECT_LE(after_crash.records * 10, scratch.records);

  // 4. Equality, on the state the fresh replica rebuilt.
  RollupView view(cfg.output_topic, deadline_in(30s));
  const Verdict verdict =
      close_windows_and_compare(cfg, view, tail.expected(), day, {&fresh}, 120s);
  EXPECT_TRUE(verdict.ok()) << verdict.describe();
  EXPECT_EQ(fresh.stop(20s), "");
  std::cerr << "no rebuild: " << seconds_since(scenario.started) << " s in all\n";
}

}  // namespace
}  // namespace auditor::rb
