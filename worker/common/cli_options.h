// Shared command-line plumbing of the subcommands (Boost.Program_options). Every option
// comes from, in this order of precedence:
//   1. the command line                  --grace 5m
//   2. the environment                   AUDITOR_GRACE=5m  (upper case, '-' -> '_')
//   3. a config file (--config FILE)     grace = 5m        (names without dashes, # comments)
//   4. its default.
// Repeatable options (--kafka) collect their values from every source; for the same
// librdkafka property the higher source wins.
#pragma once

#include <boost/program_options.hpp>
#include <map>
#include <string>
#include <vector>

#include "worker/common/config.h"

namespace auditor::cli {

namespace po = boost::program_options;

// Where each option's value came from, by option name: "command line", "AUDITOR_GRACE",
// "config file worker.conf", or several joined by " + " for a repeatable option. Options
// left at their default are absent.
using Origins = std::map<std::string, std::string>;

// Parses argv (after the subcommand name), the environment and the --config file; adds
// --help and --config to `options`. Returns false after printing help when --help was
// given. Throws ConfigError naming the option (and where it was set) on unknown options,
// malformed values, stray arguments or an unreadable config file. Unknown keys in a
// config file only warn: one file may serve several commands (worker and reset).
[[nodiscard]] bool parse(int argc, char** argv, const std::string& command,
                         const std::string& summary, const po::options_description& options,
                         po::variables_map& values, Origins* origins = nullptr);

// "--grace", or "--grace (from AUDITOR_GRACE)" when the value did not come from the
// command line: error messages name the option where the user set it.
[[nodiscard]] std::string option_label(const Origins& origins, const std::string& name);

// Runs a subcommand body: ConfigError -> message and exit code 2, any other exception ->
// message and exit code 1.
int run_guarded(const std::string& command, int (*body)(int, char**), int argc, char** argv);

}  // namespace auditor::cli
