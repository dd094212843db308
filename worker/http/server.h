// HTTP server plumbing shared by the worker's endpoints, `auditor tick-api` and
// `auditor dashboard`: routes with our own request and response types (cpp-httplib stays
// inside http/), binding with a free port and a large listen backlog, 500s for exceptions,
// event streams, and a clean stop on SIGINT/SIGTERM. And what keeps it safe to expose
// (README, "Securing the tick API and dashboard"): optional TLS and bearer-token auth, a
// bounded body, a deadline on reading each request, a bounded number of connections.
#pragma once

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace auditor::web {

class BearerAuth;
class TlsContext;
class Listener;

struct Request {
  std::string method;
  std::string path;
  std::multimap<std::string, std::string> params;  // query string parameters
  std::string body;                                // POST: the body, at most the route's limit
  bool body_too_large = false;  // POST: the body was over the route's limit (body empty)
  std::vector<std::pair<std::string, std::string>> headers;  // names as the client sent them
  // The value of header `name` (case-insensitive), if the request has it.
  [[nodiscard]] std::optional<std::string> header(const std::string& name) const;
};

// The client end of an event stream.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // Sends `bytes`; false once the client is gone.
  virtual bool write(std::string_view bytes) = 0;
};

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  // Instead of a body (chunked): called again and again on the request's thread until it
  // returns false (the client is gone or the stream is over); then `stream_done` once.
  std::function<bool(StreamSink&)> stream;
  std::function<void()> stream_done;
};

using Handler = std::function<void(const Request&, Response&)>;

class SignalStopper;

// Marks the connection of the request being handled on this thread to be closed after
// its response (say, because its body was left unread). From a handler only.
void close_connection_after_response();

// An HTTP/1.1 server on threads of its own. Add routes, bind(), then listen() on one
// thread; stop() from any other ends listen(). Thread-safety: handlers run concurrently on
// the request threads; everything else from one thread, except stop().
//
// Each connection holds a request thread for its life (cpp-httplib's model): a keep-alive
// connection between requests, an event stream while it streams. So `max_connections` is
// also the number of request threads; a connection beyond it takes the place of an idle
// keep-alive connection if there is one, else is answered 503 at once and closed (over
// TLS: closed; a handshake could take a slow client long).
class Server {
 public:
  using Methods = std::map<std::string, std::vector<std::string>>;
  struct Options {
    std::size_t max_connections = 16;
    std::string internal_error_body = R"({"error":"internal error"})";  // 500 when a handler throws
    std::size_t max_payload = std::size_t{8} << 20U;  // larger bodies: 413 before any handler
    std::size_t keep_alive_requests = 5;              // per connection, then the server closes it
    // Between requests (and before the first one): a connection silent this long is closed.
    std::chrono::milliseconds keep_alive_timeout{5'000};
    // From a request's first byte (a TLS connection: from its accept) to its last, body
    // included; the connection is closed when the request is not in by then, however
    // steadily it trickles in.
    std::chrono::milliseconds request_timeout{10'000};
    // A response the client takes nothing of for this long is abandoned.
    std::chrono::milliseconds write_timeout{10'000};
    std::shared_ptr<const TlsContext> tls;   // serve HTTPS; null: plain HTTP
    std::shared_ptr<const BearerAuth> auth;  // require a bearer token; null: open
    // Paths open without a token: probes and metrics scrapers carry none.
    std::vector<std::string> open_paths = {"/healthz", "/readyz", "/metrics"};
  };
  // `name` for logs and errors.
  Server(std::string name, const Options& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void get(const std::string& path, Handler handler);
  // A POST whose body is read up to `max_body` bytes (beyond: Request::body_too_large). A
  // POST without Content-Length has an empty body, as `curl -X POST '/tick?...'` sends it.
  void post(const std::string& path, std::size_t max_body, Handler handler);
  // Called after every request with its path and status (for metrics).
  void on_response(std::function<void(const std::string& path, int status)> observer);

  // Binds `host:port`; port 0 takes a free port. Returns the port. Throws
  // std::runtime_error naming the server.
  int bind(const std::string& host, int port);
  // Serves until stop(); false when it could not serve at all.
  bool listen();
  void stop();
  // Serves until SIGINT/SIGTERM or `stopper.stop()`, then stops `stopper` too (so the
  // command's other threads end). False when it could not serve at all.
  bool serve_until_stopped(SignalStopper& stopper);

 private:
  std::string name_;
  std::shared_ptr<const TlsContext> tls_;  // outlives server_, which uses it
  // Path -> the methods it has routes for: another method on such a path is answered 405
  // with Allow (as Starlette did for the seed API), not 400 or 404. Written by get() and
  // post() before listen(), only read after.
  std::shared_ptr<Methods> methods_;
  std::unique_ptr<Listener> server_;
};

// Turns SIGINT/SIGTERM into a callback on a thread of its own, where it is safe to call
// Server::stop() (not async-signal-safe). Construct it before any other thread:
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
