// Logs the configuration a command runs with, one line per option with where its value
// came from, so an operator can tell why the worker does what it does. Secrets (options
// and --kafka properties holding passwords, SASL/JAAS configs, private keys) show as ***.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "worker/common/cli_options.h"

namespace auditor::cli {

// True for librdkafka (or Java client) property names and option names that hold
// credentials; false for those naming a file or location (--kafka-sasl-password-file).
[[nodiscard]] bool is_secret_property(std::string_view key);

// "name = value (origin)" lines, sorted by name; --help and unset options are left out.
[[nodiscard]] std::vector<std::string> describe_configuration(const po::variables_map& values,
                                                              const Origins& origins);

// Logs describe_configuration() at info level under the command's component.
void log_configuration(const std::string& command, const po::variables_map& values,
                       const Origins& origins);

}  // namespace auditor::cli
