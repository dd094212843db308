// Each stage balanced on its own (stage 1 in the group <app>, stage 2 in <app>-aggregate):
// replica a starts alone and owns all 6 input partitions and all 6 aggregate tasks; b joins
// (3+3 each), c joins (2+2 each); a stops with SIGTERM and leaves both groups, so b and c
// must be back at 3+3 well before a session timeout (10 s) could have removed it; b is
// SIGKILLed and replaced by a new replica d (its own name and empty state dir), which does
// wait for b's session to time out. After every step each replica holds floor(6/N) or
// ceil(6/N) of each stage, the shares add up to 6 and 6, and every task runs (none is still
// restoring), as the replicas' /metrics say, and it stays so for 2 s. Ticks flow during all
// of it; the final rollups must equal the brute-force count.
//
// Dynamic members only (no --instance-id): a static member does not leave on SIGTERM.
#include <gtest/gtest.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <thread>

#include "tests/robustness/replicas.h"

namespace auditor::rb {
namespace {

using namespace std::chrono_literals;

// After a SIGTERM the remaining replicas must be balanced again within this long of the
// leaver's exit: below the session timeout (10 s), so the member left the groups rather
// than timing out.
constexpr double kAfterLeaveSeconds = 9.0;
// How long each balanced assignment must then stay as it is.
constexpr auto kHold = std::chrono::seconds(2);

// "" when, in each stage separately, every replica holds floor(total/N) or ceil(total/N),
// the shares add up to `total` and every task runs; else what is off.
std::string unbalanced(const std::vector<Shares>& shares, int total) {
  const int n = static_cast<int>(shares.size());
  const int low = total / n;
  const int high = (total + n - 1) / n;
  int inputs = 0;
  int tasks = 0;
  std::string out;
  for (const Shares& s : shares) {
    inputs += s.input_partitions;
    tasks += s.tasks;
    if (s.input_partitions < low || s.input_partitions > high || s.tasks < low || s.tasks > high) {
      out += " a share outside " + std::to_string(low) + ".." + std::to_string(high) + ";";
    }
    if (s.restoring != 0 || s.running != s.tasks) out += " tasks not all running;";
  }
  if (inputs != total) out += " input partitions add up to " + std::to_string(inputs) + ";";
  if (tasks != total) out += " tasks add up to " + std::to_string(tasks) + ";";
  return out;
}

TEST(Balance, JoinOneByOneLeaveAndReplaceKeepBothStagesBalanced) {
  const Scenario scenario("balance");
  const WorkerConfig& cfg = scenario.cfg;
  const std::int64_t day = scenario.day;
  // Produces until stopped (the cap is a safety net): 1,000 ticks/s over 400 keys.
  PacedProducer producer(
      cfg.input_topic,
      TickSource(make_keys(400), day + 10 * it::kHour, 10 * it::kMinute, scenario.seed), 250, 250ms,
      1'000'000);

  Replica a(cfg, "a");
  Replica b(cfg, "b");
  Replica c(cfg, "c");
  Replica d(cfg, "d");
  a.start();
  producer.start();
  RollupView view(cfg.output_topic, deadline_in(60s));

  // The shares last read from each replica, and why the last check was not balanced.
  std::map<const Replica*, Shares> last;
  std::string why;
  auto shares_line = [&](const std::vector<Replica*>& group) {
    std::string out;
    for (const Replica* r : group) {
      const auto it = last.find(r);
      out += (out.empty() ? "" : ", ") + r->name() + " " +
             (it == last.end() ? std::string("?") : describe(it->second));
    }
    return out;
  };
  // One read of every replica in `group`: nullopt when a /metrics read failed, else "" when
  // balanced or what is off.
  auto check = [&](const std::vector<Replica*>& group) -> std::optional<std::string> {
    view.poll(200ms);
    std::vector<Shares> shares;
    for (Replica* r : group) {
      const auto s = read_shares(*r, &why);
      if (!s) return std::nullopt;
      last[r] = *s;
      shares.push_back(*s);
    }
    why = unbalanced(shares, kPartitions);
    return why;
  };
  auto wait_balanced = [&](const std::vector<Replica*>& group, std::chrono::seconds limit,
                           const std::string& what) {
    const std::string failure =
        wait_until([&] { return check(group) == ""; }, deadline_in(limit), group, what);
    return failure.empty() ? failure : failure + "last read: " + shares_line(group) + "; " + why;
  };
  // Once balanced, every read for `hold` must be too: an assignment that a further
  // rebalance undoes, or that flips between replicas, fails the step.
  auto stays_balanced = [&](const std::vector<Replica*>& group, std::chrono::seconds hold) {
    const auto until = Clock::now() + hold;
    while (Clock::now() < until) {
      const auto verdict = check(group);
      if (verdict && !verdict->empty()) return shares_line(group) + ":" + *verdict;
      for (Replica* r : group) {
        if (!r->running()) return r->name() + " exited: " + r->report();
      }
      std::this_thread::sleep_for(250ms);
    }
    return std::string();
  };
  auto print = [&](const std::vector<Replica*>& group, const std::string& what) {
    char at[32];
    std::snprintf(at, sizeof at, "%.1f s", seconds_since(scenario.started));
    std::cerr << "[balance] " << at << ": " << shares_line(group) << "  (" << what << "; "
              << producer.acknowledged() << " ticks produced, " << view.records()
              << " rollups read)\n";
  };
  auto took = [](Clock::time_point since) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", seconds_since(since));
    return std::string(buf);
  };

