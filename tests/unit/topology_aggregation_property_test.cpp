// Invariants 1 and 4 of DESIGN.md under the per-partition event-time contract ("Event
// time"): for any input, the final rollups equal a brute-force model of the per-partition
// lateness rule, and they are the same, byte for byte, however the partitions were
// interleaved, however many stage-1 workers read them, and wherever commits happened,
// failed or were followed by a restart.
//
// A scenario is P input partitions of ticks (a few keys; times mostly increasing with
// bounded disorder, some far late, a few far ahead), window sizes, grace and retention.
//
// The model (brute_force) is written from DESIGN.md alone, with its own window arithmetic:
// a tick is late for size S when its partition's largest earlier time is >= its S-window's
// end + grace; it counts in every other size. It yields each tick's late mask, the dead
// letters, and the windows.
//
// The pipeline under test is the real topology/ code, Kafka replaced by vectors:
//
//   stage 1  W workers, each owning some input partitions, read them in a random
//            interleaving: PartitionClock::add_tick -> PreAggregator::add. At random commits:
//            take() -> encode_repartition_key/value -> partition_for, then, after the data,
//            each owned partition's changed watermark to every repartition partition. An
//            aborted commit writes nothing; the worker rewinds to its committed offsets
//            and rebuilds each PartitionClock from the committed offset metadata.
//   log      each repartition partition: the workers' committed records merged in a
//            random order that keeps each worker's own order; after them every input
//            partition's watermark jumps past all windows (Scenario::end_time).
//   stage 2  one WindowAggregator per repartition partition over a MapStore, decoding with
//            decode_repartition_message; commits at random points, some kept in flight
//            while more records are added, some failed (rollback, re-read from the durable
//            position), some followed by a restart from the store's TaskProgress.
//
// FinalRollupsEqualBruteForce checks: stage 1's late masks and dead letters equal the
// model's; stage 2 never finds a delta late; every window is published final exactly once
// with the model's counts and nothing about it follows; the store ends with exactly the
// unexpired windows; and each scenario's final records are byte-identical over several
// runs (worker count, repartition count, interleaving, commit pattern, emit mode). At every
// durable commit: the task watermark is the minimum of the partitions' latest times; a
// rollup is final exactly when end + grace <= that watermark, and equals the stored value;
// a window is deleted exactly when end + grace + retention <= it; no stored window is
// closed without its final; under --emit updates every changed window is published.
//
// IdleInputsStayConsistent lets partitions arrive in bursts and go idle (the one case where
// arrival order may change what counts). There it checks consistency only: stage 1 as
// above, the per-commit rules (except the watermark's value), and that every tick stage 1
// counted is either in its window's final or reported late by stage 2.
//
// A failure names its scenario seed; AUDITOR_PROPERTY_SEED=<seed> runs just that scenario
// (with --gtest_filter for the property it came from). Both properties take about 1 s in
// all in an -O2 build.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "topology/partition_time.h"
#include "topology/pre_aggregator.h"
#include "topology/repartition_record.h"
#include "topology/rollup_format.h"
#include "topology/watermark.h"
#include "topology/window_aggregator.h"
#include "topology/windows.h"

namespace auditor {
namespace {

constexpr int kScenarios = 600;
constexpr int kRunsPerScenario = 3;
constexpr int kIdleScenarios = 300;
constexpr int kIdleRunsPerScenario = 2;
constexpr std::uint64_t kSeedBase = 0xE7E47000;
constexpr std::uint64_t kIdleSeedBase = 0x1D1E0000;

constexpr std::int64_t kSecond = 1'000;
constexpr std::int64_t kMinute = 60 * kSecond;
constexpr std::int64_t kHour = 60 * kMinute;
constexpr std::int64_t kDay = 24 * kHour;
constexpr std::int64_t kSomeMorning = 1'795'340'820'000;  // 2026-11-22T09:47:00Z

// Stage 1's idle detection, in ClockMs units (idle property only).
constexpr DurationMs kIdleTimeout{50};

using Rng = std::mt19937_64;

std::int64_t uniform(Rng& rng, std::int64_t lo, std::int64_t hi) {
  return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
}
double uniform_real(Rng& rng, double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(rng);
}
bool chance(Rng& rng, double p) {
  return std::bernoulli_distribution(p)(rng);
}
template <typename T>
const T& pick(Rng& rng, const std::vector<T>& items) {
  return items[static_cast<std::size_t>(uniform(rng, 0, std::ssize(items) - 1))];
}

// The scenarios to run: all of them, or the one named by AUDITOR_PROPERTY_SEED.
std::vector<std::uint64_t> seeds(std::uint64_t base, int count) {
  if (const char* only = std::getenv("AUDITOR_PROPERTY_SEED")) {
    return {std::strtoull(only, nullptr, 0)};
  }
  std::vector<std::uint64_t> out;
  for (int i = 0; i < count; ++i) out.push_back(base + static_cast<std::uint64_t>(i));
  return out;
}

// The model's own window arithmetic: the largest multiple of `unit` <= t, which is also
// the start of the epoch-aligned window of size `unit` that contains t.
std::int64_t model_floor(std::int64_t t, std::int64_t unit) {
  return t - (((t % unit) + unit) % unit);
}

// --- scenarios -------------------------------------------------------------------------

struct Tick {
  std::string name;
  std::string activity;
  std::int64_t time;
  std::int64_t count;
};

struct Scenario {
  std::vector<std::int64_t> sizes;  // ascending: bit i of a late mask is sizes[i]
  std::int64_t grace = 0;
  std::int64_t retention = 0;
  std::vector<std::vector<Tick>> partitions;
  std::int64_t end_time = 0;  // every partition's final watermark: closes every window

