// Shared pieces of the robustness tests: several `auditor worker` replicas of one
// application, a paced producer of random ticks (with the brute-force model), what the
// replicas' logs say (assignments, restores), and the closing comparison.
//
// Builds on the harness (tests/support/harness.h): the brute-force model
// (ExpectedRollups), sentinels, RollupView and the output checks come from there.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/harness.h"

namespace auditor::rb {

using it::Counts;
using it::ExpectedRollups;
using it::Key;
using it::RollupView;
using it::WorkerConfig;
using test::ChildProcess;
using test::Clock;
using test::Deadline;
using test::deadline_in;

inline constexpr int kPartitions = 6;  // input topic, hence repartition and changelog topics

// Unique names (prefix "rb-<test>-") and a state root in the build tree; each replica gets
// its own state dir under it.
[[nodiscard]] WorkerConfig robustness_config(const std::string& test_name);

// `n` keys: "proc-<i/10>" x "act-<i%10>", the first few replaced by keys with characters
// that break naive encodings.
[[nodiscard]] std::vector<Key> make_keys(int n);

// Random valid ticks, deterministic for a seed: uniformly random key, explicit round-robin
// input partition, no record key, event time uniform in [from, from + span), random count
// (sometimes absent = 1), event time carried as the record timestamp, an RFC 3339 payload
// field or an epoch-ms payload field.
class TickSource {
 public:
  TickSource(std::vector<Key> keys, std::int64_t from, std::int64_t span, std::uint64_t seed);
  // The next tick; adds it to `expected`.
  test::OutRecord next(ExpectedRollups& expected);

 private:
  std::vector<Key> keys_;
  std::int64_t from_;
  std::int64_t span_;
  std::mt19937_64 rng_;
  std::int64_t now_;
  std::uint64_t n_ = 0;
};

// A producer thread: `chunk` ticks, flush (acks), pause, until `max_ticks` were sent or
// stop() is called. The model of what was sent is in expected() after join().
class PacedProducer {
 public:
  // `expected` is the model to add to (what was sent before, by another producer).
  PacedProducer(std::string topic, TickSource source, int chunk, std::chrono::milliseconds pause,
                std::int64_t max_ticks, ExpectedRollups expected = {});
  ~PacedProducer();
  PacedProducer(const PacedProducer&) = delete;
  PacedProducer& operator=(const PacedProducer&) = delete;

  void start();
  void stop() { stop_ = true; }  // at the next chunk boundary
  // Adds `n` ticks to the next chunk (sent at once, on top of max_ticks).
  void burst(std::int64_t n) { burst_ += n; }
  // Waits for the thread; rethrows its error.
  void join();
  [[nodiscard]] bool done() const { return done_; }
  [[nodiscard]] std::int64_t acknowledged() const { return acknowledged_; }
  [[nodiscard]] const ExpectedRollups& expected() const { return expected_; }

 private:
  void run();
  std::string topic_;
  TickSource source_;
  int chunk_;
  std::chrono::milliseconds pause_;
  std::int64_t max_ticks_;
  ExpectedRollups expected_;
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> burst_{0};
  std::atomic<bool> done_{false};
  std::atomic<std::int64_t> acknowledged_{0};
  std::exception_ptr error_;
  std::thread thread_;
};

// One worker replica: a name, its state dir and (optional) static instance id, restarted
// any number of times; run N logs to <work>/logs/<app id>-<name>-run<N>.log.
class Replica {
 public:
  Replica(const WorkerConfig& config, std::string name,
          std::optional<std::string> instance_id = std::nullopt,
          std::optional<std::filesystem::path> state_dir = std::nullopt);

