// Damaged local state (issue 13, fault 4): with the worker stopped, one task's store is
// damaged; the restarted worker must notice, say so in one line naming the task ("...
// rebuilding from the changelog"), set the store aside, rebuild that task from its
// changelog while the other tasks keep their stores, and the final rollups must still equal
// the brute-force count.
//
//   TruncatedSst            half of the task's largest SST file cut off (or of its MANIFEST)
//   DeletedSst              the task's SST file deleted (or its MANIFEST)
//   CheckpointBeyondChangelog  the store's checkpoint says it reflects changelog records
//                           that do not exist (a changelog that lost data)
//   ResetKeepState          `auditor reset --to-earliest --keep-state`: every task's store
//                           records offsets of a changelog that was deleted; all six are
//                           rebuilt, the replay counts every tick once
//
// Each: one replica on paced random ticks (seed in the log) over 200 keys, stopped with
// SIGTERM while ticks flow, damaged, restarted; the time from the restart until every task
// runs is printed as "DAMAGE FIGURES".
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>

#include "state/key_encoding.h"
#include "state/task_store.h"
#include "tests/robustness/replicas.h"

namespace auditor::rb {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int kKeys = 200;
constexpr std::int64_t kFirstBatch = 6'000;
constexpr std::int64_t kTailBatch = 3'000;

fs::path task_dir(const Replica& replica, const WorkerConfig& cfg, int task) {
  return replica.state_dir() / cfg.app_id / ("task-" + std::to_string(task));
}

// The largest file of the store whose name ends with `suffix`, else its MANIFEST.
fs::path victim_file(const fs::path& dir, const std::string& suffix) {
  fs::path best;
  std::uintmax_t best_size = 0;
  fs::path manifest;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("MANIFEST-")) manifest = e.path();
    if (name.ends_with(suffix) && e.file_size() > best_size) {
      best = e.path();
      best_size = e.file_size();
    }
  }
  return best.empty() ? manifest : best;
}

struct Damage {
  std::string name;
  // Damages `task`'s store of the stopped replica; returns what it did, for the log.
  std::function<std::string(const Scenario&, Replica&, int task)> apply;
  bool every_task = false;  // the damage hits every task (reset)
};

void run_damage_case(const Damage& damage) {
  const Scenario scenario("damage-" + damage.name);
  const WorkerConfig& cfg = scenario.cfg;
  const std::int64_t base = scenario.day + 10 * it::kHour;
  const std::vector<Key> keys = make_keys(kKeys);
  const int victim = static_cast<int>(scenario.seed % kPartitions);

  Replica solo(cfg, "solo");
  solo.start();
  PacedProducer first(cfg.input_topic, TickSource(keys, base, 10 * it::kMinute, scenario.seed), 500,
                      50ms, kFirstBatch);
  first.start();
  first.join();
  QuietChangelog counted(cfg, 3s);
  ASSERT_EQ(wait_until(counted, deadline_in(120s), {&solo}, "solo: counting the first batch"), "");

  // Ticks keep flowing while the worker is stopped, damaged and restarted.
  PacedProducer tail(cfg.input_topic, TickSource(keys, base, 10 * it::kMinute, scenario.seed + 1),
                     100, 100ms, kTailBatch, first.expected());
  tail.start();
  std::this_thread::sleep_for(1s);
  ASSERT_EQ(solo.stop(30s), "");
  const std::string did = damage.apply(scenario, solo, victim);
  std::cerr << "damage " << damage.name << ": " << did << "\n";

  const auto restarted = Clock::now();
  solo.start();
  ASSERT_EQ(wait_until([&] { return running_tasks(solo.log()) == all_tasks(); }, deadline_in(90s),
                       {&solo}, "solo run 2: every task running"),
            "");
  const double to_running = seconds_since(restarted);

  // One line per damaged task, naming it; the other tasks kept their stores.
  const std::size_t expected_lines = damage.every_task ? kPartitions : 1;
  EXPECT_EQ(count_lines(solo.log(), "rebuilding from the changelog"), expected_lines)
      << solo.report();
  for (const auto& line : log_lines(solo.log())) {
    if (line.find("rebuilding from the changelog") == std::string::npos) continue;
    std::cerr << "  " << line << "\n";
    if (!damage.every_task) {
      EXPECT_NE(line.find("task " + std::to_string(victim) + ":"), std::string::npos) << line;
    }
  }
  // The last restore of each task: a store whose changelog's end was unknown up front
  // starts restoring and is found out by the fetch, then restores again from scratch.
  std::map<int, RestoreEvent> last;
  for (const RestoreEvent& e : restore_events(solo.log())) last[e.task] = e;
  for (const auto& [task, e] : last) {
    const bool damaged = damage.every_task || task == victim;
    EXPECT_EQ(e.local_store_kept, !damaged) << "task " << task;
  }
  EXPECT_TRUE(fs::exists(task_dir(solo, cfg, victim).string() + ".damaged"));

  tail.join();
  RollupView view(cfg.output_topic, deadline_in(30s));
  const Verdict verdict =
      close_windows_and_compare(cfg, view, tail.expected(), scenario.day, {&solo}, 120s);
  EXPECT_TRUE(verdict.ok()) << verdict.describe();
  std::cerr << "DAMAGE FIGURES " << damage.name << ": restart to every task running " << to_running
            << " s; " << tail.expected().windows().size() << " windows, "
            << verdict.differences.size() << " differ from the brute-force count, "
            << verdict.missing_finals << " missing\n";
  EXPECT_EQ(solo.stop(30s), "");
}

