#include "worker/http/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <csignal>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "worker/common/log.h"

namespace auditor::web {
namespace {

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

int bind(httplib::Server& server, const std::string& host, int port, const std::string& name) {
  // Debian's cpp-httplib is compiled with a listen backlog of 5: a burst of new
  // connections overflows it and clients wait for a SYN retransmit (1 s). Listening again
  // on the bound socket is how Linux raises the backlog of a listening socket.
  socket_t listen_socket = INVALID_SOCKET;
  server.set_socket_options([&listen_socket](socket_t sock) {
    httplib::default_socket_options(sock);
    // Replies go out as two writes (headers, body); with Nagle's algorithm the second
    // waits for the client's delayed ACK, 40 ms on every keep-alive request. Accepted
    // sockets inherit the option from the listening one.
    int on = 1;
    (void)setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    listen_socket = sock;
  });
  int bound = port;
  if (port == 0) {
    bound = server.bind_to_any_port(host);
    if (bound <= 0) throw std::runtime_error(name + ": cannot listen on " + host);
  } else if (!server.bind_to_port(host, port)) {
    throw std::runtime_error(name + ": cannot listen on " + host + ":" + std::to_string(port));
  }
  if (listen_socket != INVALID_SOCKET) (void)::listen(listen_socket, SOMAXCONN);
  server.set_socket_options(httplib::default_socket_options);
  return bound;
}

void configure(httplib::Server& server, int threads) {
  server.new_task_queue = [threads] {
    return new httplib::ThreadPool(static_cast<std::size_t>(threads));
  };
  server.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        log::get("http")->error("{} {}: {}", req.method, req.path, what);
        res.status = 500;
        res.set_content(nlohmann::json{{"detail", "internal error"}}.dump(), "application/json");
      });
}

SignalStopper::SignalStopper() {
  const sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  waiter_ = std::thread([this] { wait_for_signal(); });
  waiter_handle_ = waiter_.native_handle();
}

SignalStopper::~SignalStopper() {
  stop();
  waiter_.join();
}

void SignalStopper::wait_for_signal() {
  const sigset_t set = stop_signals();
  int signal = 0;
  sigwait(&set, &signal);
  if (!stopping_.load()) log::get("http")->info("signal {}: stopping", signal);
  fire();
}

void SignalStopper::fire() {
  std::function<void()> callback;
  {
    const std::lock_guard lock(mutex_);
    stopping_.store(true);
    if (fired_) return;
    fired_ = true;
    callback = callback_;
  }
  if (callback) callback();
}

void SignalStopper::on_stop(std::function<void()> callback) {
  bool run_now = false;
  {
    const std::lock_guard lock(mutex_);
    callback_ = std::move(callback);
    run_now = fired_;
  }
  if (run_now) callback_();
}

void SignalStopper::stop() {
  const bool was = stopping_.exchange(true);
  // Wakes the waiter (the signal is blocked, so it is only ever delivered to sigwait).
  if (!was) pthread_kill(waiter_handle_, SIGTERM);
}

}  // namespace auditor::web
