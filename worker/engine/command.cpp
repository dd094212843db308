// `auditor worker`: options -> WorkerConfig (engine/options.h), signal handling, run.
#include <atomic>
#include <string>
#include <utility>

#include "worker/commands.h"
#include "worker/common/cli_options.h"
#include "worker/common/effective_config.h"
#include "worker/common/stop_signal.h"
#include "worker/engine/options.h"
#include "worker/engine/worker.h"
#include "worker/kafka/access.h"

namespace auditor::commands {
namespace {

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
  // Before the worker starts: its start-up can wait up to 30 s for the broker, and a
  // signal meanwhile must stop it (run() then returns at once), not kill it.
  const std::atomic<bool>& stop = install_stop_signals();
  kafka::check_credentials(config.kafka, kafka::kCredentialsCheckTimeout);
  Worker worker(std::move(config));
  return worker.run(stop);
}

}  // namespace

int worker(int argc, char** argv) {
  return cli::run_guarded("worker", run_worker, argc, argv);
}

}  // namespace auditor::commands