  void start();
  // Runs later starts through `program args... <auditor> <worker args>` (e.g. `ip netns
  // exec NS`): the program must exec the command in its own process.
  void set_launcher(std::filesystem::path program, std::vector<std::string> args) {
    launcher_ = std::move(program);
    launcher_args_ = std::move(args);
  }
  [[nodiscard]] bool running();
  [[nodiscard]] ChildProcess& process() { return *process_; }
  [[nodiscard]] int runs() const { return runs_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const std::filesystem::path& state_dir() const { return state_dir_; }
  [[nodiscard]] std::filesystem::path log() const { return log(runs_); }  // current run's
  [[nodiscard]] std::filesystem::path log(int run) const;

  void send(int sig);    // to the current run
  void kill_and_reap();  // SIGKILL, then wait for it
  // SIGTERM; a failure description, or "" after a clean exit within `limit`.
  [[nodiscard]] std::string stop(std::chrono::milliseconds limit);
  [[nodiscard]] std::string report();  // fate and log tail of the current run

 private:
  WorkerConfig config_;
  std::string name_;
  std::optional<std::string> instance_id_;
  std::filesystem::path state_dir_;
  int runs_ = 0;
  std::unique_ptr<ChildProcess> process_;
  std::optional<std::filesystem::path> launcher_;
  std::vector<std::string> launcher_args_;
};

// --- What a run's log says ------------------------------------------------------------

[[nodiscard]] std::vector<std::string> log_lines(const std::filesystem::path& log);
[[nodiscard]] std::size_t count_lines(const std::filesystem::path& log, const std::string& text);

// Task sets: every task of an application with `partitions` partitions, and "{0,3,5}".
[[nodiscard]] std::set<int> all_tasks(int partitions = kPartitions);
[[nodiscard]] std::string show(const std::set<int>& tasks);

// Tasks (repartition partitions) assigned to the run and not revoked since.
[[nodiscard]] std::set<int> assigned_tasks(const std::filesystem::path& log);
// Of those, the ones whose restore finished ("task N running from repartition offset").
[[nodiscard]] std::set<int> running_tasks(const std::filesystem::path& log);

// The last "now X input partitions and Y tasks" line (logged at the end of every
// rebalance): {X, Y}, or nullopt before the first.
struct Assignment {
  int input_partitions = 0;
  int tasks = 0;
};
[[nodiscard]] std::optional<Assignment> latest_assignment(const std::filesystem::path& log);

struct RestoreEvent {
  int task = -1;
  bool local_store_kept = false;
  std::int64_t from_offset = 0;
  std::int64_t records = -1;  // -1: not finished (no "restored" line)
  double seconds = 0;
  double started_at = 0;  // log time, seconds since the day began (UTC)
  double finished_at = 0;
};
// Every restore of the run, in log order.
[[nodiscard]] std::vector<RestoreEvent> restore_events(const std::filesystem::path& log);

struct RestoreSummary {
  int tasks = 0;
  int kept = 0;  // with the local store kept
  std::int64_t records = 0;
  double max_task_seconds = 0;
  double wall_seconds = 0;  // first "restoring" to last "restored"
  bool all_finished = true;
};
[[nodiscard]] RestoreSummary summarize(const std::vector<RestoreEvent>& events);
[[nodiscard]] std::string describe(const RestoreSummary& s);

// --- What a run's /metrics says -------------------------------------------------------

// The HTTP port the run logged ("listening on port N"; the replicas take a free one), or
// nullopt before that line.
[[nodiscard]] std::optional<int> http_port(const std::filesystem::path& log);

// What a replica owns in each stage, from the gauges of its /metrics (the worker's status
// snapshot, at most a second old).
struct Shares {
  int input_partitions = 0;  // stage 1: auditor_assigned_input_partitions
  int tasks = 0;             // stage 2: auditor_assigned_tasks (restoring or running)
  int restoring = 0;         // auditor_tasks{state="restoring"}
  int running = 0;           // auditor_tasks{state="running"}
  int standby = 0;           // auditor_tasks{state="standby"}
};
// "2+2" (input partitions + tasks), then the restoring and standby tasks if there are any:
// "2+3 (1 restoring, 1 standby)".
[[nodiscard]] std::string describe(const Shares& s);

// One GET /metrics of the replica's current run (1 s to connect, 2 s to answer). nullopt,
// with the reason in `why`, before the port is logged, when the request fails or when one
// of the gauges is missing.
[[nodiscard]] std::optional<Shares> read_shares(Replica& replica, std::string* why = nullptr);

// --- Waiting and the closing comparison ------------------------------------------------

// Polls `done` every 250 ms until it holds (""), the deadline passes ("timed out ...") or
// a replica in `must_live` exits (its report). Exceptions from `done` count as "not yet"
// (a broker call that timed out while a transaction was pending).
[[nodiscard]] std::string wait_until(const std::function<bool()>& done, Deadline deadline,
                                     const std::vector<Replica*>& must_live,
                                     const std::string& what);

// SIGTERM to all of them at once, then waits; one line per replica that did not exit 0
// within `limit`.
[[nodiscard]] std::vector<std::string> stop_all(const std::vector<Replica*>& replicas,
                                                std::chrono::milliseconds limit);

// True once the group committed every input offset up to the end.
[[nodiscard]] bool input_consumed(const WorkerConfig& config);

// The application's changelog topic and its end offsets (one per partition).
[[nodiscard]] std::string changelog_topic(const WorkerConfig& config);
[[nodiscard]] std::vector<std::int64_t> changelog_ends(const WorkerConfig& config);

// True once the input is consumed and the changelog's end offsets did not move for
// `quiet` (several commit intervals): stage 2 has then applied everything to the stores.
class QuietChangelog {
 public:
  QuietChangelog(const WorkerConfig& config, std::chrono::milliseconds quiet)
      : config_(config), quiet_(quiet) {}
  bool operator()();

