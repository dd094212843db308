#include "worker/common/stop_signal.h"

#include <csignal>

namespace auditor {
namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int /*signal*/) {
  g_stop.store(true);  // lock-free: safe in a signal handler
}

}  // namespace

const std::atomic<bool>& install_stop_signals() {
  static const bool installed = [] {
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    return true;
  }();
  (void)installed;
  return g_stop;
}

}  // namespace auditor
