// The longest output gap of a moved task, while scaling out and in with tasks that hold
// many window keys.
//
// Two input partitions, hence two aggregate tasks. A bulk load gives each task about
// $AUDITOR_GAP_WINDOW_KEYS window keys (default 150,000: one tick of a new key creates its
// 1m, 1h and 1d windows, so a third as many keys), all in one minute of event time, so
// every window stays open (grace 1h: nothing closes before the closing sentinels). Then a
// steady trickle (20 ticks/s per task over a few hot keys, same minute) makes every task
// publish rollups at every commit. Replica a runs alone until both tasks run and the bulk
// is consumed and published; b joins (scale-out: a task moves a->b and b restores its
// store from the changelog); then b leaves with SIGTERM (scale-in: the task moves back).
//
// Per phase and moved task, the longest gap between consecutive rollups of that task on
// the output topic, from 3 s before the join (or the SIGTERM) to 5 s after the task runs
// again at its new owner, must stay below $AUDITOR_GAP_BOUND_S (default 20 s, 10 s with
// standby copies); the window's
// edges count as records, so a task that never resumed shows the whole window. The final
// rollups must equal the brute-force count.
//
// $AUDITOR_GAP_WORKER_ARGS (space-separated) is appended to every replica's command line;
// the second test also passes `--standby-tasks all`.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tests/robustness/replicas.h"

namespace auditor::rb {
namespace {

using namespace std::chrono_literals;

constexpr int kInputPartitions = 2;  // input topic; the worker gives its internal topics as many
constexpr int kHotKeysPerTask = 4;
constexpr int kTicksPerTaskPerRound = 2;  // every 100 ms: 20 ticks/s per task
constexpr auto kRound = 100ms;
constexpr auto kBeforeMove = 3s;   // the measured window starts this long before the join/SIGTERM
constexpr auto kAfterMove = 5s;    // and ends this long after the moved task runs again
constexpr auto kLateCommits = 2s;  // read on for rollups stamped before the end, committed after

std::int64_t env_int(const char* name, std::int64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::stoll(v) : fallback;
}

double env_double(const char* name, double fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::stod(v) : fallback;
}

std::vector<std::string> env_words(const char* name) {
  std::vector<std::string> out;
  if (const char* v = std::getenv(name); v != nullptr) {
    std::istringstream in(v);
    out.assign(std::istream_iterator<std::string>(in), std::istream_iterator<std::string>());
  }
  return out;
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", s);
  return buf;
}

// Every record of the output topic, read without a group from the beginning
// (read_committed), reduced to its task and timestamp; the records themselves are not kept,
// so a million window keys cost little memory.
//
// The timestamp is the record's own (CreateTime): the worker sets none, so librdkafka stamps
// each rollup with the wall clock when the worker enqueues it, i.e. when the owner seals the
// commit that publishes it. It says when the owner produced the rollup whatever the test
// was doing meanwhile (waiting for a SIGTERM'd replica, reading logs); the replicas and the
// test share one machine, hence one clock. A rollup becomes readable only once its
// transaction commits, shortly after that stamp.
class OutputTimes {
 public:
  // `hot`: rollup key -> task for the keys the trickle updates (looked up before parsing).
  OutputTimes(std::string topic, std::unordered_map<std::string, int> hot, Deadline deadline)
      : topic_(std::move(topic)), hot_(std::move(hot)), times_(kInputPartitions) {
    const int partitions = test::wait_for_topic(topic_, deadline);
    rk_ = test::make_client(RD_KAFKA_CONSUMER,
                            {{"group.id", "rb-gap-reader-" + test::unique_suffix()},
                             {"enable.auto.commit", "false"},
                             {"enable.auto.offset.store", "false"},
                             {"isolation.level", "read_committed"}});
    test::PartitionListPtr list(rd_kafka_topic_partition_list_new(partitions));
    for (int p = 0; p < partitions; ++p) {
      rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), p)->offset =
          RD_KAFKA_OFFSET_BEGINNING;
    }
    if (auto err = rd_kafka_assign(rk_.get(), list.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error("assign " + topic_ + ": " + rd_kafka_err2str(err));
    }
  }

