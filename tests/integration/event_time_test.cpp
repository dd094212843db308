// Event time (DESIGN.md, "Event time"; invariants 4 and 5) against a real broker:
//  - a partition's time is the largest event time of the valid ticks read from it;
//  - a tick is late for a window size exactly when its own partition's time before it is
//    >= window_end + grace, whatever the other partitions hold and however the worker
//    interleaves them;
//  - a window is final once the minimum over all input partitions of their times reaches
//    window_end + grace (an input partition idle for --idle-timeout is left out);
//  - partition times are committed with the input offsets and resumed after a restart.
//
// CatchUpBacklog: a two-hour backlog, uneven over six partitions, counted at the default
//   options by one worker started after all of it was produced: nothing may be late.
// ReplayIsReproducible: the same kind of data with 1% of the ticks ten minutes late in
//   their own partition; one worker, then a reset and a replay by three workers, one of
//   them SIGKILLed mid-run and replaced: byte-identical final values, equal to the model,
//   and exactly the model's late ticks dead-lettered in each run.
// IdlePartitionStillCloses: one of six partitions never gets a tick; with --idle-timeout
//   the windows still close, and not before the timeout.
// RestartResumesPartitionTime: a tick read after a restart is late against its partition's
//   time from before the restart.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <regex>
#include <sstream>
#include <tuple>

#include "tests/support/harness.h"