  [[nodiscard]] std::int32_t input_partitions() const {
    return static_cast<std::int32_t>(partitions.size());
  }
  [[nodiscard]] std::uint32_t all_sizes_mask() const {
    return (std::uint32_t{1} << sizes.size()) - 1;
  }
};

std::vector<std::int64_t> random_sizes(Rng& rng) {
  if (chance(rng, 0.3)) return {kMinute, kHour, kDay};
  if (chance(rng, 0.25)) return {7 * kSecond, kMinute};
  std::vector<std::int64_t> pool = {7 * kSecond, 13 * kSecond, kMinute, kHour, kDay};
  std::shuffle(pool.begin(), pool.end(), rng);
  pool.resize(static_cast<std::size_t>(uniform(rng, 1, 3)));
  std::sort(pool.begin(), pool.end());
  return pool;
}

// One partition's ticks: a cursor moving forward by about `step`, each tick a little
// behind it (`disorder`), some far behind (minutes), a few far ahead (an outlier, or a jump
// of the cursor). Times are multiples of `grain`: a coarse one makes ticks land exactly on
// window ends and deadlines; a few land within 1 ms of a deadline (end + grace) anyway.
std::vector<Tick> random_partition(Rng& rng, const Scenario& s, std::int64_t start,
                                   std::int64_t ticks, std::int64_t grain,
                                   const std::vector<std::pair<std::string, std::string>>& keys) {
  const std::int64_t step =
      pick(rng, std::vector<std::int64_t>{100, kSecond, 5 * kSecond, 20 * kSecond});
  const std::int64_t disorder =
      pick(rng, std::vector<std::int64_t>{0, 500, 5 * kSecond, 30 * kSecond});
  const double far_late = uniform_real(rng, 0.0, 0.15);
  const double far_ahead = uniform_real(rng, 0.0, 0.04);
  std::vector<Tick> out;
  std::int64_t cursor = start;
  for (std::int64_t i = 0; i < ticks; ++i) {
    cursor += uniform(rng, 0, 2 * step);
    std::int64_t t = cursor - uniform(rng, 0, disorder);
    if (chance(rng, far_late)) {
      t = cursor - uniform(rng, kMinute, 10 * kMinute);
    } else if (chance(rng, far_ahead)) {
      t = cursor + uniform(rng, 5 * kMinute, 2 * kDay);
      if (chance(rng, 0.5)) cursor = t;
    }
    t = model_floor(t, grain);
    if (chance(rng, 0.05)) {
      const std::int64_t size = pick(rng, s.sizes);
      t = model_floor(cursor, size) + size + s.grace + uniform(rng, -1, 1);
    }
    const auto& [name, activity] = pick(rng, keys);
    const std::int64_t count = chance(rng, 0.03) ? 1'000'000'000 : uniform(rng, 1, 5);
    out.push_back(Tick{name, activity, t, count});
  }
  return out;
}

// None, up to two hours (some windows expire before the end, some not), or practically
// forever.
std::int64_t random_retention(Rng& rng) {
  const std::int64_t r = uniform(rng, 0, 9);
  if (r < 3) return 0;
  if (r < 7) return uniform(rng, 0, 2 * kHour);
  if (r < 9) return 400 * kDay;
  return INT64_MAX / 2;
}

Scenario random_scenario(Rng& rng, std::int64_t min_partitions, std::int64_t max_partitions,
                         std::int64_t max_ticks) {
  static const std::vector<std::pair<std::string, std::string>> kKeys = {
      {"a", "x"}, {"b", "x"}, {"a|b", "y|z"}, {"\xc3\xa9", "x"}, {"\"q\"", "y|z"}, {"a", "y|z"}};
  Scenario s;
  s.sizes = random_sizes(rng);
  const std::int64_t grain = pick(rng, std::vector<std::int64_t>{1, kSecond, 5 * kSecond});
  s.grace = chance(rng, 0.4) ? 0 : model_floor(uniform(rng, 0, 60 * kSecond), grain);
  s.retention = random_retention(rng);
  std::vector<std::pair<std::string, std::string>> keys = kKeys;
  std::shuffle(keys.begin(), keys.end(), rng);
  keys.resize(static_cast<std::size_t>(uniform(rng, 1, 4)));

  // Mostly today; sometimes around the epoch, where window starts are negative.
  const std::int64_t base = chance(rng, 0.85) ? kSomeMorning + uniform(rng, 0, kDay)
                                              : uniform(rng, -5 * kMinute, 5 * kMinute);
  const std::int64_t partitions = uniform(rng, min_partitions, max_partitions);
  std::int64_t max_time = base;
  for (std::int64_t p = 0; p < partitions; ++p) {
    s.partitions.push_back(random_partition(rng, s, base + uniform(rng, -2 * kMinute, 2 * kMinute),
                                            uniform(rng, 0, max_ticks), grain, keys));
    for (const Tick& t : s.partitions.back()) max_time = std::max(max_time, t.time);
  }
  // Past every window's end + grace; some windows also expire there, some do not.
  const std::int64_t extra =
      chance(rng, 0.5) ? 0 : uniform(rng, 0, std::min(s.retention, 2 * kDay));
  s.end_time = max_time + s.sizes.back() + s.grace + extra;
  return s;
}

// --- brute-force model -----------------------------------------------------------------

struct DeadLetter {
  std::int32_t partition;
  std::size_t index;   // of the tick in its partition
  std::uint32_t mask;  // the sizes it was late for
  auto operator<=>(const DeadLetter&) const = default;
};

struct Model {
  std::vector<std::vector<std::uint32_t>> late;  // [partition][tick]
  std::vector<DeadLetter> dead_letters;          // sorted
  std::map<WindowKey, WindowCounts> windows;     // the counted ticks
};

Model brute_force(const Scenario& s) {
  Model m;
  for (std::int32_t p = 0; p < s.input_partitions(); ++p) {
    const std::vector<Tick>& ticks = s.partitions[static_cast<std::size_t>(p)];
    std::optional<std::int64_t> max_before;
    m.late.emplace_back();
    for (std::size_t i = 0; i < ticks.size(); ++i) {
      const Tick& t = ticks[i];
      std::uint32_t mask = 0;
      for (std::size_t w = 0; w < s.sizes.size(); ++w) {
        const std::int64_t start = model_floor(t.time, s.sizes[w]);
        if (max_before && *max_before >= start + s.sizes[w] + s.grace) {
          mask |= std::uint32_t{1} << w;
          continue;
        }
        WindowCounts& c =
            m.windows[WindowKey{DurationMs{s.sizes[w]}, EventTime{start}, t.name, t.activity}];
        c.count += t.count;
        c.ticks += 1;
      }
      m.late.back().push_back(mask);
      if (mask != 0) m.dead_letters.push_back(DeadLetter{p, i, mask});
      max_before = std::max(max_before.value_or(t.time), t.time);
    }
  }
  return m;
}

// Deleted from the store once the watermark reaches end + grace + retention.
bool expired_at_end(const WindowKey& key, const Scenario& s) {
  return key.start.value + key.size.value + s.grace + s.retention <= s.end_time;
}

// --- stage 1 ---------------------------------------------------------------------------

struct Wire {
  std::string key;
  std::string value;
};
using Log = std::vector<Wire>;

struct Stage1Options {
  std::int32_t workers = 1;
  std::int32_t repartitions = 1;
  double commit_rate = 0.1;  // per step
  double abort_rate = 0;     // per commit
  std::int64_t max_chunk = 1;
  bool idle_inputs = false;  // records arrive in bursts; partitions may go idle
};

struct Stage1Result {
  std::vector<std::vector<Log>> streams;  // [worker][repartition partition], committed only
  std::vector<DeadLetter> dead_letters;   // committed ones
  int aborts = 0;
};

// One stage-1 worker: its input partitions, one PreAggregator, one transaction at a time.
class Stage1Worker {
 public:
  Stage1Worker(const Scenario& s, const WindowSet& windows, const Model& model,
               const Stage1Options& options, const std::vector<std::int32_t>& owned)
      : s_(s), windows_(windows), model_(model), options_(options), pre_(windows.bucket()) {
    for (const std::int32_t p : owned) {
      inputs_.push_back(Input{p, PartitionClock(std::nullopt, now_), 0, 0, 0, {}, std::nullopt});
      if (!options.idle_inputs) inputs_.back().available = ticks(inputs_.back()).size();
    }
  }

