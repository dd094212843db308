// SIGINT and SIGTERM as a stop flag, for the commands that poll one (worker, generate,
// rollups). The HTTP services wait for the same signals in a thread instead
// (http/server.h, SignalStopper).
#pragma once

#include <atomic>

namespace auditor {

// Installs the handlers (once; later calls return the same flag) and returns the flag
// they set. Install it before anything that may block, such as the worker's start-up.
[[nodiscard]] const std::atomic<bool>& install_stop_signals();

}  // namespace auditor
