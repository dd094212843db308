// `auditor worker`: options -> WorkerConfig (worker_options), signal handling, run.
#include <atomic>
#include <csignal>
#include <string>
#include <utility>

#include "worker/common/cli_options.h"
#include "worker/commands.h"
#include "worker/common/effective_config.h"
#include "worker/engine/worker.h"
#include "worker/engine/options.h"

namespace auditor::commands {
namespace {

std::atomic<bool> g_stop{false};

void on_signal(int /*signal*/) {
  g_stop.store(true);
}

int run_worker(int argc, char** argv) {
  cli::po::options_description options("worker options");
  add_worker_options(options);
  cli::po::variables_map values;
  cli::Origins origins;
  if (!cli::parse(argc, argv, "worker", "Counts audit ticks in windowed rollups.", options, values,
                  &origins)) {
    return 0;
  }
  WorkerConfig config = worker_config(values, origins);
  cli::log_configuration("worker", values, origins);
  Worker worker(std::move(config));
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  return worker.run(g_stop);
}

}  // namespace

int worker(int argc, char** argv) {
  return cli::run_guarded("worker", run_worker, argc, argv);
}

}  // namespace auditor::commands