  // Reads what arrives within `wait` (returns early once the local queue is drained).
  void poll(std::chrono::milliseconds wait) {
    const Deadline deadline = Clock::now() + wait;
    bool got = false;
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      test::MessagePtr m(
          rd_kafka_consumer_poll(rk_.get(), got ? 0 : static_cast<int>(std::max<long>(0, left))));
      if (!m) {
        if (got || Clock::now() >= deadline) return;
        continue;
      }
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          std::cerr << "consume " << topic_ << ": " << rd_kafka_message_errstr(m.get()) << "\n";
        }
        continue;
      }
      got = true;
      add(*m);
    }
  }

  [[nodiscard]] std::int64_t bulk_records() const { return bulk_records_; }
  [[nodiscard]] std::int64_t hot_records(int task) const {
    return hot_records_.at(static_cast<std::size_t>(task));
  }

  // The timestamps of `task`'s rollups in [from, to], sorted.
  [[nodiscard]] std::vector<std::int64_t> times(int task, std::int64_t from,
                                                std::int64_t to) const {
    std::vector<std::int64_t> out;
    for (std::int64_t t : times_.at(static_cast<std::size_t>(task))) {
      if (t >= from && t <= to) out.push_back(t);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  void add(const rd_kafka_message_t& m) {
    if (m.key == nullptr) return;  // RollupView reports those at the end
    const std::string key(static_cast<const char*>(m.key), m.key_len);
    int task = -1;
    if (const auto found = hot_.find(key); found != hot_.end()) {
      task = found->second;
      ++hot_records_[static_cast<std::size_t>(task)];
    } else {
      try {
        const auto k = nlohmann::json::parse(key);
        task = it::repartition_partition(
            {k.at("process_name").get<std::string>(), k.at("process_activity").get<std::string>()},
            kInputPartitions);
      } catch (const std::exception&) {
        return;  // RollupView reports it
      }
      ++bulk_records_;
    }
    rd_kafka_timestamp_type_t type;
    times_[static_cast<std::size_t>(task)].push_back(rd_kafka_message_timestamp(&m, &type));
  }

  std::string topic_;
  std::unordered_map<std::string, int> hot_;
  test::KafkaPtr rk_;
  std::vector<std::vector<std::int64_t>> times_;  // per task
  std::vector<std::int64_t> hot_records_ = std::vector<std::int64_t>(kInputPartitions, 0);
  std::int64_t bulk_records_ = 0;
};

// The longest stretch in [from, to] without a rollup of `times` (sorted, all in [from, to]);
// the window's edges count as rollups.
double longest_gap_s(const std::vector<std::int64_t>& times, std::int64_t from, std::int64_t to) {
  std::int64_t longest = 0;
  std::int64_t previous = from;
  for (std::int64_t t : times) {
    longest = std::max(longest, t - previous);
    previous = t;
  }
  longest = std::max(longest, to - previous);
  return static_cast<double>(longest) / 1000.0;
}

// A thread that sends kTicksPerTaskPerRound ticks to each task's hot keys every kRound,
// alternating the input partitions, with event times in [minute, minute + 1 min).
class Trickle {
 public:
  Trickle(std::string topic, std::vector<std::vector<Key>> hot, std::int64_t minute,
          ExpectedRollups& expected)
      : topic_(std::move(topic)), hot_(std::move(hot)), minute_(minute), expected_(expected) {}
  ~Trickle() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  Trickle(const Trickle&) = delete;
  Trickle& operator=(const Trickle&) = delete;

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  // Stops after the current round; rethrows the thread's error. `expected` is complete then.
  void stop_and_join() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (error_) std::rethrow_exception(error_);
  }
  [[nodiscard]] std::int64_t acknowledged() const { return acknowledged_; }

 private:
  void run() {
    try {
      test::Producer producer;
      std::int64_t n = 0;  // ticks sent
      auto next = Clock::now();
      for (std::int64_t round = 0; !stop_; ++round) {
        for (const auto& keys : hot_) {
          for (int i = 0; i < kTicksPerTaskPerRound; ++i, ++n) {
            // Every hot key in turn, each into both input partitions over the rounds.
            const auto k = static_cast<std::size_t>(round * kTicksPerTaskPerRound + i);
            const Key& key = keys[k % keys.size()];
            const auto partition =
                static_cast<std::int32_t>((k / keys.size() + k) % kInputPartitions);
            const std::int64_t event = minute_ + (n * 7919) % it::kMinute;
            const std::int64_t count = 1 + n % 3;
            producer.send(topic_,
                          {partition, std::nullopt,
                           it::tick_json(key.name, key.activity, count, std::to_string(event)), 0});
            expected_.add(key.name, key.activity, event, count);
          }
        }
        producer.flush(deadline_in(30s));
        acknowledged_ = n;
        next += kRound;
        std::this_thread::sleep_until(next);
      }
    } catch (...) {
      error_ = std::current_exception();
    }
  }

  std::string topic_;
  std::vector<std::vector<Key>> hot_;
  std::int64_t minute_;
  ExpectedRollups& expected_;
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> acknowledged_{0};
  std::exception_ptr error_;
  std::thread thread_;
};

