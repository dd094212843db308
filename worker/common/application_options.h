// The options that name an application (its topics, group and local state), shared by
// `auditor worker` and `auditor reset` with the same defaults.
#pragma once

#include "worker/common/cli_options.h"
#include "worker/common/config.h"

namespace auditor {

// --application-id, --input-topic and --state-dir.
void add_application_options(cli::po::options_description& options);

// Topic names of the application, checked as Kafka would (and the derived internal
// topics). Throws ConfigError.
[[nodiscard]] TopicNames application_topics(const cli::po::variables_map& values,
                                            const cli::Origins& origins);

}  // namespace auditor