  // Reads everything, committing (or aborting) at random points, then writes the final
  // watermarks. Appends the committed records to `stream` (one log per repartition
  // partition) and the committed dead letters to `result`.
  void run(Rng& rng, std::vector<Log>& stream, Stage1Result& result) {
    stream.assign(static_cast<std::size_t>(options_.repartitions), {});
    while (!all_committed()) {
      if (options_.idle_inputs) arrive(rng);
      std::vector<Input*> readable;
      for (Input& in : inputs_) {
        if (in.position < in.available) readable.push_back(&in);
      }
      if (!readable.empty() && !chance(rng, options_.commit_rate)) {
        read(*pick(rng, readable), rng);
        continue;
      }
      commit(rng, stream, result);
      if (::testing::Test::HasFailure()) return;
    }
    // Past everything: as if every partition's time jumped beyond all windows.
    for (const Input& in : inputs_) {
      const bool idle = options_.idle_inputs && chance(rng, 0.5);
      append_watermark(stream, in.partition, PartitionWatermark{EventTime{s_.end_time}, idle});
    }
  }

 private:
  struct Input {
    std::int32_t partition;
    PartitionClock clock;
    std::size_t position = 0;        // next tick to read
    std::size_t available = 0;       // ticks written to the partition so far
    std::size_t committed = 0;       // committed offset
    std::string committed_metadata;  // what the offset commit carries
    std::optional<PartitionWatermark> sent;
  };

  const std::vector<Tick>& ticks(const Input& in) const {
    return s_.partitions[static_cast<std::size_t>(in.partition)];
  }

