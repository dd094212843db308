// Zombie fencing: a replica frozen with SIGSTOP in the middle of the stream (transaction
// open, records in flight) stays frozen for 16 s, past its session timeout (10 s) and its
// transaction timeout (10 s), while the other replica takes over all its partitions; then
// it gets SIGCONT. Two episodes, with dynamic members z and b:
//  1. b starts alone, z joins and the cooperative rebalance moves the stage-2 tasks to it
//     (b keeps the input partitions): z, owning tasks (changelog, rollups, repartition
//     offsets), is frozen.
//  2. The replica then owning the input partitions is frozen right after a burst of 60,000
//     ticks, so it is most likely in the middle of its backlog: on SIGCONT its processing
//     loop goes on with the records already fetched and tries to commit before it hears
//     that it left the group (stale generation, timed-out transaction).
// Whatever a zombie does next, nothing it produced may become committed:
//  - it may exit non-zero with a clear "fenced"/fatal message, or notice that it lost its
//    partitions and rejoin the group (both acceptable; the test prints which happened;
//    a zombie that exited is restarted for the next episode);
//  - the committed rollups of each window never decrease (a stale value committed by the
//    zombie after the new owner's newer one would);
//  - at the end every replica is stopped and a replica with a fresh state dir rebuilds all
//    tasks from the changelog alone: a changelog record committed by a zombie would
//    corrupt that state. The final rollups it publishes must equal the brute-force count.
// Default emit (updates); read_committed output.
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

std::string show(const std::optional<Assignment>& a) {
  if (!a) return "nothing yet";
  return std::to_string(a->input_partitions) + " input partitions and " + std::to_string(a->tasks) +
         " tasks";
}

struct Episode {
  std::string outcome;  // what the zombie did after SIGCONT
  bool exited = false;
};

