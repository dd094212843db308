// `auditor worker`: options -> WorkerConfig (engine/options.h), signal handling, the HTTP
// endpoints, and the Worker, recreated with new Kafka clients after a client failure that
// new clients cure (engine/restart_policy.h).
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "state/task_store.h"
#include "worker/commands.h"
#include "worker/common/cli_options.h"
#include "worker/common/effective_config.h"
#include "worker/common/log.h"
#include "worker/common/stop_signal.h"
#include "worker/engine/options.h"
#include "worker/engine/restart_policy.h"
#include "worker/engine/worker.h"
#include "worker/engine/worker_http.h"
#include "worker/kafka/access.h"

namespace auditor::commands {
namespace {

// A client failure again within this long of a restart means another process holds the
// same --instance-id: longer than a rejoin takes, short enough to end a duel quickly.
constexpr std::chrono::seconds kRefencedWithin{60};
// New clients that cannot start (the broker still away) are retried this long.
constexpr std::chrono::minutes kRestartPatience{5};
// Also the wait before the first try: when two processes share an --instance-id, each
// one's new clients then join both groups before the other's answer, so the duel ends
// after two rounds with the process fenced first exiting.
constexpr std::chrono::seconds kRestartBackoff{5};

// Sleeps `d` unless `stop` is set meanwhile; false if it was.
bool sleep_unless_stopped(std::chrono::milliseconds d, const std::atomic<bool>& stop) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    if (stop.load(std::memory_order_relaxed)) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return !stop.load(std::memory_order_relaxed);
}

// New clients after a client failure, made kRestartBackoff later and retried while the
// broker is away. Null when `stop` was set meanwhile; throws what the last attempt threw
// once the patience is spent.
std::unique_ptr<Worker> restart(const WorkerConfig& config, WorkerShared& shared,
                                const std::atomic<bool>& stop) {
  const auto give_up_at = std::chrono::steady_clock::now() + kRestartPatience;
  for (;;) {
    if (!sleep_unless_stopped(kRestartBackoff, stop)) return nullptr;
    try {
      return std::make_unique<Worker>(config, shared);
    } catch (const std::runtime_error& e) {
      if (std::chrono::steady_clock::now() + kRestartBackoff >= give_up_at) throw;
      log::get("worker")->warn("new Kafka clients could not start: {}; retrying in {} s", e.what(),
                               kRestartBackoff.count());
    }
  }
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
  log::set_field("application_id", config.topics.application_id);
  if (config.instance_id) log::set_field("instance_id", *config.instance_id);
  cli::log_configuration("worker", values, origins);
  // Once per process, before the first store opens; a Worker recreated after a client
  // failure keeps the stores' cache.
  const MemoryBudget memory = worker_memory(config);
  state::TaskStore::configure_memory(state::StoreMemory{
      .block_cache_bytes = memory.block_cache_bytes,
      .memtable_budget_bytes = memory.memtable_budget_bytes,
      .write_buffer_bytes = memory.write_buffer_bytes,
  });
  log::get("worker")->info("{}", describe(memory));
  // Before the worker starts: its start-up can wait up to 30 s for the broker, and a
  // signal meanwhile must stop it (run() then returns at once), not kill it.
  const std::atomic<bool>& stop = install_stop_signals();
  kafka::check_credentials(config.kafka, kafka::kCredentialsCheckTimeout);
  WorkerShared shared;
  const WorkerHttp http(config, shared.metrics, shared.status, shared.queries);
  // Known once the port is bound; the stage-2 consumer advertises it (engine/clients.cpp).
  config.advertised_http = http.advertised();
  auto logger = log::get("worker");
  RestartPolicy policy(kRefencedWithin);
  auto worker = std::make_unique<Worker>(config, shared);
  for (;;) {
    const WorkerExit exit = worker->run(stop);
    worker.reset();
    switch (exit.kind) {
      case WorkerExit::Kind::kStopped:
        return 0;
      case WorkerExit::Kind::kFatal:
        logger->critical("stopped after a fatal error: {}", exit.reason);
        return 1;
      case WorkerExit::Kind::kClientFatal:
        break;
    }
    if (!policy.restart_after(exit.kind, std::chrono::steady_clock::now())) {
      logger->critical(
          "stopped: a Kafka client failed again within {} s of being recreated, so another "
          "process most likely runs with the same --instance-id{}: {}",
          kRefencedWithin.count(), config.instance_id ? " (" + *config.instance_id + ")" : "",
          exit.reason);
      return 1;
    }
    logger->warn(
        "recreating the Kafka clients after: {} (a static member fenced by its own rejoin "
        "after an outage, or a producer the broker gave up on; local stores are kept)",
        exit.reason);
    shared.status.set_restarting(exit.reason);
    worker = restart(config, shared, stop);
    if (!worker) return 0;
  }
}

}  // namespace

int worker(int argc, char** argv) {
  return cli::run_guarded("worker", run_worker, argc, argv);
}

}  // namespace auditor::commands
