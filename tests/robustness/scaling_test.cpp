// Scale out and in (DESIGN.md invariant 3): one replica starts alone and owns every task;
// two more join mid-stream (cooperative rebalance: tasks move to them and are restored
// from the changelog); then two replicas, the original one first, are stopped with
// SIGTERM (each must commit, leave the group and exit 0), and the last one takes every
// task over. Ticks flow during all of it. The final rollups must equal the brute-force
// count.
//
// All replicas are dynamic members (no --instance-id): a static member does not leave the
// group on SIGTERM, so its tasks would wait for its session to time out. Default emit
// (updates), so every commit's rollups go through the transactions too.
#include <gtest/gtest.h>

#include <iostream>

#include "tests/robustness/replicas.h"

namespace auditor::rb {
namespace {

using namespace std::chrono_literals;

TEST(Scaling, TwoReplicasJoinMidStreamThenTwoStopWithSigterm) {
  const Scenario scenario("scale");
  const WorkerConfig& cfg = scenario.cfg;
  const std::int64_t day = scenario.day;
  const std::uint64_t seed = scenario.seed;
  // Produces until stopped (the cap is a safety net): 2,000 ticks/s over 400 keys.
  PacedProducer producer(cfg.input_topic,
                         TickSource(make_keys(400), day + 10 * it::kHour, 10 * it::kMinute, seed),
                         500, 250ms, 1'000'000);

  Replica a(cfg, "a");
  Replica b(cfg, "b");
  Replica c(cfg, "c");
  a.start();
  producer.start();
  RollupView view(cfg.output_topic, deadline_in(60s));
  auto poll_for = [&](std::chrono::milliseconds d) {
    const auto until = Clock::now() + d;
    while (Clock::now() < until) view.poll(200ms);
  };
  auto phase = [&](const std::string& what) {
    std::cerr << static_cast<int>(seconds_since(scenario.started)) << " s: " << what << "; "
              << producer.acknowledged() << " ticks produced, " << view.records()
              << " rollups read\n";
  };

  ASSERT_EQ(wait_until(
                [&] {
                  view.poll(200ms);
                  return running_tasks(a.log()) == all_tasks() && view.records() > 0;
                },
                deadline_in(60s), {&a}, "replica a alone: all tasks running and rollups out"),
            "");
  phase("a runs all tasks");

  // Scale out.
  b.start();
  c.start();
  ASSERT_EQ(wait_until(
                [&] {
                  view.poll(200ms);
                  std::set<int> owned = running_tasks(a.log());
                  owned.merge(running_tasks(b.log()));
                  owned.merge(running_tasks(c.log()));
                  return !running_tasks(b.log()).empty() && !running_tasks(c.log()).empty() &&
                         owned == all_tasks();
                },
                deadline_in(90s), {&a, &b, &c}, "b and c: tasks moved to them and restored"),
            "");
  phase("scaled out: tasks a " + show(assigned_tasks(a.log())) + ", b " +
        show(running_tasks(b.log())) + ", c " + show(running_tasks(c.log())));
  poll_for(3s);

  // Scale in: the original replica first, then b; ticks keep coming.
  EXPECT_EQ(a.stop(20s), "") << "a must commit, leave and exit 0 on SIGTERM";
  phase("a stopped");
  ASSERT_EQ(wait_until(
                [&] {
                  view.poll(200ms);
                  std::set<int> owned = running_tasks(b.log());
                  owned.merge(running_tasks(c.log()));
                  return owned == all_tasks();
                },
                deadline_in(60s), {&b, &c}, "b and c: a's tasks taken over"),
            "");
  phase("b " + show(running_tasks(b.log())) + ", c " + show(running_tasks(c.log())));
  poll_for(2s);
  EXPECT_EQ(b.stop(20s), "") << "b must commit, leave and exit 0 on SIGTERM";
  phase("b stopped");
  ASSERT_EQ(wait_until(
                [&] {
                  view.poll(200ms);
                  return running_tasks(c.log()) == all_tasks();
                },
                deadline_in(60s), {&c}, "c: every task taken over"),
            "");
  phase("c runs all tasks");
  poll_for(2s);
  producer.stop();
  producer.join();
  phase("producer stopped");

  ASSERT_EQ(wait_until(
                [&] {
                  view.poll(200ms);
                  return input_consumed(cfg);
                },
                deadline_in(90s), {&c}, "c: all input committed"),
            "");
  const Verdict verdict = close_windows_and_compare(cfg, view, producer.expected(), day, {&c}, 90s);
  phase("compared " + std::to_string(producer.expected().windows().size()) + " windows");
  EXPECT_TRUE(verdict.ok()) << verdict.describe();
  const auto decreasing = decreasing_updates(cfg.output_topic);
  EXPECT_TRUE(decreasing.empty()) << decreasing.size() << " committed rollups went down:\n"
                                  << it::first_lines(decreasing);

  for (Replica* r : {&b, &c}) {
    const auto s = summarize(restore_events(r->log()));
    std::cerr << r->name() << " restores: " << describe(s) << "\n";
  }
  EXPECT_EQ(c.stop(20s), "");
  std::cerr << "scale out and in: " << seconds_since(scenario.started) << " s in all\n";
}

}  // namespace
}  // namespace auditor::rb
