// Stage 1's per-partition event time: the lateness rule, idleness, and the partition time
// kept in the offset metadata (topology/partition_time.h).
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "topology/partition_time.h"

namespace auditor {
namespace {

constexpr DurationMs kGrace{30'000};
constexpr DurationMs kTimeout{5'000};

// Minutes and seconds after an arbitrary day: 2026-11-22T00:00:00Z.
EventTime at(int minutes, int seconds = 0, int millis = 0) {
  return EventTime{1'795'305'600'000 + minutes * 60'000LL + seconds * 1'000LL + millis};
}

const WindowSet& minute_hour() {
  static const WindowSet windows = WindowSet::parse("1m,1h");
  return windows;
}

TEST(PartitionClock, FirstTickIsNeverLate) {
  for (const DurationMs grace : {DurationMs{0}, kGrace}) {
    for (const EventTime t : {kMinEventTime, EventTime{-1}, at(47), kMaxEventTime}) {
      PartitionClock clock(std::nullopt, ClockMs{0});
      EXPECT_FALSE(clock.time().has_value());
      EXPECT_EQ(clock.add_tick(t, minute_hour(), grace), 0U) << t.value;
      EXPECT_EQ(clock.time(), t);
    }
  }
}

TEST(PartitionClock, LateExactlyAtWindowEndPlusGrace) {
  PartitionClock clock(std::nullopt, ClockMs{0});
  EXPECT_EQ(clock.add_tick(at(47, 10), minute_hour(), kGrace), 0U);
  // The 00:47 minute window ends at 00:48:00; with 30s grace, a tick for it is late once
  // the partition time before it has reached 00:48:30.
  EXPECT_EQ(clock.add_tick(at(48, 29, 999), minute_hour(), kGrace), 0U);
  EXPECT_EQ(clock.add_tick(at(47, 0), minute_hour(), kGrace), 0U);  // 1 ms before the bound
  EXPECT_EQ(clock.time(), at(48, 29, 999));
  // The tick that moves the partition time to the bound is judged against the time
  // before it; every later tick of the 00:47 window finds the bound reached.
  EXPECT_EQ(clock.add_tick(at(48, 30), minute_hour(), kGrace), 0U);
  EXPECT_EQ(clock.time(), at(48, 30));
  EXPECT_EQ(clock.add_tick(at(47, 59, 999), minute_hour(), kGrace), 1U);  // late for 1m only
  EXPECT_EQ(clock.add_tick(at(47, 0), minute_hour(), kGrace), 1U);
  EXPECT_EQ(clock.add_tick(at(48, 0), minute_hour(), kGrace), 0U);  // the next minute is open
  EXPECT_EQ(minute_hour().names(1U), "1m");
}

TEST(PartitionClock, ZeroGraceClosesAtTheWindowEnd) {
  PartitionClock clock(std::nullopt, ClockMs{0});
  EXPECT_EQ(clock.add_tick(at(10), minute_hour(), DurationMs{0}), 0U);
  EXPECT_EQ(clock.add_tick(at(10, 59, 999), minute_hour(), DurationMs{0}), 0U);
  EXPECT_EQ(clock.add_tick(at(11), minute_hour(), DurationMs{0}), 0U);  // moves time to the end
  EXPECT_EQ(clock.add_tick(at(10, 59, 999), minute_hour(), DurationMs{0}), 1U);
  EXPECT_EQ(clock.add_tick(at(60), minute_hour(), DurationMs{0}), 0U);
  EXPECT_EQ(clock.add_tick(at(59, 59), minute_hour(), DurationMs{0}), 3U);  // 1m and 1h
}

TEST(PartitionClock, LateTicksDoNotMoveTheTimeBack) {
  PartitionClock clock(std::nullopt, ClockMs{0});
  (void)clock.add_tick(at(50), minute_hour(), kGrace);
  EXPECT_EQ(clock.add_tick(at(10), minute_hour(), kGrace), 1U);
  EXPECT_EQ(clock.time(), at(50));
  EXPECT_EQ(clock.add_tick(at(49, 59), minute_hour(), kGrace), 0U);  // within grace
  EXPECT_EQ(clock.time(), at(50));
  EXPECT_EQ(clock.add_tick(at(50), minute_hour(), kGrace), 0U);  // equal: unchanged
  EXPECT_EQ(clock.time(), at(50));
}

TEST(PartitionClock, EachSizeDecidesOnItsOwn) {
  // 2m and 3m windows do not nest: at 00:02:30 the 3m window [0, 3m) ends first.
  const WindowSet windows = WindowSet::parse("2m,3m");
  PartitionClock clock(std::nullopt, ClockMs{0});
  (void)clock.add_tick(at(3), windows, DurationMs{0});
  EXPECT_EQ(clock.add_tick(at(2, 30), windows, DurationMs{0}), 2U);  // 3m only: [2m, 4m) open
  EXPECT_EQ(clock.add_tick(at(1, 59), windows, DurationMs{0}), 3U);  // [0, 2m) and [0, 3m)
  (void)clock.add_tick(at(4), windows, DurationMs{0});
  EXPECT_EQ(clock.add_tick(at(3, 30), windows, DurationMs{0}), 1U);  // [2m, 4m) ended, [3m, 6m) not
  EXPECT_EQ(windows.names(2U), "3m");

  // Three sizes, bit i = windows()[i]: too late for 1m and 1h, on time for 1d.
  const WindowSet three = WindowSet::parse("1m,1h,1d");
  PartitionClock days(std::nullopt, ClockMs{0});
  (void)days.add_tick(at(120), three, kGrace);
  EXPECT_EQ(days.add_tick(at(30), three, kGrace), 3U);
  EXPECT_EQ(days.add_tick(at(119, 59), three, kGrace), 0U);
  EXPECT_EQ(days.add_tick(at(118), three, kGrace), 1U);
  EXPECT_EQ(three.names(3U), "1m,1h");
}

TEST(PartitionClock, RestoredTimeJudgesTheFirstTick) {
  PartitionClock clock(at(48, 30), ClockMs{0});
  EXPECT_EQ(clock.time(), at(48, 30));
  EXPECT_EQ(clock.add_tick(at(47, 59), minute_hour(), kGrace), 1U);
  EXPECT_EQ(clock.time(), at(48, 30));
  EXPECT_EQ(clock.add_tick(at(48, 1), minute_hour(), kGrace), 0U);
  EXPECT_EQ(clock.add_tick(at(49), minute_hour(), kGrace), 0U);
  EXPECT_EQ(clock.time(), at(49));
}

TEST(PartitionClock, ExtremeTimesAndHugeGraceDoNotOverflow) {
  const DurationMs forever{std::numeric_limits<std::int64_t>::max()};
  PartitionClock clock(kMaxEventTime, ClockMs{0});
  EXPECT_EQ(clock.add_tick(kMinEventTime, minute_hour(), forever), 0U);  // never late
  EXPECT_EQ(clock.add_tick(kMaxEventTime, minute_hour(), forever), 0U);
  EXPECT_EQ(clock.add_tick(kMinEventTime, minute_hour(), DurationMs{0}), 3U);
  EXPECT_EQ(clock.add_tick(kMaxEventTime, minute_hour(), DurationMs{0}), 0U);
  // 7d does not divide the span from year 0: the first window starts before kMinEventTime.
  PartitionClock early(kMinEventTime, ClockMs{0});
  EXPECT_EQ(early.add_tick(kMinEventTime, WindowSet::parse("7d"), DurationMs{0}), 0U);
  EXPECT_EQ(early.time(), kMinEventTime);
}

TEST(PartitionClock, IdleOnlyAtTheEndAfterTheTimeout) {
  PartitionClock clock(std::nullopt, ClockMs{1'000});
  // Not at the end: never idle, however long.
  EXPECT_FALSE(clock.idle(ClockMs{1'000'000}, kTimeout));
  clock.reached_end();
  // The idle clock runs from the start when nothing was read yet.
  EXPECT_FALSE(clock.idle(ClockMs{5'999}, kTimeout));
  EXPECT_TRUE(clock.idle(ClockMs{6'000}, kTimeout));
  EXPECT_EQ(clock.watermark(ClockMs{6'000}, kTimeout), (PartitionWatermark{std::nullopt, true}));
  EXPECT_EQ(clock.watermark(ClockMs{5'999}, kTimeout), (PartitionWatermark{std::nullopt, false}));

  // A record (valid or not) ends idleness and clears "at end".
  clock.record_read(ClockMs{7'000});
  EXPECT_FALSE(clock.idle(ClockMs{7'000}, kTimeout));
  EXPECT_FALSE(clock.idle(ClockMs{1'000'000}, kTimeout));
  (void)clock.add_tick(at(47), minute_hour(), kGrace);
  EXPECT_EQ(clock.watermark(ClockMs{1'000'000}, kTimeout), (PartitionWatermark{at(47), false}));

  // At the end again: the timeout counts from the last record, not from reaching the end.
  clock.reached_end();
  EXPECT_FALSE(clock.idle(ClockMs{11'999}, kTimeout));
  EXPECT_TRUE(clock.idle(ClockMs{12'000}, kTimeout));
  EXPECT_EQ(clock.watermark(ClockMs{12'000}, kTimeout), (PartitionWatermark{at(47), true}));

  // Reaching the end long after the last record makes it idle at once.
  clock.record_read(ClockMs{20'000});
  clock.reached_end();
  EXPECT_TRUE(clock.idle(ClockMs{30'000}, kTimeout));
  clock.reached_end();  // repeated: still measured from the last record
  EXPECT_TRUE(clock.idle(ClockMs{25'000}, kTimeout));
  EXPECT_FALSE(clock.idle(ClockMs{24'999}, kTimeout));
}

TEST(PartitionClock, ZeroTimeoutIsIdleAsSoonAsAtTheEnd) {
  PartitionClock clock(at(1), ClockMs{100});
  EXPECT_FALSE(clock.idle(ClockMs{100}, DurationMs{0}));
  clock.reached_end();
  EXPECT_TRUE(clock.idle(ClockMs{100}, DurationMs{0}));
  EXPECT_EQ(clock.watermark(ClockMs{100}, DurationMs{0}), (PartitionWatermark{at(1), true}));
  clock.record_read(ClockMs{100});
  EXPECT_FALSE(clock.idle(ClockMs{100}, DurationMs{0}));
}

TEST(PartitionTimeMetadata, ExactText) {
  EXPECT_EQ(encode_partition_time_metadata(std::nullopt), "auditor.pt=");
  EXPECT_EQ(encode_partition_time_metadata(EventTime{1'795'340'820'000}),
            "auditor.pt=1795340820000");
  EXPECT_EQ(encode_partition_time_metadata(EventTime{0}), "auditor.pt=0");
  EXPECT_EQ(encode_partition_time_metadata(EventTime{-1}), "auditor.pt=-1");
}

TEST(PartitionTimeMetadata, RoundTrips) {
  for (const std::optional<EventTime> t :
       {std::optional<EventTime>{}, std::optional{kMinEventTime}, std::optional{EventTime{-1}},
        std::optional{EventTime{0}}, std::optional{at(47, 10, 5)}, std::optional{kMaxEventTime}}) {
    const CommittedPartitionTime decoded =
        decode_partition_time_metadata(encode_partition_time_metadata(t));
    EXPECT_TRUE(decoded.recognised);
    EXPECT_EQ(decoded.time, t);
  }
}

TEST(PartitionTimeMetadata, ForeignOrGarbageMetadataIsNotRecognised) {
  const std::string too_late = "auditor.pt=" + std::to_string(kMaxEventTime.value + 1);
  const std::string too_early = "auditor.pt=" + std::to_string(kMinEventTime.value - 1);
  for (const std::string& metadata : {
           std::string(),
           std::string("foreign"),
           std::string("auditor.pt"),
           std::string("auditor.pt:5"),
           std::string("Auditor.pt=5"),
           std::string(" auditor.pt=5"),
           std::string("xauditor.pt=5"),
           std::string("auditor.pt=abc"),
           std::string("auditor.pt=5x"),
           std::string("auditor.pt=5 "),
           std::string("auditor.pt= 5"),
           std::string("auditor.pt=+5"),
           std::string("auditor.pt=-"),
           std::string("auditor.pt=1.5"),
           std::string("auditor.pt=99999999999999999999999"),
           std::string("auditor.pt=5\0", 13),
           too_late,
           too_early,
       }) {
    const CommittedPartitionTime decoded = decode_partition_time_metadata(metadata);
    EXPECT_FALSE(decoded.recognised) << metadata;
    EXPECT_FALSE(decoded.time.has_value()) << metadata;
  }
}

TEST(PartitionTimeMetadata, AClockRestoredFromItsMetadataJudgesAlike) {
  PartitionClock before(std::nullopt, ClockMs{0});
  (void)before.add_tick(at(48, 30), minute_hour(), kGrace);
  const CommittedPartitionTime committed =
      decode_partition_time_metadata(encode_partition_time_metadata(before.time()));
  ASSERT_TRUE(committed.recognised);
  PartitionClock after(committed.time, ClockMs{0});
  EXPECT_EQ(after.add_tick(at(47, 59), minute_hour(), kGrace),
            before.add_tick(at(47, 59), minute_hour(), kGrace));
  EXPECT_EQ(after.time(), before.time());
}

}  // namespace
}  // namespace auditor
