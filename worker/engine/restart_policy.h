// When the worker recreates its Kafka clients instead of exiting (docs/architecture.md,
// "Faults"). A static member whose session timed out during a broker outage is often
// fenced by its own rejoin (FENCED_INSTANCE_ID, fatal in librdkafka), and a transactional
// producer whose transaction the coordinator aborted meanwhile can end in a fatal invalid
// state: new clients cure both, and the local stores (only ever committed state) are kept.
// A second process running with the same --instance-id looks the same to the client, but
// it fences the new clients again at once; so a second client failure soon after a
// restart ends the process:
//
//   running ──client fatal──► restart ──► running ──client fatal, ≥ window after the
//      │                                     │          restart──► restart ...
//      │                                     └──client fatal within window──► give up
//      └──other fatal──► give up
//
// Pure: time is passed in. Thread-safety: none (the worker command's thread only).
#pragma once

#include <chrono>

#include "worker/engine/worker_exit.h"

namespace auditor {

class RestartPolicy {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RestartPolicy(std::chrono::milliseconds window) : window_(window) {}

  // After run() ended with `kind` at `now`: true to start new clients (and remembers the
  // restart), false to exit.
  [[nodiscard]] bool restart_after(WorkerExit::Kind kind, Clock::time_point now) {
    if (kind != WorkerExit::Kind::kClientFatal) return false;
    if (restarted_ && now - last_restart_ < window_) return false;
    restarted_ = true;
    last_restart_ = now;
    return true;
  }

 private:
  std::chrono::milliseconds window_;
  bool restarted_ = false;
  Clock::time_point last_restart_{};
};

}  // namespace auditor
