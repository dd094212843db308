#include <gtest/gtest.h>

#include <random>

#include "topology/event_time.h"

namespace auditor {
namespace {

constexpr std::int64_t kDay = 86'400'000;

std::int64_t ms(std::string_view text) {
  const std::optional<EventTime> t = parse_rfc3339(text);
  EXPECT_TRUE(t.has_value()) << text;
  return t ? t->value : -1;
}

TEST(ParseRfc3339, KnownInstants) {
  EXPECT_EQ(ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ms("2026-11-22T09:47:00Z"), 1'795'340'820'000);
  EXPECT_EQ(ms("2000-02-29T00:00:00Z"), 951'782'400'000);
  EXPECT_EQ(ms("1969-12-31T23:59:59.999Z"), -1);
  EXPECT_EQ(ms("0000-01-01T00:00:00Z"), kMinEventTime.value);
  EXPECT_EQ(ms("9999-12-31T23:59:59.999Z"), kMaxEventTime.value);
}

TEST(ParseRfc3339, SeparatorsAndZoneLetterCase) {
  const std::int64_t expected = ms("2026-11-22T09:47:00Z");
  EXPECT_EQ(ms("2026-11-22t09:47:00z"), expected);
  EXPECT_EQ(ms("2026-11-22 09:47:00Z"), expected);
}

TEST(ParseRfc3339, OffsetsAreSubtracted) {
  const std::int64_t utc = ms("2026-11-22T09:47:00Z");
  EXPECT_EQ(ms("2026-11-22T10:47:00+01:00"), utc);
  EXPECT_EQ(ms("2026-11-22T04:17:00-05:30"), utc);
  EXPECT_EQ(ms("2026-11-22T09:47:00+00:00"), utc);
  EXPECT_EQ(ms("2026-11-22T09:47:00-00:00"), utc);
  // Offsets move across the date line and the year boundary.
  EXPECT_EQ(ms("2027-01-01T08:00:00+09:00"), ms("2026-12-31T23:00:00Z"));
  EXPECT_EQ(ms("2026-12-31T20:00:00-23:59"), ms("2027-01-01T19:59:00Z"));
}

TEST(ParseRfc3339, FractionsAreTruncatedToMilliseconds) {
  const std::int64_t base = ms("2026-11-22T09:47:00Z");
  EXPECT_EQ(ms("2026-11-22T09:47:00.5Z"), base + 500);
  EXPECT_EQ(ms("2026-11-22T09:47:00.25Z"), base + 250);
  EXPECT_EQ(ms("2026-11-22T09:47:00.123Z"), base + 123);
  EXPECT_EQ(ms("2026-11-22T09:47:00.123456789Z"), base + 123);
  EXPECT_EQ(ms("2026-11-22T09:47:00.9999999999999999999999Z"), base + 999);
  EXPECT_EQ(ms("2026-11-22T09:47:00.000Z"), base);
  EXPECT_EQ(ms("2026-11-22T10:47:00.0019+01:00"), base + 1);
  // Before 1970 truncation still goes towards the earlier digit string, not towards zero.
  EXPECT_EQ(ms("1969-12-31T23:59:59.9999Z"), -1);
}

TEST(ParseRfc3339, LeapDays) {
  EXPECT_TRUE(parse_rfc3339("2024-02-29T00:00:00Z"));
  EXPECT_TRUE(parse_rfc3339("2000-02-29T00:00:00Z"));
  EXPECT_TRUE(parse_rfc3339("0000-02-29T00:00:00Z"));  // year 0 is a leap year (proleptic)
  EXPECT_FALSE(parse_rfc3339("2023-02-29T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("1900-02-29T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("2024-02-30T00:00:00Z"));
  EXPECT_EQ(ms("2024-03-01T00:00:00Z") - ms("2024-02-28T00:00:00Z"), 2 * kDay);
  EXPECT_EQ(ms("2023-03-01T00:00:00Z") - ms("2023-02-28T00:00:00Z"), kDay);
}

TEST(ParseRfc3339, RejectsMalformedOrOutOfRange) {
  for (const char* text : {
           "",
           "2026-11-22",
           "2026-11-22T09:47Z",          // seconds are required
           "2026-11-22T09:47:00",        // offset is required
           "2026-11-22T09:47:00.Z",      // empty fraction
           "2026-11-22T09:47:00,5Z",     // comma fraction
           "2026-11-22T9:47:00Z",        // two-digit fields only
           "2026-1-22T09:47:00Z",        //
           "26-11-22T09:47:00Z",         //
           "+2026-11-22T09:47:00Z",      //
           "12026-11-22T09:47:00Z",      //
           "2026-11-22T09:47:00+0100",   // offset needs a colon
           "2026-11-22T09:47:00+01",     //
           "2026-11-22T09:47:00+24:00",  // offset hour
           "2026-11-22T09:47:00+01:60",  // offset minute
           "2026-11-22T09:47:00ZZ",      // trailing content
           "2026-11-22T09:47:00Z ",      //
           " 2026-11-22T09:47:00Z",      //
           "2026-11-22_09:47:00Z",       // separator
           "2026-00-22T09:47:00Z",       // month
           "2026-13-22T09:47:00Z",       //
           "2026-11-00T09:47:00Z",       // day
           "2026-11-31T09:47:00Z",       //
           "2026-11-22T24:00:00Z",       // hour
           "2026-11-22T09:60:00Z",       // minute
           "2026-11-22T23:59:60Z",       // leap second: rejected
           "2026-11-22T09:47:00.-1Z",    //
           "2026-11-22T09:47:-1Z",       //
           "2026-11-22T09:47:00UTC",     //
           "0000-01-01T00:30:00+01:00",  // before year 0 in UTC
           "9999-12-31T23:30:00-01:00",  // after year 9999 in UTC
       }) {
    EXPECT_EQ(parse_rfc3339(text), std::nullopt) << text;
  }
}

TEST(FormatRfc3339, CanonicalUtcForm) {
  EXPECT_EQ(format_rfc3339(EventTime{0}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(EventTime{1'795'340'820'000}), "2026-11-22T09:47:00Z");
  EXPECT_EQ(format_rfc3339(EventTime{1'795'340'820'250}), "2026-11-22T09:47:00.250Z");
  EXPECT_EQ(format_rfc3339(EventTime{1'795'340'820'007}), "2026-11-22T09:47:00.007Z");
  EXPECT_EQ(format_rfc3339(EventTime{-1}), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339(kMinEventTime), "0000-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(kMaxEventTime), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339(EventTime{951'782'400'000}), "2000-02-29T00:00:00Z");
  // The end of the last day window, one past the range.
  EXPECT_EQ(format_rfc3339(EventTime{kMaxEventTime.value + 1}), "10000-01-01T00:00:00Z");
}

TEST(FormatRfc3339, RoundTripsOverTheWholeRange) {
  // Every day boundary of a few leap cycles, then random instants over the whole range.
  for (std::int64_t day = -800; day <= 800; ++day) {
    const EventTime t{day * kDay};
    EXPECT_EQ(parse_rfc3339(format_rfc3339(t)), t) << day;
  }
  std::mt19937_64 rng(20261122);
  std::uniform_int_distribution<std::int64_t> any(kMinEventTime.value, kMaxEventTime.value);
  for (int i = 0; i < 20'000; ++i) {
    const EventTime t{any(rng)};
    const std::string text = format_rfc3339(t);
    ASSERT_EQ(parse_rfc3339(text), t) << text;
  }
}

TEST(FormatRfc3339, DaysAreContiguous) {
  // Consecutive days format to consecutive dates: catches civil/days mismatches that a
  // round trip through the same pair of functions would hide.
  int year = 0, month = 1, day = 1;
  const auto days_in = [](int y, int m) {
    constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    return m == 2 && leap ? 29 : kDays[m - 1];
  };
  for (std::int64_t t = kMinEventTime.value; t <= kMaxEventTime.value; t += 97 * kDay) {
    char expected[64];
    std::snprintf(expected, sizeof expected, "%04d-%02d-%02dT00:00:00Z", year, month, day);
    ASSERT_EQ(format_rfc3339(EventTime{t}), expected);
    for (int i = 0; i < 97; ++i) {
      if (++day > days_in(year, month)) {
        day = 1;
        if (++month > 12) {
          month = 1;
          ++year;
        }
      }
    }
  }
}

}  // namespace
}  // namespace auditor
