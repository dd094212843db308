// The librdkafka settings of the worker's clients: one consumer per stage, each in its
// stage's group, and one producer (transactional under exactly-once) for both.
#pragma once

#include <cstdint>
#include <string>

#include "worker/common/config.h"
#include "worker/kafka/client.h"

namespace auditor {

enum class WorkerStage : std::uint8_t { kIngest, kAggregate };

[[nodiscard]] const char* stage_name(WorkerStage stage);
// The consumer group of a stage: <app> (input) or <app>-aggregate (tasks).
[[nodiscard]] std::string stage_group(const WorkerConfig& config, WorkerStage stage);
[[nodiscard]] kafka::Properties worker_consumer_properties(const WorkerConfig& config,
                                                           WorkerStage stage);
[[nodiscard]] kafka::Properties worker_producer_properties(const WorkerConfig& config);

}  // namespace auditor