namespace auditor::it {
namespace {

using namespace std::chrono_literals;

constexpr int kPartitions = 6;
constexpr std::int64_t kDefaultGrace = 30 * kSecond;  // the worker's default --grace

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string seconds_text(double s) {
  std::ostringstream out;
  out.precision(1);
  out << std::fixed << s << " s";
  return out.str();
}

// ~50 keys: "svc-<i/5>" x "act-<i%5>", two of them replaced by keys that break naive
// encodings.
std::vector<Key> event_time_keys() {
  std::vector<Key> keys;
  for (int i = 0; i < 48; ++i) {
    keys.push_back({"svc-" + std::to_string(i / 5), "act-" + std::to_string(i % 5)});
  }
  keys.push_back({"a|b", "c"});
  keys.push_back({"a", "b|c"});
  return keys;
}

// A data set produced partition by partition, with the model of what the worker must
// make of it.
struct Backlog {
  std::vector<test::OutRecord> records;  // in production order, explicit partitions
  std::vector<unsigned> masks;           // the late mask of each record
  ExpectedRollups expected;
  LatenessModel lateness{kPartitions, kDefaultGrace};
  std::vector<std::int64_t> per_partition = std::vector<std::int64_t>(kPartitions, 0);
  std::map<std::string, std::int64_t> late_by_error;
};

// `total` ticks over `keys`, split over the partitions in `partitions` by `weights`. Each
// partition's ticks are spread evenly over [from, from + span) in partition order, each
// moved back by a uniform [0, jitter) (so the disorder within a partition stays below
// jitter), except a `late_share` of them, moved back 10 minutes instead. The partitions are
// interleaved by that nominal time. Event time in the payload (epoch ms, RFC 3339 "Z", or
// RFC 3339 with an offset); the record timestamp is left to the producer (the current
// time, in other windows). The lateness model (grace 30 s) decides the late masks.
Backlog make_backlog(const std::vector<Key>& keys, const std::vector<int>& partitions,
                     const std::vector<int>& weights, int total, std::int64_t from,
                     std::int64_t span, std::int64_t jitter, double late_share,
                     std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  struct Planned {
    std::int64_t nominal;
    int partition;
    std::int64_t event;
  };
  std::vector<Planned> plan;
  int weight_sum = 0;
  for (int w : weights) weight_sum += w;
  for (std::size_t i = 0; i < partitions.size(); ++i) {
    const int n = static_cast<int>(static_cast<std::int64_t>(total) * weights[i] / weight_sum);
    for (int j = 0; j < n; ++j) {
      const std::int64_t nominal = from + span * j / n;
      std::int64_t event =
          nominal - static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(jitter));
      if (unit(rng) < late_share) event = nominal - 10 * kMinute;
      plan.push_back({nominal, partitions[i], event});
    }
  }
  // Interleave by nominal time; ties keep each partition's own order.
  std::stable_sort(plan.begin(), plan.end(),
                   [](const Planned& a, const Planned& b) { return a.nominal < b.nominal; });
  Backlog b;
  b.records.reserve(plan.size());
  for (const Planned& p : plan) {
    const Key& key = keys[rng() % keys.size()];
    std::optional<std::int64_t> count;
    if (rng() % 10 != 0) count = 1 + static_cast<std::int64_t>(rng() % 100);
    std::string ts;
    switch (rng() % 4) {
      case 0:
        ts = "\"" + utc_text(p.event) + "\"";
        break;
      case 1:
        ts = "\"" + rfc3339_with_offset(p.event, rng() % 2 == 0 ? 330 : -480, 3) + "\"";
        break;
      default:
        ts = std::to_string(p.event);
        break;
    }
    b.records.push_back(
        {p.partition, std::nullopt, tick_json(key.name, key.activity, count, ts), 0});
    const unsigned mask = b.lateness.next(p.partition, p.event);
    b.masks.push_back(mask);
    b.expected.add(key.name, key.activity, p.event, count.value_or(1), mask);
    ++b.per_partition[static_cast<std::size_t>(p.partition)];
    if (mask != 0) ++b.late_by_error[late_error(mask)];
  }
  return b;
}

std::string describe(const Backlog& b) {
  std::string out = std::to_string(b.records.size()) + " ticks (per partition:";
  for (auto n : b.per_partition) out += " " + std::to_string(n);
  out += "), " + std::to_string(b.expected.windows().size()) + " windows, " +
         std::to_string(b.lateness.late_ticks()) + " late";
  for (const auto& [error, n] : b.late_by_error)
    out += "; " + std::to_string(n) + " \"" + error + "\"";
  return out;
}

// Produces the backlog (and nothing else); returns where each record landed.
std::vector<test::Delivery> produce(const std::string& topic, const Backlog& b) {
  test::Producer producer;
  std::vector<std::size_t> seqs;
  seqs.reserve(b.records.size());
  for (const auto& r : b.records) seqs.push_back(producer.send(topic, r));
  producer.flush(deadline_in(60s));
  std::vector<test::Delivery> out;
  out.reserve(seqs.size());
  for (auto s : seqs) out.push_back(producer.delivery(s));
  return out;
}

void send_sentinels_now(const WorkerConfig& cfg, int input_partitions, std::int64_t event_ms) {
  test::Producer producer;
  send_sentinels(producer, cfg.input_topic, input_partitions, event_ms);
  producer.flush(deadline_in(30s));
}

LateTicks late_ticks_of(const Backlog& b, const std::vector<test::Delivery>& at) {
  LateTicks late;
  for (std::size_t i = 0; i < b.records.size(); ++i) {
    if (b.masks[i] == 0) continue;
    late[{at[i].partition, at[i].offset}] = {late_error(b.masks[i]), *b.records[i].value};
  }
  return late;
}

// The late dead letters found, by error text, for failure reports.
std::string late_summary(const std::vector<Record>& dlq) {
  std::map<std::string, int> by_error;
  for (const Record& r : dlq) by_error[r.header("error").value_or("<no error header>")]++;
  std::string out;
  for (const auto& [error, n] : by_error)
    out += "  " + std::to_string(n) + " x \"" + error + "\"\n";
  if (!dlq.empty()) {
    out += "  first: " + dlq.front().value.value_or("<null>").substr(0, 200) + "\n";
  }
  return out.empty() ? "  none\n" : out;
}

// Waits until every expected window has a final value in `view`. Gives up early once the
// group committed all input and the output did not grow for `quiet`: what is missing then
// would never come. Returns how long it took.
struct FinalWait {
  bool all_final = false;
  std::string why;  // when not
};
FinalWait wait_for_finals(RollupView& view, const ExpectedRollups& expected,
                          const WorkerConfig& cfg, int input_partitions,
                          const std::vector<ChildProcess*>& workers, Deadline deadline,
                          std::chrono::milliseconds quiet = 8s) {
  std::size_t last_records = view.records();
  auto last_growth = Clock::now();
  for (;;) {
    view.poll(300ms);
    if (view.missing_finals(expected) == 0) return {true, ""};
    if (view.records() != last_records) {
      last_records = view.records();
      last_growth = Clock::now();
    }
    for (ChildProcess* w : workers) {
      if (!w->running()) return {false, "a worker exited: " + worker_report(*w)};
    }
    if (Clock::now() >= deadline) return {false, "timed out"};
    if (Clock::now() - last_growth >= quiet) {
      bool consumed = false;
      try {
        consumed = input_consumed(cfg, input_partitions);
      } catch (const std::exception&) {
      }
      if (consumed) {
        return {false, "all input committed and no rollup for " +
                           std::to_string(quiet.count() / 1000) + " s"};
      }
    }
  }
}

// The dead-letter topic from the start: read until it holds `at_least` records (or the
// limit passed), then until nothing more came for 1.5 s.
std::vector<Record> read_dead_letters(const std::string& topic, std::size_t at_least,
                                      std::chrono::seconds limit = 20s) {
  test::TopicReader reader(topic, deadline_in(30s));
  const Deadline deadline = deadline_in(limit);
  while (reader.records().size() < at_least && Clock::now() < deadline) reader.poll(300ms);
  for (auto idle = Clock::now() + 1500ms; Clock::now() < idle;) {
    if (reader.poll(300ms) > 0) idle = Clock::now() + 1500ms;
  }
  return reader.records();
}

// Waits until the worker created the output topic; a failure description (the worker
// exited, say on an option it does not know) or "".
std::string wait_for_output_topic(const WorkerConfig& cfg, ChildProcess& worker,
                                  std::chrono::seconds limit = 60s) {
  const bool ready = wait_for(
      [&] {
        try {
          (void)test::wait_for_topic(cfg.output_topic, deadline_in(300ms));
          return true;
        } catch (const std::exception&) {
          return false;
        }
      },
      deadline_in(limit), worker);
  return ready ? "" : "no output topic " + cfg.output_topic + "\n" + worker_report(worker);
}

// ---------------------------------------------------------------------------------------

TEST(EventTime, CatchUpBacklog) {
  const auto started = Clock::now();
  WorkerConfig cfg = unique_worker_config("catchup");
  cfg.grace.clear();            // the defaults: grace 30 s,
  cfg.commit_interval.clear();  // commit interval 1 s
  std::cerr << "app id " << cfg.app_id << "\n";
  test::create_topic(cfg.input_topic, kPartitions);
  const auto seed = static_cast<std::uint64_t>(now_ms());
  std::cerr << "seed " << seed << "\n";

  // Two hours, [10:00, 12:00) two days back, in partitions weighted 1:2:4:8:16:32, at most
  // 20 s of disorder within a partition: nothing late in its own partition. 400,000 ticks:
  // a backlog that takes the worker several commits to catch up (100,000 fit in its first
  // commit, where the former stream time per task happened to get it right).
  const std::int64_t day = utc_day_start(2);
  const std::int64_t base = day + 10 * kHour;
  const Backlog backlog = make_backlog(event_time_keys(), {0, 1, 2, 3, 4, 5}, {1, 2, 4, 8, 16, 32},
                                       400'000, base, 2 * kHour, 20 * kSecond, 0.0, seed);
  std::cerr << "backlog: " << describe(backlog) << "\n";
  ASSERT_EQ(backlog.lateness.late_ticks(), 0) << "the generator made late ticks";

  const auto produce_started = Clock::now();
  (void)produce(cfg.input_topic, backlog);
  std::cerr << "produced in " << seconds_text(seconds_since(produce_started)) << "\n";

  // One worker, after all of it; then a sentinel per input partition closes every window.
  const auto worker_started = Clock::now();
  auto worker = start_worker(cfg, 1);
  send_sentinels_now(cfg, kPartitions, day + kDay + kHour);
  ASSERT_EQ(wait_for_output_topic(cfg, *worker), "");

  std::optional<RollupView> view_holder;
  view_holder.emplace(cfg.output_topic, deadline_in(60s));
  RollupView& view = *view_holder;
  const FinalWait waited =
      wait_for_finals(view, backlog.expected, cfg, kPartitions, {worker.get()}, deadline_in(150s));
  view.poll(1500ms);
  std::cerr << "worker: " << (waited.all_final ? "all windows final" : "gave up: " + waited.why)
            << " after " << seconds_text(seconds_since(worker_started)) << "; " << view.records()
            << " rollup records\n";
  const auto dead = read_dead_letters(cfg.dlq_topic, 0, 10s);
  const std::size_t late = count_late_dead_letters(dead);
  std::cerr << "dead letters: " << dead.size() << " (" << late << " late)\n" << late_summary(dead);

  EXPECT_TRUE(waited.all_final) << view.missing_finals(backlog.expected) << " of "
                                << backlog.expected.windows().size()
                                << " windows without a final value (" << waited.why << ")\n"
                                << worker_report(*worker);
  EXPECT_EQ(late, 0u) << "ticks on time in their own partition were dead-lettered as late "
                         "while the worker caught up the backlog:\n"
                      << late_summary(dead);
  EXPECT_TRUE(dead.empty()) << dead.size() << " dead letters, none expected";
  EXPECT_TRUE(view.violations().empty()) << "output contract violations:\n"
                                         << first_lines(view.violations());
  const auto differences = view.diff(backlog.expected);
  EXPECT_TRUE(differences.empty()) << differences.size() << " differences from brute force:\n"
                                   << first_lines(differences);

  EXPECT_EQ(stop_worker(*worker, 15s), "");
  view_holder.reset();
  std::cerr << "test took " << seconds_text(seconds_since(started)) << "\n";
  if (HasFailure()) {
    std::cerr << worker_report(*worker);
  } else {
    clean_up(cfg);
  }
}

// ---------------------------------------------------------------------------------------

bool is_final_value(const std::string& value) {
  try {
    return nlohmann::json::parse(value).value("final", false);
  } catch (const std::exception&) {
    return false;
  }
}

// The last "now X input partitions and Y tasks" of a worker log: X + Y (0 before any).
int owned_partitions(const std::filesystem::path& log) {
  static const std::regex re(R"(now (\d+) input partitions and (\d+) tasks)");
  std::ifstream in(log);
  int owned = 0;
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, re)) owned = std::stoi(m[1]) + std::stoi(m[2]);
  }
  return owned;
}

