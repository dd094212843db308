// engine/query_router.h and engine/advertised_http.h: where a GET /rollups for a key
// another replica owns goes, decided from a group description written by hand the way
// DescribeConsumerGroups reports one (client ids with "|http=host:port", assignments of
// the repartition topic and of other topics), and the address format itself.
#include <gtest/gtest.h>

#include "worker/common/config.h"
#include "worker/engine/advertised_http.h"
#include "worker/engine/query_router.h"

namespace auditor {
namespace {

const std::string kTopic = "app-ticks-repartition";

kafka::GroupMember member(const std::string& client_id, std::vector<std::int32_t> partitions,
                          const std::string& topic = kTopic) {
  kafka::GroupMember m{client_id, "/10.0.0.1", "", {}};
  for (const auto p : partitions) m.assignment.push_back({topic, p});
  return m;
}

// Three replicas, six tasks, uneven: a:{0,3,4} b:{1} c:{2,5}.
kafka::GroupDescription three_replicas() {
  return {"Stable",
          {member("app-aggregate|http=worker-0.auditor:8080", {0, 3, 4}),
           member("app-aggregate|http=worker-1.auditor:8080", {1}),
           member("app-aggregate|http=10.1.2.3:18080", {2, 5})}};
}

TEST(QueryRouter, ForwardsEachTaskToTheMemberThatHoldsIt) {
  const auto group = three_replicas();
  const std::map<int, std::string> owners = {
      {0, "worker-0.auditor:8080"}, {1, "worker-1.auditor:8080"}, {2, "10.1.2.3:18080"},
      {3, "worker-0.auditor:8080"}, {4, "worker-0.auditor:8080"}, {5, "10.1.2.3:18080"}};
  for (const auto& [partition, owner] : owners) {
    const Route r = route_query(group, kTopic, PartitionId{partition}, "worker-1.auditor:8080");
    if (partition == 1) {
      EXPECT_EQ(r.kind, Route::Kind::kHere) << partition;
    } else {
      EXPECT_EQ(r.kind, Route::Kind::kForward) << partition;
    }
    EXPECT_EQ(r.owner, owner) << partition;
  }
}

TEST(QueryRouter, UnavailableWhileTheGroupIsNotStable) {
  for (const std::string state : {"PreparingRebalance", "CompletingRebalance", "Empty", "Dead"}) {
    auto group = three_replicas();
    group.state = state;
    const Route r = route_query(group, kTopic, PartitionId{0}, "x:1");
    EXPECT_EQ(r.kind, Route::Kind::kUnavailable) << state;
    EXPECT_NE(r.reason.find(state), std::string::npos) << r.reason;
  }
}

TEST(QueryRouter, UnavailableForAPartitionNobodyHoldsBetweenCooperativeRounds) {
  auto group = three_replicas();
  group.members[2].assignment = {{kTopic, 2}};  // 5 revoked, not yet reassigned
  const Route r = route_query(group, kTopic, PartitionId{5}, "x:1");
  EXPECT_EQ(r.kind, Route::Kind::kUnavailable);
  EXPECT_NE(r.reason.find("task 5"), std::string::npos) << r.reason;
}

TEST(QueryRouter, IgnoresOtherTopicsInTheAssignment) {
  kafka::GroupDescription group{"Stable",
                                {member("app-aggregate|http=a:1", {3}, "audit_events"),
                                 member("app-aggregate|http=b:2", {3})}};
  const Route r = route_query(group, kTopic, PartitionId{3}, "x:1");
  EXPECT_EQ(r.kind, Route::Kind::kForward);
  EXPECT_EQ(r.owner, "b:2");
}

TEST(QueryRouter, UnavailableWhenTwoMembersClaimTheSamePartition) {
  kafka::GroupDescription group{
      "Stable", {member("app-aggregate|http=a:1", {3}), member("app-aggregate|http=b:2", {3})}};
  EXPECT_EQ(route_query(group, kTopic, PartitionId{3}, "x:1").kind, Route::Kind::kUnavailable);
}

TEST(QueryRouter, UnavailableWhenTheOwnerAdvertisesNoAddress) {
  // A replica of an older version (plain client id) or a malformed address.
  for (const std::string id : {"app-aggregate", "app-aggregate|http=", "app-aggregate|http=a:0",
                               "app-aggregate|http=a b:80"}) {
    kafka::GroupDescription group{"Stable", {member(id, {0})}};
    const Route r = route_query(group, kTopic, PartitionId{0}, "x:1");
    EXPECT_EQ(r.kind, Route::Kind::kUnavailable) << id;
    EXPECT_NE(r.reason.find("advertises no HTTP address"), std::string::npos) << r.reason;
  }
}

TEST(AdvertisedHttp, RoundTripsThroughTheClientId) {
  for (const std::string address :
       {"worker-0.auditor.default.svc.cluster.local:8080", "10.0.0.7:1", "vm:65535"}) {
    const std::string id = client_id_with_http("my.app_1-aggregate", address);
    EXPECT_EQ(http_of_client_id(id), address) << id;
  }
  EXPECT_EQ(http_of_client_id("app-aggregate"), std::nullopt);
}

TEST(AdvertisedHttp, AcceptsHostAndPortOnly) {
  EXPECT_NO_THROW(validate_advertised_http("--advertised-http", "worker-0.auditor:8080"));
  EXPECT_NO_THROW(validate_advertised_http("--advertised-http", "192.168.1.10:80"));
  for (const std::string& bad :
       std::vector<std::string>{"", "worker", "worker:", ":80", "worker:0", "worker:65536",
                                "worker:80x", "http://worker:80", "wor ker:80", "w|x:80",
                                "worker:-1", std::string(254, 'a') + ":80"}) {
    try {
      validate_advertised_http("--advertised-http", bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("--advertised-http"), std::string::npos) << e.what();
    }
  }
}

TEST(AdvertisedHttp, DefaultIsTheHostNameAndPort) {
  const std::string address = default_advertised_http(18080);
  EXPECT_TRUE(address.ends_with(":18080")) << address;
  EXPECT_NO_THROW(validate_advertised_http("default", address)) << address;
}

}  // namespace
}  // namespace auditor