  bool all_committed() const {
    return std::all_of(inputs_.begin(), inputs_.end(),
                       [this](const Input& in) { return in.committed == ticks(in).size(); });
  }

  // Idle property: the wall clock moves, and records arrive in bursts.
  void arrive(Rng& rng) {
    now_ = ClockMs{now_.value + uniform(rng, 0, 20)};
    if (inputs_.empty() || !chance(rng, 0.3)) return;
    Input& in = inputs_[static_cast<std::size_t>(uniform(rng, 0, std::ssize(inputs_) - 1))];
    in.available =
        std::min(ticks(in).size(), in.available + static_cast<std::size_t>(uniform(rng, 1, 8)));
  }

  void read(Input& in, Rng& rng) {
    const auto chunk = static_cast<std::size_t>(uniform(rng, 1, options_.max_chunk));
    for (std::size_t n = 0; n < chunk && in.position < in.available; ++n, ++in.position) {
      const Tick& t = ticks(in)[in.position];
      in.clock.record_read(now_);
      const std::uint32_t late =
          in.clock.add_tick(EventTime{t.time}, windows_, DurationMs{s_.grace});
      const std::uint32_t expected =
          model_.late[static_cast<std::size_t>(in.partition)][in.position];
      EXPECT_EQ(late, expected) << "stage 1 late mask of input partition " << in.partition
                                << " tick " << in.position << " (time " << t.time << ")";
      if (late != 0) pending_dead_letters_.push_back(DeadLetter{in.partition, in.position, late});
      if (late != s_.all_sizes_mask()) {
        pre_.add(t.name, t.activity, EventTime{t.time}, t.count, late);
      }
    }
    if (options_.idle_inputs && in.position == in.available) in.clock.reached_end();
  }

  void append_watermark(std::vector<Log>& stream, std::int32_t input,
                        const PartitionWatermark& wm) {
    const std::string value = encode_watermark_value(PartitionId{input}, wm);
    for (Log& log : stream) log.push_back(Wire{"", value});
  }

  // One transaction: the pre-aggregates, then each changed watermark, then the offsets
  // with their partition times. Or, aborted, nothing at all.
  void commit(Rng& rng, std::vector<Log>& stream, Stage1Result& result) {
    if (chance(rng, options_.abort_rate)) {
      rewind();
      ++result.aborts;
      return;
    }
    for (const PreAggregate& p : pre_.take()) {
      EXPECT_NE(p.late_mask, s_.all_sizes_mask()) << "a record that counts nowhere";
      std::string key = encode_repartition_key(p.process_name, p.process_activity);
      const PartitionId to = partition_for(key, options_.repartitions);
      stream[static_cast<std::size_t>(to.value)].push_back(
          Wire{std::move(key),
               encode_repartition_value(p.event_time, p.count, p.ticks, p.late_mask, windows_)});
    }
    for (Input& in : inputs_) {
      if (options_.idle_inputs && in.position == in.available) in.clock.reached_end();
      const PartitionWatermark wm = in.clock.watermark(now_, kIdleTimeout);
      if (in.sent == wm || (!wm.time && !wm.idle)) continue;  // nothing new to say
      append_watermark(stream, in.partition, wm);
      in.sent = wm;
    }
    for (Input& in : inputs_) {
      in.committed = in.position;
      in.committed_metadata = encode_partition_time_metadata(in.clock.time());
    }
    result.dead_letters.insert(result.dead_letters.end(), pending_dead_letters_.begin(),
                               pending_dead_letters_.end());
    pending_dead_letters_.clear();
  }

  // As after an aborted transaction: back to the committed offsets, partition times from
  // their metadata, everything since dropped.
  void rewind() {
    pre_.clear();
    pending_dead_letters_.clear();
    for (Input& in : inputs_) {
      const CommittedPartitionTime restored = decode_partition_time_metadata(in.committed_metadata);
      EXPECT_EQ(restored.recognised, !in.committed_metadata.empty());
      in.position = in.committed;
      in.clock = PartitionClock(restored.time, now_);
      in.sent.reset();
    }
  }

