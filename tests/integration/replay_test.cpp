// Issue 4: `auditor reset` then a replay re-publishes byte-identical final rollups.
//
// Run 1 counts a fixed data set (valid ticks with no late ones, a few invalid records),
// sentinels close every window, and the worker stops with SIGTERM. `auditor reset
// --to-earliest --delete-state` (after a --dry-run that must change nothing, and after a
// refused attempt while the worker still ran) prepares a replay; run 2 re-reads the input
// from the start and must publish, after the output's old end, a final value for every
// window that is byte-identical to run 1's.
//
// The sentinels of run 1 (one per input partition, last in it) stay in the input and are
// replayed too. Lateness is decided per tick against its own input partition and windows
// close on the minimum of the partitions' times (DESIGN.md, "Event time"), so final values
// are a function of the per-partition record sequences alone: run 2 uses a different
// commit interval (many more, smaller commits, each holding a different mix of the
// partitions) and must still publish the same bytes. (The former stream time per task made
// a sentinel read before another partition's data make that data late in the replay only.)
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <optional>
#include <set>

#include "tests/support/harness.h"

namespace auditor::it {
namespace {

using namespace std::chrono_literals;

constexpr int kPartitions = 6;
constexpr int kTicks = 3'000;

std::size_t count_files(const std::filesystem::path& dir) {
  std::error_code ec;
  std::size_t n = 0;
  if (!std::filesystem::exists(dir, ec)) return 0;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

bool is_final_value(const std::string& value) {
  try {
    const auto v = nlohmann::json::parse(value);
    return v.value("final", false);
  } catch (const std::exception&) {
    return false;
  }
}

TEST(Replay, ResetToEarliestRepublishesByteIdenticalFinalRollups) {
  const auto test_started = Clock::now();
  WorkerConfig cfg = unique_worker_config("replay");
  std::cerr << "app id " << cfg.app_id << "\n";
  test::create_topic(cfg.input_topic, kPartitions);

  const std::int64_t day = utc_day_start(3);
  const std::int64_t base = day + 10 * kHour;
  const auto seed = static_cast<std::uint64_t>(now_ms());
  std::cerr << "seed " << seed << "\n";
  std::vector<Key> keys = tricky_keys();
  keys.resize(12);
  ExpectedRollups expected;
  const auto ticks = random_ticks(keys, kTicks, kPartitions, base, 30 * kMinute, seed, expected);
  const std::vector<std::string> invalid = {
      "not json", "{}", R"({"process_name":"auth"})",
      R"({"process_name":"auth","process_activity":"login","count":"x"})"};
  {
    test::Producer producer;
    for (const auto& t : ticks) producer.send(cfg.input_topic, t);
    int i = 0;
    for (const auto& v : invalid)
      producer.send(cfg.input_topic, {i++ % kPartitions, std::nullopt, v, 0});
    producer.flush(deadline_in(30s));
  }

  // ---- run 1 ----
  auto worker = start_worker(cfg, 1);
  ASSERT_TRUE(wait_for([&] { return input_consumed(cfg, kPartitions); }, deadline_in(90s), *worker))
      << "run 1 did not commit all input offsets\n"
      << worker_report(*worker);
  {
    test::Producer producer;
    send_sentinels(producer, cfg.input_topic, kPartitions, day + 2 * kDay + kHour);
    producer.flush(deadline_in(30s));
  }
  // Readers live in optionals: they are destroyed before clean_up deletes their topic
  // (rd_kafka_destroy of a consumer whose assigned topic was just deleted was seen to hang).
  std::optional<RollupView> view_holder;
  view_holder.emplace(cfg.output_topic, deadline_in(60s));
  RollupView& view = *view_holder;
  const bool all_final = wait_for(
      [&] {
        view.poll(300ms);
        return view.missing_finals(expected) == 0;
      },
      deadline_in(90s), *worker);
  view.poll(1000ms);
  ASSERT_TRUE(all_final) << view.missing_finals(expected) << " windows without a final value\n"
                         << worker_report(*worker);
  EXPECT_TRUE(view.violations().empty()) << first_lines(view.violations());
  const auto differences = view.diff(expected);
  ASSERT_TRUE(differences.empty()) << "run 1 differs from brute force:\n"
                                   << first_lines(differences);

  // The sentinels must be consumed too, so the replay reads exactly the same input.
  ASSERT_TRUE(wait_for([&] { return input_consumed(cfg, kPartitions); }, deadline_in(60s), *worker))
      << worker_report(*worker);

  // Reset must refuse while a worker of the group runs, and change nothing.
  const auto committed_running = test::committed_offsets(cfg.app_id, cfg.input_topic, kPartitions);
  const std::size_t files_running = count_files(cfg.state_dir / cfg.app_id);
  {
    const ResetRun refused = run_reset(cfg, "while-running", /*dry_run=*/false);
    EXPECT_EQ(refused.code, 1) << "reset must refuse while a worker runs\n" << refused.report;
    EXPECT_TRUE(worker->running()) << worker_report(*worker);
    EXPECT_EQ(test::committed_offsets(cfg.app_id, cfg.input_topic, kPartitions), committed_running);
    EXPECT_TRUE(std::filesystem::exists(cfg.state_dir / cfg.app_id))
        << "refused reset deleted the running worker's state";
    std::cerr << "refused reset: " << refused.report << "\n";
  }
  (void)files_running;

  const auto stop_started = Clock::now();
  ASSERT_EQ(stop_worker(*worker, 10s), "") << "run 1 must exit 0 within 10 s of SIGTERM";
  std::cerr
      << "run 1 stopped in "
      << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stop_started).count()
      << " ms\n";

  // Run 1's latest value of every window, as bytes, from the raw output.
  std::optional<test::TopicReader> raw_holder;
  raw_holder.emplace(cfg.output_topic, deadline_in(30s), /*read_committed=*/true);
  test::TopicReader& raw = *raw_holder;
  const int out_partitions = raw.partitions();
  const auto out_end = test::end_offsets(cfg.output_topic, out_partitions);
  for (auto idle = Clock::now() + 3s; Clock::now() < idle;) {
    if (raw.poll(500ms) > 0) idle = Clock::now() + 2s;
  }
  std::map<std::string, std::string> first_latest;
  for (const auto& r : raw.records()) {
    if (r.key && r.value) first_latest[*r.key] = *r.value;
  }
  std::size_t first_final = 0;
  for (const auto& [key, counts] : expected.windows()) {
    auto it = first_latest.find(key);
    ASSERT_NE(it, first_latest.end()) << "run 1 raw output lacks " << key;
    ASSERT_TRUE(is_final_value(it->second)) << key << " = " << it->second;
    ++first_final;
  }
  std::cerr << expected.windows().size() << " windows final after run 1, " << raw.records().size()
            << " output records\n";

  // ---- reset: dry run first, it must change nothing ----
  const auto committed_before = test::committed_offsets(cfg.app_id, cfg.input_topic, kPartitions);
  const auto input_end = test::end_offsets(cfg.input_topic, kPartitions);
  ASSERT_EQ(committed_before, input_end);
  const std::string repartition = cfg.app_id + "-ticks-repartition";
  const std::string changelog = cfg.app_id + "-rollups-changelog";
  const auto changelog_end_before = test::end_offsets(changelog, kPartitions);
  const std::size_t files_before = count_files(cfg.state_dir / cfg.app_id);
  ASSERT_GT(files_before, 0u) << "run 1 left no local state under " << (cfg.state_dir / cfg.app_id);
  {
    const ResetRun dry = run_reset(cfg, "dry-run", /*dry_run=*/true);
    EXPECT_EQ(dry.code, 0) << dry.report;
    std::cerr << dry.report << "\n";
    EXPECT_EQ(test::committed_offsets(cfg.app_id, cfg.input_topic, kPartitions), committed_before)
        << "dry run moved the input offsets";
    EXPECT_EQ(count_files(cfg.state_dir / cfg.app_id), files_before)
        << "dry run touched local state";
    EXPECT_EQ(test::end_offsets(changelog, kPartitions), changelog_end_before)
        << "dry run touched the changelog";
    const auto rep = test::consume_all(repartition, {.idle = 1500ms, .deadline = deadline_in(15s)});
    std::cerr << "repartition topic holds " << rep.size()
              << " readable records after the dry run\n";
  }

  // ---- reset for real ----
  {
    const ResetRun reset = run_reset(cfg, "real", /*dry_run=*/false);
    ASSERT_EQ(reset.code, 0) << reset.report;
    std::cerr << reset.report << "\n";
  }
  EXPECT_FALSE(std::filesystem::exists(cfg.state_dir / cfg.app_id))
      << "--delete-state left " << (cfg.state_dir / cfg.app_id);
  const auto committed_after = test::committed_offsets(cfg.app_id, cfg.input_topic, kPartitions);
  EXPECT_NE(committed_after, input_end) << "reset did not move the input offsets";
  for (int p = 0; p < kPartitions; ++p) {
    EXPECT_EQ(committed_after[static_cast<std::size_t>(p)], 0) << "input partition " << p;
  }

  // ---- run 2: the replay ----
  cfg.commit_interval = "200ms";  // run 1 committed every 1s; see the header comment
  const auto replay_started = Clock::now();
  auto replay = start_worker(cfg, 2);
  const auto mark = test::end_offsets(cfg.output_topic, out_partitions);
  EXPECT_EQ(mark, out_end) << "output grew between stop and replay start";

  std::map<std::string, std::string> second_latest;
  std::map<std::string, int> second_finals;
  std::vector<std::string> violations;
  std::size_t folded = raw.records().size();
  std::size_t replay_records = 0;
  auto fold_new = [&] {
    raw.poll(300ms);
    for (; folded < raw.records().size(); ++folded) {
      const auto& r = raw.records()[folded];
      if (r.offset < mark[static_cast<std::size_t>(r.partition)]) continue;
      ++replay_records;
      if (!r.key || !r.value) {
        violations.push_back("null key or value at p" + std::to_string(r.partition) + "@" +
                             std::to_string(r.offset));
        continue;
      }
      if (second_finals[*r.key] > 0)
        violations.push_back("record after final: " + *r.key + " = " + *r.value);
      second_latest[*r.key] = *r.value;
      if (is_final_value(*r.value) && ++second_finals[*r.key] > 1) {
        violations.push_back("second final: " + *r.key);
      }
    }
  };
  auto missing_replayed = [&] {
    std::size_t missing = 0;
    for (const auto& [key, counts] : expected.windows()) {
      missing += second_finals.contains(key) && second_finals.at(key) > 0 ? 0 : 1;
    }
    return missing;
  };
  const bool replayed = wait_for(
      [&] {
        fold_new();
        return missing_replayed() == 0 && input_consumed(cfg, kPartitions);
      },
      deadline_in(150s), *replay);
  fold_new();
  EXPECT_TRUE(replayed) << missing_replayed() << " of " << expected.windows().size()
                        << " windows not re-published as final; input consumed: "
                        << input_consumed(cfg, kPartitions) << "\n"
                        << worker_report(*replay);
  std::cerr << "replay: " << replay_records << " output records, all final after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - replay_started)
                   .count()
            << " ms\n";
  EXPECT_TRUE(violations.empty()) << first_lines(violations);

  std::vector<std::string> mismatches;
  for (const auto& [key, counts] : expected.windows()) {
    const std::string& want = first_latest.at(key);
    auto it = second_latest.find(key);
    if (it == second_latest.end()) {
      mismatches.push_back("not re-published: " + key);
    } else if (it->second != want) {
      mismatches.push_back(key + ": run 1 " + want + " | replay " + it->second);
    }
  }
  EXPECT_TRUE(mismatches.empty()) << mismatches.size() << " windows differ after the replay:\n"
                                  << first_lines(mismatches);

  // The invalid records were dead-lettered once per run: twice in all.
  const auto dead = test::consume_all(
      cfg.dlq_topic,
      {.idle = 2000ms,
       .until = [&](const std::vector<Record>& r) { return r.size() >= 2 * invalid.size(); },
       .deadline = deadline_in(20s)});
  EXPECT_EQ(dead.size(), 2 * invalid.size()) << "dead letters after the replay";

  EXPECT_EQ(stop_worker(*replay, 10s), "");
  std::cerr
      << "test took "
      << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - test_started).count()
      << " ms\n";
  raw_holder.reset();
  view_holder.reset();
  if (HasFailure()) {
    std::cerr << "run 1: " << worker_report(*worker) << "\nrun 2: " << worker_report(*replay);
  } else {
    clean_up(cfg);
  }
}

}  // namespace
}  // namespace auditor::it
