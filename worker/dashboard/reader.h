// Reads the rollup topic into a RollupStore: every partition from the beginning (it is
// compacted, so that is the latest value of every window), then follows it. No consumer
// group and no commits: each dashboard replica reads everything on its own.
#pragma once

#include <atomic>
#include <string>

#include "worker/common/config.h"
#include "worker/dashboard/store.h"

namespace auditor::dashboard {

// Runs until `stop`. Waits (and retries) while the broker or the topic is not there yet:
// the dashboard may well start before the first worker created the topic.
void read_rollups(const KafkaSettings& kafka, const std::string& topic, RollupStore& store,
                  const std::atomic<bool>& stop);

}  // namespace auditor::dashboard
