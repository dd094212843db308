// HTTP server plumbing shared by `auditor tick-api` and `auditor dashboard` (cpp-httplib):
// binding with a logged free port, a sized thread pool, JSON 500s, and a clean stop on
// SIGINT/SIGTERM.
#pragma once

#include <httplib.h>
#include <pthread.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace auditor::web {

// Binds `host:port`; port 0 takes a free port. Returns the port. Throws std::runtime_error.
int bind(httplib::Server& server, const std::string& host, int port, const std::string& name);

// `threads` request threads (cpp-httplib's default is 8; a keep-alive connection or an
// event stream holds one for its lifetime), and exceptions answered as JSON 500s.
void configure(httplib::Server& server, int threads);

// Turns SIGINT/SIGTERM into a callback on a thread of its own, where it is safe to call
// httplib::Server::stop() (not async-signal-safe). Construct it before any other thread:
// it blocks both signals in the calling thread, and threads started later inherit that.
class SignalStopper {
 public:
  SignalStopper();
  ~SignalStopper();
  SignalStopper(const SignalStopper&) = delete;
  SignalStopper& operator=(const SignalStopper&) = delete;

  // Runs `callback` once stopping starts (at once if it already has).
  void on_stop(std::function<void()> callback);
  // Starts stopping without a signal (e.g. the server ended by itself).
  void stop();
  [[nodiscard]] const std::atomic<bool>& stopping() const { return stopping_; }

 private:
  void wait_for_signal();
  void fire();

  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::function<void()> callback_;
  bool fired_ = false;
  pthread_t waiter_handle_{};
  std::thread waiter_;
};

}  // namespace auditor::web