  const Scenario& s_;
  const WindowSet& windows_;
  const Model& model_;
  const Stage1Options& options_;
  PreAggregator pre_;
  std::vector<Input> inputs_;
  std::vector<DeadLetter> pending_dead_letters_;
  ClockMs now_{0};
};

// Deals the input partitions to the workers at random and runs each worker.
Stage1Result run_stage1(const Scenario& s, const WindowSet& windows, const Model& model,
                        const Stage1Options& options, Rng& rng) {
  std::vector<std::int32_t> partitions;
  for (std::int32_t p = 0; p < s.input_partitions(); ++p) partitions.push_back(p);
  std::shuffle(partitions.begin(), partitions.end(), rng);
  std::vector<std::vector<std::int32_t>> owned(static_cast<std::size_t>(options.workers));
  for (std::size_t i = 0; i < partitions.size(); ++i) {
    owned[i % owned.size()].push_back(partitions[i]);
  }

  Stage1Result result;
  result.streams.resize(owned.size());
  for (std::size_t w = 0; w < owned.size(); ++w) {
    Stage1Worker(s, windows, model, options, owned[w]).run(rng, result.streams[w], result);
  }
  std::sort(result.dead_letters.begin(), result.dead_letters.end());
  return result;
}

// Each repartition partition's log: the workers' records interleaved at random, each
// worker's in its own order (as concurrent transactions land in one Kafka partition).
std::vector<Log> merge_streams(const Stage1Result& stage1, std::int32_t repartitions, Rng& rng) {
  std::vector<Log> logs(static_cast<std::size_t>(repartitions));
  const std::int64_t max_run = uniform(rng, 1, 6);
  for (std::size_t r = 0; r < logs.size(); ++r) {
    std::vector<std::size_t> next(stage1.streams.size(), 0);
    for (;;) {
      std::vector<std::size_t> open;
      for (std::size_t w = 0; w < next.size(); ++w) {
        if (next[w] < stage1.streams[w][r].size()) open.push_back(w);
      }
      if (open.empty()) break;
      const std::size_t w = pick(rng, open);
      const Log& from = stage1.streams[w][r];
      for (std::int64_t n = uniform(rng, 1, max_run); n > 0 && next[w] < from.size(); --n) {
        logs[r].push_back(from[next[w]++]);
      }
    }
  }
  return logs;
}

// --- stage 2 ---------------------------------------------------------------------------

// A task's committed state, as RocksDB would hold it: windows and progress.
class MapStore final : public WindowReader {
 public:
  std::optional<WindowCounts> get(const WindowKey& key) const override {
    const auto it = windows.find(key);
    if (it == windows.end()) return std::nullopt;
    return it->second;
  }
  void scan(
      DurationMs size, EventTime from, EventTime to,
      const std::function<void(const WindowKey&, const WindowCounts&)>& visit) const override {
    for (auto it = windows.lower_bound(WindowKey{size, from, {}, {}});
         it != windows.end() && it->first.size == size && it->first.start < to; ++it) {
      visit(it->first, it->second);
    }
  }
  std::map<WindowKey, WindowCounts> windows;
  TaskProgress progress;
};

struct Stage2Options {
  EmitMode emit = EmitMode::kUpdates;
  double commit_rate = 0.1;    // per record
  double fail_rate = 0;        // per commit: aborted, rolled back
  double restart_rate = 0;     // after a commit: the task restarts from its store
  double in_flight_rate = 0;   // a commit stays in flight while more records are added
  bool expect_on_time = true;  // no idle partitions: stage 2 finds nothing late
};

// What all tasks published and kept.
struct Published {
  std::map<WindowKey, WindowCounts> finals;
  std::map<WindowKey, WindowCounts> last_update;
  std::map<WindowKey, WindowCounts> late;    // what stage 2 found closed
  std::map<WindowKey, WindowCounts> stored;  // the stores at the end
  int failures = 0;
  int restarts = 0;
  int updates = 0;
};

WindowCounts& operator+=(WindowCounts& a, const WindowCounts& b) {
  a.count += b.count;
  a.ticks += b.ticks;
  return a;
}

class Stage2Task {
 public:
  Stage2Task(const Scenario& s, const WindowSet& windows, const Stage2Options& options,
             const Log& log, Published& out)
      : s_(s),
        windows_(windows),
        options_(options),
        log_(log),
        out_(out),
        late_at_(log.size(), 0),
        expected_watermarks_(expected_watermarks(log)) {}

  // Consumes the whole log, then checks the task's end state.
  void run(Rng& rng) {
    agg_ = make();
    for (;;) {
      if (pos_ < log_.size() && !chance(rng, options_.commit_rate)) {
        process(pos_++);
        continue;
      }
      if (in_flight_ && !complete(rng)) continue;  // failed: re-read from durable_
      if (chance(rng, options_.restart_rate)) {
        agg_ = make();  // only what the store holds survives
        pos_ = durable_;
        ++out_.restarts;
      }
      if (pos_ == log_.size() && durable_ == log_.size() && !agg_->has_pending()) break;
      in_flight_ = InFlight{agg_->commit(store_), pos_};
      EXPECT_FALSE(agg_->has_pending());
      if (!chance(rng, options_.in_flight_rate)) complete(rng);
      if (::testing::Test::HasFailure()) return;
    }
    finish();
  }

 private:
  struct InFlight {
    CommitResult result;
    std::size_t upto;  // log records [0, upto) are in it
  };

  // The task watermark after each prefix of the log when no partition is idle: the minimum
  // over the input partitions of the largest time each has sent; none until all have.
  std::vector<std::optional<EventTime>> expected_watermarks(const Log& log) const {
    std::vector<std::optional<EventTime>> out(1);
    std::map<std::int32_t, std::int64_t> latest;
    for (const Wire& w : log) {
      const RepartitionMessage m = decode_repartition_message(w.key, w.value, windows_);
      if (m.kind == RepartitionMessage::Kind::kWatermark && m.watermark.time) {
        std::int64_t& t = latest.try_emplace(m.input.value, m.watermark.time->value).first->second;
        t = std::max(t, m.watermark.time->value);
      }
      std::optional<EventTime> combined;
      if (std::ssize(latest) == s_.input_partitions()) {
        std::int64_t min = INT64_MAX;
        for (const auto& entry : latest) min = std::min(min, entry.second);
        combined = EventTime{min};
      }
      out.push_back(combined);
    }
    return out;
  }

