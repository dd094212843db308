// The topics a worker needs: creates the missing ones (the input with --partitions, the
// internal ones and the outputs with the input's partition count, the rollup topic
// compacted) and checks the partition counts of existing internal topics.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>

#include "worker/common/config.h"

namespace auditor {

// Returns the partition count of the input (= of the repartition topic). `client` is any
// librdkafka handle (admin requests). Throws std::runtime_error with a message that says
// what to do when an internal topic does not match the input, naming the ACL to grant when
// a topic exists but the worker may not use it, or when the broker does not answer
// within `timeout`.
[[nodiscard]] std::int32_t provision_topics(rd_kafka_t* client, const WorkerConfig& config,
                                            std::chrono::milliseconds timeout);

}  // namespace auditor
