#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <stdexcept>
#include <vector>

#include "topology/window_aggregator.h"

namespace auditor {
namespace {

constexpr DurationMs kMinute{60'000};
constexpr DurationMs kHour{3'600'000};
constexpr DurationMs kGrace{30'000};
constexpr DurationMs kRetention{600'000};
constexpr WindowCounts kOne{1, 1};
constexpr std::int32_t kInputs = 2;

// Minutes and seconds after an arbitrary day: 2026-11-22T00:00:00Z.
EventTime at(int minutes, int seconds = 0, int millis = 0) {
  return EventTime{1'795'305'600'000 + minutes * 60'000LL + seconds * 1'000LL + millis};
}

// The committed windows of one task, as RocksDB would hold them.
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
  void apply(const CommitResult& commit) {
    for (const auto& [key, counts] : commit.puts) windows[key] = counts;
    for (const WindowKey& key : commit.deletes) windows.erase(key);
  }
  std::map<WindowKey, WindowCounts> windows;
};

class WindowAggregatorTest : public ::testing::Test {
 protected:
  WindowAggregator make(EmitMode emit = EmitMode::kUpdates, TaskProgress restored = {},
                        DurationMs grace = kGrace) {
    return WindowAggregator(WindowSet::parse("1m,1h"), grace, kRetention, emit, kInputs,
                            std::move(restored));
  }
  // Every input partition reports partition time `t`: the task watermark becomes t (if
  // it was not already later).
  static void advance(WindowAggregator& agg, EventTime t) {
    for (std::int32_t p = 0; p < kInputs; ++p) agg.observe_watermark(PartitionId{p}, {t, false});
  }
  static PartitionWatermarks all_at(EventTime t) {
    PartitionWatermarks out;
    for (std::int32_t p = 0; p < kInputs; ++p) out[p] = {t, false};
    return out;
  }
  // commit() + apply + committed(), as the worker does on success.
  CommitResult commit(WindowAggregator& agg) {
    CommitResult result = agg.commit(store_);
    store_.apply(result);
    agg.committed(result.progress);
    return result;
  }
  static WindowKey key(DurationMs size, EventTime start, std::string name = "auth",
                       std::string activity = "login") {
    return WindowKey{size, start, std::move(name), std::move(activity)};
  }
  static std::map<WindowKey, WindowCounts> finals_of(const CommitResult& r) {
    std::map<WindowKey, WindowCounts> finals;
    for (const Rollup& rollup : r.rollups) {
      if (rollup.final) {
        EXPECT_TRUE(finals.emplace(rollup.key, rollup.counts).second) << rollup.key.process_name;
      }
    }
    return finals;
  }

  MapStore store_;
};

TEST_F(WindowAggregatorTest, WindowClosesExactlyWhenTheWatermarkReachesEndPlusGrace) {
  WindowAggregator agg = make();
  EXPECT_EQ(agg.add("auth", "login", at(47, 10), kOne), 0U);
  // The 00:47 minute window closes at 00:48:00 + 30s grace.
  advance(agg, at(48, 29, 999));
  EXPECT_EQ(agg.watermark(), at(48, 29, 999));
  EXPECT_EQ(agg.add("auth", "login", at(47, 59, 999), kOne), 0U);  // still open
  advance(agg, at(48, 30));
  EXPECT_EQ(agg.watermark(), at(48, 30));
  // Closed for 1m (bit 0), still counted in 1h (bit 1).
  EXPECT_EQ(agg.add("auth", "login", at(47, 0), kOne), 1U);
  EXPECT_EQ(agg.windows().names(1U), "1m");
  EXPECT_EQ(agg.add("auth", "login", at(48, 0), kOne), 0U);  // the next minute is open

  const CommitResult r = commit(agg);
  EXPECT_EQ(store_.windows.at(key(kMinute, at(47))), (WindowCounts{2, 2}));
  EXPECT_EQ(store_.windows.at(key(kMinute, at(48))), kOne);
  EXPECT_EQ(store_.windows.at(key(kHour, at(0))), (WindowCounts{4, 4}));
  EXPECT_EQ(finals_of(r), (std::map<WindowKey, WindowCounts>{{key(kMinute, at(47)), {2, 2}}}));
}

TEST_F(WindowAggregatorTest, ZeroGraceClosesAtTheWindowEnd) {
  WindowAggregator agg = make(EmitMode::kUpdates, {}, DurationMs{0});
  EXPECT_EQ(agg.add("a", "b", at(10), kOne), 0U);
  advance(agg, at(10, 59, 999));
  EXPECT_EQ(agg.add("a", "b", at(10, 59, 999), kOne), 0U);
  advance(agg, at(11));
  EXPECT_EQ(agg.add("a", "b", at(10, 59, 999), kOne), 1U);
  EXPECT_EQ(agg.add("a", "b", at(11), kOne), 0U);
  advance(agg, at(60));
  EXPECT_EQ(agg.add("a", "b", at(59, 59), kOne), 3U);  // 1m and 1h both closed
  EXPECT_EQ(agg.add("a", "b", at(60), kOne), 0U);
}

TEST_F(WindowAggregatorTest, RecordsNeverMoveTheWatermark) {
  WindowAggregator agg = make();
  EXPECT_EQ(agg.add("a", "b", at(10), kOne), 0U);
  EXPECT_EQ(agg.add("a", "b", at(500), kOne), 0U);
  EXPECT_EQ(agg.watermark(), std::nullopt);
  // Without a watermark nothing is closed, however far apart the records are.
  EXPECT_EQ(agg.add("a", "b", at(10), kOne), 0U);
  const CommitResult r = commit(agg);
  EXPECT_EQ(r.progress.watermark, std::nullopt);
  EXPECT_TRUE(r.progress.closed_before.empty());
  EXPECT_TRUE(finals_of(r).empty());
  EXPECT_EQ(store_.windows.at(key(kMinute, at(10), "a", "b")), (WindowCounts{2, 2}));
}

TEST_F(WindowAggregatorTest, LateMaskSkipsTheSizesStage1FoundLate) {
  WindowAggregator agg = make();
  EXPECT_EQ(agg.add("a", "b", at(47, 10), kOne, 0b01U), 0U);  // counts in 1h only
  EXPECT_EQ(agg.add("a", "b", at(47, 20), kOne, 0b10U), 0U);  // counts in 1m only
  EXPECT_EQ(agg.add("a", "b", at(47, 30), kOne, 0b11U), 0U);  // counts nowhere
  EXPECT_EQ(agg.add("a", "b", at(47, 40), WindowCounts{5, 2}), 0U);
  // Bits beyond the configured sizes are ignored.
  EXPECT_EQ(agg.add("a", "b", at(47, 50), kOne, 0xFFFFFFFCU), 0U);
  EXPECT_EQ(agg.pending_windows(), 2U);
  commit(agg);
  EXPECT_EQ(store_.windows.at(key(kMinute, at(47), "a", "b")), (WindowCounts{7, 4}));
  EXPECT_EQ(store_.windows.at(key(kHour, at(0), "a", "b")), (WindowCounts{7, 4}));

  // Fully late everywhere: nothing to do.
  EXPECT_EQ(agg.add("a", "b", at(47), kOne, 0b11U), 0U);
  EXPECT_FALSE(agg.has_pending());
  EXPECT_EQ(agg.pending_windows(), 0U);
}

TEST_F(WindowAggregatorTest, ClosedMaskLeavesOutTheSizesAlreadyLate) {
  WindowAggregator agg = make(EmitMode::kUpdates, {}, DurationMs{0});
  advance(agg, at(120));
  // Both windows of 00:59 are closed; with 1m already late in stage 1, only 1h is reported.
  EXPECT_EQ(agg.add("a", "b", at(59), kOne, 0b01U), 0b10U);
  EXPECT_EQ(agg.add("a", "b", at(59), kOne, 0b10U), 0b01U);
  EXPECT_EQ(agg.add("a", "b", at(59), kOne), 0b11U);
  EXPECT_EQ(agg.add("a", "b", at(59), kOne, 0b11U), 0U);
  EXPECT_EQ(agg.pending_windows(), 0U);
  // Open windows: the mask only says what stage 1 skipped.
  EXPECT_EQ(agg.add("a", "b", at(120), kOne, 0b10U), 0U);
  EXPECT_EQ(agg.pending_windows(), 1U);
}

TEST_F(WindowAggregatorTest, TaskWatermarkIsTheMinimumOverInputPartitions) {
  WindowAggregator agg(WindowSet::parse("1m,1h"), kGrace, kRetention, EmitMode::kFinal, 3, {});
  (void)agg.add("auth", "login", at(47, 10), kOne);
  (void)agg.add("auth", "login", at(48, 10), kOne);
  agg.observe_watermark(PartitionId{0}, {at(60), false});
  agg.observe_watermark(PartitionId{2}, {at(55), false});
  EXPECT_EQ(agg.watermark(), std::nullopt);  // partition 1 has not reported
  agg.observe_watermark(PartitionId{1}, {std::nullopt, false});
  EXPECT_EQ(agg.watermark(), std::nullopt);  // partition 1 has no time yet
  agg.observe_watermark(PartitionId{1}, {at(49), false});
  EXPECT_EQ(agg.watermark(), at(49));
  // 00:47 closes (00:48:30 <= 00:49), 00:48 does not (00:49:30).
  EXPECT_EQ(agg.add("auth", "login", at(47, 11), kOne), 1U);
  EXPECT_EQ(agg.add("auth", "login", at(48, 11), kOne), 0U);

  CommitResult r = commit(agg);
  EXPECT_EQ(finals_of(r), (std::map<WindowKey, WindowCounts>{{key(kMinute, at(47)), kOne}}));
  EXPECT_EQ(r.progress.watermark, at(49));
  EXPECT_EQ(
      r.progress.watermarks,
      (PartitionWatermarks{{0, {at(60), false}}, {1, {at(49), false}}, {2, {at(55), false}}}));

  agg.observe_watermark(PartitionId{1}, {at(70), false});
  EXPECT_EQ(agg.watermark(), at(55));
  r = commit(agg);
  EXPECT_EQ(finals_of(r), (std::map<WindowKey, WindowCounts>{{key(kMinute, at(48)), {2, 2}}}));
  EXPECT_EQ(r.progress.closed_before.at(kMinute.value),
            EventTime{at(55).value - kMinute.value - kGrace.value + 1});
}

TEST_F(WindowAggregatorTest, WatermarksOfOtherPartitionsAreKeptButDoNotCount) {
  WindowAggregator agg = make();
  agg.observe_watermark(PartitionId{0}, {at(60), false});
  agg.observe_watermark(PartitionId{5}, {at(10), false});  // not an input partition
  EXPECT_EQ(agg.watermark(), std::nullopt);
  agg.observe_watermark(PartitionId{1}, {at(50), false});
  EXPECT_EQ(agg.watermark(), at(50));
  const CommitResult r = commit(agg);
  EXPECT_EQ(r.progress.watermarks.size(), 3U);
  EXPECT_EQ(r.progress.watermark, at(50));
}

TEST_F(WindowAggregatorTest, IdlePartitionsDoNotHoldTheWatermarkBack) {
  WindowAggregator agg = make(EmitMode::kFinal);
  (void)agg.add("auth", "login", at(47, 10), kOne);
  agg.observe_watermark(PartitionId{0}, {at(50), false});
  agg.observe_watermark(PartitionId{1}, {std::nullopt, true});  // idle, never had a tick
  EXPECT_EQ(agg.watermark(), at(50));
  CommitResult r = commit(agg);
  EXPECT_EQ(finals_of(r), (std::map<WindowKey, WindowCounts>{{key(kMinute, at(47)), kOne}}));

  // Both idle: the largest time.
  agg.observe_watermark(PartitionId{0}, {at(50), true});
  agg.observe_watermark(PartitionId{1}, {at(52), true});
  EXPECT_EQ(agg.watermark(), at(52));

  // Partition 1 wakes up with ticks from its own past: the watermark does not go back,
  // and its ticks for windows closed meanwhile are reported.
  agg.observe_watermark(PartitionId{1}, {at(52), false});
  agg.observe_watermark(PartitionId{0}, {at(50), false});
  EXPECT_EQ(agg.watermark(), at(52));
  EXPECT_EQ(agg.add("auth", "login", at(50, 10), kOne), 1U);  // closed at 00:51:30
  EXPECT_EQ(agg.add("auth", "login", at(51, 40), kOne), 0U);  // closes at 00:52:30
  r = commit(agg);
  EXPECT_EQ(r.progress.watermark, at(52));
  EXPECT_EQ(r.progress.watermarks,
            (PartitionWatermarks{{0, {at(50), false}}, {1, {at(52), false}}}));
}

TEST_F(WindowAggregatorTest, AnOlderWatermarkChangesNothing) {
  WindowAggregator agg = make();
  advance(agg, at(50));
  // A duplicate of an older watermark (at-least-once) does not move a partition back.
  agg.observe_watermark(PartitionId{0}, {at(40), false});
  EXPECT_EQ(agg.watermark(), at(50));
  agg.observe_watermark(PartitionId{1}, {at(60), false});
  EXPECT_EQ(agg.watermark(), at(50));
  agg.observe_watermark(PartitionId{0}, {std::nullopt, false});
  EXPECT_EQ(agg.watermark(), at(50));
  const CommitResult r = commit(agg);
  EXPECT_EQ(r.progress.watermarks,
            (PartitionWatermarks{{0, {at(50), false}}, {1, {at(60), false}}}));
}

TEST_F(WindowAggregatorTest, UpdatesThenOneFinalPerWindow) {
  WindowAggregator agg = make();
  EXPECT_FALSE(agg.has_pending());
  (void)agg.add("auth", "login", at(47, 10), WindowCounts{5, 1});
  (void)agg.add("auth", "login", at(47, 20), WindowCounts{3, 2});
  advance(agg, at(47, 20));
  EXPECT_TRUE(agg.has_pending());

  CommitResult r = commit(agg);
  EXPECT_FALSE(agg.has_pending());
  ASSERT_EQ(r.rollups.size(), 2U);
  EXPECT_EQ(r.rollups[0].key, key(kMinute, at(47)));
  EXPECT_EQ(r.rollups[0].counts, (WindowCounts{8, 3}));
  EXPECT_FALSE(r.rollups[0].final);
  EXPECT_EQ(r.rollups[1].key, key(kHour, at(0)));
  EXPECT_FALSE(r.rollups[1].final);
  EXPECT_TRUE(r.deletes.empty());
  EXPECT_EQ(r.progress.watermark, at(47, 20));
  EXPECT_EQ(r.progress.watermarks, all_at(at(47, 20)));

  // A second commit adds to the stored absolute values.
  (void)agg.add("auth", "login", at(47, 30), WindowCounts{1, 1});
  r = commit(agg);
  ASSERT_EQ(r.rollups.size(), 2U);
  EXPECT_EQ(r.rollups[0].counts, (WindowCounts{9, 4}));
  EXPECT_EQ(r.puts.size(), 2U);

  // The watermark reaches 00:48:30: the minute window closes with its stored value, even
  // though this commit did not touch it. The new minute's update comes first.
  (void)agg.add("other", "x", at(48, 30), kOne);
  advance(agg, at(48, 30));
  r = commit(agg);
  ASSERT_EQ(r.rollups.size(), 3U);
  EXPECT_EQ(r.rollups[0].key, key(kMinute, at(48), "other", "x"));
  EXPECT_FALSE(r.rollups[0].final);
  EXPECT_EQ(r.rollups[1].key, key(kHour, at(0), "other", "x"));
  EXPECT_FALSE(r.rollups[1].final);
  EXPECT_EQ(r.rollups[2].key, key(kMinute, at(47)));
  EXPECT_EQ(r.rollups[2].counts, (WindowCounts{9, 4}));
  EXPECT_TRUE(r.rollups[2].final);
  EXPECT_EQ(r.progress.closed_before.at(kMinute.value), EventTime{at(47).value + 1});

  // The watermark moving on finalizes nothing twice.
  (void)agg.add("other", "x", at(48, 40), kOne);
  advance(agg, at(48, 40));
  r = commit(agg);
  EXPECT_FALSE(r.rollups.empty());
  for (const Rollup& rollup : r.rollups) EXPECT_FALSE(rollup.final);
  // Nor does a commit with no new watermark.
  advance(agg, at(48, 40));
  r = commit(agg);
  EXPECT_TRUE(r.rollups.empty());
}

TEST_F(WindowAggregatorTest, ClosedBoundIsWatermarkMinusSizeMinusGracePlusOne) {
  WindowAggregator agg = make();
  (void)agg.add("a", "b", at(100, 0, 7), kOne);
  advance(agg, at(100, 0, 7));
  const CommitResult r = commit(agg);
  EXPECT_EQ(r.progress.closed_before.at(kMinute.value),
            EventTime{at(100, 0, 7).value - kMinute.value - kGrace.value + 1});
  EXPECT_EQ(r.progress.closed_before.at(kHour.value),
            EventTime{at(100, 0, 7).value - kHour.value - kGrace.value + 1});
  EXPECT_EQ(r.progress.expired_before.at(kMinute.value),
            EventTime{at(100, 0, 7).value - kMinute.value - kGrace.value - kRetention.value + 1});
}

TEST_F(WindowAggregatorTest, FinalModePublishesOnlyFinals) {
  WindowAggregator agg = make(EmitMode::kFinal);
  (void)agg.add("auth", "login", at(47, 10), kOne);
  CommitResult r = commit(agg);
  EXPECT_TRUE(r.rollups.empty());
  EXPECT_EQ(r.puts.size(), 2U);
  (void)agg.add("auth", "login", at(48, 30), kOne);
  advance(agg, at(48, 30));
  r = commit(agg);
  ASSERT_EQ(r.rollups.size(), 1U);
  EXPECT_EQ(r.rollups[0].key, key(kMinute, at(47)));
  EXPECT_EQ(r.rollups[0].counts, kOne);
  EXPECT_TRUE(r.rollups[0].final);
}

TEST_F(WindowAggregatorTest, AWindowClosingInItsFirstCommitGetsOnlyItsFinal) {
  WindowAggregator agg = make();
  (void)agg.add("auth", "login", at(47, 10), kOne);
  advance(agg, at(50));  // closes 00:47 before any commit
  const CommitResult r = commit(agg);
  int finals = 0;
  for (const Rollup& rollup : r.rollups) {
    if (rollup.key == key(kMinute, at(47))) {
      EXPECT_TRUE(rollup.final);
      EXPECT_EQ(rollup.counts, kOne);
      ++finals;
    }
  }
  EXPECT_EQ(finals, 1);
  ASSERT_EQ(r.rollups.size(), 2U);
  EXPECT_EQ(r.rollups[0].key, key(kHour, at(0)));  // updates first, then finals
  EXPECT_FALSE(r.rollups[0].final);
  EXPECT_TRUE(r.rollups.back().final);
}

TEST_F(WindowAggregatorTest, ExpiredWindowsAreDeleted) {
  WindowAggregator agg = make();
  (void)agg.add("auth", "login", at(47, 10), kOne);
  commit(agg);
  ASSERT_TRUE(store_.windows.count(key(kMinute, at(47))));
  // Expiry at end + grace + retention = 00:48:00 + 30s + 10m.
  advance(agg, at(58, 29, 999));
  CommitResult r = commit(agg);
  EXPECT_TRUE(r.deletes.empty());
  advance(agg, at(58, 30));
  r = commit(agg);
  ASSERT_EQ(r.deletes.size(), 1U);
  EXPECT_EQ(r.deletes[0], key(kMinute, at(47)));
  EXPECT_FALSE(store_.windows.count(key(kMinute, at(47))));
  EXPECT_TRUE(store_.windows.count(key(kHour, at(0))));
  // Deleted once.
  advance(agg, at(59));
  r = commit(agg);
  EXPECT_TRUE(r.deletes.empty());
}

TEST_F(WindowAggregatorTest, ClosingAndExpiringInOneCommitPublishesButDoesNotStore) {
  WindowAggregator agg = make();
  (void)agg.add("auth", "login", at(47, 10), kOne);
  commit(agg);
  (void)agg.add("auth", "login", at(47, 20), kOne);  // pending delta for a stored window
  (void)agg.add("new", "window", at(47, 25), kOne);  // pending, never stored
  (void)agg.add("other", "x", at(200), kOne);
  advance(agg, at(200));  // closes and expires all of 00:47 and hour 00:00
  const CommitResult r = commit(agg);
  for (const auto& [k, counts] : r.puts) EXPECT_NE(k.start, at(47)) << k.process_name;
  for (const auto& [k, counts] : r.puts) EXPECT_EQ(k.process_name, "other");
  // Both stored windows of the first commit expire; the "new" ones were never stored.
  EXPECT_EQ(r.deletes, (std::vector<WindowKey>{key(kMinute, at(47)), key(kHour, at(0))}));
  const std::map<WindowKey, WindowCounts> finals = finals_of(r);
  EXPECT_EQ(finals.size(), 4U);
  EXPECT_EQ(finals.at(key(kMinute, at(47))), (WindowCounts{2, 2}));
  EXPECT_EQ(finals.at(key(kMinute, at(47), "new", "window")), kOne);
  EXPECT_EQ(finals.at(key(kHour, at(0))), (WindowCounts{2, 2}));
  EXPECT_EQ(finals.at(key(kHour, at(0), "new", "window")), kOne);
  EXPECT_FALSE(store_.windows.count(key(kMinute, at(47))));
  EXPECT_FALSE(store_.windows.count(key(kMinute, at(47), "new", "window")));
  EXPECT_EQ(store_.windows.at(key(kMinute, at(200), "other", "x")), kOne);
}

TEST_F(WindowAggregatorTest, NothingClosesWithoutAWatermark) {
  WindowAggregator agg = make();
  const CommitResult r = agg.commit(store_);
  EXPECT_TRUE(r.puts.empty());
  EXPECT_TRUE(r.deletes.empty());
  EXPECT_TRUE(r.rollups.empty());
  EXPECT_EQ(r.progress, TaskProgress{});
  EXPECT_FALSE(agg.has_pending());
}

TEST_F(WindowAggregatorTest, NothingClosesUntilEveryInputPartitionReported) {
  WindowAggregator agg = make();
  (void)agg.add("auth", "login", at(47, 10), kOne);
  agg.observe_watermark(PartitionId{0}, {at(200), false});
  EXPECT_EQ(agg.watermark(), std::nullopt);
  EXPECT_EQ(agg.add("auth", "login", at(47, 11), kOne), 0U);
  const CommitResult r = commit(agg);
  EXPECT_TRUE(finals_of(r).empty());
  EXPECT_TRUE(r.deletes.empty());
  EXPECT_EQ(r.progress.watermark, std::nullopt);
  EXPECT_EQ(r.progress.watermarks, (PartitionWatermarks{{0, {at(200), false}}}));
  EXPECT_TRUE(r.progress.closed_before.empty());
  EXPECT_TRUE(r.progress.expired_before.empty());
}

TEST_F(WindowAggregatorTest, AWatermarkAloneIsPendingProgress) {
  WindowAggregator agg = make();
  (void)agg.add("a", "b", at(10), kOne);
  advance(agg, at(10));
  commit(agg);
  EXPECT_FALSE(agg.has_pending());
  agg.observe_watermark(PartitionId{0}, {at(11), false});
  EXPECT_TRUE(agg.has_pending());
  EXPECT_EQ(agg.pending_windows(), 0U);
  CommitResult r = commit(agg);
  EXPECT_FALSE(agg.has_pending());
  EXPECT_EQ(r.progress.watermarks.at(0), (PartitionWatermark{at(11), false}));
  EXPECT_EQ(r.progress.watermark, at(10));  // partition 1 is still at 00:10

  advance(agg, at(200));
  commit(agg);
  // A record late everywhere leaves nothing to do.
  EXPECT_EQ(agg.add("a", "b", at(10), kOne), 3U);
  EXPECT_FALSE(agg.has_pending());
}

TEST_F(WindowAggregatorTest, RecordsAddedWhileACommitIsInFlightBelongToTheNextOne) {
  WindowAggregator agg = make();
  (void)agg.add("auth", "login", at(47, 10), kOne);
  advance(agg, at(47, 10));
  const CommitResult first = agg.commit(store_);
  EXPECT_FALSE(agg.has_pending());

  // In flight: the window is neither closed nor part of `first`.
  EXPECT_EQ(agg.add("auth", "login", at(47, 20), kOne), 0U);
  advance(agg, at(47, 20));
  EXPECT_TRUE(agg.has_pending());
  store_.apply(first);
  agg.committed(first.progress);
  EXPECT_TRUE(agg.has_pending());
  // committed() with the older progress does not take the current watermark back.
  EXPECT_EQ(agg.watermark(), at(47, 20));
  EXPECT_EQ(agg.durable_progress(), first.progress);

  const CommitResult second = commit(agg);
  EXPECT_EQ(second.puts, (std::vector<std::pair<WindowKey, WindowCounts>>{
                             {key(kMinute, at(47)), WindowCounts{2, 2}},
                             {key(kHour, at(0)), WindowCounts{2, 2}}}));
  EXPECT_EQ(second.progress.watermark, at(47, 20));
  EXPECT_EQ(second.progress.watermarks, all_at(at(47, 20)));
}

TEST_F(WindowAggregatorTest, AWatermarkWhileInFlightClosesInTheNextCommit) {
  WindowAggregator agg = make();
  (void)agg.add("auth", "login", at(47, 10), kOne);
  const CommitResult first = agg.commit(store_);
  (void)agg.add("auth", "login", at(47, 20), kOne);  // in flight, before the watermark
  advance(agg, at(48, 30));                          // closes 00:47
  EXPECT_EQ(agg.add("auth", "login", at(47, 30), kOne), 1U);
  store_.apply(first);
  agg.committed(first.progress);
  const CommitResult second = commit(agg);
  EXPECT_EQ(finals_of(second), (std::map<WindowKey, WindowCounts>{{key(kMinute, at(47)), {2, 2}}}));
  EXPECT_EQ(store_.windows.at(key(kHour, at(0))), (WindowCounts{3, 3}));
}

TEST_F(WindowAggregatorTest, RollbackAlsoDropsWhatWasAddedWhileInFlight) {
  WindowAggregator agg = make();
  (void)agg.add("auth", "login", at(47, 10), kOne);
  advance(agg, at(47, 10));
  const CommitResult first = commit(agg);
  (void)agg.add("auth", "login", at(47, 20), kOne);
  advance(agg, at(47, 20));
  (void)agg.commit(store_);
  (void)agg.add("other", "x", at(48), kOne);  // added while the failed commit was in flight
  advance(agg, at(49));                       // observed while it was in flight
  agg.rollback(first.progress);
  EXPECT_FALSE(agg.has_pending());
  EXPECT_EQ(agg.watermark(), at(47, 10));
  // The next commit carries the durable watermarks, not the dropped ones.
  const CommitResult next = agg.commit(store_);
  EXPECT_EQ(next.progress.watermarks, all_at(at(47, 10)));
  EXPECT_TRUE(next.puts.empty());
}

TEST_F(WindowAggregatorTest, RollbackForgetsDeltasAndWatermarks) {
  WindowAggregator agg = make();
  (void)agg.add("auth", "login", at(47, 10), kOne);
  advance(agg, at(47, 10));
  const CommitResult first = commit(agg);

  (void)agg.add("auth", "login", at(47, 20), kOne);
  (void)agg.add("other", "x", at(49), kOne);
  advance(agg, at(49));  // would close 00:47
  const CommitResult dropped = agg.commit(store_);
  ASSERT_FALSE(finals_of(dropped).empty());
  agg.rollback(first.progress);
  EXPECT_EQ(agg.watermark(), at(47, 10));
  EXPECT_FALSE(agg.has_pending());
  EXPECT_EQ(agg.durable_progress(), first.progress);

  // After re-reading the same input, the same commit comes out.
  EXPECT_EQ(agg.add("auth", "login", at(47, 20), kOne), 0U);
  EXPECT_EQ(agg.add("other", "x", at(49), kOne), 0U);
  advance(agg, at(49));
  const CommitResult again = agg.commit(store_);
  EXPECT_EQ(again.puts, dropped.puts);
  EXPECT_EQ(again.deletes, dropped.deletes);
  EXPECT_EQ(again.progress, dropped.progress);
  ASSERT_EQ(again.rollups.size(), dropped.rollups.size());
  for (std::size_t i = 0; i < again.rollups.size(); ++i) {
    EXPECT_EQ(again.rollups[i].key, dropped.rollups[i].key);
    EXPECT_EQ(again.rollups[i].counts, dropped.rollups[i].counts);
    EXPECT_EQ(again.rollups[i].final, dropped.rollups[i].final);
  }
}

TEST_F(WindowAggregatorTest, RestoredProgressResumesWatermarksAndBounds) {
  WindowAggregator agg = make();
  (void)agg.add("auth", "login", at(47, 10), kOne);
  (void)agg.add("other", "x", at(49), kOne);
  agg.observe_watermark(PartitionId{0}, {at(49), false});
  agg.observe_watermark(PartitionId{1}, {at(55), false});
  const CommitResult r = commit(agg);
  ASSERT_EQ(r.progress.watermark, at(49));

  WindowAggregator restarted = make(EmitMode::kUpdates, r.progress);
  EXPECT_EQ(restarted.watermark(), at(49));
  EXPECT_EQ(restarted.durable_progress(), r.progress);
  EXPECT_FALSE(restarted.has_pending());
  EXPECT_EQ(restarted.add("auth", "login", at(47, 59), kOne), 1U);
  CommitResult next = commit(restarted);
  for (const Rollup& rollup : next.rollups) EXPECT_NE(rollup.key, key(kMinute, at(47)));

  // The per-partition watermarks were restored too: partition 1 is already at 00:55.
  restarted.observe_watermark(PartitionId{0}, {at(60), false});
  EXPECT_EQ(restarted.watermark(), at(55));
  next = commit(restarted);
  EXPECT_EQ(next.progress.watermarks,
            (PartitionWatermarks{{0, {at(60), false}}, {1, {at(55), false}}}));
}

TEST_F(WindowAggregatorTest, RestoredWatermarkStaysWhenMorePartitionsAppear) {
  WindowAggregator agg = make();
  advance(agg, at(49));
  const CommitResult r = commit(agg);
  // The input topic grew to three partitions: the third has not reported yet, but the
  // task watermark does not go back.
  WindowAggregator grown(WindowSet::parse("1m,1h"), kGrace, kRetention, EmitMode::kUpdates, 3,
                         r.progress);
  EXPECT_EQ(grown.watermark(), at(49));
  EXPECT_EQ(grown.add("auth", "login", at(47, 59), kOne), 1U);
  grown.observe_watermark(PartitionId{0}, {at(60), false});
  grown.observe_watermark(PartitionId{1}, {at(60), false});
  EXPECT_EQ(grown.watermark(), at(49));
  grown.observe_watermark(PartitionId{2}, {at(59), false});
  EXPECT_EQ(grown.watermark(), at(59));
}

TEST_F(WindowAggregatorTest, LargerGraceAfterRestartDoesNotReopenFinalizedWindows) {
  WindowAggregator agg = make();
  (void)agg.add("auth", "login", at(47, 10), kOne);
  advance(agg, at(48, 30));
  const CommitResult r = commit(agg);
  ASSERT_TRUE(r.rollups.back().final);

  WindowAggregator wider = make(EmitMode::kUpdates, r.progress, DurationMs{600'000});
  EXPECT_EQ(wider.add("auth", "login", at(47, 11), kOne), 1U);
  advance(wider, at(48, 40));
  EXPECT_EQ(wider.add("auth", "login", at(47, 12), kOne), 1U);
  const CommitResult next = commit(wider);
  // Bounds never move backwards.
  EXPECT_EQ(next.progress.closed_before.at(kMinute.value),
            r.progress.closed_before.at(kMinute.value));
  for (const Rollup& rollup : next.rollups) EXPECT_NE(rollup.key, key(kMinute, at(47)));
}

TEST_F(WindowAggregatorTest, NegativeTimesAndTheFarFuture) {
  WindowAggregator agg = make(EmitMode::kUpdates, {}, DurationMs{0});
  EXPECT_EQ(agg.add("a", "b", EventTime{-1}, kOne), 0U);
  advance(agg, EventTime{0});
  EXPECT_EQ(agg.add("a", "b", EventTime{0}, kOne), 0U);
  EXPECT_EQ(agg.add("a", "b", EventTime{-1}, kOne), 3U);  // [-60000, 0) and [-1h, 0) closed at 0
  commit(agg);
  EXPECT_EQ(store_.windows.at(key(kMinute, EventTime{-60'000}, "a", "b")), kOne);
  EXPECT_EQ(agg.add("a", "b", kMaxEventTime, kOne), 0U);
  advance(agg, kMaxEventTime);
  const CommitResult r = commit(agg);
  EXPECT_EQ(store_.windows.at(key(kMinute, window_start(kMaxEventTime, kMinute), "a", "b")), kOne);
  EXPECT_EQ(store_.windows.size(), 2U);  // everything older expired
  EXPECT_EQ(r.progress.watermark, kMaxEventTime);
}

TEST_F(WindowAggregatorTest, FirstWindowStartingBeforeTheEarliestEventTime) {
  // 7d does not divide the time from year 0 to the epoch, so the window holding
  // kMinEventTime starts before it; it must still count, close and expire normally.
  const DurationMs week{7 * 86'400'000LL};
  WindowAggregator agg(WindowSet({week}), DurationMs{0}, DurationMs{0}, EmitMode::kFinal, 1, {});
  const WindowKey first{week, window_start(kMinEventTime, week), "a", "b"};
  ASSERT_LT(first.start, kMinEventTime);
  EXPECT_EQ(agg.add("a", "b", kMinEventTime, kOne), 0U);
  agg.observe_watermark(PartitionId{0}, {kMinEventTime, false});
  commit(agg);
  EXPECT_EQ(store_.windows.at(first), kOne);
  agg.observe_watermark(PartitionId{0}, {first.end(), false});
  const CommitResult r = commit(agg);
  ASSERT_EQ(r.rollups.size(), 1U);
  EXPECT_EQ(r.rollups[0].key, first);
  EXPECT_TRUE(r.rollups[0].final);
  EXPECT_EQ(r.deletes, std::vector<WindowKey>{first});
}

TEST_F(WindowAggregatorTest, HugeGraceAndRetentionDoNotOverflow) {
  WindowAggregator agg(WindowSet::parse("1m"), DurationMs{std::numeric_limits<std::int64_t>::max()},
                       DurationMs{std::numeric_limits<std::int64_t>::max()}, EmitMode::kUpdates, 1,
                       {});
  (void)agg.add("a", "b", kMinEventTime, kOne);
  agg.observe_watermark(PartitionId{0}, {kMaxEventTime, false});
  EXPECT_EQ(agg.add("a", "b", kMaxEventTime, kOne), 0U);
  EXPECT_EQ(agg.add("a", "b", kMinEventTime, kOne), 0U);  // infinite grace: never closed
  const CommitResult r = commit(agg);
  EXPECT_TRUE(r.deletes.empty());
  for (const Rollup& rollup : r.rollups) EXPECT_FALSE(rollup.final);
  EXPECT_EQ(store_.windows.size(), 2U);
}

TEST_F(WindowAggregatorTest, RejectsInvalidArguments) {
  EXPECT_THROW(WindowAggregator(WindowSet::parse("1m"), DurationMs{-1}, kRetention,
                                EmitMode::kUpdates, 1, {}),
               std::invalid_argument);
  EXPECT_THROW(
      WindowAggregator(WindowSet::parse("1m"), kGrace, DurationMs{-1}, EmitMode::kUpdates, 1, {}),
      std::invalid_argument);
  EXPECT_THROW(
      WindowAggregator(WindowSet::parse("1m"), kGrace, kRetention, EmitMode::kUpdates, 0, {}),
      std::invalid_argument);
  EXPECT_THROW(
      WindowAggregator(WindowSet::parse("1m"), kGrace, kRetention, EmitMode::kUpdates, -1, {}),
      std::invalid_argument);
}

}  // namespace
}  // namespace auditor
