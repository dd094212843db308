// cpp-httplib's server with our own connection handling (internal to http/, for
// server.cpp): cpp-httplib parses requests, routes and writes responses, while each
// connection runs on our loop, reads through ConnectionStream (deadlines, TLS) and is
// admitted by a ConnectionLimiter. It overrides cpp-httplib's virtual
// process_and_close_socket(), as its own SSLServer does, and calls the protected
// process_request() for each request.
//
// Thread-safety: as httplib::Server; serve_connection() runs on the request threads,
// stop() may be called from any thread.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <memory>

#include "worker/http/connection_limiter.h"

struct ssl_ctx_st;

namespace auditor::web {

// True while the current thread handles a request whose connection must close after the
// response (close_connection_after_response()).
struct ConnectionFlags {
  bool close_after_response = false;
  bool body_unread = false;  // also linger before closing (ConnectionStream::linger)
};
// The flags of the connection the calling request thread serves; null elsewhere.
[[nodiscard]] ConnectionFlags* current_connection();

class Listener final : public httplib::Server {
 public:
  struct Settings {
    std::size_t max_connections = 16;
    std::chrono::milliseconds keep_alive_timeout{5'000};
    std::chrono::milliseconds request_timeout{10'000};
    std::chrono::milliseconds write_timeout{10'000};
    ssl_ctx_st* tls = nullptr;  // owned by the caller, outlives the listener
    std::string name;           // for logs
  };

  explicit Listener(Settings settings);
  ~Listener() override;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Ends listen_after_bind() and wakes every connection that waits, so that request
  // threads end promptly (event streams at their next write).
  void stop_serving();

  [[nodiscard]] std::size_t connections() const { return limiter_.connections(); }

 private:
  bool process_and_close_socket(socket_t sock) override;
  bool serve(int fd);
  void reject(int fd);

  Settings settings_;
  ConnectionLimiter limiter_;
  int stop_fd_ = -1;  // an eventfd, readable once stopping
  std::atomic<std::int64_t> last_reject_log_ms_{0};
};

}  // namespace auditor::web
