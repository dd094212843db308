// The Kafka options every subcommand shares (--bootstrap-servers, --kafka, --log-level),
// checked with librdkafka before anything connects.
#pragma once

#include "worker/common/cli_options.h"
#include "worker/common/config.h"

namespace auditor::cli {

// Adds --bootstrap-servers, --kafka key=value (repeatable) and --log-level.
void add_kafka_options(po::options_description& options);

// Reads what add_kafka_options declared, applies --log-level, and checks the --kafka
// properties with librdkafka (no connection is made). Throws ConfigError.
[[nodiscard]] KafkaSettings kafka_settings(const po::variables_map& values,
                                           const Origins& origins = {});

}  // namespace auditor::cli
