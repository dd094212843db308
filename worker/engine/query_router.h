// Where a `GET /rollups` goes when this replica does not run the key's task: the replica
// that does, as the stage-2 group's description says (DescribeConsumerGroups: state, each
// member's client id with its advertised HTTP address, and its assignment), or nowhere
// while the group rebalances. Pure: unit-tested on hand-made descriptions
// (tests/unit/worker_query_router_test.cpp). Any thread.
#pragma once

#include <cstdint>
#include <string>

#include "topology/types.h"
#include "worker/kafka/admin.h"

namespace auditor {

struct Route {
  enum class Kind : std::uint8_t {
    kForward,      // ask `owner`
    kHere,         // the group gives the task to this replica, which does not run it yet
    kUnavailable,  // no owner now (`reason`); answer 503 and let the client retry
  };
  Kind kind = Kind::kUnavailable;
  std::string owner;   // the owner's advertised host:port (kForward, kHere)
  std::string reason;  // one line (kUnavailable)
};

// The route to the owner of `partition` of `topic` in `group`, for the replica advertising
// `self`. Unavailable unless the group is Stable and exactly one member with an advertised
// address holds the partition.
[[nodiscard]] Route route_query(const kafka::GroupDescription& group, const std::string& topic,
                                PartitionId partition, const std::string& self);

}  // namespace auditor