TEST(ZombieFencing, ReplicasPausedPastTheirSessionTimeoutCommitNothingAfterResuming) {
  const Scenario scenario("zombie");
  const WorkerConfig& cfg = scenario.cfg;
  const std::int64_t day = scenario.day;
  const std::uint64_t seed = scenario.seed;
  PacedProducer producer(cfg.input_topic,
                         TickSource(make_keys(400), day + 10 * it::kHour, 10 * it::kMinute, seed),
                         400, 250ms, 1'000'000);
  auto phase = [&](const std::string& what) {
    std::cerr << static_cast<int>(seconds_since(scenario.started)) << " s: " << what << "; "
              << producer.acknowledged() << " ticks produced\n";
  };

  Replica b(cfg, "b");
  Replica z(cfg, "z");
  b.start();
  producer.start();
  ASSERT_EQ(wait_until([&] { return running_tasks(b.log()) == all_tasks(); }, deadline_in(60s),
                       {&b}, "b alone: all tasks running"),
            "");
  z.start();
  ASSERT_EQ(wait_until([&] { return !running_tasks(z.log()).empty(); }, deadline_in(90s), {&z, &b},
                       "z: tasks moved to it and restored"),
            "");
  std::this_thread::sleep_for(1500ms);

  // Freezes `victim` for 16 s while `survivor` takes over everything, resumes it, and
  // waits until it either exited or rejoined the group.
  auto episode = [&](Replica& victim, Replica& survivor, std::int64_t burst) -> Episode {
    Episode result;
    if (burst > 0) {
      const auto target = producer.acknowledged() + burst;
      producer.burst(burst);
      EXPECT_EQ(wait_until([&] { return producer.acknowledged() >= target; }, deadline_in(30s),
                           {&victim, &survivor}, "the burst acknowledged"),
                "");
      std::this_thread::sleep_for(300ms);
    }
    const std::size_t lines_before = log_lines(victim.log()).size();
    const auto owned = latest_assignment(victim.log());
    victim.send(SIGSTOP);
    const auto paused = Clock::now();
    phase(victim.name() + " frozen (SIGSTOP) owning " + show(owned));
    const std::string taken_over = wait_until(
        [&] {
          const auto a = latest_assignment(survivor.log());
          return a && a->input_partitions == kPartitions &&
                 running_tasks(survivor.log()) == all_tasks();
        },
        deadline_in(45s), {&survivor}, survivor.name() + ": taking over from the frozen replica");
    if (!taken_over.empty()) {
      victim.send(SIGCONT);
      ADD_FAILURE() << taken_over;
      return result;
    }
    phase(survivor.name() + " owns everything, " +
          std::to_string(static_cast<int>(seconds_since(paused))) + " s after the freeze");
    const auto resume_at = paused + 16s;
    if (Clock::now() < resume_at) std::this_thread::sleep_until(resume_at);
    victim.send(SIGCONT);
    phase(victim.name() + " resumed (SIGCONT)");

    auto since_pause = [&] {
      const auto lines = log_lines(victim.log());
      return std::vector<std::string>(
          lines.begin() + static_cast<std::ptrdiff_t>(std::min(lines_before, lines.size())),
          lines.end());
    };
    auto rejoined = [&] {
      bool lost = false;
      for (const auto& line : since_pause()) {
        if (line.find("assignment lost") != std::string::npos ||
            line.find(" revoked") != std::string::npos) {
          lost = true;
        }
        if (lost && line.find("assigned ") != std::string::npos) return true;
      }
      return false;
    };
    const std::string settled =
        wait_until([&] { return !victim.running() || rejoined(); }, deadline_in(40s), {&survivor},
                   victim.name() + " after SIGCONT: exit or rejoin");
    if (!settled.empty()) {
      ADD_FAILURE() << settled << "\n" << victim.report();
      return result;
    }
    // The errors it met after resuming (aborted commits, fencing), for the record.
    std::string errors;
    for (const auto& line : since_pause()) {
      const auto l = lower(line);
      if (l.find(" error ") != std::string::npos || l.find("critical") != std::string::npos ||
          l.find("fenced") != std::string::npos) {
        errors += "    " + line.substr(0, 300) + "\n";
      }
    }
    if (!victim.running()) {
      const auto status = *victim.process().exit_status();
      std::string reason;
      for (const auto& line : since_pause()) {
        const auto l = lower(line);
        if (l.find("fenced") != std::string::npos || l.find("fatal") != std::string::npos) {
          reason = line;
          break;
        }
      }
      result.exited = true;
      result.outcome = "exited with " + status.describe() +
                       "; first fenced/fatal line: " + (reason.empty() ? "<none>" : reason);
      EXPECT_TRUE(status.exited && status.code != 0)
          << "a fenced zombie must exit non-zero: " << victim.report();
      EXPECT_FALSE(reason.empty()) << "the zombie exited without a fenced/fatal message:\n"
                                   << victim.report();
    } else {
      result.outcome = "noticed that it lost its partitions and rejoined the group";
    }
    if (!errors.empty()) result.outcome += "; errors after resuming:\n" + errors;
    phase(victim.name() + " " + result.outcome);
    return result;
  };

  const Episode first = episode(z, b, 0);
  ASSERT_FALSE(HasFailure());
  if (first.exited) {
    z.start();
    ASSERT_EQ(wait_until([&] { return latest_assignment(z.log()).has_value(); }, deadline_in(60s),
                         {&z, &b}, "z restarted: joined"),
              "");
  }
  std::this_thread::sleep_for(2s);
  // The replica that owns the input partitions now (b, unless the group moved them).
  const auto z_owns = latest_assignment(z.log());
  const bool z_has_input = z_owns && z_owns->input_partitions > 0;
  Replica& victim = z_has_input ? z : b;
  Replica& survivor = z_has_input ? b : z;
  const Episode second = episode(victim, survivor, 60'000);
  ASSERT_FALSE(HasFailure());
  if (second.exited) victim.start();

  std::this_thread::sleep_for(2s);
  producer.stop();
  producer.join();
  phase("producer stopped");
  const std::vector<Replica*> alive = {&b, &z};
  ASSERT_EQ(wait_until([&] { return input_consumed(cfg); }, deadline_in(90s), alive,
                       "replicas: all input committed"),
            "");
  QuietChangelog settled(cfg, 3s);
  ASSERT_EQ(wait_until(settled, deadline_in(60s), alive, "replicas: changelog settled"), "");
  const auto stop_failures = stop_all(alive, 20s);
  EXPECT_TRUE(stop_failures.empty()) << it::first_lines(stop_failures);

  // Every task rebuilt from the changelog alone, then every window closed.
  Replica fresh(cfg, "fresh");
  fresh.start();
  ASSERT_EQ(wait_until([&] { return running_tasks(fresh.log()) == all_tasks(); }, deadline_in(60s),
                       {&fresh}, "fresh: every task restored"),
            "");
  phase("fresh replica restored: " + describe(summarize(restore_events(fresh.log()))));
  RollupView view(cfg.output_topic, deadline_in(30s));
  const Verdict verdict =
      close_windows_and_compare(cfg, view, producer.expected(), day, {&fresh}, 90s);
  EXPECT_TRUE(verdict.ok()) << verdict.describe();
  std::size_t records = 0;
  const auto decreasing = decreasing_updates(cfg.output_topic, &records);
  EXPECT_TRUE(decreasing.empty()) << decreasing.size()
                                  << " committed rollups went down (a zombie's stale value):\n"
                                  << it::first_lines(decreasing);
  phase("compared " + std::to_string(producer.expected().windows().size()) + " windows, " +
        std::to_string(records) + " rollup records checked for monotonic counts");
  EXPECT_EQ(fresh.stop(20s), "");
  std::cerr << "ZOMBIE OUTCOME 1 (" << z.name() << ", task owner): " << first.outcome << "\n";
  std::cerr << "ZOMBIE OUTCOME 2 (" << victim.name()
            << ", input owner under a burst): " << second.outcome << "\n";
  std::cerr << "zombie fencing: " << seconds_since(scenario.started) << " s in all\n";
}

// The static-membership zombie: replica a (--instance-id s1), idle after counting a first
// batch, is frozen for 13 s (past its session timeout), and meanwhile a replacement
// with the same instance id (another state dir, as after a reschedule) takes its place:
// the broker fences a's consumer (FENCED_INSTANCE_ID) and, through the shared
// transactional.id, its producer. Resumed, a recreates its clients once (it cannot tell
// this from being fenced by its own rejoin after an outage, engine/restart_policy.h), which
// fences the replacement in turn; the second fencing within a minute ends a: it must exit
// non-zero with a clear message (issue 3: "On a fatal error (fenced): exit non-zero with a
// clear message"), and nothing it produced may be committed: equality still holds.
TEST(ZombieFencing, FrozenStaticMemberReplacedByItsInstanceIdExitsNonZero) {
  const Scenario scenario("static-zombie");
  const WorkerConfig& cfg = scenario.cfg;
  const std::int64_t day = scenario.day;
  const std::uint64_t seed = scenario.seed;
  const TickSource ticks(make_keys(400), day + 10 * it::kHour, 10 * it::kMinute, seed);
  PacedProducer first(cfg.input_topic, ticks, 2'000, 250ms, 8'000);
  auto phase = [&](const std::string& what) {
    std::cerr << static_cast<int>(seconds_since(scenario.started)) << " s: " << what << "\n";
  };

  Replica a(cfg, "a", "s1");
  Replica replacement(cfg, "replacement", "s1");
  a.start();
  first.start();
  first.join();
  // a is idle when frozen (everything committed): on SIGCONT it has nothing to commit, so
  // it learns of its fate from the group coordinator alone, not from a failing commit.
  QuietChangelog idle(cfg, 3s);
  ASSERT_EQ(wait_until(idle, deadline_in(60s), {&a}, "a: first batch counted"), "");
  const std::size_t lines_before = log_lines(a.log()).size();
  a.send(SIGSTOP);
  const auto frozen_at = Clock::now();
  phase("a frozen (SIGSTOP)");
  replacement.start();
  // More ticks while a is frozen, counted by the replacement.
  PacedProducer second(cfg.input_topic,
                       TickSource(make_keys(400), day + 10 * it::kHour, 10 * it::kMinute, seed + 1),
                       400, 250ms, 20'000, first.expected());
  second.start();
  ASSERT_EQ(wait_until([&] { return running_tasks(replacement.log()) == all_tasks(); },
                       deadline_in(60s), {&replacement}, "replacement: all tasks running"),
            "");
  phase("the replacement (same instance id) runs every task");
  // Past the session timeout (10 s), as in the other zombie test.
  const auto resume_at = frozen_at + 13s;
  if (Clock::now() < resume_at) std::this_thread::sleep_until(resume_at);
  a.send(SIGCONT);
  phase("a resumed (SIGCONT)");

  // a recreates its clients 5 s after the first fencing, the replacement 5 s after being
  // fenced in turn, which fences a again (engine/restart_policy.h).
  const auto exit_deadline = deadline_in(45s);
  const auto status = a.process().wait(exit_deadline);
  std::string fenced_line;
  const auto lines = log_lines(a.log());
  for (std::size_t i = std::min(lines_before, lines.size()); i < lines.size(); ++i) {
    if (lower(lines[i]).find("fenced") != std::string::npos) {
      fenced_line = lines[i];
      break;
    }
  }
  if (!status) {
    ADD_FAILURE() << "the fenced static member is still running 45 s after SIGCONT (it can "
                     "never rejoin: it must exit non-zero with a clear message); its log "
                     "since the freeze says \""
                  << (fenced_line.empty() ? "<nothing about fencing>" : fenced_line) << "\"\n"
                  << a.report();
  } else {
    EXPECT_TRUE(status->exited && status->code != 0)
        << "a fenced worker must exit non-zero, got " << status->describe();
    EXPECT_FALSE(fenced_line.empty()) << "no fenced message in its log\n" << a.report();
  }
  phase(std::string("a ") + (status ? "exited with " + status->describe() : "still running") +
        "; fenced line: " + (fenced_line.empty() ? "<none>" : fenced_line));
  a.kill_and_reap();  // whatever it does, it no longer matters below

  second.join();
  ASSERT_EQ(wait_until([&] { return input_consumed(cfg); }, deadline_in(90s), {&replacement},
                       "replacement: all input committed"),
            "");
  RollupView view(cfg.output_topic, deadline_in(30s));
  const Verdict verdict =
      close_windows_and_compare(cfg, view, second.expected(), day, {&replacement}, 90s);
  EXPECT_TRUE(verdict.ok()) << verdict.describe();
  const auto decreasing = decreasing_updates(cfg.output_topic);
  EXPECT_TRUE(decreasing.empty()) << decreasing.size() << " committed rollups went down:\n"
                                  << it::first_lines(decreasing);
  EXPECT_EQ(replacement.stop(20s), "");
  std::cerr << "static zombie: " << seconds_since(scenario.started) << " s in all\n";
}

}  // namespace
}  // namespace auditor::rb