  std::unique_ptr<WindowAggregator> make() const {
    return std::make_unique<WindowAggregator>(windows_, DurationMs{s_.grace},
                                              DurationMs{s_.retention}, options_.emit,
                                              s_.input_partitions(), store_.progress);
  }

  void process(std::size_t i) {
    const RepartitionMessage m = decode_repartition_message(log_[i].key, log_[i].value, windows_);
    late_at_[i] = 0;
    switch (m.kind) {
      case RepartitionMessage::Kind::kWatermark:
        agg_->observe_watermark(m.input, m.watermark);
        return;
      case RepartitionMessage::Kind::kDelta:
        late_at_[i] = agg_->add(m.delta.process_name, m.delta.process_activity, m.delta.event_time,
                                WindowCounts{m.delta.count, m.delta.ticks}, m.delta.late_mask);
        if (options_.expect_on_time) {
          EXPECT_EQ(late_at_[i], 0U) << "stage 2 found record " << i << " late";
        }
        return;
      default:
        ADD_FAILURE() << "record " << i << " does not decode";
    }
  }

  // Completes the commit in flight; returns whether it became durable. A failed one is
  // rolled back, with everything added since, and the log is re-read from durable_.
  bool complete(Rng& rng) {
    InFlight done = std::move(*in_flight_);
    in_flight_.reset();
    if (chance(rng, options_.fail_rate)) {
      agg_->rollback(store_.progress);
      EXPECT_FALSE(agg_->has_pending());
      pos_ = durable_;
      ++out_.failures;
      return false;
    }
    publish_and_apply(done.result, done.upto);
    store_.progress = done.result.progress;
    agg_->committed(done.result.progress);
    durable_ = done.upto;
    return true;
  }

  // Checks one durable commit against the rules of publishing, closing and expiry (with
  // the model's arithmetic and the commit's own task watermark), and applies it.
  void publish_and_apply(const CommitResult& result, std::size_t upto) {
    const std::optional<EventTime> watermark = result.progress.watermark;
    if (options_.expect_on_time) {
      EXPECT_EQ(watermark, expected_watermarks_[upto])
          << "task watermark after " << upto << " records";
    }
    // Closed: end + grace <= watermark. Expired: end + grace + retention <= watermark.
    const auto closed = [&](const WindowKey& key) {
      return watermark && key.start.value + key.size.value + s_.grace <= watermark->value;
    };
    const auto expired = [&](const WindowKey& key) {
      return watermark &&
             key.start.value + key.size.value + s_.grace + s_.retention <= watermark->value;
    };

    std::map<WindowKey, WindowCounts> puts;
    for (const auto& [key, counts] : result.puts) {
      EXPECT_FALSE(out_.finals.contains(key)) << "a window written after its final";
      EXPECT_TRUE(puts.emplace(key, counts).second) << "a window written twice in one commit";
      store_.windows[key] = counts;
    }
    for (const WindowKey& key : result.deletes) {
      EXPECT_TRUE(expired(key)) << "a window deleted before it expired";
      EXPECT_TRUE(store_.windows.erase(key) == 1) << "delete of a window that is not stored";
    }
    std::set<WindowKey> in_commit;
    for (const Rollup& r : result.rollups) {
      EXPECT_TRUE(in_commit.insert(r.key).second) << "two rollups for one window in one commit";
      EXPECT_FALSE(out_.finals.contains(r.key)) << "a rollup published after its final";
      EXPECT_EQ(r.final, closed(r.key))
          << "final flag at watermark " << watermark.value_or(EventTime{0}).value;
      const auto put = puts.find(r.key);
      if (put != puts.end()) {
        EXPECT_EQ(r.counts, put->second) << "published != written";
      }
      const auto previous = out_.last_update.find(r.key);
      if (previous != out_.last_update.end()) {
        EXPECT_GE(r.counts.count, previous->second.count) << "a window's count went down";
        EXPECT_GE(r.counts.ticks, previous->second.ticks);
      }
      if (!r.final) {
        EXPECT_EQ(options_.emit, EmitMode::kUpdates) << "an update under --emit final";
        out_.last_update[r.key] = r.counts;
        ++out_.updates;
        continue;
      }
      out_.finals.emplace(r.key, r.counts);
      // The final is the stored value, unless the window expired in the same commit.
      const auto stored = store_.windows.find(r.key);
      if (stored != store_.windows.end()) {
        EXPECT_EQ(stored->second, r.counts) << "final differs from the stored value";
      } else {
        EXPECT_TRUE(expired(r.key)) << "a final window that is neither stored nor expired";
      }
    }
    // Updates mode publishes every window this commit changed.
    if (options_.emit == EmitMode::kUpdates) {
      for (const auto& [key, counts] : puts) {
        EXPECT_TRUE(in_commit.contains(key)) << "a changed window was not published";
      }
    }
    // Every window closed by now has had its final; every stored one is unexpired.
    for (const auto& [key, counts] : store_.windows) {
      EXPECT_EQ(closed(key), out_.finals.contains(key)) << "a closed window without a final";
      EXPECT_FALSE(expired(key)) << "an expired window still stored";
    }
  }

