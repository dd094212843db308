#include <gtest/gtest.h>

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
    return WindowAggregator(WindowSet::parse("1m,1h"), grace, kRetention, emit,
                            std::move(restored));
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

  MapStore store_;
};

TEST_F(WindowAggregatorTest, TickAtTheCloseBoundIsLateOneMillisecondBeforeIsNot) {
  WindowAggregator agg = make();
  EXPECT_EQ(agg.add("auth", "login", at(47, 10), kOne), 0U);
  // The 09:47 minute window closes at 09:48:00 + 30s grace.
  EXPECT_EQ(agg.add("other", "x", at(48, 29, 999), kOne), 0U);
  EXPECT_EQ(agg.add("auth", "login", at(47, 59, 999), kOne), 0U);  // still open
  EXPECT_EQ(agg.add("other", "x", at(48, 30), kOne), 0U);
  EXPECT_EQ(agg.stream_time(), at(48, 30));
  // Late for 1m (bit 0), still counted in 1h (bit 1).
  EXPECT_EQ(agg.add("auth", "login", at(47, 0), kOne), 1U);
  EXPECT_EQ(agg.windows().names(1U), "1m");

  commit(agg);
  EXPECT_EQ(store_.windows.at(key(kMinute, at(47))), (WindowCounts{2, 2}));
  EXPECT_EQ(store_.windows.at(key(kHour, at(0))), (WindowCounts{3, 3}));
}

TEST_F(WindowAggregatorTest, TheRecordThatAdvancesStreamTimeIsNeverLate) {
  WindowAggregator agg = make(EmitMode::kUpdates, {}, DurationMs{0});
  EXPECT_EQ(agg.add("a", "b", at(10), kOne), 0U);
  EXPECT_EQ(agg.add("a", "b", at(11), kOne), 0U);  // closes 10:00 with zero grace
  EXPECT_EQ(agg.add("a", "b", at(10, 59, 999), kOne), 1U);
  EXPECT_EQ(agg.add("a", "b", at(60), kOne), 0U);
  EXPECT_EQ(agg.add("a", "b", at(59, 59), kOne), 3U);  // 1m and 1h both closed
}

TEST_F(WindowAggregatorTest, UpdatesThenOneFinalPerWindow) {
  WindowAggregator agg = make();
  EXPECT_FALSE(agg.has_pending());
  (void)agg.add("auth", "login", at(47, 10), WindowCounts{5, 1});
  (void)agg.add("auth", "login", at(47, 20), WindowCounts{3, 2});
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
  EXPECT_EQ(r.progress.stream_time, at(47, 20));

  // A second commit adds to the stored absolute values.
  (void)agg.add("auth", "login", at(47, 30), WindowCounts{1, 1});
  r = commit(agg);
  ASSERT_EQ(r.rollups.size(), 2U);
  EXPECT_EQ(r.rollups[0].counts, (WindowCounts{9, 4}));
  EXPECT_EQ(r.puts.size(), 2U);

  // Stream time reaches 09:48:30: the minute window closes with its stored value, even
  // though this commit did not touch it. The new minute's update comes first.
  (void)agg.add("other", "x", at(48, 30), kOne);
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

  // Stream time moving on finalizes nothing twice.
  (void)agg.add("other", "x", at(48, 40), kOne);
  r = commit(agg);
  for (const Rollup& rollup : r.rollups) EXPECT_FALSE(rollup.final);
}

TEST_F(WindowAggregatorTest, ClosedBoundIsStreamTimeMinusSizeMinusGracePlusOne) {
  WindowAggregator agg = make();
  (void)agg.add("a", "b", at(100, 0, 7), kOne);
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
  r = commit(agg);
  ASSERT_EQ(r.rollups.size(), 1U);
  EXPECT_EQ(r.rollups[0].key, key(kMinute, at(47)));
  EXPECT_EQ(r.rollups[0].counts, kOne);
  EXPECT_TRUE(r.rollups[0].final);
}

