// Shared pieces of the broker tests that run `auditor worker`: the brute-force model of the
// expected rollups, tick payloads, a view of the output topic, the worker process, and the
// wait loops. Used by tests/integration and tests/robustness (through replicas.h); built
// once, into the auditor_test_harness library (tests/support/CMakeLists.txt).
//
// The model is written independently of topology/ (own window arithmetic, own RFC 3339
// formatting, nlohmann for the canonical key) so a bug there cannot hide in both.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/kafka.h"

namespace auditor::it {

using test::ChildProcess;
using test::Clock;
using test::Deadline;
using test::deadline_in;
using test::Record;

inline constexpr std::int64_t kSecond = 1000;
inline constexpr std::int64_t kMinute = 60 * kSecond;
inline constexpr std::int64_t kHour = 60 * kMinute;
inline constexpr std::int64_t kDay = 24 * kHour;

// The windows the tests run with (--windows 1m,1h,1d), in the order of the late masks.
struct WindowSize {
  std::int64_t ms;
  const char* name;
};
inline constexpr WindowSize kWindows[] = {{kMinute, "1m"}, {kHour, "1h"}, {kDay, "1d"}};
inline constexpr unsigned kLate1m = 1;
inline constexpr unsigned kLate1h = 2;
inline constexpr unsigned kLate1d = 4;

// Canonical UTC text: "2026-11-22T09:47:00Z", with ".250" before the Z when the
// milliseconds are not zero.
[[nodiscard]] std::string utc_text(std::int64_t ms);

// RFC 3339 with a numeric offset ("+05:30") and `fraction_digits` (0..9) fraction digits;
// digits past the milliseconds are filled with `extra` (the worker must truncate them).
[[nodiscard]] std::string rfc3339_with_offset(std::int64_t ms, int offset_minutes,
                                              int fraction_digits, char extra = '7');

[[nodiscard]] std::int64_t now_ms();  // wall clock, epoch ms

// Midnight UTC of the day `days_back` days before today. Test data lives in the past so
// the broker accepts its record timestamps (Kafka 4 rejects timestamps more than an hour
// ahead) and keeps it (7-day retention).
[[nodiscard]] std::int64_t utc_day_start(int days_back);

// {"process_activity":..,"process_name":..,"window":..,"window_start":..}: sorted keys, no
// spaces, the contract's canonical rollup key.
[[nodiscard]] std::string rollup_key(const std::string& name, const std::string& activity,
                                     const std::string& window, std::int64_t start_ms);

// A valid tick's JSON. `timestamp` is spliced in raw (a JSON string or number) when set;
// `count` is omitted when nullopt (the worker counts 1).
[[nodiscard]] std::string tick_json(const std::string& name, const std::string& activity,
                                    std::optional<std::int64_t> count,
                                    const std::optional<std::string>& timestamp = std::nullopt);

struct Counts {
  std::int64_t count = 0;
  std::int64_t ticks = 0;
  bool operator==(const Counts&) const = default;
};

// The brute-force count: every valid tick added, per window, minus the window sizes the
// tick is known to be late for.
class ExpectedRollups {
 public:
  void add(const std::string& name, const std::string& activity, std::int64_t event_ms,
           std::int64_t count, unsigned late_mask = 0);
  [[nodiscard]] const std::map<std::string, Counts>& windows() const { return windows_; }
  [[nodiscard]] std::int64_t ticks() const { return ticks_; }
  // The window_end text each window's value must carry.
  [[nodiscard]] const std::string& window_end(const std::string& key) const {
    return ends_.at(key);
  }