  // 1. a alone: everything, and rollups come out.
  ASSERT_EQ(wait_balanced({&a}, 60s, "a alone: 6+6"), "");
  ASSERT_EQ(wait_until(
                [&] {
                  view.poll(200ms);
                  return view.records() > 0;
                },
                deadline_in(60s), {&a}, "a alone: rollups out"),
            "");
  print({&a}, "a alone");
  EXPECT_EQ(stays_balanced({&a}, kHold), "");

  // 2. b joins.
  auto since = Clock::now();
  b.start();
  ASSERT_EQ(wait_balanced({&a, &b}, 60s, "b joined: 3+3 each"), "");
  print({&a, &b}, "b joined, balanced after " + took(since));
  EXPECT_EQ(stays_balanced({&a, &b}, kHold), "");

  // 3. c joins.
  since = Clock::now();
  c.start();
  ASSERT_EQ(wait_balanced({&a, &b, &c}, 60s, "c joined: 2+2 each"), "");
  print({&a, &b, &c}, "c joined, balanced after " + took(since));
  EXPECT_EQ(stays_balanced({&a, &b, &c}, kHold), "");

  // 4. a leaves with SIGTERM: b and c take its share over before a session timeout.
  since = Clock::now();
  ASSERT_EQ(a.stop(20s), "") << "a must commit, leave and exit 0 on SIGTERM";
  const auto a_exited = Clock::now();
  const std::string a_stop = took(since);
  ASSERT_EQ(wait_balanced({&b, &c}, 40s, "a left: 3+3 each"), "");
  const double after_leave = seconds_since(a_exited);
  print({&b, &c},
        "a exited " + a_stop + " after SIGTERM, balanced " + took(a_exited) + " after its exit");
  EXPECT_LT(after_leave, kAfterLeaveSeconds)
      << "b and c took longer than the session timeout allows to take a's share over: did a "
         "leave the groups on SIGTERM?";
  EXPECT_EQ(stays_balanced({&b, &c}, kHold), "");

  // 5. b dies (SIGKILL, no leave) and a new replica d replaces it.
  since = Clock::now();
  b.kill_and_reap();
  d.start();
  ASSERT_EQ(wait_balanced({&c, &d}, 60s, "b replaced by d: 3+3 each"), "");
  print({&c, &d}, "b killed, d started, balanced after " + took(since));
  EXPECT_EQ(stays_balanced({&c, &d}, kHold), "");

  // 6. The rollups equal the brute-force count.
  producer.stop();
  producer.join();
  ASSERT_EQ(wait_until(
                [&] {
                  view.poll(200ms);
                  return input_consumed(cfg);
                },
                deadline_in(60s), {&c, &d}, "c and d: all input committed"),
            "");
  const Verdict verdict =
      close_windows_and_compare(cfg, view, producer.expected(), day, {&c, &d}, 90s);
  print({&c, &d}, "compared " + std::to_string(producer.expected().windows().size()) + " windows");
  EXPECT_TRUE(verdict.ok()) << verdict.describe();
  const auto decreasing = decreasing_updates(cfg.output_topic);
  EXPECT_TRUE(decreasing.empty()) << decreasing.size() << " committed rollups went down:\n"
                                  << it::first_lines(decreasing);

  const auto failures = stop_all({&c, &d}, 20s);
  EXPECT_TRUE(failures.empty()) << it::first_lines(failures);
  std::cerr << "[balance] " << took(scenario.started) << " in all\n";
}

}  // namespace
}  // namespace auditor::rb
