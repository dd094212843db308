// Shared command-line plumbing of the subcommands (Boost.Program_options): every option
// can also come from the environment as AUDITOR_<OPTION> (upper case, '-' -> '_'); the
// command line wins.
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "worker/config.h"

namespace auditor::cli {

namespace po = boost::program_options;

// Adds --bootstrap-servers, --kafka key=value (repeatable) and --log-level.
void add_kafka_options(po::options_description& options);

// Parses argv (after the subcommand name) and the environment. Returns false after
// printing help when --help was given. Throws ConfigError on unknown or malformed options.
[[nodiscard]] bool parse(int argc, char** argv, const std::string& command,
                         const std::string& summary, const po::options_description& options,
                         po::variables_map& values);

// Reads what add_kafka_options declared, and applies --log-level.
[[nodiscard]] KafkaSettings kafka_settings(const po::variables_map& values);

// Runs a subcommand body: ConfigError -> message and exit code 2, any other exception ->
// message and exit code 1.
int run_guarded(const std::string& command, int (*body)(int, char**), int argc, char** argv);

}  // namespace auditor::cli