// "restore R records in S s" of the last restore of `task` in `log`.
std::string restore_text(const std::filesystem::path& log, int task) {
  const auto events = restore_events(log);
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    if (it->task != task) continue;
    if (it->records < 0) return "restore unfinished";
    return "restore " + std::to_string(it->records) + " records in " + seconds_text(it->seconds) +
           " s" + (it->local_store_kept ? ", local store kept" : "");
  }
  return "no restore logged";
}

void run_scenario(const std::string& test_name, std::vector<std::string> extra_args,
                  double default_bound_s) {
  const auto started = Clock::now();
  const std::int64_t window_keys = env_int("AUDITOR_GAP_WINDOW_KEYS", 150'000);
  const double bound_s = env_double("AUDITOR_GAP_BOUND_S", default_bound_s);
  const std::int64_t keys_per_task = (window_keys + 2) / 3;
  // Deadlines that grow with the state to restore and publish (about 6 s per million keys
  // on the project's machine; generous).
  const auto slack = std::chrono::seconds(window_keys / 5'000);

  WorkerConfig cfg = robustness_config(test_name);
  const CleanUpOnSuccess clean_up(cfg);
  cfg.extra_args = std::move(extra_args);
  std::string args_text;
  for (const auto& a : cfg.extra_args) args_text += " " + a;
  std::cerr << "app id " << cfg.app_id << "; " << window_keys << " window keys per task; bound "
            << bound_s << " s; extra worker args:" << (args_text.empty() ? " none" : args_text)
            << "\n";
  test::create_topic(cfg.input_topic, kInputPartitions);
  const std::int64_t day = it::utc_day_start(3);
  const std::int64_t minute = day + 10 * it::kHour;  // every tick's event time is in this minute

  // Keys, by task: the bulk's (one tick each) and the trickle's hot ones.
  std::vector<std::vector<Key>> bulk(kInputPartitions);
  for (std::int64_t i = 0;; ++i) {
    Key key{"bulk-" + std::to_string(i), "act-" + std::to_string(i % 7)};
    auto& mine = bulk[static_cast<std::size_t>(it::repartition_partition(key, kInputPartitions))];
    if (static_cast<std::int64_t>(mine.size()) < keys_per_task) mine.push_back(std::move(key));
    if (std::all_of(bulk.begin(), bulk.end(), [&](const auto& keys) {
          return static_cast<std::int64_t>(keys.size()) == keys_per_task;
        })) {
      break;
    }
  }
  std::vector<std::vector<Key>> hot(kInputPartitions);
  std::unordered_map<std::string, int> hot_rollup_keys;
  for (int i = 0; hot_rollup_keys.size() < kInputPartitions * kHotKeysPerTask * 3u; ++i) {
    Key key{"hot-" + std::to_string(i), "tick"};
    const int task = it::repartition_partition(key, kInputPartitions);
    auto& mine = hot[static_cast<std::size_t>(task)];
    if (static_cast<int>(mine.size()) == kHotKeysPerTask) continue;
    for (const auto& w : it::kWindows) {
      const std::int64_t start = minute / w.ms * w.ms;
      hot_rollup_keys.emplace(it::rollup_key(key.name, key.activity, w.name, start), task);
    }
    mine.push_back(std::move(key));
  }

  Replica a(cfg, "a");
  Replica b(cfg, "b");
  a.start();

  // The bulk: one tick per key, event times spread over the minute, round-robin partitions.
  ExpectedRollups expected;
  std::vector<std::int64_t> bulk_ends;
  {
    const auto since = Clock::now();
    test::Producer producer;
    std::int64_t n = 0;
    for (const auto& keys : bulk) {
      for (const Key& key : keys) {
        const std::int64_t event = minute + (n * 104'729) % it::kMinute;
        producer.send(
            cfg.input_topic,
            {static_cast<std::int32_t>(n % kInputPartitions), std::nullopt,
             it::tick_json(key.name, key.activity, std::nullopt, std::to_string(event)), 0});
        expected.add(key.name, key.activity, event, 1);
        ++n;
      }
    }
    producer.flush(deadline_in(120s));
    bulk_ends = test::end_offsets(cfg.input_topic, kInputPartitions);
    std::cerr << "bulk: " << n << " ticks (" << 3 * n << " window keys) produced in "
              << seconds_text(seconds_since(since)) << " s\n";
  }
  const std::int64_t bulk_window_keys = 3 * kInputPartitions * keys_per_task;

  Trickle trickle(cfg.input_topic, hot, minute, expected);
  trickle.start();
  OutputTimes out(cfg.output_topic, hot_rollup_keys, deadline_in(60s));
  auto poll_for = [&](std::chrono::milliseconds d) {
    const auto until = Clock::now() + d;
    while (Clock::now() < until) out.poll(200ms);
  };
  auto note = [&](const std::string& what) {
    std::cerr << "[moved-task] " << seconds_text(seconds_since(started)) << " s: " << what << "; "
              << trickle.acknowledged() << " trickle ticks, " << out.bulk_records()
              << " bulk rollups read\n";
  };

  // 1. a alone: both tasks run, the bulk is consumed and its rollups are out, and the
  //    trickle's rollups of every task flow.
  ASSERT_EQ(wait_until(
                [&] {
                  out.poll(200ms);
                  if (running_tasks(a.log()) != all_tasks(kInputPartitions)) return false;
                  if (out.bulk_records() < bulk_window_keys) return false;
                  for (int t = 0; t < kInputPartitions; ++t) {
                    if (out.hot_records(t) == 0) return false;
                  }
                  const auto committed =
                      test::committed_offsets(cfg.app_id, cfg.input_topic, kInputPartitions);
                  for (int p = 0; p < kInputPartitions; ++p) {
                    if (committed[p] < bulk_ends[p]) return false;
                  }
                  return true;
                },
                deadline_in(90s + slack), {&a},
                "a alone: both tasks running, the bulk consumed and published"),
            "");
  note("a runs both tasks, bulk published");
  poll_for(2s);

  // One move: from `kBeforeMove` before `act` to `kAfterMove` after `settled` holds.
  struct Phase {
    std::string failure;  // the wait for the moved tasks to run again
    std::set<int> moved;
    double longest = 0;
    std::string lines;
  };
  auto measure = [&](const std::string& name, const std::string& from_to,
                     const std::function<void()>& act, const std::function<bool()>& settled,
                     const std::function<std::set<int>()>& moved_tasks, Replica& new_owner,
                     const std::vector<Replica*>& must_live) -> Phase {
    Phase phase;
    const std::int64_t from = it::now_ms();
    poll_for(kBeforeMove);
    const auto acted = Clock::now();
    act();
    phase.failure = wait_until(
        [&] {
          out.poll(200ms);
          return settled();
        },
        deadline_in(60s + slack), must_live, name + ": the moved tasks running again");
    if (!phase.failure.empty()) return phase;
    const double settled_after = seconds_since(acted);
    poll_for(kAfterMove);
    const std::int64_t to = it::now_ms();
    poll_for(kLateCommits);
    phase.moved = moved_tasks();
    EXPECT_FALSE(phase.moved.empty()) << name << ": no task moved";
    std::string others;
    for (int t : all_tasks(kInputPartitions)) {
      const double gap = longest_gap_s(out.times(t, from, to), from, to);
      if (phase.moved.contains(t)) {
        phase.longest = std::max(phase.longest, gap);
        phase.lines += name + ": task " + std::to_string(t) + " moved " + from_to +
                       ", longest gap " + seconds_text(gap) + " s (" +
                       restore_text(new_owner.log(), t) + ")\n";
      } else {
        others +=
            " task " + std::to_string(t) + " stayed, longest gap " + seconds_text(gap) + " s;";
      }
    }
    phase.lines += "  (" + name + ": moved tasks running " + seconds_text(settled_after) +
                   " s after the " + (name == "scale-out" ? "join" : "SIGTERM") + "; " +
                   seconds_text(static_cast<double>(to - from) / 1000.0) + " s measured;" + others +
                   ")\n";
    std::cerr << phase.lines;
    return phase;
  };

  // 2. Scale-out: b joins and takes a task over.
  const Phase out_phase = measure(
      "scale-out", "a->b", [&] { b.start(); },
      [&] {
        std::set<int> owned = running_tasks(a.log());
        const std::set<int> at_b = running_tasks(b.log());
        owned.insert(at_b.begin(), at_b.end());
        return !at_b.empty() && owned == all_tasks(kInputPartitions);
      },
      [&] { return running_tasks(b.log()); }, b, {&a, &b});
  ASSERT_EQ(out_phase.failure, "");
  note("scaled out: a " + show(running_tasks(a.log())) + ", b " + show(running_tasks(b.log())));

  // 3. Scale-in: b leaves with SIGTERM, a takes its tasks back.
  const std::set<int> at_b = running_tasks(b.log());
  const Phase in_phase = measure(
      "scale-in", "b->a", [&] { EXPECT_EQ(b.stop(30s), "") << "b must exit 0 on SIGTERM"; },
      [&] { return running_tasks(a.log()) == all_tasks(kInputPartitions); }, [&] { return at_b; },
      a, {&a});
  ASSERT_EQ(in_phase.failure, "");
  note("scaled in: a " + show(running_tasks(a.log())));

  // 4. The rollups equal the brute-force count.
  trickle.stop_and_join();
  ASSERT_EQ(wait_until(
                [&] {
                  out.poll(200ms);
                  return it::input_consumed(cfg, kInputPartitions);
                },
                deadline_in(60s), {&a}, "a: all input committed"),
            "");
  RollupView view(cfg.output_topic, deadline_in(30s));
  const Verdict verdict =
      close_windows_and_compare(cfg, view, expected, day, {&a}, 120s + 2 * slack, kInputPartitions);
  note("compared " + std::to_string(expected.windows().size()) + " windows");
  EXPECT_TRUE(verdict.ok()) << verdict.describe();
  EXPECT_EQ(a.stop(30s), "");

  std::cerr << out_phase.lines << in_phase.lines;
  EXPECT_LT(out_phase.longest, bound_s)
      << "scale-out: a moved task published nothing for " << out_phase.longest << " s";
  EXPECT_LT(in_phase.longest, bound_s)
      << "scale-in: a moved task published nothing for " << in_phase.longest << " s";
  std::cerr << "[moved-task] " << seconds_text(seconds_since(started)) << " s in all\n";
}

TEST(MovedTask, LongestOutputGapWhileScalingOutAndIn) {
  run_scenario("gap", env_words("AUDITOR_GAP_WORKER_ARGS"), 20.0);
}

TEST(MovedTask, LongestOutputGapWithStandbyTasksAll) {
  std::vector<std::string> args = env_words("AUDITOR_GAP_WORKER_ARGS");
  if (std::find(args.begin(), args.end(), "--standby-tasks") == args.end()) {
    args.insert(args.end(), {"--standby-tasks", "all"});
  }
  // The copy is warm: the gap is the rebalance and a commit, not a restore.
  run_scenario("gap-standby", std::move(args), 10.0);
}

}  // namespace
}  // namespace auditor::rb
