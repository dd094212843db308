#include <gtest/gtest.h>

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