 private:
  std::map<std::string, Counts> windows_;
  std::map<std::string, std::string> ends_;
  std::int64_t ticks_ = 0;
};

// Sentinels are ticks on the key ("~sentinel", "input-<p>"), one per input partition,
// produced last into their partition with an event time past every window of the data:
// windows close when the minimum over all input partitions of their partition times
// reaches window_end + grace, so every input partition needs one. Their own windows are
// excluded from comparisons.
struct Key {
  std::string name;
  std::string activity;
};
[[nodiscard]] bool is_sentinel(const std::string& process_name);
// The repartition partition (stage-2 task) of a key, with topology's own partitioner.
[[nodiscard]] int repartition_partition(const Key& key, int partitions);

// Keys with the characters that break naive encodings: '|' (two keys whose "name|activity"
// concatenations are equal), quotes, backslashes, control characters, NUL, non-ASCII, and
// names of exactly 256 bytes (the limit; 128 two-byte characters for one of them).
[[nodiscard]] std::vector<Key> tricky_keys();

// `n` valid ticks over `keys`, with NULL keys, explicitly round-robin over `partitions`
// (so every key appears in every partition), event times uniform in [from, from + span),
// random counts (some absent = 1), and the event time carried four ways: record timestamp
// only, payload RFC 3339 "Z", payload RFC 3339 with an offset and sub-millisecond digits,
// payload epoch ms. Payload-timed ticks get the current time as record timestamp, which
// would land in other windows if the worker used it. Adds each tick to `expected`.
[[nodiscard]] std::vector<test::OutRecord> random_ticks(const std::vector<Key>& keys, int n,
                                                        int partitions, std::int64_t from,
                                                        std::int64_t span, std::uint64_t seed,
                                                        ExpectedRollups& expected);

// One sentinel tick into each input partition 0..input_partitions-1 (explicit partition
// numbers), with payload event time `event_ms`. Produce them after the data: each one
// pushes its own partition's time to `event_ms`, and once all of them are read every
// window ending at or before event_ms - grace is final.
void send_sentinels(test::Producer& producer, const std::string& topic, int input_partitions,
                    std::int64_t event_ms);

// The contract's per-partition lateness rule, written independently of topology/: fed the
// valid ticks of each input partition in partition order (partitions may be interleaved in
// any way), it returns each tick's late mask (bit i = kWindows[i]): a tick with event time t
// is late for size S when its partition's time before it (the largest event time of the
// partition's earlier valid ticks) is >= window_end_S(t) + grace. A partition's first tick
// is never late.
class LatenessModel {
 public:
  LatenessModel(int input_partitions, std::int64_t grace_ms);
  unsigned next(int partition, std::int64_t event_ms);
  [[nodiscard]] std::optional<std::int64_t> partition_time(int partition) const;
  [[nodiscard]] std::int64_t late_ticks() const { return late_ticks_; }
  [[nodiscard]] std::int64_t grace_ms() const { return grace_ms_; }

 private:
  std::vector<std::optional<std::int64_t>> times_;
  std::int64_t grace_ms_;
  std::int64_t late_ticks_ = 0;
};

// The dead letter's `error` header for a late mask: "late: 1m" or "late: 1m,1h" (the
// sizes that did not count the tick, in window order).
[[nodiscard]] std::string late_error(unsigned late_mask);

// Where an input record landed: {partition, offset}.
using SourceOffset = std::pair<std::int32_t, std::int64_t>;

// A late tick as it must appear in the dead-letter topic: the original bytes, with headers
// `error` = late_error(mask) and source.topic/partition/offset of the input record.
struct LateTick {
  std::string error;
  std::string value;
};
using LateTicks = std::map<SourceOffset, LateTick>;

// Every difference between the `late:` dead letters among `records` and `expected`: a late
// tick missing or dead-lettered more than once, a wrong error, value or source header, a
// late dead letter for an input record that was not late. Other dead letters are ignored.
// `counted` (optional) receives how many late dead letters were read.
[[nodiscard]] std::vector<std::string> late_dead_letter_problems(const std::vector<Record>& records,
                                                                 const std::string& input_topic,
                                                                 const LateTicks& expected,
                                                                 std::size_t* counted = nullptr);

// How many of `records` are `late:` dead letters.
[[nodiscard]] std::size_t count_late_dead_letters(const std::vector<Record>& records);

// Everything read from the rollup topic, folded per key. Tracks contract violations
// as they appear: a key in two partitions, a value whose fields disagree with its key, a
// second `final`, or any record after the final.
class RollupView {
 public:
  RollupView(const std::string& topic, Deadline topic_deadline);

  void poll(std::chrono::milliseconds wait);

  struct Latest {
    Counts counts;
    bool final = false;
    int finals = 0;  // how many final:true records this key got
    std::string window_end;
  };
  [[nodiscard]] const std::map<std::string, Latest>& latest() const { return latest_; }
  [[nodiscard]] const std::vector<std::string>& violations() const { return violations_; }
  [[nodiscard]] std::size_t records() const { return reader_.records().size(); }

