// Who owns which stage-2 task, as the broker says: the aggregate group's description
// (kafka::describe_group), cached briefly so a burst of queries costs one DescribeGroups,
// refreshed when a query finds no owner in it or its owner turned out wrong. Thread-safe:
// HTTP threads call route() concurrently; one refresh at a time, the others wait for it.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "worker/common/config.h"
#include "worker/engine/query_router.h"
#include "worker/kafka/handles.h"

namespace auditor {

class OwnerDirectory {
 public:
  using Clock = std::chrono::steady_clock;

  // `self`: this replica's advertised address. Its admin client is created by the first
  // route() that needs the group (a lone replica never does).
  OwnerDirectory(const WorkerConfig& config, std::string self);

  // The route to the owner of `partition`, from a description at most kMaxAge old; a
  // description in which no owner is found is refreshed when over kMinRefresh old. A
  // broker that does not answer within kDescribeTimeout makes it unavailable.
  [[nodiscard]] Route route(PartitionId partition);
  // The owner `route()` named was wrong (unreachable, or it does not run the task): the
  // next query over kMinRefresh after the last describe describes the group afresh.
  void forget();

  [[nodiscard]] const std::string& self() const { return self_; }

  static constexpr std::chrono::milliseconds kMaxAge{1'000};
  static constexpr std::chrono::milliseconds kMinRefresh{250};
  static constexpr std::chrono::milliseconds kDescribeTimeout{2'000};

 private:
  KafkaSettings kafka_;
  std::string client_id_;
  std::string group_;
  std::string topic_;
  std::string self_;
  std::mutex mutex_;
  std::optional<kafka::GroupDescription> cached_;  // guarded by mutex_
  Clock::time_point described_at_;                 // guarded by mutex_
  std::string describe_error_;                     // guarded by mutex_: the last failure
  bool stale_ = false;                             // guarded by mutex_: forget() was called
  kafka::HandlePtr admin_;                         // guarded by mutex_
};

}  // namespace auditor
