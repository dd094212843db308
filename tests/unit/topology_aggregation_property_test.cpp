// Invariant 1 of DESIGN.md: for any input, the final rollups equal a brute-force count of
// the valid, non-late ticks per key and window.
//
// Random scenarios push ticks through the real pipeline (PreAggregator -> repartition
// record bytes -> WindowAggregator with an in-memory store, committing at random points,
// dropping some commits and restarting from the durable progress), and compare what was
// published and stored with a direct computation from the same ticks.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <tuple>

#include "topology/pre_aggregator.h"
#include "topology/repartition_record.h"
#include "topology/window_aggregator.h"

namespace auditor {
namespace {

constexpr int kScenarios = 400;

struct RawTick {
  std::string name;
  std::string activity;
  std::int64_t time;
  std::int64_t count;
};

struct Config {
  std::vector<DurationMs> sizes;
  std::int64_t grace;
  std::int64_t retention;
  EmitMode emit;
};

// One pre-aggregated record as the brute force computes it, in arrival order.
struct Record {
  std::string name;
  std::string activity;
  std::int64_t time;  // the largest tick time
  std::int64_t count;
  std::int64_t ticks;
  bool operator==(const Record&) const = default;
};

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
};

std::int64_t floor_start(std::int64_t t, std::int64_t size) {
  std::int64_t q = t / size;
  if (t % size < 0) --q;
  return q * size;
}

// --- brute force -----------------------------------------------------------------------

// Groups a batch of ticks the way stage 1 must: per key and bucket, summed, with the
// latest time, sorted by (time, name, activity) like PreAggregator::take.
std::vector<Record> group_batch(const std::vector<RawTick>& batch, std::int64_t bucket) {
  std::map<std::tuple<std::string, std::string, std::int64_t>, Record> groups;
  for (const RawTick& t : batch) {
    Record& r = groups[{t.name, t.activity, floor_start(t.time, bucket)}];
    if (r.ticks == 0) {
      r = Record{t.name, t.activity, t.time, 0, 0};
    }
    r.time = std::max(r.time, t.time);
    r.count += t.count;
    r.ticks += 1;
  }
  std::vector<Record> out;
  for (auto& [k, r] : groups) out.push_back(r);
  std::sort(out.begin(), out.end(), [](const Record& a, const Record& b) {
    return std::tie(a.time, a.name, a.activity) < std::tie(b.time, b.name, b.activity);
  });
  return out;
}

struct Expected {
  std::vector<std::uint32_t> late_masks;  // per record
  std::map<WindowKey, WindowCounts> windows;
  std::int64_t stream_time = 0;
};

// Replays the records in arrival order with the definition of lateness from DESIGN.md:
// a window is closed once stream time (the largest time seen) reaches end + grace.
Expected brute_force(const std::vector<Record>& records, const Config& config) {
  Expected e;
  std::optional<std::int64_t> stream;
  for (const Record& r : records) {
    stream = std::max(stream.value_or(r.time), r.time);
    std::uint32_t mask = 0;
    for (std::size_t i = 0; i < config.sizes.size(); ++i) {
      const std::int64_t size = config.sizes[i].value;
      const std::int64_t start = floor_start(r.time, size);
      if (start + size + config.grace <= *stream) {
        mask |= 1U << i;
        continue;
      }
      WindowCounts& c =
          e.windows[WindowKey{DurationMs{size}, EventTime{start}, r.name, r.activity}];
      c.count += r.count;
      c.ticks += r.ticks;
    }
    e.late_masks.push_back(mask);
  }
  e.stream_time = stream.value_or(0);
  return e;
}

bool closed(const WindowKey& k, std::int64_t stream, const Config& config) {
  return k.start.value + k.size.value + config.grace <= stream;
}

bool expired(const WindowKey& k, std::int64_t stream, const Config& config) {
  return k.start.value + k.size.value + config.grace + config.retention <= stream;
}

// --- the system under test -------------------------------------------------------------

struct Outcome {
  std::vector<Record> records;  // as stage 1 produced them, in order
  std::map<WindowKey, WindowCounts> finals;
  std::map<WindowKey, WindowCounts> last_published;
  MapStore store;
  TaskProgress progress;
};

struct Faults {
  double drop_commit = 0;   // commit result lost: rollback and re-read
  double restart = 0;       // new aggregator from the durable progress
  double stage1_abort = 0;  // stage 1 batch aborted and re-read
  double in_flight = 0;     // a commit completes only after more records were added
};

Outcome run_pipeline(const std::vector<std::vector<RawTick>>& batches, const Config& config,
                     const std::vector<std::uint32_t>& expected_masks, double commit_rate,
                     const Faults& faults, std::mt19937_64& rng) {
  std::bernoulli_distribution commit_now(commit_rate);
  std::bernoulli_distribution drop(faults.drop_commit);
  std::bernoulli_distribution restart(faults.restart);
  std::bernoulli_distribution abort_stage1(faults.stage1_abort);
  std::bernoulli_distribution keep_in_flight(faults.in_flight);
  const WindowSet windows(config.sizes);
  Outcome out;

  // Stage 1, batch by batch, through the repartition wire format.
  PreAggregator pre(windows.bucket());
  std::vector<std::pair<std::string, std::string>> wire;
  for (const auto& batch : batches) {
    for (const RawTick& t : batch) pre.add(t.name, t.activity, EventTime{t.time}, t.count);
    if (abort_stage1(rng)) {
      pre.clear();
      for (const RawTick& t : batch) pre.add(t.name, t.activity, EventTime{t.time}, t.count);
    }
    EXPECT_EQ(pre.pending_ticks(), static_cast<std::int64_t>(batch.size()));
    for (const PreAggregate& p : pre.take()) {
      out.records.push_back(
          Record{p.process_name, p.process_activity, p.event_time.value, p.count, p.ticks});
      wire.emplace_back(encode_repartition_key(p.process_name, p.process_activity),
                        encode_repartition_value(p.event_time, p.count, p.ticks));
    }
  }

  // Stage 2.
  auto agg = std::make_unique<WindowAggregator>(
      windows, DurationMs{config.grace}, DurationMs{config.retention}, config.emit, TaskProgress{});
  std::map<WindowKey, WindowCounts> last_update;
  const auto publish = [&](const CommitResult& result) {
    // Order: updates (key order), then finals (key order); a window closing in this
    // commit gets its final only.
    bool seen_final = false;
    std::set<WindowKey> keys;
    for (std::size_t i = 0; i < result.rollups.size(); ++i) {
      const Rollup& r = result.rollups[i];
      EXPECT_TRUE(keys.insert(r.key).second) << "two rollups for one window in one commit";
      if (i > 0 && result.rollups[i - 1].final == r.final) {
        EXPECT_LT(result.rollups[i - 1].key, r.key);
      }
      EXPECT_FALSE(seen_final && !r.final) << "update after a final in one commit";
      seen_final = seen_final || r.final;
      if (!r.final) {
        EXPECT_EQ(config.emit, EmitMode::kUpdates);
        EXPECT_FALSE(out.finals.count(r.key)) << "update after final";
        const auto prev = last_update.find(r.key);
        if (prev != last_update.end()) {
          EXPECT_GE(r.counts.count, prev->second.count) << "updates must not decrease";
          EXPECT_GE(r.counts.ticks, prev->second.ticks);
        }
        last_update[r.key] = r.counts;
      } else {
        EXPECT_TRUE(out.finals.emplace(r.key, r.counts).second) << "second final";
        const auto prev = last_update.find(r.key);
        if (prev != last_update.end()) {
          EXPECT_GE(r.counts.count, prev->second.count);
          EXPECT_GE(r.counts.ticks, prev->second.ticks);
        }
      }
      out.last_published[r.key] = r.counts;
    }
  };
  const auto apply = [&](const CommitResult& result) {
    for (const auto& [k, v] : result.puts) out.store.windows[k] = v;
    for (const WindowKey& k : result.deletes) {
      EXPECT_TRUE(out.store.windows.count(k)) << "delete of a window that is not stored";
      out.store.windows.erase(k);
    }
  };

  // As the worker pipelines them: a commit may stay in flight while later records are
  // added; it completes (durable, dropped or followed by a restart) before the next one.
  struct InFlight {
    CommitResult result;
    std::size_t upto;  // records [0, upto) are in it
  };
  std::optional<InFlight> in_flight;
  std::size_t committed_upto = 0;  // records [0, committed_upto) are durable
  bool dropped_here = false;
  // Completes the commit in flight. Returns true when the records from committed_upto on
  // must be read again: the commit was dropped, or a restart lost the deltas added since.
  const auto complete = [&]() -> bool {
    InFlight done = std::move(*in_flight);
    in_flight.reset();
    if (!dropped_here && drop(rng)) {
      // The transaction aborted: nothing of it is visible; re-read from the durable offset.
      agg->rollback(agg->durable_progress());
      EXPECT_FALSE(agg->has_pending());
      dropped_here = true;
      return true;
    }
    dropped_here = false;
    publish(done.result);
    apply(done.result);
    agg->committed(done.result.progress);
    committed_upto = done.upto;
    out.progress = done.result.progress;
    if (!restart(rng)) return false;
    agg = std::make_unique<WindowAggregator>(
        windows, DurationMs{config.grace}, DurationMs{config.retention}, config.emit, out.progress);
    return true;
  };
  for (std::size_t i = 0; i < wire.size(); ++i) {
    const auto r = decode_repartition_record(wire[i].first, wire[i].second);
    EXPECT_TRUE(r.has_value());
    if (!r) continue;
    const std::uint32_t mask = agg->add(r->process_name, r->process_activity, r->event_time,
                                        WindowCounts{r->count, r->ticks});
    EXPECT_EQ(mask, expected_masks[i]) << "record " << i;
    const bool last = i + 1 == wire.size();
    if (!commit_now(rng) && !last) continue;

    if (in_flight && complete()) {
      i = committed_upto - 1;  // the loop's ++i makes it committed_upto
      continue;
    }
    in_flight = InFlight{agg->commit(out.store), i + 1};
    EXPECT_FALSE(agg->has_pending());
    if (!last && keep_in_flight(rng)) continue;
    if (complete()) i = committed_upto - 1;
  }
  EXPECT_FALSE(in_flight.has_value());
  return out;
}

// --- scenarios -------------------------------------------------------------------------

Config random_config(std::mt19937_64& rng) {
  static constexpr std::int64_t kPool[] = {1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30, 60, 100};
  std::vector<std::int64_t> pool(std::begin(kPool), std::end(kPool));
  std::shuffle(pool.begin(), pool.end(), rng);
  const auto n = std::uniform_int_distribution<std::size_t>(1, 4)(rng);
  Config c;
  for (std::size_t i = 0; i < n; ++i) c.sizes.push_back(DurationMs{pool[i]});
  std::sort(c.sizes.begin(), c.sizes.end());
  c.grace = std::uniform_int_distribution<std::int64_t>(0, 3)(rng) == 0
                ? 0
                : std::uniform_int_distribution<std::int64_t>(0, 40)(rng);
  c.retention = std::uniform_int_distribution<std::int64_t>(0, 80)(rng);
  c.emit = std::bernoulli_distribution(0.5)(rng) ? EmitMode::kUpdates : EmitMode::kFinal;
  return c;
}

std::vector<std::vector<RawTick>> random_batches(std::mt19937_64& rng) {
  static const char* kNames[] = {"a", "b", "a|b", "\xc3\xa9", "\"q\""};
  static const char* kActivities[] = {"x", "y|z", "x"};
  const auto n = std::uniform_int_distribution<int>(1, 300)(rng);
  std::int64_t cursor = std::uniform_int_distribution<std::int64_t>(-300, 300)(rng);
  const double late_rate = std::uniform_real_distribution<double>(0.0, 0.4)(rng);
  const double batch_end = std::uniform_real_distribution<double>(0.02, 0.5)(rng);
  std::vector<std::vector<RawTick>> batches(1);
  for (int i = 0; i < n; ++i) {
    cursor += std::uniform_int_distribution<std::int64_t>(0, 6)(rng);
    std::int64_t t = cursor;
    // Out of order: mostly a little behind, sometimes far behind (late for some sizes).
    if (std::bernoulli_distribution(late_rate)(rng)) {
      t -= std::uniform_int_distribution<std::int64_t>(0, 150)(rng);
    } else {
      t -= std::uniform_int_distribution<std::int64_t>(0, 3)(rng);
    }
    const std::int64_t count = std::bernoulli_distribution(0.05)(rng)
                                   ? 1'000'000'000
                                   : std::uniform_int_distribution<std::int64_t>(1, 5)(rng);
    batches.back().push_back(RawTick{kNames[std::uniform_int_distribution<int>(0, 4)(rng)],
                                     kActivities[std::uniform_int_distribution<int>(0, 2)(rng)], t,
                                     count});
    if (std::bernoulli_distribution(batch_end)(rng)) batches.emplace_back();
  }
  // Half the scenarios end with a tick far ahead, which closes (and expires) everything.
  if (std::bernoulli_distribution(0.5)(rng)) {
    batches.push_back({RawTick{"flush", "x", cursor + 10'000, 1}});
  }
  return batches;
}

TEST(AggregationProperty, FinalRollupsEqualBruteForce) {
  int total_finals = 0, total_late = 0, total_expired = 0;
  for (int scenario = 0; scenario < kScenarios; ++scenario) {
    SCOPED_TRACE("scenario seed " + std::to_string(scenario));
    std::mt19937_64 rng(0xA0D170 + static_cast<std::uint64_t>(scenario));
    const Config config = random_config(rng);
    const auto batches = random_batches(rng);
    const std::int64_t bucket = WindowSet(config.sizes).bucket().value;

    std::vector<Record> records;
    for (const auto& batch : batches) {
      for (Record& r : group_batch(batch, bucket)) records.push_back(std::move(r));
    }
    const Expected expected = brute_force(records, config);
    const double commit_rate = std::uniform_real_distribution<double>(0.02, 0.6)(rng);

    const Faults faults{0.2, 0.1, 0.1, 0.5};
    const Outcome outcome =
        run_pipeline(batches, config, expected.late_masks, commit_rate, faults, rng);
    ASSERT_EQ(outcome.records, records) << "stage 1 pre-aggregation differs";
    ASSERT_EQ(outcome.progress.stream_time, EventTime{expected.stream_time});

    // Finals: exactly the closed windows, each with its brute-force count.
    std::map<WindowKey, WindowCounts> expected_finals;
    for (const auto& [k, v] : expected.windows) {
      if (closed(k, expected.stream_time, config)) expected_finals.emplace(k, v);
    }
    EXPECT_EQ(outcome.finals, expected_finals);

    // Updates mode publishes every change: the last value of each window is its count.
    if (config.emit == EmitMode::kUpdates) {
      EXPECT_EQ(outcome.last_published, expected.windows);
    }

    // The store holds every window that has not expired, with its absolute count.
    std::map<WindowKey, WindowCounts> expected_store;
    for (const auto& [k, v] : expected.windows) {
      if (expired(k, expected.stream_time, config)) {
        ++total_expired;
      } else {
        expected_store.emplace(k, v);
      }
    }
    EXPECT_EQ(outcome.store.windows, expected_store);

    // Dropped commits, restarts and commits in flight change nothing that is published.
    std::mt19937_64 clean_rng(1);
    const Outcome clean =
        run_pipeline(batches, config, expected.late_masks, commit_rate, Faults{}, clean_rng);
    EXPECT_EQ(clean.finals, outcome.finals);
    EXPECT_EQ(clean.store.windows, outcome.store.windows);

    total_finals += static_cast<int>(expected_finals.size());
    for (const std::uint32_t m : expected.late_masks) total_late += m != 0 ? 1 : 0;
    if (HasFailure()) break;  // one scenario's report is enough
  }
  // The generator must actually exercise closing, lateness and expiry.
  EXPECT_GT(total_finals, 10 * kScenarios);
  EXPECT_GT(total_late, kScenarios);
  EXPECT_GT(total_expired, kScenarios);
}

}  // namespace
}  // namespace auditor