TEST_F(WindowAggregatorTest, AWindowClosingInItsFirstCommitGetsOnlyItsFinal) {
  WindowAggregator agg = make();
  (void)agg.add("auth", "login", at(47, 10), kOne);
  (void)agg.add("other", "x", at(50), kOne);  // closes 09:47 before any commit
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
  EXPECT_TRUE(r.rollups.back().final);
}

TEST_F(WindowAggregatorTest, ExpiredWindowsAreDeleted) {
  WindowAggregator agg = make();
  (void)agg.add("auth", "login", at(47, 10), kOne);
  commit(agg);
  ASSERT_TRUE(store_.windows.count(key(kMinute, at(47))));
  // Expiry at end + grace + retention = 09:48:00 + 30s + 10m.
  (void)agg.add("other", "x", at(58, 29, 999), kOne);
  CommitResult r = commit(agg);
  EXPECT_TRUE(r.deletes.empty());
  (void)agg.add("other", "x", at(58, 30), kOne);
  r = commit(agg);
  ASSERT_EQ(r.deletes.size(), 1U);
  EXPECT_EQ(r.deletes[0], key(kMinute, at(47)));
  EXPECT_FALSE(store_.windows.count(key(kMinute, at(47))));
  EXPECT_TRUE(store_.windows.count(key(kHour, at(0))));
}

TEST_F(WindowAggregatorTest, ClosingAndExpiringInOneCommitPublishesButDoesNotStore) {
  WindowAggregator agg = make();
  (void)agg.add("auth", "login", at(47, 10), kOne);
  commit(agg);
  (void)agg.add("auth", "login", at(47, 20), kOne);  // pending delta for a stored window
  (void)agg.add("new", "window", at(47, 25), kOne);  // pending, never stored
  (void)agg.add("other", "x", at(200), kOne);        // closes and expires both
  const CommitResult r = commit(agg);
  for (const auto& [k, counts] : r.puts) EXPECT_NE(k.start, at(47)) << k.process_name;
  // Both stored windows of the first commit expire; the "new" one was never stored.
  EXPECT_EQ(r.deletes, (std::vector<WindowKey>{key(kMinute, at(47)), key(kHour, at(0))}));
  std::map<WindowKey, WindowCounts> finals;
  for (const Rollup& rollup : r.rollups) {
    if (rollup.final) {
      EXPECT_TRUE(finals.emplace(rollup.key, rollup.counts).second);
    }
  }
  EXPECT_EQ(finals.at(key(kMinute, at(47))), (WindowCounts{2, 2}));
  EXPECT_EQ(finals.at(key(kMinute, at(47), "new", "window")), kOne);
  EXPECT_FALSE(store_.windows.count(key(kMinute, at(47))));
  EXPECT_FALSE(store_.windows.count(key(kMinute, at(47), "new", "window")));
}

TEST_F(WindowAggregatorTest, NothingClosesWithoutStreamTime) {
  WindowAggregator agg = make();
  const CommitResult r = agg.commit(store_);
  EXPECT_TRUE(r.puts.empty());
  EXPECT_TRUE(r.deletes.empty());
  EXPECT_TRUE(r.rollups.empty());
  EXPECT_EQ(r.progress, TaskProgress{});
  EXPECT_FALSE(agg.has_pending());
}

TEST_F(WindowAggregatorTest, StreamTimeAloneIsPendingProgress) {
  WindowAggregator agg = make();
  (void)agg.add("a", "b", at(10), kOne);
  commit(agg);
  (void)agg.add("a", "b", at(10), kOne);
  EXPECT_TRUE(agg.has_pending());
  commit(agg);
  EXPECT_EQ(agg.add("a", "b", at(0), kOne), 1U);  // late for 1m, counted in 1h
  EXPECT_TRUE(agg.has_pending());
  commit(agg);
  (void)agg.add("a", "b", at(200), kOne);
  commit(agg);
  // A record that does not move stream time and is late everywhere leaves nothing to do.
  EXPECT_EQ(agg.add("a", "b", at(10), kOne), 3U);
  EXPECT_FALSE(agg.has_pending());
}

