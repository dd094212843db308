// auditor: one binary, one subcommand per job.
#include <iostream>
#include <string_view>

#include "worker/commands.h"
#include "worker/common/build_info.h"

namespace {

constexpr std::string_view kUsage = R"(usage: auditor <command> [options]

commands:
  worker     the aggregation worker (both stages)
  generate   produce synthetic ticks
  rollups    print the latest rollups as a table, or follow them
  reset      prepare a replay: move input offsets, clear internal topics and local state
  tick-api   HTTP API: POST /tick and /ticks produce ticks, acknowledged by Kafka
  dashboard  live web page of the top rollups (server-sent events)

`auditor <command> --help` lists a command's options; `auditor --version` the build.
)";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string_view command = argv[1];
  // Each command parses its own options from argv[1..] (argv[1] acts as program name).
  if (command == "worker") return auditor::commands::worker(argc - 1, argv + 1);
  if (command == "generate") return auditor::commands::generate(argc - 1, argv + 1);
  if (command == "rollups") return auditor::commands::rollups(argc - 1, argv + 1);
  if (command == "reset") return auditor::commands::reset(argc - 1, argv + 1);
  if (command == "tick-api") return auditor::commands::tick_api(argc - 1, argv + 1);
  if (command == "dashboard") return auditor::commands::dashboard(argc - 1, argv + 1);
  if (command == "--version" || command == "version") {
    std::cout << "auditor " << auditor::build_info::version() << " (commit "
              << auditor::build_info::commit() << ")\n";
    return 0;
  }
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << "auditor: unknown command '" << command << "'\n" << kUsage;
  return 2;
}