TEST(EventTime, ReplayIsReproducible) {
  const auto started = Clock::now();
  WorkerConfig cfg = unique_worker_config("et-replay");
  cfg.grace = "30s";
  cfg.commit_interval = "1s";
  std::cerr << "app id " << cfg.app_id << "\n";
  test::create_topic(cfg.input_topic, kPartitions);
  const auto seed = static_cast<std::uint64_t>(now_ms());
  std::cerr << "seed " << seed << "\n";

  const std::int64_t day = utc_day_start(2);
  const std::int64_t base = day + 10 * kHour;
  const Backlog backlog = make_backlog(event_time_keys(), {0, 1, 2, 3, 4, 5}, {1, 2, 4, 8, 16, 32},
                                       200'000, base, 2 * kHour, 20 * kSecond, 0.01, seed);
  std::cerr << "data: " << describe(backlog) << "\n";
  ASSERT_GT(backlog.late_by_error.count("late: 1m"), 0u) << "the data must hold late ticks";
  ASSERT_GT(backlog.late_by_error.count("late: 1m,1h"), 0u) << "the data must hold late ticks";
  const auto at = produce(cfg.input_topic, backlog);
  send_sentinels_now(cfg, kPartitions, day + kDay + kHour);
  const LateTicks late = late_ticks_of(backlog, at);
  const ExpectedRollups& expected = backlog.expected;

  // ---- run 1: one worker ----
  auto first = start_worker(cfg, 1);
  ASSERT_EQ(wait_for_output_topic(cfg, *first), "");
  std::optional<RollupView> view_holder;
  view_holder.emplace(cfg.output_topic, deadline_in(60s));
  RollupView& view = *view_holder;
  const FinalWait waited1 =
      wait_for_finals(view, expected, cfg, kPartitions, {first.get()}, deadline_in(150s));
  view.poll(1000ms);
  std::cerr << "run 1: " << (waited1.all_final ? "all windows final" : "gave up: " + waited1.why)
            << " after " << seconds_text(seconds_since(started)) << "\n";
  EXPECT_TRUE(waited1.all_final) << view.missing_finals(expected) << " of "
                                 << expected.windows().size() << " windows not final in run 1 ("
                                 << waited1.why << ")\n"
                                 << worker_report(*first);
  EXPECT_TRUE(view.violations().empty()) << "run 1: " << first_lines(view.violations());
  const auto differences = view.diff(expected);
  EXPECT_TRUE(differences.empty())
      << "run 1 differs from the model in " << differences.size() << " windows:\n"
      << first_lines(differences);
  ASSERT_TRUE(wait_for([&] { return input_consumed(cfg, kPartitions); }, deadline_in(60s), *first))
      << "run 1 did not commit all input\n"
      << worker_report(*first);
  const int dlq_partitions = test::wait_for_topic(cfg.dlq_topic, deadline_in(30s));
  {
    const auto dead = read_dead_letters(cfg.dlq_topic, late.size());
    std::size_t counted = 0;
    const auto problems = late_dead_letter_problems(dead, cfg.input_topic, late, &counted);
    std::cerr << "run 1 dead letters: " << dead.size() << ", " << counted << " late, "
              << late.size() << " late in the model\n"
              << late_summary(dead);
    EXPECT_TRUE(problems.empty()) << "run 1 late dead letters differ from the model (" << counted
                                  << " read, " << late.size() << " expected):\n"
                                  << first_lines(problems);
    EXPECT_EQ(dead.size(), counted) << "run 1 dead-lettered records that are not late ticks";
  }
  ASSERT_EQ(stop_worker(*first, 15s), "") << "run 1 must exit 0 on SIGTERM";
  view_holder.reset();

  // Run 1's final values, as bytes.
  std::optional<test::TopicReader> raw_holder;
  raw_holder.emplace(cfg.output_topic, deadline_in(30s), /*read_committed=*/true);
  test::TopicReader& raw = *raw_holder;
  const auto out_mark = test::end_offsets(cfg.output_topic, raw.partitions());
  const auto dlq_mark = test::end_offsets(cfg.dlq_topic, dlq_partitions);
  for (auto idle = Clock::now() + 3s; Clock::now() < idle;) {
    if (raw.poll(500ms) > 0) idle = Clock::now() + 2s;
  }
  std::map<std::string, std::string> first_finals;
  for (const auto& r : raw.records()) {
    if (r.key && r.value && is_final_value(*r.value)) first_finals[*r.key] = *r.value;
  }
  std::cerr << first_finals.size() << " final values in run 1 (" << expected.windows().size()
            << " windows in the model), " << raw.records().size() << " output records\n";

  // ---- reset ----
  {
    const ResetRun reset = run_reset(cfg, "real", /*dry_run=*/false);
    ASSERT_EQ(reset.code, 0) << reset.report;
  }

  // ---- run 2: three workers, one SIGKILLed mid-run and replaced ----
  const auto replay_started = Clock::now();
  std::vector<std::unique_ptr<ChildProcess>> workers;
  auto start_replica = [&](const std::string& name) {
    WorkerConfig c = cfg;
    c.state_dir = cfg.state_dir / ("run2-" + name);
    std::filesystem::create_directories(c.state_dir);
    workers.push_back(start_worker(c, 10 + static_cast<int>(workers.size())));
  };
  for (const char* name : {"a", "b", "c"}) start_replica(name);

  std::map<std::string, std::string> second_finals;
  std::vector<std::string> violations;
  std::size_t folded = raw.records().size();
  std::size_t replay_records = 0;
  auto fold_new = [&] {
    raw.poll(300ms);
    for (; folded < raw.records().size(); ++folded) {
      const auto& r = raw.records()[folded];
      if (r.offset < out_mark[static_cast<std::size_t>(r.partition)]) continue;
      ++replay_records;
      if (!r.key || !r.value) {
        violations.push_back("null key or value at p" + std::to_string(r.partition) + "@" +
                             std::to_string(r.offset));
        continue;
      }
      if (second_finals.contains(*r.key)) {
        violations.push_back("record after the final: " + *r.key + " = " + *r.value);
      }
      if (is_final_value(*r.value)) second_finals[*r.key] = *r.value;
    }
  };
  auto missing_replayed = [&] {
    std::size_t missing = 0;
    for (const auto& [key, counts] : expected.windows())
      missing += second_finals.contains(key) ? 0 : 1;
    return missing;
  };
  auto all_running = [&](std::string& report) {
    for (auto& w : workers) {
      if (w && !w->running()) {
        report = worker_report(*w);
        return false;
      }
    }
    return true;
  };

  // Kill, once the replay has published something and has run for 3 s, the replica that
  // owns the most input partitions and tasks.
  std::string exited;
  const Deadline kill_deadline = deadline_in(60s);
  while ((replay_records == 0 || seconds_since(replay_started) < 3.0) &&
         Clock::now() < kill_deadline && all_running(exited)) {
    fold_new();
  }
  ASSERT_TRUE(exited.empty()) << "a run-2 worker exited by itself:\n" << exited;
  ASSERT_GT(replay_records, 0u) << "run 2 published nothing in 60 s\n"
                                << worker_report(*workers[0]);
  std::size_t victim = 0;
  for (std::size_t i = 1; i < workers.size(); ++i) {
    if (owned_partitions(workers[i]->log_file()) > owned_partitions(workers[victim]->log_file())) {
      victim = i;
    }
  }
  std::cerr << "run 2: SIGKILL replica " << victim << " (owning "
            << owned_partitions(workers[victim]->log_file()) << " input partitions + tasks) after "
            << seconds_text(seconds_since(replay_started)) << ", with " << replay_records
            << " records and " << expected.windows().size() - missing_replayed() << " of "
            << expected.windows().size() << " final values of run 2 published\n";
  workers[victim]->signal(SIGKILL);
  (void)workers[victim]->wait(deadline_in(10s));
  start_replica("replacement");
  std::unique_ptr<ChildProcess> killed = std::move(workers[victim]);
  workers.erase(workers.begin() + static_cast<std::ptrdiff_t>(victim));

  // Until every window is final again and all input committed; gives up early once all
  // input is committed and nothing was published for 45 s (what is missing then never
  // comes). A quiet stretch after the SIGKILL is normal: the killed member's tasks move only
  // after its 10 s session timeout, its open transaction holds read_committed readers until
  // its 10 s transaction timeout, and the new owner restores first.
  const Deadline replay_deadline = deadline_in(180s);
  bool replayed = false;
  std::string gave_up = "timed out";
  std::size_t last_records = replay_records;
  auto last_growth = Clock::now();
  for (;;) {
    fold_new();
    bool consumed = false;
    try {
      consumed = input_consumed(cfg, kPartitions);
    } catch (const std::exception&) {
    }
    if (missing_replayed() == 0 && consumed) {
      replayed = true;
      break;
    }
    if (replay_records != last_records) {
      last_records = replay_records;
      last_growth = Clock::now();
    }
    if (consumed && Clock::now() - last_growth >= 45s) {
      gave_up = "all input committed and no rollup for 45 s";
      break;
    }
    if (!all_running(exited)) {
      gave_up = "a worker exited";
      break;
    }
    if (Clock::now() >= replay_deadline) break;
  }
  for (auto until = Clock::now() + 1500ms; Clock::now() < until;) fold_new();
  std::cerr << "run 2: " << (replayed ? "all windows final" : "gave up: " + gave_up) << " after "
            << seconds_text(seconds_since(replay_started)) << ", " << replay_records
            << " output records\n";
  EXPECT_TRUE(replayed) << missing_replayed() << " of " << expected.windows().size()
                        << " windows not re-published as final\n"
                        << (exited.empty() ? worker_report(*workers.back()) : exited);
  EXPECT_TRUE(violations.empty()) << first_lines(violations);

  // Byte-identical to run 1, window by window, and equal to the model.
  std::vector<std::string> mismatches;
  for (const auto& [key, value] : first_finals) {
    const auto it = second_finals.find(key);
    if (it == second_finals.end()) {
      mismatches.push_back("final in run 1 only: " + key + " = " + value);
    } else if (it->second != value) {
      mismatches.push_back(key + ": run 1 " + value + " | run 2 " + it->second);
    }
  }
  for (const auto& [key, value] : second_finals) {
    if (!first_finals.contains(key))
      mismatches.push_back("final in run 2 only: " + key + " = " + value);
  }
  EXPECT_TRUE(mismatches.empty()) << mismatches.size()
                                  << " windows whose final values differ between the runs:\n"
                                  << first_lines(mismatches);
  std::vector<std::string> model_differences;
  for (const auto& [key, want] : expected.windows()) {
    const auto it = second_finals.find(key);
    if (it == second_finals.end()) continue;  // reported above
    const auto v = nlohmann::json::parse(it->second);
    const Counts got{v.value("count", std::int64_t{-1}), v.value("ticks", std::int64_t{-1})};
    if (got != want) {
      model_differences.push_back(key + ": run 2 count " + std::to_string(got.count) + " ticks " +
                                  std::to_string(got.ticks) + ", model count " +
                                  std::to_string(want.count) + " ticks " +
                                  std::to_string(want.ticks));
    }
  }
  EXPECT_TRUE(model_differences.empty())
      << model_differences.size() << " run-2 final values differ from the model:\n"
      << first_lines(model_differences);

  // Run 2's dead letters: after run 1's, exactly the model's late ticks again.
  {
    const auto all_dead = read_dead_letters(cfg.dlq_topic, 0, 10s);
    std::vector<Record> dead;
    for (const auto& r : all_dead) {
      if (r.offset >= dlq_mark[static_cast<std::size_t>(r.partition)]) dead.push_back(r);
    }
    std::size_t counted = 0;
    const auto problems = late_dead_letter_problems(dead, cfg.input_topic, late, &counted);
    std::cerr << "run 2 dead letters: " << dead.size() << ", " << counted << " late\n"
              << late_summary(dead);
    EXPECT_TRUE(problems.empty()) << "run 2 late dead letters differ from the model (" << counted
                                  << " read, " << late.size() << " expected):\n"
                                  << first_lines(problems);
    EXPECT_EQ(dead.size(), counted) << "run 2 dead-lettered records that are not late ticks";
  }

  std::vector<std::string> stop_failures;
  for (auto& w : workers) {
    if (w->running()) w->signal(SIGTERM);
  }
  for (auto& w : workers) {
    const auto status = w->wait(deadline_in(20s));
    if (!status || !status->clean()) stop_failures.push_back(worker_report(*w));
  }
  EXPECT_TRUE(stop_failures.empty()) << "run-2 workers must exit 0 on SIGTERM:\n"
                                     << first_lines(stop_failures);
  raw_holder.reset();
  std::cerr << "test took " << seconds_text(seconds_since(started)) << "\n";
  if (!HasFailure()) clean_up(cfg);
}

// ---------------------------------------------------------------------------------------

TEST(EventTime, IdlePartitionStillCloses) {
  const auto started = Clock::now();
  WorkerConfig cfg = unique_worker_config("idle");
  cfg.grace = "30s";
  // Long enough to tell a worker that waits for the empty partition from one that ignores
  // it (which would close windows as soon as it read the data, a few seconds in).
  constexpr auto kIdle = 10s;
  cfg.idle_timeout = "10s";
  std::cerr << "app id " << cfg.app_id << "\n";
  test::create_topic(cfg.input_topic, kPartitions);
  const auto seed = static_cast<std::uint64_t>(now_ms());
  std::cerr << "seed " << seed << "\n";

  // Partitions 0-4 only: an hour of ordered data, then their sentinels. Partition 5 never
  // gets a record.
  const std::int64_t day = utc_day_start(2);
  const std::int64_t base = day + 10 * kHour;
  const Backlog backlog = make_backlog(event_time_keys(), {0, 1, 2, 3, 4}, {1, 1, 1, 1, 1}, 10'000,
                                       base, kHour, 20 * kSecond, 0.0, seed);
  std::cerr << "data: " << describe(backlog) << "\n";
  ASSERT_EQ(backlog.lateness.late_ticks(), 0);
  (void)produce(cfg.input_topic, backlog);
  send_sentinels_now(cfg, kPartitions - 1, day + kDay + kHour);

  const auto worker_started = Clock::now();
  auto worker = start_worker(cfg, 1);
  ASSERT_EQ(wait_for_output_topic(cfg, *worker), "");
  std::optional<RollupView> view_holder;
  view_holder.emplace(cfg.output_topic, deadline_in(60s));
  RollupView& view = *view_holder;
  std::optional<double> first_final_at;  // seconds after the worker started
  std::size_t finals_seen = 0;
  const bool all_final = wait_for(
      [&] {
        view.poll(200ms);
        std::size_t finals = 0;
        for (const auto& [key, latest] : view.latest()) finals += latest.final ? 1 : 0;
        if (finals > 0 && !first_final_at) first_final_at = seconds_since(worker_started);
        finals_seen = finals;
        return view.missing_finals(backlog.expected) == 0;
      },
      deadline_in(60s), *worker);
  view.poll(1500ms);
  const auto dead = read_dead_letters(cfg.dlq_topic, 0, 5s);
  std::cerr << (all_final ? "all windows final" : "not all windows final") << " after "
            << seconds_text(seconds_since(worker_started)) << "; first final seen "
            << (first_final_at ? seconds_text(*first_final_at) : std::string("never"))
            << " after the worker started; " << finals_seen << " finals, " << dead.size()
            << " dead letters\n";

  EXPECT_TRUE(all_final) << view.missing_finals(backlog.expected) << " of "
                         << backlog.expected.windows().size()
                         << " windows not final within 60 s although partition 5 has been idle "
                            "for --idle-timeout "
                         << cfg.idle_timeout << "\n"
                         << worker_report(*worker);
  // Until partition 5 has been idle for the timeout, it holds every window open.
  if (first_final_at) {
    EXPECT_GE(*first_final_at, std::chrono::duration<double>(kIdle).count() - 1.0)
        << "a final value was published before input partition 5 (never a tick) could have "
           "been idle for --idle-timeout "
        << cfg.idle_timeout << ": the worker did not wait for it";
  }
  EXPECT_TRUE(view.violations().empty()) << first_lines(view.violations());
  const auto differences = view.diff(backlog.expected);
  EXPECT_TRUE(differences.empty()) << differences.size() << " differences from brute force:\n"
                                   << first_lines(differences);
  EXPECT_TRUE(dead.empty()) << dead.size() << " dead letters, none expected:\n"
                            << late_summary(dead);

  EXPECT_EQ(stop_worker(*worker, 15s), "");
  view_holder.reset();
  std::cerr << "test took " << seconds_text(seconds_since(started)) << "\n";
  if (HasFailure()) {
    std::cerr << worker_report(*worker);
  } else {
    clean_up(cfg);
  }
}

// ---------------------------------------------------------------------------------------

TEST(EventTime, RestartResumesPartitionTime) {
  const auto started = Clock::now();
  WorkerConfig cfg = unique_worker_config("resume");
  cfg.grace = "30s";
  std::cerr << "app id " << cfg.app_id << "\n";
  test::create_topic(cfg.input_topic, kPartitions);

  const std::int64_t day = utc_day_start(2);
  const std::int64_t t = day + 10 * kHour;
  const Key a{"resume-a", "p0"};
  const Key b{"resume-b", "p1"};
  ExpectedRollups expected;
  LatenessModel lateness(kPartitions, kDefaultGrace);
  test::Producer producer;
  auto send = [&](const Key& key, std::int32_t partition, std::int64_t event_ms,
                  std::int64_t count) {
    const std::string value = tick_json(key.name, key.activity, count, std::to_string(event_ms));
    const std::size_t seq = producer.send(cfg.input_topic, {partition, std::nullopt, value, 0});
    const unsigned mask = lateness.next(partition, event_ms);
    expected.add(key.name, key.activity, event_ms, count, mask);
    return std::tuple{seq, value, mask};
  };

  // Run 1 reads one tick at T+5min in each of partitions 0 and 1, commits, stops.
  (void)send(a, 0, t + 5 * kMinute, 2);
  (void)send(b, 1, t + 5 * kMinute, 3);
  producer.flush(deadline_in(30s));
  auto first = start_worker(cfg, 1);
  ASSERT_TRUE(wait_for([&] { return input_consumed(cfg, kPartitions); }, deadline_in(60s), *first))
      << "run 1 did not commit its input\n"
      << worker_report(*first);
  ASSERT_EQ(stop_worker(*first, 15s), "") << "run 1 must exit 0 on SIGTERM";
  std::cerr << "run 1 committed and stopped after " << seconds_text(seconds_since(started)) << "\n";

  // While no worker runs: into partition 0 a tick at T+10s, behind partition 0's time
  // (T+5min) by more than its 1m window's end (T+1min) + 30 s: late for 1m, not for 1h or
  // 1d. Into partition 1 a tick at T+4min50s, 10 s behind partition 1's time: its 1m window
  // [T+4min, T+5min) is open until T+5min30s, so it is on time everywhere.
  const auto [late_seq, late_value, late_mask] = send(a, 0, t + 10 * kSecond, 5);
  const auto [ok_seq, ok_value, ok_mask] = send(b, 1, t + 4 * kMinute + 50 * kSecond, 7);
  producer.flush(deadline_in(30s));
  ASSERT_EQ(late_mask, kLate1m) << "the model disagrees with the test's premise";
  ASSERT_EQ(ok_mask, 0u) << "the model disagrees with the test's premise";
  const test::Delivery late_at = producer.delivery(late_seq);
  (void)ok_seq;
  (void)ok_value;

  // Run 2, same state dir; then a sentinel per input partition closes every window.
  auto second = start_worker(cfg, 2);
  send_sentinels(producer, cfg.input_topic, kPartitions, day + kDay + kHour);
  producer.flush(deadline_in(30s));
  ASSERT_EQ(wait_for_output_topic(cfg, *second), "");
  std::optional<RollupView> view_holder;
  view_holder.emplace(cfg.output_topic, deadline_in(60s));
  RollupView& view = *view_holder;
  const FinalWait waited =
      wait_for_finals(view, expected, cfg, kPartitions, {second.get()}, deadline_in(60s));
  view.poll(1500ms);
  const auto dead = read_dead_letters(cfg.dlq_topic, 1, 15s);
  std::cerr << "run 2: " << (waited.all_final ? "all windows final" : "gave up: " + waited.why)
            << " after " << seconds_text(seconds_since(started)) << "; dead letters:\n"
            << late_summary(dead);

  EXPECT_TRUE(waited.all_final) << view.missing_finals(expected) << " windows not final ("
                                << waited.why << ")\n"
                                << worker_report(*second);
  const std::string a_minute = rollup_key(a.name, a.activity, "1m", t);
  EXPECT_FALSE(view.latest().contains(a_minute))
      << "the tick at T+10s was counted in its 1m window " << a_minute
      << ": partition 0's time (T+5min) was not resumed from the commit";
  const auto differences = view.diff(expected);
  EXPECT_TRUE(differences.empty()) << differences.size() << " differences from the model:\n"
                                   << first_lines(differences);
  EXPECT_TRUE(view.violations().empty()) << first_lines(view.violations());
  LateTicks late;
  late[{late_at.partition, late_at.offset}] = {late_error(late_mask), late_value};
  const auto problems = late_dead_letter_problems(dead, cfg.input_topic, late);
  EXPECT_TRUE(problems.empty()) << first_lines(problems);
  EXPECT_EQ(dead.size(), 1u) << "exactly the one late tick must be dead-lettered";

  EXPECT_EQ(stop_worker(*second, 15s), "");
  view_holder.reset();
  std::cerr << "test took " << seconds_text(seconds_since(started)) << "\n";
  if (HasFailure()) {
    std::cerr << worker_report(*second);
  } else {
    clean_up(cfg);
  }
}

}  // namespace
}  // namespace auditor::it