TEST_F(WindowAggregatorTest, RecordsAddedWhileACommitIsInFlightBelongToTheNextOne) {
  WindowAggregator agg = make();
  (void)agg.add("auth", "login", at(47, 10), kOne);
  const CommitResult first = agg.commit(store_);
  EXPECT_FALSE(agg.has_pending());

  // In flight: the window is neither late nor part of `first`.
  EXPECT_EQ(agg.add("auth", "login", at(47, 20), kOne), 0U);
  EXPECT_TRUE(agg.has_pending());
  store_.apply(first);
  agg.committed(first.progress);
  EXPECT_TRUE(agg.has_pending());

  const CommitResult second = commit(agg);
  EXPECT_EQ(second.puts, (std::vector<std::pair<WindowKey, WindowCounts>>{
                             {key(kMinute, at(47)), WindowCounts{2, 2}},
                             {key(kHour, at(0)), WindowCounts{2, 2}}}));
  EXPECT_EQ(second.progress.stream_time, at(47, 20));
}

TEST_F(WindowAggregatorTest, RollbackAlsoDropsWhatWasAddedWhileInFlight) {
  WindowAggregator agg = make();
  (void)agg.add("auth", "login", at(47, 10), kOne);
  const CommitResult first = commit(agg);
  (void)agg.add("auth", "login", at(47, 20), kOne);
  (void)agg.commit(store_);
  (void)agg.add("other", "x", at(48), kOne);  // added while the failed commit was in flight
  agg.rollback(first.progress);
  EXPECT_FALSE(agg.has_pending());
  EXPECT_EQ(agg.stream_time(), at(47, 10));
}

TEST_F(WindowAggregatorTest, RollbackForgetsDeltasAndStreamTime) {
  WindowAggregator agg = make();
  (void)agg.add("auth", "login", at(47, 10), kOne);
  const CommitResult first = commit(agg);

  (void)agg.add("auth", "login", at(47, 20), kOne);
  (void)agg.add("other", "x", at(49), kOne);  // would close 09:47
  const CommitResult dropped = agg.commit(store_);
  agg.rollback(first.progress);
  EXPECT_EQ(agg.stream_time(), at(47, 10));
  EXPECT_FALSE(agg.has_pending());
  EXPECT_EQ(agg.durable_progress(), first.progress);

  // After re-reading the same input, the same commit comes out.
  EXPECT_EQ(agg.add("auth", "login", at(47, 20), kOne), 0U);
  EXPECT_EQ(agg.add("other", "x", at(49), kOne), 0U);
  const CommitResult again = agg.commit(store_);
  EXPECT_EQ(again.puts, dropped.puts);
  EXPECT_EQ(again.progress, dropped.progress);
  ASSERT_EQ(again.rollups.size(), dropped.rollups.size());
  for (std::size_t i = 0; i < again.rollups.size(); ++i) {
    EXPECT_EQ(again.rollups[i].key, dropped.rollups[i].key);
    EXPECT_EQ(again.rollups[i].counts, dropped.rollups[i].counts);
    EXPECT_EQ(again.rollups[i].final, dropped.rollups[i].final);
  }
}

TEST_F(WindowAggregatorTest, RestoredProgressResumesStreamTimeAndBounds) {
  WindowAggregator agg = make();
  (void)agg.add("auth", "login", at(47, 10), kOne);
  (void)agg.add("other", "x", at(49), kOne);
  const CommitResult r = commit(agg);

  WindowAggregator restarted = make(EmitMode::kUpdates, r.progress);
  EXPECT_EQ(restarted.stream_time(), at(49));
  EXPECT_EQ(restarted.durable_progress(), r.progress);
  EXPECT_EQ(restarted.add("auth", "login", at(47, 59), kOne), 1U);
  const CommitResult next = commit(restarted);
  for (const Rollup& rollup : next.rollups) EXPECT_NE(rollup.key, key(kMinute, at(47)));
}

