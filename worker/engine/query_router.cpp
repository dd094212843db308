#include "worker/engine/query_router.h"

#include "worker/engine/advertised_http.h"

namespace auditor {
namespace {

Route unavailable(std::string reason) {
  return {Route::Kind::kUnavailable, "", std::move(reason)};
}

}  // namespace

Route route_query(const kafka::GroupDescription& group, const std::string& topic,
                  PartitionId partition, const std::string& self) {
  const std::string task = "task " + std::to_string(partition.value);
  // Between the rounds of a cooperative rebalance the group is Stable with a partition
  // assigned to nobody; while it is not Stable, the assignments it reports are the old ones.
  if (group.state != "Stable") return unavailable("the group is " + group.state + " (rebalancing)");
  const kafka::GroupMember* owner = nullptr;
  for (const auto& member : group.members) {
    for (const auto& assigned : member.assignment) {
      if (assigned.topic != topic || assigned.partition != partition.value) continue;
      if (owner != nullptr) return unavailable(task + " is assigned to two members (rebalancing)");
      owner = &member;
    }
  }
  if (owner == nullptr) return unavailable(task + " is not assigned (rebalancing)");
  const auto address = http_of_client_id(owner->client_id);
  if (!address) {
    return unavailable(task + " is owned by client '" + owner->client_id +
                       "', which advertises no HTTP address");
  }
  if (*address == self) return {Route::Kind::kHere, *address, ""};
  return {Route::Kind::kForward, *address, ""};
}

}  // namespace auditor
