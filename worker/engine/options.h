// The options of `auditor worker` and their translation into a validated WorkerConfig.
// Separate from the command so tests can build a configuration without running a worker.
#pragma once

#include "worker/common/cli_options.h"
#include "worker/common/config.h"

namespace auditor {

// Every option of `auditor worker` (the Kafka and application options included).
void add_worker_options(cli::po::options_description& options);

// Builds and checks the worker configuration, applying --log-level. Throws ConfigError
// naming the option (and where it was set, from `origins`) on any invalid value. Makes no
// connection.
[[nodiscard]] WorkerConfig worker_config(const cli::po::variables_map& values,
                                         const cli::Origins& origins = {});

}  // namespace auditor