TEST(DamagedState, TruncatedSst) {
  run_damage_case({"truncated-sst", [](const Scenario& s, Replica& r, int task) {
                     const fs::path file = victim_file(task_dir(r, s.cfg, task), ".sst");
                     const auto size = fs::file_size(file);
                     fs::resize_file(file, size / 2);
                     return "truncated " + file.string() + " from " + std::to_string(size) +
                            " bytes to " + std::to_string(size / 2);
                   }});
}

TEST(DamagedState, DeletedSst) {
  run_damage_case({"deleted-sst", [](const Scenario& s, Replica& r, int task) {
                     const fs::path file = victim_file(task_dir(r, s.cfg, task), ".sst");
                     fs::remove(file);
                     return "deleted " + file.string();
                   }});
}

TEST(DamagedState, CheckpointBeyondChangelog) {
  run_damage_case({"checkpoint", [](const Scenario& s, Replica& r, int task) {
                     const auto store = state::TaskStore::open(task_dir(r, s.cfg, task));
                     state::TaskCheckpoint checkpoint = store->checkpoint();
                     const std::int64_t end = changelog_ends(s.cfg)[static_cast<std::size_t>(task)];
                     checkpoint.changelog_offset = Offset{end + 1000};
                     const auto status = store->apply_raw({}, checkpoint);
                     if (!status.ok()) throw std::runtime_error(status.ToString());
                     if (const auto closed = store->close(); !closed.ok()) {
                       throw std::runtime_error(closed.ToString());
                     }
                     return "checkpoint of task " + std::to_string(task) +
                            " now says changelog offset " + std::to_string(end + 1000) +
                            "; the changelog ends at " + std::to_string(end);
                   }});
}

TEST(DamagedState, ResetKeepState) {
  run_damage_case({"reset-keep-state",
                   [](const Scenario& s, Replica& r, int) {
                     const fs::path log = it::work_dir() / "logs" / (s.cfg.app_id + "-reset.log");
                     test::ChildProcess reset(
                         it::auditor_binary(),
                         {"reset", "--bootstrap-servers", test::bootstrap_servers(),
                          "--application-id", s.cfg.app_id, "--input-topic", s.cfg.input_topic,
                          "--state-dir", r.state_dir().string(), "--to-earliest", "--keep-state"},
                         log);
                     const auto status = reset.wait(deadline_in(90s));
                     if (!status || !status->clean()) {
                       throw std::runtime_error("reset failed: " + reset.log_tail(30));
                     }
                     return std::string("auditor reset --to-earliest --keep-state");
                   },
                   /*every_task=*/true});
}

}  // namespace
}  // namespace auditor::rb