  void finish() {
    EXPECT_FALSE(in_flight_.has_value());
    EXPECT_EQ(store_.progress.watermark, std::optional<EventTime>(EventTime{s_.end_time}));
    for (const auto& [key, counts] : store_.windows) out_.stored.emplace(key, counts);
    for (std::size_t i = 0; i < log_.size(); ++i) {
      if (late_at_[i] == 0) continue;
      const RepartitionMessage m = decode_repartition_message(log_[i].key, log_[i].value, windows_);
      for (std::size_t w = 0; w < s_.sizes.size(); ++w) {
        if (((late_at_[i] >> w) & 1U) == 0) continue;
        const std::int64_t start = model_floor(m.delta.event_time.value, s_.sizes[w]);
        out_.late[WindowKey{
            DurationMs{s_.sizes[w]}, EventTime{start}, std::string(m.delta.process_name),
            std::string(m.delta.process_activity)}] += WindowCounts{m.delta.count, m.delta.ticks};
      }
    }
  }

  const Scenario& s_;
  const WindowSet& windows_;
  const Stage2Options& options_;
  const Log& log_;
  Published& out_;
  MapStore store_;
  std::unique_ptr<WindowAggregator> agg_;
  std::optional<InFlight> in_flight_;
  std::size_t pos_ = 0;                 // next record to read
  std::size_t durable_ = 0;             // records [0, durable_) are committed
  std::vector<std::uint32_t> late_at_;  // add()'s answer for each record, last reading
  std::vector<std::optional<EventTime>> expected_watermarks_;  // [records read]
};

// --- one run of the whole pipeline ---------------------------------------------------------

struct PipelineRun {
  Stage1Options stage1;
  Stage2Options stage2;
  Stage1Result stage1_result;
  Published published;
};

std::string describe(const PipelineRun& run) {
  return "workers " + std::to_string(run.stage1.workers) + ", repartition partitions " +
         std::to_string(run.stage1.repartitions) + ", emit " +
         (run.stage2.emit == EmitMode::kUpdates ? "updates" : "final") +
         (run.stage1.abort_rate > 0 ? ", with faults" : ", no faults");
}

// Run `index` of a scenario: run 0 without faults, the others with every kind of fault.
PipelineRun random_run(const Scenario& s, int index, bool idle_inputs, Rng& rng) {
  PipelineRun run;
  const bool faults = index > 0;
  run.stage1.workers =
      static_cast<std::int32_t>(uniform(rng, 1, std::max(1, s.input_partitions())));
  run.stage1.repartitions = static_cast<std::int32_t>(uniform(rng, 1, 4));
  run.stage1.commit_rate = uniform_real(rng, 0.02, 0.5);
  run.stage1.abort_rate = faults ? 0.2 : 0;
  run.stage1.max_chunk = uniform(rng, 1, 8);
  run.stage1.idle_inputs = idle_inputs;
  run.stage2.emit = index == 0         ? EmitMode::kUpdates
                    : index == 1       ? EmitMode::kFinal
                    : chance(rng, 0.5) ? EmitMode::kUpdates
                                       : EmitMode::kFinal;
  run.stage2.commit_rate = uniform_real(rng, 0.02, 0.6);
  run.stage2.fail_rate = faults ? 0.2 : 0;
  run.stage2.restart_rate = faults ? 0.1 : 0;
  run.stage2.in_flight_rate = faults ? 0.5 : 0;
  run.stage2.expect_on_time = !idle_inputs;
  return run;
}

void execute(const Scenario& s, const WindowSet& windows, const Model& model, PipelineRun& run,
             Rng& rng) {
  run.stage1_result = run_stage1(s, windows, model, run.stage1, rng);
  if (::testing::Test::HasFailure()) return;
  const std::vector<Log> logs = merge_streams(run.stage1_result, run.stage1.repartitions, rng);
  for (const Log& log : logs) {
    Stage2Task(s, windows, run.stage2, log, run.published).run(rng);
    if (::testing::Test::HasFailure()) return;
  }
}

// The final records as published: key bytes -> value bytes.
std::map<std::string, std::string> final_records(const Published& published) {
  std::map<std::string, std::string> out;
  for (const auto& [key, counts] : published.finals) {
    out.emplace(rollup_key_json(key), rollup_value_json(Rollup{key, counts, true}));
  }
  return out;
}

// --- the properties ----------------------------------------------------------------------

TEST(AggregationProperty, FinalRollupsEqualBruteForce) {
  int finals = 0, partly_late = 0, wholly_late = 0, expired = 0, kept = 0, aborts = 0, failures = 0,
      restarts = 0, multi_worker = 0, updates = 0;
  for (const std::uint64_t seed : seeds(kSeedBase, kScenarios)) {
    SCOPED_TRACE("scenario seed " + std::to_string(seed) +
                 " (rerun it alone: AUDITOR_PROPERTY_SEED=" + std::to_string(seed) +
                 " --gtest_filter=*FinalRollupsEqualBruteForce)");
    Rng rng(seed);
    const Scenario s = random_scenario(rng, 1, 6, 60);
    const WindowSet windows{std::vector<DurationMs>(s.sizes.begin(), s.sizes.end())};
    const Model model = brute_force(s);

    std::map<WindowKey, WindowCounts> expected_store;
    for (const auto& [key, counts] : model.windows) {
      if (!expired_at_end(key, s)) expected_store.emplace(key, counts);
    }

    std::optional<std::map<std::string, std::string>> first_records;
    for (int index = 0; index < kRunsPerScenario; ++index) {
      Rng run_rng(seed * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(index) + 1);
      PipelineRun run = random_run(s, index, false, run_rng);
      SCOPED_TRACE("run " + std::to_string(index) + ": " + describe(run));
      execute(s, windows, model, run, run_rng);
      if (::testing::Test::HasFailure()) return;

      EXPECT_EQ(run.stage1_result.dead_letters, model.dead_letters) << "dead letters";
      EXPECT_EQ(run.published.finals, model.windows) << "final rollups differ from the model";
      EXPECT_TRUE(run.published.late.empty());
      EXPECT_EQ(run.published.stored, expected_store) << "the stores at the end";
      const std::map<std::string, std::string> records = final_records(run.published);
      if (!first_records) {
        first_records = records;
      } else {
        EXPECT_EQ(records, *first_records) << "final records differ between runs";
      }
      if (::testing::Test::HasFailure()) return;

      aborts += run.stage1_result.aborts;
      failures += run.published.failures;
      restarts += run.published.restarts;
      updates += run.published.updates;
      multi_worker += run.stage1.workers > 1 ? 1 : 0;
    }
    finals += static_cast<int>(model.windows.size());
    expired += static_cast<int>(model.windows.size() - expected_store.size());
    kept += static_cast<int>(expected_store.size());
    for (const DeadLetter& d : model.dead_letters) {
      (d.mask == s.all_sizes_mask() ? wholly_late : partly_late) += 1;
    }
  }
  if (std::getenv("AUDITOR_PROPERTY_SEED") != nullptr) return;
  // The generator must exercise what the property is about.
  EXPECT_GT(finals, 20 * kScenarios);
  EXPECT_GT(partly_late, kScenarios / 2);
  EXPECT_GT(wholly_late, kScenarios / 2);
  EXPECT_GT(expired, kScenarios);
  EXPECT_GT(kept, kScenarios);
  EXPECT_GT(aborts, kScenarios);
  EXPECT_GT(failures, kScenarios);
  EXPECT_GT(restarts, kScenarios);
  EXPECT_GT(multi_worker, kScenarios);
  EXPECT_GT(updates, kScenarios);
}

TEST(AggregationProperty, IdleInputsStayConsistent) {
  int late_in_stage2 = 0, finals = 0;
  for (const std::uint64_t seed : seeds(kIdleSeedBase, kIdleScenarios)) {
    SCOPED_TRACE("idle scenario seed " + std::to_string(seed) +
                 " (rerun it alone: AUDITOR_PROPERTY_SEED=" + std::to_string(seed) +
                 " --gtest_filter=*IdleInputsStayConsistent)");
    Rng rng(seed);
    const Scenario s = random_scenario(rng, 2, 5, 40);
    const WindowSet windows{std::vector<DurationMs>(s.sizes.begin(), s.sizes.end())};
    const Model model = brute_force(s);

    for (int index = 0; index < kIdleRunsPerScenario; ++index) {
      Rng run_rng(seed * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(index) + 1);
      PipelineRun run = random_run(s, index, true, run_rng);
      SCOPED_TRACE("run " + std::to_string(index) + ": " + describe(run));
      execute(s, windows, model, run, run_rng);
      if (::testing::Test::HasFailure()) return;

      // Lateness in stage 1 does not depend on idleness.
      EXPECT_EQ(run.stage1_result.dead_letters, model.dead_letters) << "dead letters";
      // Every tick stage 1 counted ends in its window's final or in stage 2's late count.
      std::set<WindowKey> keys;
      const std::map<WindowKey, WindowCounts>& finals_of_run = run.published.finals;
      const std::map<WindowKey, WindowCounts>& late_of_run = run.published.late;
      for (const auto* m : {&model.windows, &finals_of_run, &late_of_run}) {
        for (const auto& entry : *m) keys.insert(entry.first);
      }
      for (const WindowKey& key : keys) {
        const auto get = [&key](const std::map<WindowKey, WindowCounts>& m) {
          const auto it = m.find(key);
          return it == m.end() ? WindowCounts{} : it->second;
        };
        WindowCounts accounted = get(run.published.finals);
        accounted += get(run.published.late);
        EXPECT_EQ(accounted, get(model.windows))
            << "window " << key.size.value << "ms at " << key.start.value << " of "
            << key.process_name << "/" << key.process_activity;
      }
      // The stores end with the finals that have not expired.
      std::map<WindowKey, WindowCounts> expected_store;
      for (const auto& [key, counts] : run.published.finals) {
        if (!expired_at_end(key, s)) expected_store.emplace(key, counts);
      }
      EXPECT_EQ(run.published.stored, expected_store);
      if (::testing::Test::HasFailure()) return;

      for (const auto& entry : run.published.late) late_in_stage2 += entry.second.ticks > 0;
      finals += static_cast<int>(run.published.finals.size());
    }
  }
  if (std::getenv("AUDITOR_PROPERTY_SEED") != nullptr) return;
  EXPECT_GT(finals, 10 * kIdleScenarios);
  EXPECT_GT(late_in_stage2, 0) << "no partition ever woke up late: the property tests nothing";
}

}  // namespace
}  // namespace auditor
