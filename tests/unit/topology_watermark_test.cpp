// Combining the watermarks stage 1 sends per input partition into a task watermark
// (topology/watermark.h).
#include <gtest/gtest.h>

#include <optional>

#include "topology/watermark.h"

namespace auditor {
namespace {

PartitionWatermark at(std::int64_t t) {
  return {EventTime{t}, false};
}
PartitionWatermark idle_at(std::int64_t t) {
  return {EventTime{t}, true};
}
constexpr PartitionWatermark kNoTime{std::nullopt, false};
constexpr PartitionWatermark kIdleNoTime{std::nullopt, true};

std::optional<EventTime> t(std::int64_t v) {
  return EventTime{v};
}

TEST(MergeWatermark, FirstWatermarkIsTakenAsIs) {
  for (const PartitionWatermark& wm : {at(5), idle_at(-5), kNoTime, kIdleNoTime}) {
    PartitionWatermarks known;
    merge_watermark(known, PartitionId{3}, wm);
    EXPECT_EQ(known, (PartitionWatermarks{{3, wm}}));
  }
}

TEST(MergeWatermark, TimeNeverGoesBackIdleFollowsTheLatest) {
  PartitionWatermarks known;
  merge_watermark(known, PartitionId{0}, at(10));
  merge_watermark(known, PartitionId{0}, at(20));
  EXPECT_EQ(known.at(0), at(20));
  // An older duplicate (at-least-once) changes nothing.
  merge_watermark(known, PartitionId{0}, at(10));
  EXPECT_EQ(known.at(0), at(20));
  // An older one still carries the idle flag; so does one without a time.
  merge_watermark(known, PartitionId{0}, idle_at(15));
  EXPECT_EQ(known.at(0), idle_at(20));
  merge_watermark(known, PartitionId{0}, kNoTime);
  EXPECT_EQ(known.at(0), at(20));
  merge_watermark(known, PartitionId{0}, kIdleNoTime);
  EXPECT_EQ(known.at(0), idle_at(20));
  merge_watermark(known, PartitionId{0}, at(25));
  EXPECT_EQ(known.at(0), at(25));
  // Partitions are independent.
  merge_watermark(known, PartitionId{1}, at(1));
  EXPECT_EQ(known, (PartitionWatermarks{{0, at(25)}, {1, at(1)}}));
}

TEST(CombinedWatermark, NoneUntilEveryPartitionHasATime) {
  PartitionWatermarks known;
  EXPECT_EQ(combined_watermark(known, 3), std::nullopt);
  known[0] = at(10);
  known[2] = at(30);
  EXPECT_EQ(combined_watermark(known, 3), std::nullopt);  // 1 sent nothing
  known[1] = kNoTime;
  EXPECT_EQ(combined_watermark(known, 3), std::nullopt);  // 1 has no valid tick yet
  known[1] = at(20);
  EXPECT_EQ(combined_watermark(known, 3), t(10));
  EXPECT_EQ(combined_watermark(known, 2), t(10));
  EXPECT_EQ(combined_watermark(known, 1), t(10));
}

TEST(CombinedWatermark, MinimumOverActivePartitions) {
  const PartitionWatermarks known{{0, at(30)}, {1, at(-7)}, {2, at(20)}};
  EXPECT_EQ(combined_watermark(known, 3), t(-7));
  EXPECT_EQ(combined_watermark(known, 1), t(30));
}

TEST(CombinedWatermark, IdlePartitionsAreLeftOut) {
  // An idle partition does not hold the others back, with or without a time.
  EXPECT_EQ(combined_watermark({{0, at(30)}, {1, idle_at(5)}, {2, at(20)}}, 3), t(20));
  EXPECT_EQ(combined_watermark({{0, at(30)}, {1, kIdleNoTime}, {2, at(20)}}, 3), t(20));
  // An idle partition's time larger than the active minimum does not raise it.
  EXPECT_EQ(combined_watermark({{0, at(30)}, {1, idle_at(99)}, {2, at(20)}}, 3), t(20));
  // An active partition without a time still blocks, idle ones or not.
  EXPECT_EQ(combined_watermark({{0, kNoTime}, {1, idle_at(5)}}, 2), std::nullopt);
  // A partition that has sent nothing is not idle: it blocks.
  EXPECT_EQ(combined_watermark({{0, idle_at(5)}, {2, idle_at(9)}}, 3), std::nullopt);
}

TEST(CombinedWatermark, AllIdleIsTheLargestTime) {
  EXPECT_EQ(combined_watermark({{0, idle_at(30)}, {1, idle_at(-5)}, {2, idle_at(20)}}, 3), t(30));
  EXPECT_EQ(combined_watermark({{0, idle_at(30)}, {1, kIdleNoTime}}, 2), t(30));
  EXPECT_EQ(combined_watermark({{0, kIdleNoTime}, {1, kIdleNoTime}}, 2), std::nullopt);
  EXPECT_EQ(combined_watermark({{0, kIdleNoTime}}, 1), std::nullopt);
}

TEST(CombinedWatermark, PartitionsBeyondTheCountAreIgnored) {
  // Smaller, larger, without time, idle: none of them counts.
  EXPECT_EQ(combined_watermark({{0, at(30)}, {1, at(20)}, {2, at(1)}}, 2), t(20));
  EXPECT_EQ(combined_watermark({{0, at(30)}, {1, at(20)}, {5, kNoTime}}, 2), t(20));
  EXPECT_EQ(combined_watermark({{0, idle_at(30)}, {1, idle_at(20)}, {2, idle_at(99)}}, 2), t(30));
  EXPECT_EQ(combined_watermark({{0, idle_at(30)}, {1, idle_at(20)}, {2, at(99)}}, 2), t(30));
  EXPECT_EQ(combined_watermark({{1, at(20)}, {2, at(1)}}, 2), std::nullopt);  // 0 missing
  // A negative partition is not an input partition either.
  EXPECT_EQ(combined_watermark({{-1, at(1)}, {0, at(30)}}, 1), t(30));
}

TEST(CombinedWatermark, ExtremeTimes) {
  EXPECT_EQ(combined_watermark({{0, {kMinEventTime, false}}, {1, {kMaxEventTime, false}}}, 2),
            kMinEventTime);
  EXPECT_EQ(combined_watermark({{0, {kMinEventTime, true}}, {1, {kMaxEventTime, true}}}, 2),
            kMaxEventTime);
}

TEST(LatestTime, LargestTimeOfAnyPartition) {
  EXPECT_EQ(latest_time({}), std::nullopt);
  EXPECT_EQ(latest_time({{0, kNoTime}, {1, kIdleNoTime}}), std::nullopt);
  EXPECT_EQ(latest_time({{0, at(10)}, {1, kNoTime}}), t(10));
  // Idle partitions count: their time is real data the task has seen.
  EXPECT_EQ(latest_time({{0, at(10)}, {1, idle_at(40)}, {2, at(-3)}}), t(40));
  EXPECT_EQ(latest_time({{0, at(-10)}, {1, at(-3)}}), t(-3));
}

}  // namespace
}  // namespace auditor
