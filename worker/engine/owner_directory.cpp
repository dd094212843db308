#include "worker/engine/owner_directory.h"

#include <stdexcept>

#include "worker/common/log.h"
#include "worker/kafka/admin.h"
#include "worker/kafka/client.h"

namespace auditor {

OwnerDirectory::OwnerDirectory(const WorkerConfig& config, std::string self)
    : kafka_(config.kafka),
      client_id_(config.topics.application_id + "-queries"),
      group_(config.topics.aggregate_group()),
      topic_(config.topics.repartition()),
      self_(std::move(self)) {}

Route OwnerDirectory::route(PartitionId partition) {
  const std::lock_guard lock(mutex_);
  const auto age = Clock::now() - described_at_;
  if (cached_ && age < kMaxAge) {
    Route r = route_query(*cached_, topic_, partition, self_);
    const bool doubtful = stale_ || r.kind != Route::Kind::kForward;
    if (!doubtful || age < kMinRefresh) return r;
  }
  // After a failure too: at most one describe per kMinRefresh while the broker is away.
  if (!cached_ && !describe_error_.empty() && age < kMinRefresh) {
    return {Route::Kind::kUnavailable, "", describe_error_};
  }
  described_at_ = Clock::now();
  stale_ = false;
  try {
    if (!admin_) {
      admin_ = kafka::make_client(RD_KAFKA_PRODUCER,
                                  kafka::make_conf(kafka_, {{"client.id", client_id_}}));
    }
    cached_ = kafka::describe_group(admin_.get(), group_, kDescribeTimeout);
    describe_error_.clear();
  } catch (const std::runtime_error& e) {
    cached_.reset();
    describe_error_ = e.what();
    log::get("http")->warn("cannot find the owners of the tasks: {}", describe_error_);
    return {Route::Kind::kUnavailable, "", describe_error_};
  }
  return route_query(*cached_, topic_, partition, self_);
}

void OwnerDirectory::forget() {
  const std::lock_guard lock(mutex_);
  stale_ = true;
}

}  // namespace auditor
