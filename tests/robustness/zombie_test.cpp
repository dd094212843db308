// Zombie fencing: replica z, owning some tasks, is frozen with SIGSTOP in the middle of the stream (its
// transaction open, records in flight) and stays frozen for 16 s, past its session timeout
// (10 s) and its transaction timeout (10 s), while replica b takes over all its tasks.
// Then z gets SIGCONT. Whatever z does next, nothing it produced may become committed:
//  - it may exit non-zero with a clear "fenced"/fatal message, or rejoin the group and go
//    on working (both acceptable; the test prints which one happened);
//  - the committed rollups of each window never decrease (a stale value committed by the
//    zombie after b's newer one would);
//  - at the end every replica is stopped and a replica with a fresh state dir rebuilds all
//    tasks from the changelog: a changelog record committed by the zombie would corrupt
//    that state. The final rollups it publishes must equal the brute-force count.
// Dynamic members (no --instance-id); default emit (updates); read_committed output.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <iostream>

#include "tests/robustness/replicas.h"

namespace auditor::rb {
namespace {

using namespace std::chrono_literals;

std::set<int> all_tasks() {
  std::set<int> s;
  for (int i = 0; i < kPartitions; ++i) s.insert(i);
  return s;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

TEST(ZombieFencing, ReplicaPausedPastItsSessionTimeoutCommitsNothingAfterResuming) {
  const auto test_started = Clock::now();
  const WorkerConfig cfg = robustness_config("zombie");
  std::cerr << "app id " << cfg.app_id << "\n";
  test::create_topic(cfg.input_topic, kPartitions);

  const std::int64_t day = it::utc_day_start(3);
  const auto seed = static_cast<std::uint64_t>(it::now_ms());
  std::cerr << "seed " << seed << "\n";
  PacedProducer producer(cfg.input_topic,
                         TickSource(make_keys(400), day + 10 * it::kHour, 10 * it::kMinute, seed),
                         400, 250ms, 1'000'000);
  auto phase = [&](const std::string& what) {
    std::cerr << static_cast<int>(seconds_since(test_started)) << " s: " << what << "; "
              << producer.acknowledged() << " ticks produced\n";
  };

  // b starts alone and owns everything; z joins and the cooperative rebalance moves tasks
  // (stage 2: changelog, rollups, repartition offsets) to it. Those are what the zombie
  // must not be able to commit once frozen.
  Replica b(cfg, "b");
  Replica z(cfg, "z");
  b.start();
  producer.start();
  ASSERT_EQ(wait_until([&] { return running_tasks(b.log()) == all_tasks(); }, deadline_in(60s),
                       {&b}, "b alone: all tasks running"),
            "");
  z.start();
  ASSERT_EQ(wait_until([&] { return !running_tasks(z.log()).empty(); }, deadline_in(90s),
                       {&z, &b}, "z: tasks moved to it and restored"),
            "");
  std::this_thread::sleep_for(1500ms);
  const std::set<int> z_tasks = assigned_tasks(z.log());
  ASSERT_FALSE(z_tasks.empty()) << "z lost its tasks again before the freeze\n" << z.report();
  const std::size_t z_lines_before = log_lines(z.log()).size();

  z.send(SIGSTOP);
  const auto paused = Clock::now();
  phase("z frozen (SIGSTOP) owning " + std::to_string(z_tasks.size()) + " tasks");
  const std::string taken_over =
      wait_until([&] { return running_tasks(b.log()) == all_tasks(); }, deadline_in(45s), {&b},
                 "b: taking over the frozen replica's tasks");
  const double takeover_seconds = seconds_since(paused);
  if (!taken_over.empty()) z.send(SIGCONT);
  ASSERT_EQ(taken_over, "");
  phase("b runs every task, " + std::to_string(static_cast<int>(takeover_seconds)) +
        " s after the freeze");
  const auto resume_at = paused + 16s;
  if (Clock::now() < resume_at) std::this_thread::sleep_until(resume_at);
  z.send(SIGCONT);
  phase("z resumed (SIGCONT)");

  // What does the zombie do? Exit, or notice it lost its tasks and join again.
  auto z_since_pause = [&] {
    const auto lines = log_lines(z.log());
    return std::vector<std::string>(
        lines.begin() + static_cast<std::ptrdiff_t>(std::min(z_lines_before, lines.size())),
        lines.end());
  };
  auto rejoined = [&] {
    bool lost = false;
    for (const auto& line : z_since_pause()) {
      if (line.find("assignment lost") != std::string::npos ||
          line.find(" revoked") != std::string::npos) {
        lost = true;
      }
      if (lost && line.find("assigned ") != std::string::npos) return true;
    }
    return false;
  };
  ASSERT_EQ(wait_until([&] { return !z.running() || rejoined(); }, deadline_in(40s), {&b},
                       "z after SIGCONT: exit or rejoin"),
            "");
  std::string z_outcome;
  std::vector<Replica*> alive = {&b};
  if (!z.running()) {
    const auto status = *z.process().exit_status();
    std::string reason;
    for (const auto& line : z_since_pause()) {
      const auto l = lower(line);
      if (l.find("fenced") != std::string::npos || l.find("fatal") != std::string::npos ||
          l.find("critical") != std::string::npos) {
        reason = line;
        break;
      }
    }
    z_outcome = "exited with " + status.describe() + "; first fenced/fatal line: " +
                (reason.empty() ? "<none>" : reason);
    EXPECT_TRUE(status.exited && status.code != 0)
        << "a fenced zombie must exit non-zero: " << z.report();
    EXPECT_FALSE(reason.empty()) << "the zombie exited without a fenced/fatal message:\n"
                                 << z.report();
  } else {
    z_outcome = "noticed it lost its tasks and rejoined the group";
    alive.push_back(&z);
  }
  phase("zombie " + z_outcome);

  std::this_thread::sleep_for(2s);
  producer.stop();
  producer.join();
  phase("producer stopped");
  ASSERT_EQ(wait_until(
                [&] { return input_consumed(cfg); }, deadline_in(90s), alive,
                "survivors: all input committed"),
            "");
  QuietChangelog settled(cfg, 3s);
  ASSERT_EQ(wait_until(settled, deadline_in(60s), alive, "survivors: changelog settled"), "");
  const auto stop_failures = stop_all(alive, 20s);
  EXPECT_TRUE(stop_failures.empty()) << it::first_lines(stop_failures);

  // Every task rebuilt from the changelog alone, then every window closed.
  Replica fresh(cfg, "fresh");
  fresh.start();
  ASSERT_EQ(wait_until([&] { return running_tasks(fresh.log()) == all_tasks(); },
                       deadline_in(60s), {&fresh}, "fresh: every task restored"),
            "");
  phase("fresh replica restored: " + describe(summarize(restore_events(fresh.log()))));
  RollupView view(cfg.output_topic, deadline_in(30s));
  const Verdict verdict = close_windows_and_compare(cfg, view, producer.expected(), day,
                                                    {&fresh}, 90s);
  EXPECT_TRUE(verdict.ok()) << verdict.describe();
  std::size_t records = 0;
  const auto decreasing = decreasing_updates(cfg.output_topic, &records);
  EXPECT_TRUE(decreasing.empty()) << decreasing.size()
                                  << " committed rollups went down (a zombie's stale value):\n"
                                  << it::first_lines(decreasing);
  phase("compared " + std::to_string(producer.expected().windows().size()) + " windows, " +
        std::to_string(records) + " rollup records checked for monotonic counts");
  EXPECT_EQ(fresh.stop(20s), "");
  std::cerr << "ZOMBIE OUTCOME: " << z_outcome << "\n";
  std::cerr << "zombie fencing: " << seconds_since(test_started) << " s in all\n";
  if (!HasFailure()) it::clean_up(cfg);  // topics and state dirs
}

}  // namespace
}  // namespace auditor::rb
