#include "worker/http/server.h"

#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <csignal>
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

Request to_request(const httplib::Request& req) {
  Request r;
  r.method = req.method;
  r.path = req.path;
  r.params.insert(req.params.begin(), req.params.end());
  return r;
}

class ChunkSink final : public StreamSink {
 public:
  explicit ChunkSink(httplib::DataSink& sink) : sink_(sink) {}
  bool write(std::string_view bytes) override {
    return sink_.is_writable() && sink_.write(bytes.data(), bytes.size());
  }

 private:
  httplib::DataSink& sink_;
};

void apply(const Response& response, httplib::Response& res) {
  res.status = response.status;
  for (const auto& [name, value] : response.headers) res.set_header(name, value);
  if (!response.stream) {
    res.set_content(response.body, response.content_type);
    return;
  }
  res.set_chunked_content_provider(
      response.content_type,
      [stream = response.stream](std::size_t /*offset*/, httplib::DataSink& sink) {
        ChunkSink chunks(sink);
        return stream(chunks);
      },
      [done = response.stream_done](bool /*success*/) {
        if (done) done();
      });
}

}  // namespace

Server::Server(std::string name, const Options& options)
    : name_(std::move(name)), server_(std::make_unique<httplib::Server>()) {
  server_->new_task_queue = [threads = options.threads] {
    return new httplib::ThreadPool(static_cast<std::size_t>(threads));
  };
  server_->set_payload_max_length(options.max_payload);
  server_->set_keep_alive_max_count(options.keep_alive_requests);
  server_->set_exception_handler(
      [name = name_, body = options.internal_error_body](
          const httplib::Request& req, httplib::Response& res, const std::exception_ptr& ep) {
        std::string what = "unknown error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        log::get("http")->error("{}: {} {}: {}", name, req.method, req.path, what);
        res.status = 500;
        res.set_content(body, "application/json");
      });
}

Server::~Server() = default;

void Server::get(const std::string& path, Handler handler) {
  server_->Get(path,
               [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
                 Response response;
                 handler(to_request(req), response);
                 apply(response, res);
               });
}

void Server::post(const std::string& path, std::size_t max_body, Handler handler) {
  // A handler with a content reader: cpp-httplib answers 400 to a POST without a
  // Content-Length before any plain handler runs, yet `curl -X POST '/tick?...'` sends
  // none, and the seed API (like any ASGI server) took that as an empty body.
  server_->Post(path, [handler = std::move(handler), max_body](
                          const httplib::Request& req, httplib::Response& res,
                          const httplib::ContentReader& reader) {
    Request request = to_request(req);
    if (req.has_header("Content-Length") || req.has_header("Transfer-Encoding")) {
      reader([&](const char* data, std::size_t length) {
        if (request.body.size() + length > max_body) {
          request.body_too_large = true;
          request.body.clear();
          return false;
        }
        request.body.append(data, length);
        return true;
      });
    }
    Response response;
    handler(request, response);
    apply(response, res);
  });
}

void Server::on_response(std::function<void(const std::string& path, int status)> observer) {
  server_->set_logger(
      [observer = std::move(observer)](const httplib::Request& req, const httplib::Response& res) {
        observer(req.path, res.status);
      });
}

int Server::bind(const std::string& host, int port) {
  // Debian's cpp-httplib is compiled with a listen backlog of 5: a burst of new
  // connections overflows it and clients wait for a SYN retransmit (1 s). Listening again
  // on the bound socket is how Linux raises the backlog of a listening socket.
  socket_t listen_socket = INVALID_SOCKET;
  server_->set_socket_options([&listen_socket](socket_t sock) {
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
    bound = server_->bind_to_any_port(host);
    if (bound <= 0) throw std::runtime_error(name_ + ": cannot listen on " + host);
  } else if (!server_->bind_to_port(host, port)) {
    throw std::runtime_error(name_ + ": cannot listen on " + host + ":" + std::to_string(port));
  }
  if (listen_socket != INVALID_SOCKET) (void)::listen(listen_socket, SOMAXCONN);
  server_->set_socket_options(httplib::default_socket_options);
  return bound;
}

bool Server::listen() {
  return server_->listen_after_bind();
}

void Server::stop() {
  server_->stop();
}

bool Server::serve_until_stopped(SignalStopper& stopper) {
  stopper.on_stop([this] { stop(); });
  const bool ok = listen();
  stopper.stop();
  return ok;
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
  // NOLINTNEXTLINE(bugprone-bad-signal-to-kill-thread): blocked there, it only ends sigwait.
  if (!was) pthread_kill(waiter_handle_, SIGTERM);
}

}  // namespace auditor::web
