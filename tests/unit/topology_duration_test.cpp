#include <gtest/gtest.h>

#include "topology/duration.h"

namespace auditor {
namespace {

TEST(ParseDuration, AcceptsEveryUnit) {
  EXPECT_EQ(parse_duration("500ms"), DurationMs{500});
  EXPECT_EQ(parse_duration("30s"), DurationMs{30'000});
  EXPECT_EQ(parse_duration("5m"), DurationMs{300'000});
  EXPECT_EQ(parse_duration("1h"), DurationMs{3'600'000});
  EXPECT_EQ(parse_duration("1d"), DurationMs{86'400'000});
  EXPECT_EQ(parse_duration("0s"), DurationMs{0});
  EXPECT_EQ(parse_duration("0ms"), DurationMs{0});
  EXPECT_EQ(parse_duration("90m"), DurationMs{5'400'000});
}

TEST(ParseDuration, RejectsMalformedText) {
  for (const char* text : {"", "5", "5x", "-1s", "+1s", "1.5s", " 1s", "1s ", "s", "ms", "1 s",
                           "1S", "1sec", "1m1s", "0x10s", "1e3ms", "１s"}) {
    EXPECT_EQ(parse_duration(text), std::nullopt) << text;
  }
}

TEST(ParseDuration, AcceptsUpToOneHundredYears) {
  EXPECT_EQ(parse_duration("36525d"), DurationMs{36'525LL * 86'400'000});
  EXPECT_EQ(parse_duration("3155760000000ms"), DurationMs{3'155'760'000'000});
  EXPECT_EQ(parse_duration("36526d"), std::nullopt);
  EXPECT_EQ(parse_duration("3155760000001ms"), std::nullopt);
  EXPECT_EQ(parse_duration("876601h"), std::nullopt);
  // Digits enough to overflow int64 many times over must be rejected, not wrap.
  EXPECT_EQ(parse_duration("99999999999999999999999999999ms"), std::nullopt);
  EXPECT_EQ(parse_duration("18446744073709551617s"), std::nullopt);
}

TEST(FormatDuration, UsesTheLargestExactUnit) {
  EXPECT_EQ(format_duration(DurationMs{60'000}), "1m");
  EXPECT_EQ(format_duration(DurationMs{1'500}), "1500ms");
  EXPECT_EQ(format_duration(DurationMs{86'400'000}), "1d");
  EXPECT_EQ(format_duration(DurationMs{3'600'000}), "1h");
  EXPECT_EQ(format_duration(DurationMs{90'000}), "90s");
  EXPECT_EQ(format_duration(DurationMs{5'400'000}), "90m");
  EXPECT_EQ(format_duration(DurationMs{7 * 86'400'000LL}), "7d");
  EXPECT_EQ(format_duration(DurationMs{1}), "1ms");
  EXPECT_EQ(format_duration(DurationMs{0}), "0s");
}

TEST(FormatDuration, RoundTripsThroughParse) {
  for (std::int64_t ms : {1LL, 999LL, 1'000LL, 61'000LL, 3'600'000LL, 86'400'000LL, 86'400'001LL,
                          366LL * 86'400'000, 36'525LL * 86'400'000}) {
    const std::string text = format_duration(DurationMs{ms});
    EXPECT_EQ(parse_duration(text), DurationMs{ms}) << text;
  }
}

}  // namespace
}  // namespace auditor