 private:
  const WorkerConfig& config_;
  std::chrono::milliseconds quiet_;
  std::vector<std::int64_t> last_;
  Clock::time_point since_ = Clock::now();
};

struct Verdict {
  std::size_t missing_finals = 0;
  std::vector<std::string> violations;
  std::vector<std::string> differences;
  std::size_t dead_letters = 0;
  std::string first_dead_letter;
  std::string wait_failure;
  [[nodiscard]] bool ok() const {
    return missing_finals == 0 && violations.empty() && differences.empty() && dead_letters == 0 &&
           wait_failure.empty();
  }
  [[nodiscard]] std::string describe() const;
};

// After the data: sends one sentinel into each input partition (event time two days after
// the data; every window closes once all of them are read), waits until every expected
// window has a final value, and compares everything with the brute-force model; also reads
// the dead-letter topic (all ticks are valid and none is late in its own partition, so it
// must stay empty). `input_partitions`: of the application's input topic (one sentinel into
// each). Counts the missing finals only after a poll that brought nothing new, so millions
// of windows stay cheap.
[[nodiscard]] Verdict close_windows_and_compare(const WorkerConfig& config, RollupView& view,
                                                const ExpectedRollups& expected,
                                                std::int64_t data_day,
                                                const std::vector<Replica*>& must_live,
                                                std::chrono::seconds limit,
                                                int input_partitions = kPartitions);

// Reads the whole rollup topic (read_committed) and lists every window whose count or ticks
// went down from one record to the next. Ticks only ever add, so under exactly-once each
// window's committed values never decrease; a stale value committed by a zombie after the
// new owner's newer one would.
[[nodiscard]] std::vector<std::string> decreasing_updates(const std::string& output_topic,
                                                          std::size_t* records_read = nullptr);

// Declared right after the test's config: on destruction, after every replica, producer
// and reader of the test is gone, deletes the test's topics and state dirs if the test
// passed (a failing test keeps them for inspection).
class CleanUpOnSuccess {
 public:
  explicit CleanUpOnSuccess(const WorkerConfig& config) : config_(config) {}
  ~CleanUpOnSuccess();
  CleanUpOnSuccess(const CleanUpOnSuccess&) = delete;
  CleanUpOnSuccess& operator=(const CleanUpOnSuccess&) = delete;

 private:
  const WorkerConfig& config_;
};

[[nodiscard]] double seconds_since(Clock::time_point t);

// What every robustness test starts with: unique names (the app id is logged), the input
// topic, a seed (logged, so a failure can be replayed) and the day its ticks fall on. The
// topics are deleted at the end if the test passed.
class Scenario {
 public:
  // `emit`: the workers' --emit mode.
  explicit Scenario(const std::string& test_name, const std::string& emit = "updates");

  const Clock::time_point started = Clock::now();
  WorkerConfig cfg;
  std::int64_t day = 0;
  std::uint64_t seed = 0;

 private:
  CleanUpOnSuccess clean_up_{cfg};  // declared after cfg, which it refers to
};

}  // namespace auditor::rb
