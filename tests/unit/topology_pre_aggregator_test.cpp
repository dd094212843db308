#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "topology/pre_aggregator.h"

namespace auditor {
namespace {

constexpr DurationMs kMinute{60'000};

TEST(PreAggregator, SumsPerKeyAndBucket) {
  PreAggregator agg(kMinute);
  agg.add("auth", "login", EventTime{60'000}, 5);
  agg.add("auth", "login", EventTime{119'999}, 2);  // same bucket, later time
  agg.add("auth", "login", EventTime{90'000}, 1);   // same bucket, earlier time
  agg.add("auth", "login", EventTime{120'000}, 7);  // next bucket
  agg.add("auth", "logout", EventTime{60'000}, 1);
  agg.add("api", "login", EventTime{-1}, 3);  // before 1970: bucket [-60000, 0)
  agg.add("api", "login", EventTime{-60'000}, 3);
  EXPECT_EQ(agg.pending_records(), 4U);
  EXPECT_EQ(agg.pending_ticks(), 7);

  const std::vector<PreAggregate> out = agg.take();
  ASSERT_EQ(out.size(), 4U);
  // Sorted by event time (the largest of the bucket), so stage 2 sees a backlog in
  // event-time order whatever the names: "auth/logout" at 60000 comes before "auth/login"
  // at 119999 although it sorts after it by name.
  EXPECT_EQ(out[0].process_name, "api");
  EXPECT_EQ(out[0].event_time, EventTime{-1});
  EXPECT_EQ(out[0].count, 6);
  EXPECT_EQ(out[0].ticks, 2);
  EXPECT_EQ(out[1].process_activity, "logout");
  EXPECT_EQ(out[1].event_time, EventTime{60'000});
  EXPECT_EQ(out[2].process_activity, "login");
  EXPECT_EQ(out[2].event_time, EventTime{119'999});
  EXPECT_EQ(out[2].count, 8);
  EXPECT_EQ(out[2].ticks, 3);
  EXPECT_EQ(out[3].event_time, EventTime{120'000});
  EXPECT_EQ(out[3].count, 7);
  EXPECT_EQ(out[3].ticks, 1);

  EXPECT_EQ(agg.pending_records(), 0U);
  EXPECT_EQ(agg.pending_ticks(), 0);
  EXPECT_TRUE(agg.take().empty());
}

TEST(PreAggregator, OnTimeTicksHaveAnEmptyLateMask) {
  PreAggregator agg(kMinute);
  agg.add("a", "b", EventTime{0}, 1);
  agg.add("a", "b", EventTime{1}, 1, 0);
  const auto out = agg.take();
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].late_mask, 0U);
  EXPECT_EQ(out[0].ticks, 2);
}

TEST(PreAggregator, TicksLateForDifferentSizesAreSeparateRecords) {
  PreAggregator agg(kMinute);
  agg.add("auth", "login", EventTime{60'010}, 5);       // on time
  agg.add("auth", "login", EventTime{60'020}, 2, 1U);   // late for windows()[0]
  agg.add("auth", "login", EventTime{60'030}, 3, 3U);   // late for [0] and [1]
  agg.add("auth", "login", EventTime{60'005}, 4, 1U);   // joins the mask-1 record
  agg.add("auth", "login", EventTime{60'040}, 1, 0U);   // joins the on-time record
  agg.add("auth", "login", EventTime{120'000}, 6, 1U);  // next bucket, mask 1
  EXPECT_EQ(agg.pending_records(), 4U);
  EXPECT_EQ(agg.pending_ticks(), 6);

  const std::vector<PreAggregate> out = agg.take();
  ASSERT_EQ(out.size(), 4U);
  // Sorted by event time (the largest of its ticks), then name, activity, mask.
  EXPECT_EQ(out[0].event_time, EventTime{60'020});
  EXPECT_EQ(out[0].late_mask, 1U);
  EXPECT_EQ(out[0].count, 6);
  EXPECT_EQ(out[0].ticks, 2);
  EXPECT_EQ(out[1].event_time, EventTime{60'030});
  EXPECT_EQ(out[1].late_mask, 3U);
  EXPECT_EQ(out[1].count, 3);
  EXPECT_EQ(out[1].ticks, 1);
  EXPECT_EQ(out[2].event_time, EventTime{60'040});
  EXPECT_EQ(out[2].late_mask, 0U);
  EXPECT_EQ(out[2].count, 6);
  EXPECT_EQ(out[2].ticks, 2);
  EXPECT_EQ(out[3].event_time, EventTime{120'000});
  EXPECT_EQ(out[3].late_mask, 1U);
  EXPECT_EQ(out[3].count, 6);
}

TEST(PreAggregator, LateMaskIsTheLastSortKey) {
  PreAggregator agg(kMinute);
  // Same event time, name and activity: only the mask tells them apart.
  for (const std::uint32_t mask : {7U, 0U, 2U, 1U}) agg.add("a", "b", EventTime{0}, 1, mask);
  agg.add("a", "a", EventTime{0}, 1, 7U);  // an earlier activity sorts first, whatever its mask
  const std::vector<PreAggregate> out = agg.take();
  ASSERT_EQ(out.size(), 5U);
  EXPECT_EQ(out[0].process_activity, "a");
  EXPECT_EQ(out[1].late_mask, 0U);
  EXPECT_EQ(out[2].late_mask, 1U);
  EXPECT_EQ(out[3].late_mask, 2U);
  EXPECT_EQ(out[4].late_mask, 7U);
}

TEST(PreAggregator, EveryLateMaskIsARecordOfItsOwn) {
  // Enough masks of one key and bucket that many share a hash bucket: equal keys must
  // compare the mask too, not only hash it.
  PreAggregator agg(kMinute);
  for (int round = 0; round < 2; ++round) {
    for (std::uint32_t mask = 0; mask < 1024; ++mask) agg.add("a", "b", EventTime{0}, 1, mask);
  }
  EXPECT_EQ(agg.pending_records(), 1024U);
  const std::vector<PreAggregate> out = agg.take();
  ASSERT_EQ(out.size(), 1024U);
  for (std::uint32_t mask = 0; mask < 1024; ++mask) {
    EXPECT_EQ(out[mask].late_mask, mask);
    EXPECT_EQ(out[mask].ticks, 2);
  }
}

TEST(PreAggregator, TakeOrderDoesNotDependOnInsertionOrder) {
  std::vector<std::tuple<std::string, std::int64_t, std::uint32_t>> ticks;
  for (int i = 0; i < 200; ++i) {
    ticks.emplace_back("p" + std::to_string(i % 7), (i * 7919) % 300'000,
                       static_cast<std::uint32_t>(i % 4));
  }
  const auto run = [&] {
    PreAggregator agg(kMinute);
    for (const auto& [name, time, mask] : ticks) agg.add(name, "x", EventTime{time}, 1, mask);
    std::vector<std::tuple<std::string, std::int64_t, std::uint32_t, std::int64_t>> out;
    for (const PreAggregate& p : agg.take()) {
      out.emplace_back(p.process_name, p.event_time.value, p.late_mask, p.ticks);
    }
    return out;
  };
  const auto forward = run();
  std::reverse(ticks.begin(), ticks.end());
  EXPECT_EQ(run(), forward);
  EXPECT_TRUE(std::is_sorted(forward.begin(), forward.end(), [](const auto& a, const auto& b) {
    return std::tie(std::get<1>(a), std::get<0>(a), std::get<2>(a)) <
           std::tie(std::get<1>(b), std::get<0>(b), std::get<2>(b));
  }));
}

TEST(PreAggregator, KeysAreUnambiguous) {
  // Concatenations that collide as strings must stay apart.
  PreAggregator agg(kMinute);
  agg.add("a|b", "c", EventTime{0}, 1);
  agg.add("a", "b|c", EventTime{0}, 1);
  agg.add("ab", "c", EventTime{0}, 1);
  agg.add("a", "bc", EventTime{0}, 1);
  agg.add(std::string_view("a\0", 2), "bc", EventTime{0}, 1);
  EXPECT_EQ(agg.take().size(), 5U);
}

TEST(PreAggregator, ClearDropsEverything) {
  PreAggregator agg(kMinute);
  agg.add("a", "b", EventTime{0}, 1);
  agg.clear();
  EXPECT_EQ(agg.pending_records(), 0U);
  EXPECT_EQ(agg.pending_ticks(), 0);
  EXPECT_TRUE(agg.take().empty());
  agg.add("a", "b", EventTime{0}, 4);
  const auto out = agg.take();
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].count, 4);
}

TEST(PreAggregator, NamesAreCopiedNotReferenced) {
  PreAggregator agg(kMinute);
  std::string name = "process";
  agg.add(name, name, EventTime{0}, 1);
  name.assign("changed");
  const auto out = agg.take();
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].process_name, "process");
}

TEST(PreAggregator, RejectsNonPositiveBucket) {
  EXPECT_THROW(PreAggregator(DurationMs{0}), std::invalid_argument);
}

}  // namespace
}  // namespace auditor
