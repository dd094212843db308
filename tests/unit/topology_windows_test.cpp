#include <gtest/gtest.h>

#include <stdexcept>

#include "topology/event_time.h"
#include "topology/windows.h"

namespace auditor {
namespace {

constexpr DurationMs kMinute{60'000};
constexpr DurationMs kHour{3'600'000};
constexpr DurationMs kDay{86'400'000};

TEST(WindowStart, StartIsInclusiveEndIsExclusive) {
  const EventTime start{1'795'340'820'000};  // 2026-11-22T09:47:00Z
  EXPECT_EQ(window_start(start, kMinute), start);
  EXPECT_EQ(window_start(EventTime{start.value + 1}, kMinute), start);
  EXPECT_EQ(window_start(EventTime{start.value + 59'999}, kMinute), start);
  EXPECT_EQ(window_start(EventTime{start.value + 60'000}, kMinute),
            EventTime{start.value + 60'000});
  EXPECT_EQ(window_start(EventTime{start.value - 1}, kMinute), EventTime{start.value - 60'000});
  EXPECT_EQ(format_rfc3339(window_start(EventTime{start.value + 59'999}, kHour)),
            "2026-11-22T09:00:00Z");
  EXPECT_EQ(format_rfc3339(window_start(EventTime{start.value}, kDay)), "2026-11-22T00:00:00Z");
}

TEST(WindowStart, NegativeTimesUseFloorDivision) {
  EXPECT_EQ(window_start(EventTime{-1}, kMinute), EventTime{-60'000});
  EXPECT_EQ(window_start(EventTime{-60'000}, kMinute), EventTime{-60'000});
  EXPECT_EQ(window_start(EventTime{-60'001}, kMinute), EventTime{-120'000});
  EXPECT_EQ(window_start(EventTime{0}, kMinute), EventTime{0});
  EXPECT_EQ(window_start(kMinEventTime, kDay), kMinEventTime);
  EXPECT_EQ(window_start(EventTime{kMinEventTime.value + 1}, kDay), kMinEventTime);
  // 7 days do not divide the distance from year 0 to the epoch: the first window starts
  // before kMinEventTime and still contains it.
  const DurationMs week{7 * kDay.value};
  const EventTime first = window_start(kMinEventTime, week);
  EXPECT_LE(first, kMinEventTime);
  EXPECT_GT(first.plus(week), kMinEventTime);
  EXPECT_EQ(first.value % week.value, 0);
}

TEST(WindowStart, FarFuture) {
  EXPECT_EQ(format_rfc3339(window_start(kMaxEventTime, kDay)), "9999-12-31T00:00:00Z");
  EXPECT_EQ(format_rfc3339(window_start(kMaxEventTime, kMinute)), "9999-12-31T23:59:00Z");
  EXPECT_EQ(window_start(kMaxEventTime, DurationMs{1}), kMaxEventTime);
  const DurationMs year{366 * kDay.value};
  const EventTime start = window_start(kMaxEventTime, year);
  EXPECT_LE(start, kMaxEventTime);
  EXPECT_GT(start.plus(year), kMaxEventTime);
}

TEST(WindowSet, ParsesSortsAndNames) {
  const WindowSet set = WindowSet::parse("1d,1m,1h");
  ASSERT_EQ(set.size(), 3U);
  EXPECT_EQ(set.windows()[0].size, kMinute);
  EXPECT_EQ(set.windows()[0].name, "1m");
  EXPECT_EQ(set.windows()[1].size, kHour);
  EXPECT_EQ(set.windows()[1].name, "1h");
  EXPECT_EQ(set.windows()[2].size, kDay);
  EXPECT_EQ(set.windows()[2].name, "1d");
  EXPECT_EQ(set.bucket(), kMinute);
}

TEST(WindowSet, BucketIsTheGreatestCommonDivisor) {
  EXPECT_EQ(WindowSet::parse("1m").bucket(), kMinute);
  EXPECT_EQ(WindowSet::parse("1m,90s").bucket(), DurationMs{30'000});
  EXPECT_EQ(WindowSet::parse("7s,1d").bucket(), DurationMs{1'000});
  EXPECT_EQ(WindowSet::parse("7ms,1d").bucket(), DurationMs{1});
  EXPECT_EQ(WindowSet::parse("1h,1d,7d").bucket(), kHour);
  EXPECT_EQ(WindowSet({DurationMs{6}, DurationMs{10}, DurationMs{15}}).bucket(), DurationMs{1});
}

TEST(WindowSet, BucketBoundariesAreBoundariesOfEverySize) {
  // The reason stage 1 may pre-aggregate per bucket: two times in one bucket share all
  // their windows.
  const WindowSet set = WindowSet::parse("1m,90s,1h");
  for (std::int64_t t = -400'000; t < 400'000; t += 7'001) {
    const EventTime b = window_start(EventTime{t}, set.bucket());
    const EventTime last{b.value + set.bucket().value - 1};
    for (const WindowSpec& w : set.windows()) {
      EXPECT_EQ(window_start(b, w.size), window_start(last, w.size)) << t;
    }
  }
}

TEST(WindowSet, Names) {
  const WindowSet set = WindowSet::parse("1m,1h,1d");
  EXPECT_EQ(set.names(0), "");
  EXPECT_EQ(set.names(1), "1m");
  EXPECT_EQ(set.names(2), "1h");
  EXPECT_EQ(set.names(3), "1m,1h");
  EXPECT_EQ(set.names(5), "1m,1d");
  EXPECT_EQ(set.names(7), "1m,1h,1d");
  EXPECT_EQ(set.names(0xffffffffU), "1m,1h,1d");  // bits beyond the set are ignored
}

TEST(WindowSet, ThirtyTwoSizesFitTheMask) {
  std::string spec;
  for (int i = 1; i <= 32; ++i) spec += (i > 1 ? "," : "") + std::to_string(i) + "s";
  const WindowSet set = WindowSet::parse(spec);
  EXPECT_EQ(set.size(), 32U);
  EXPECT_EQ(set.names(0x80000000U), "32s");
  EXPECT_THROW(WindowSet::parse(spec + ",33s"), std::invalid_argument);
}

void expect_rejected(std::string_view spec, std::string_view message_part) {
  try {
    (void)WindowSet::parse(spec);
    ADD_FAILURE() << "accepted: " << spec;
  } catch (const std::invalid_argument& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(message_part), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(WindowSet, RejectsBadSpecs) {
  expect_rejected("", "empty");
  expect_rejected(",", "\"\"");
  expect_rejected("1m,", "\"\"");
  expect_rejected("1m,,1h", "\"\"");
  expect_rejected("1m, 1h", "\" 1h\"");
  expect_rejected("5x", "\"5x\"");
  expect_rejected("1m\n1h", "\"1m?1h\"");
  expect_rejected("0s", "positive");
  expect_rejected("1m,0ms", "positive");
  expect_rejected("367d", "366d");
  expect_rejected("1m,60s", "twice");
  expect_rejected("1h,1m,1h", "twice");
  EXPECT_NO_THROW((void)WindowSet::parse("366d"));
  EXPECT_THROW(WindowSet({}), std::invalid_argument);
  EXPECT_THROW(WindowSet({DurationMs{-1}}), std::invalid_argument);
}

}  // namespace
}  // namespace auditor