TEST_F(WindowAggregatorTest, LargerGraceAfterRestartDoesNotReopenFinalizedWindows) {
  WindowAggregator agg = make();
  (void)agg.add("auth", "login", at(47, 10), kOne);
  (void)agg.add("other", "x", at(48, 30), kOne);
  const CommitResult r = commit(agg);
  ASSERT_TRUE(r.rollups.back().final);

  WindowAggregator wider = make(EmitMode::kUpdates, r.progress, DurationMs{600'000});
  EXPECT_EQ(wider.add("auth", "login", at(47, 11), kOne), 1U);
  const CommitResult next = commit(wider);
  // Bounds never move backwards.
  EXPECT_EQ(next.progress.closed_before.at(kMinute.value),
            r.progress.closed_before.at(kMinute.value));
  for (const Rollup& rollup : next.rollups) EXPECT_NE(rollup.key, key(kMinute, at(47)));
}

TEST_F(WindowAggregatorTest, NegativeTimesAndTheFarFuture) {
  WindowAggregator agg = make(EmitMode::kUpdates, {}, DurationMs{0});
  EXPECT_EQ(agg.add("a", "b", EventTime{-1}, kOne), 0U);
  EXPECT_EQ(agg.add("a", "b", EventTime{0}, kOne), 0U);
  EXPECT_EQ(agg.add("a", "b", EventTime{-1}, kOne), 3U);  // [-60000, 0) and [-1h, 0) closed at 0
  commit(agg);
  EXPECT_EQ(store_.windows.at(key(kMinute, EventTime{-60'000}, "a", "b")), kOne);
  EXPECT_EQ(agg.add("a", "b", kMaxEventTime, kOne), 0U);
  const CommitResult r = commit(agg);
  EXPECT_EQ(store_.windows.at(key(kMinute, window_start(kMaxEventTime, kMinute), "a", "b")), kOne);
  EXPECT_EQ(store_.windows.size(), 2U);  // everything older expired
  EXPECT_EQ(r.progress.stream_time, kMaxEventTime);
}

TEST_F(WindowAggregatorTest, FirstWindowStartingBeforeTheEarliestEventTime) {
  // 7d does not divide the time from year 0 to the epoch, so the window holding
  // kMinEventTime starts before it; it must still count, close and expire normally.
  const DurationMs week{7 * 86'400'000LL};
  WindowAggregator agg(WindowSet({week}), DurationMs{0}, DurationMs{0}, EmitMode::kFinal, {});
  const WindowKey first{week, window_start(kMinEventTime, week), "a", "b"};
  ASSERT_LT(first.start, kMinEventTime);
  EXPECT_EQ(agg.add("a", "b", kMinEventTime, kOne), 0U);
  commit(agg);
  EXPECT_EQ(store_.windows.at(first), kOne);
  (void)agg.add("a", "b", first.end(), kOne);
  const CommitResult r = commit(agg);
  ASSERT_EQ(r.rollups.size(), 1U);
  EXPECT_EQ(r.rollups[0].key, first);
  EXPECT_TRUE(r.rollups[0].final);
  EXPECT_EQ(r.deletes, std::vector<WindowKey>{first});
}

TEST_F(WindowAggregatorTest, HugeRetentionDoesNotOverflow) {
  WindowAggregator agg(WindowSet::parse("1m"), DurationMs{std::numeric_limits<std::int64_t>::max()},
                       DurationMs{std::numeric_limits<std::int64_t>::max()}, EmitMode::kUpdates,
                       {});
  (void)agg.add("a", "b", kMinEventTime, kOne);
  EXPECT_EQ(agg.add("a", "b", kMaxEventTime, kOne), 0U);
  EXPECT_EQ(agg.add("a", "b", kMinEventTime, kOne), 0U);  // infinite grace: never late
  const CommitResult r = commit(agg);
  EXPECT_TRUE(r.deletes.empty());
  for (const Rollup& rollup : r.rollups) EXPECT_FALSE(rollup.final);
}

TEST_F(WindowAggregatorTest, RejectsNegativeDurations) {
  EXPECT_THROW(
      WindowAggregator(WindowSet::parse("1m"), DurationMs{-1}, kRetention, EmitMode::kUpdates, {}),
      std::invalid_argument);
  EXPECT_THROW(
      WindowAggregator(WindowSet::parse("1m"), kGrace, DurationMs{-1}, EmitMode::kUpdates, {}),
      std::invalid_argument);
}

}  // namespace
}  // namespace auditor
