// The decisions of `auditor reset` from what the broker reported: new input offsets,
// what happens to the internal topics, and the --to-offsets syntax.
#include <gtest/gtest.h>

#include <algorithm>

#include "worker/reset/plan.h"

namespace auditor {
namespace {

using Kind = ResetTarget::Kind;

// Two partitions: 0 holds [0, 100), 1 lost its first 50 records to retention.
std::vector<InputPartition> input() {
  return {{0, 0, 100, 80, std::nullopt}, {1, 50, 120, std::nullopt, std::nullopt}};
}

std::vector<std::int64_t> targets(const std::vector<OffsetMove>& moves) {
  std::vector<std::int64_t> to;
  for (const auto& m : moves) to.push_back(m.to);
  return to;
}

bool mentions(const std::vector<std::string>& lines, const std::string& part) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const auto& l) { return l.find(part) != std::string::npos; });
}

TEST(PlanInputOffsets, EarliestIsTheLogStartOfEachPartition) {
  std::vector<std::string> warnings;
  const auto moves = plan_input_offsets({Kind::kEarliest, EventTime{0}, {}}, input(), warnings);
  EXPECT_EQ(targets(moves), (std::vector<std::int64_t>{0, 50}));
  EXPECT_EQ(moves[0].from, 80);
  EXPECT_EQ(moves[1].from, std::nullopt);
  // Partition 1 lost records: its windows cannot be rebuilt in full.
  EXPECT_TRUE(mentions(warnings, "partition 1 starts at offset 50"));
  EXPECT_FALSE(mentions(warnings, "partition 0"));
}

TEST(PlanInputOffsets, DatetimeUsesTheLookupOrTheEndWhenNothingIsThatRecent) {
  auto partitions = input();
  partitions[0].at_time = 42;
  partitions[1].at_time = std::nullopt;
  std::vector<std::string> warnings;
  const auto moves = plan_input_offsets({Kind::kDatetime, EventTime{1}, {}}, partitions, warnings);
  EXPECT_EQ(targets(moves), (std::vector<std::int64_t>{42, 120}));
  EXPECT_TRUE(mentions(warnings, "republished with only the ticks from there on"));
}

TEST(PlanInputOffsets, ExplicitOffsetsAreClampedToWhatThePartitionHolds) {
  std::vector<std::string> warnings;
  const auto moves =
      plan_input_offsets({Kind::kOffsets, EventTime{0}, {{0, 500}, {1, 10}}}, input(), warnings);
  EXPECT_EQ(targets(moves), (std::vector<std::int64_t>{100, 50}));
  EXPECT_TRUE(mentions(warnings, "partition 0: offset 500 is outside"));
  EXPECT_TRUE(mentions(warnings, "partition 1: offset 10 is outside"));
}

TEST(PlanInputOffsets, ExplicitOffsetsMustCoverExactlyTheInputPartitions) {
  std::vector<std::string> warnings;
  EXPECT_THROW(
      (void)plan_input_offsets({Kind::kOffsets, EventTime{0}, {{0, 5}}}, input(), warnings),
      ConfigError);
  EXPECT_THROW((void)plan_input_offsets({Kind::kOffsets, EventTime{0}, {{0, 5}, {1, 60}, {2, 0}}},
                                        input(), warnings),
               ConfigError);
  EXPECT_NO_THROW((void)plan_input_offsets({Kind::kOffsets, EventTime{0}, {{0, 5}, {1, 60}}},
                                           input(), warnings));
}

TEST(PlanInternalTopic, PurgesADeletePolicyTopicWithTheInputsPartitionCount) {
  const auto plan = plan_internal_topic("app-ticks-repartition", 6, 6, false);
  EXPECT_EQ(plan.action, InternalTopicAction::kDeleteRecords);
  EXPECT_EQ(plan.partitions, 6);
}

TEST(PlanInternalTopic, DeletesACompactedTopic) {
  // Kafka answers DeleteRecords on a compact-only topic with POLICY_VIOLATION.
  EXPECT_EQ(plan_internal_topic("app-rollups-changelog", 6, 6, true).action,
            InternalTopicAction::kDeleteTopic);
}

TEST(PlanInternalTopic, DeletesATopicWhosePartitionCountNoLongerMatches) {
  const auto plan = plan_internal_topic("app-ticks-repartition", 3, 6, false);
  EXPECT_EQ(plan.action, InternalTopicAction::kDeleteTopic);
  EXPECT_NE(plan.reason.find("has 3 partitions"), std::string::npos);
}

TEST(PlanInternalTopic, LeavesAnAbsentTopicToTheWorker) {
  EXPECT_EQ(plan_internal_topic("app-rollups-changelog", std::nullopt, 6, true).action,
            InternalTopicAction::kAbsent);
}

TEST(DescribePlan, OneLinePerActionInExecutionOrder) {
  ResetConfig config;
  config.topics.application_id = "app";
  ResetPlan plan;
  std::vector<std::string> warnings;
  plan.input = plan_input_offsets({Kind::kEarliest, EventTime{0}, {}}, input(), warnings);
  plan.repartition = plan_internal_topic(config.topics.repartition(), 2, 2, false);
  plan.changelog = plan_internal_topic(config.topics.changelog(), 2, 2, true);
  plan.local_state = LocalState::kDelete;
  plan.state_dir = "/state/app";
  plan.state_exists = true;
  const auto lines = describe(plan, config);
  ASSERT_EQ(lines.size(), 5U);
  EXPECT_EQ(lines[0], "local state: delete /state/app");
  EXPECT_NE(lines[1].find("app-ticks-repartition: delete records"), std::string::npos);
  EXPECT_NE(lines[2].find("app-rollups-changelog: delete group app-aggregate's offsets and the topic"),
            std::string::npos);
  EXPECT_EQ(lines[3], "group app: move audit_events[0] from 80 to 0 (the earliest offsets)");
  EXPECT_EQ(lines[4], "group app: move audit_events[1] from none to 50 (the earliest offsets)");
}

TEST(PartitionOffsets, ParsesAList) {
  EXPECT_EQ(parse_partition_offsets("--to-offsets", "0:1200,1:1300,5:0"),
            (std::map<std::int32_t, std::int64_t>{{0, 1200}, {1, 1300}, {5, 0}}));
}

TEST(PartitionOffsets, RejectsMalformedItems) {
  for (const char* text : {"", "0", "0:", ":5", "a:1", "0:b", "0:-1", "-1:0", "0:1,", "0:1,,1:2",
                           "0:1:2", "0: 1", "0:1,0:2", "99999999999:0"}) {
    EXPECT_THROW((void)parse_partition_offsets("--to-offsets", text), ConfigError) << text;
  }
}

}  // namespace
}  // namespace auditor
