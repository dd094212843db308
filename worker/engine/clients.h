// The librdkafka settings of the worker's clients: one consumer (both stages, one group)
// and one producer (transactional under exactly-once).
#pragma once

#include "worker/common/config.h"
#include "worker/kafka/client.h"

namespace auditor {

[[nodiscard]] kafka::Properties worker_consumer_properties(const WorkerConfig& config);
[[nodiscard]] kafka::Properties worker_producer_properties(const WorkerConfig& config);

}  // namespace auditor
