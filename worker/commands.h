// Entry points of the subcommands; each returns the process exit code
// (0 ok, 1 runtime failure, 2 invalid configuration).
#pragma once

namespace auditor::commands {

int worker(int argc, char** argv);
int generate(int argc, char** argv);
int rollups(int argc, char** argv);
int reset(int argc, char** argv);
int tick_api(int argc, char** argv);
int dashboard(int argc, char** argv);

}  // namespace auditor::commands