  // How many of the expected windows have no final value yet.
  [[nodiscard]] std::size_t missing_finals(const ExpectedRollups& expected) const;

  // Is the latest value of `key` final?
  [[nodiscard]] bool is_final(const std::string& key) const;

  // Every difference between the final values and `expected` (non-sentinel windows only):
  // missing, extra, not final, or wrong counts. Empty means exact equality.
  [[nodiscard]] std::vector<std::string> diff(const ExpectedRollups& expected) const;

 private:
  void fold(const Record& r);

  test::TopicReader reader_;
  std::size_t folded_ = 0;
  std::map<std::string, Latest> latest_;
  std::map<std::string, std::int32_t> partition_of_;
  std::vector<std::string> violations_;
};

// The worker's options. An empty grace, commit_interval or idle_timeout is not passed, so
// the worker runs with its default (30s, 1s, 60s).
struct WorkerConfig {
  std::string app_id;
  std::string input_topic;
  std::string output_topic;
  std::string dlq_topic;
  std::filesystem::path state_dir;
  std::string grace = "1h";
  std::string emit = "updates";
  std::string guarantee = "exactly-once";
  std::string commit_interval = "1s";
  std::string idle_timeout;  // --idle-timeout
  // Appended as they are to the end of the worker's command line (e.g. {"--standby-tasks",
  // "all"}); empty by default.
  std::vector<std::string> extra_args;
};

// A config with unique names under `test_name` and a fresh state dir in the build tree.
[[nodiscard]] WorkerConfig unique_worker_config(const std::string& test_name);

// The `auditor worker` command line for `config`, with `state_dir` and, when set,
// --instance-id.
[[nodiscard]] std::vector<std::string> worker_args(
    const WorkerConfig& config, const std::filesystem::path& state_dir,
    const std::optional<std::string>& instance_id = std::nullopt);

// The binary under test: $AUDITOR_BINARY, else the build's.
[[nodiscard]] std::filesystem::path auditor_binary();

// Where the running test executable keeps worker logs, state dirs and other output: the
// directory `work` next to the executable, e.g. <build>/tests/integration/work for
// integration_tests and <build>/tests/robustness/work for robustness_tests.
[[nodiscard]] const std::filesystem::path& work_dir();

// Starts `auditor worker`; its log goes to <work>/logs/<app id>-run<run>.log.
[[nodiscard]] std::unique_ptr<ChildProcess> start_worker(const WorkerConfig& config, int run);

// Runs `auditor reset --to-earliest --delete-state` (with --dry-run when asked) for the
// config's application, input topic and state dir, and waits up to 90 s for it; its log
// goes to <work>/logs/<app id>-reset-<tag>.log.
struct ResetRun {
  int code = -1;  // -1: did not exit in time or was killed
  std::string report;
};
[[nodiscard]] ResetRun run_reset(const WorkerConfig& config, const std::string& tag, bool dry_run);

// Polls `done` every 200 ms until it holds (returns true), the deadline passes or the
// worker exits (both return false; the worker's fate is in its exit_status()).
bool wait_for(const std::function<bool()>& done, Deadline deadline, ChildProcess& worker);

// True once the group's committed input offsets reached the end of every partition:
// stage 1 has then written all input to the repartition topic (transactionally with the
// offsets), so anything produced later reaches each task after it.
[[nodiscard]] bool input_consumed(const WorkerConfig& config, int input_partitions);

// Sends SIGTERM and expects a clean exit within `limit`; returns a failure description
// or an empty string.
[[nodiscard]] std::string stop_worker(ChildProcess& worker, std::chrono::milliseconds limit);

// After a passing test: deletes its topics (input, output, DLQ and the worker's internal
// ones) and state dir. A failing test keeps them for inspection.
void clean_up(const WorkerConfig& config);

// A printable report of a failed wait: what was awaited, the worker's fate and log tail.
[[nodiscard]] std::string worker_report(ChildProcess& worker);

// The first `max` lines of a list of problems, for assertion messages.
[[nodiscard]] std::string first_lines(const std::vector<std::string>& lines, std::size_t max = 25);

}  // namespace auditor::it
