#include "worker/http/server.h"

#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <csignal>
#include <stdexcept>

#include "worker/common/log.h"
#include "worker/http/bearer_auth.h"
#include "worker/http/listener.h"
#include "worker/http/tls_context.h"

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
  for (const auto& [name, value] : req.headers) r.headers.emplace_back(name, value);
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

bool has_body(const httplib::Request& req) {
  return req.has_header("Transfer-Encoding") ||
         (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0");
}

void reply_detail(httplib::Response& res, int status, const std::string& detail) {
  res.status = status;
  res.set_content(R"({"detail":")" + detail + R"("})", "application/json");
}

// A request refused before its body was read: the connection closes after the answer (the
// body would otherwise be read as the next request), lingering so the client sees it.
void refuse_unread(const httplib::Request& req) {
  if (has_body(req)) close_connection_after_response();
}

// What is checked once a request's head is in, before its body is read and before any
// route: the token, the method, then the declared body size. Fills `res` and returns true
// when the request is refused.
class Gate {
 public:
  Gate(const Server::Options& options, std::shared_ptr<const Server::Methods> methods)
      : auth_(options.auth),
        open_paths_(options.open_paths),
        max_body_(options.max_payload),
        methods_(std::move(methods)) {}

  bool refuses(const httplib::Request& req, httplib::Response& res) const {
    if (auth_ && std::find(open_paths_.begin(), open_paths_.end(), req.path) == open_paths_.end()) {
      const std::string authorization = req.get_header_value("Authorization");
      if (!auth_->allows(authorization)) {
        // FastAPI's HTTPBearer wording, so clients of the seed API see familiar messages.
        reply_detail(
            res, 401,
            authorization.empty() ? "Not authenticated" : "Invalid authentication credentials");
        res.set_header("WWW-Authenticate", "Bearer");
        refuse_unread(req);
        return true;
      }
    }
    if (const auto it = methods_->find(req.path);
        it != methods_->end() &&
        std::find(it->second.begin(), it->second.end(), req.method) == it->second.end()) {
      reply_detail(res, 405, "Method Not Allowed");
      std::string allow;
      for (const auto& method : it->second) allow += (allow.empty() ? "" : ", ") + method;
      res.set_header("Allow", allow);
      refuse_unread(req);
      return true;
    }
    if (req.has_header("Content-Length")) {
      const std::string text = req.get_header_value("Content-Length");
      std::size_t length = 0;
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), length);
      // cpp-httplib answers a malformed length itself (400); only an over-large one here.
      if (error == std::errc::result_out_of_range ||
          (error == std::errc() && end == text.data() + text.size() && length > max_body_)) {
        reply_detail(res, 413, "request body over " + std::to_string(max_body_) + " bytes");
        refuse_unread(req);
        return true;
      }
    }
    return false;
  }

 private:
  std::shared_ptr<const BearerAuth> auth_;
  std::vector<std::string> open_paths_;
  std::size_t max_body_;
  std::shared_ptr<const Server::Methods> methods_;
};

void add_method(Server::Methods& methods, const std::string& path, const std::string& method) {
  methods[path].push_back(method);
  if (method == "GET") methods[path].push_back("HEAD");  // cpp-httplib serves HEAD with GET
}

}  // namespace

std::optional<std::string> Request::header(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (::strcasecmp(key.c_str(), name.c_str()) == 0) return value;
  }
  return std::nullopt;
}

void close_connection_after_response() {
  if (auto* connection = current_connection()) {
    connection->close_after_response = true;
    connection->body_unread = true;
  }
}

Server::Server(std::string name, const Options& options)
    : name_(std::move(name)),
      tls_(options.tls),
      methods_(std::make_shared<Methods>()),
      server_(std::make_unique<Listener>(Listener::Settings{
          options.max_connections, options.keep_alive_timeout, options.request_timeout,
          options.write_timeout, tls_ ? tls_->get() : nullptr, name_})) {
  server_->set_payload_max_length(options.max_payload);
  server_->set_keep_alive_max_count(options.keep_alive_requests);
  // Also the Keep-Alive header's "timeout=" that clients see.
  server_->set_keep_alive_timeout(std::max<std::time_t>(
      1, std::chrono::duration_cast<std::chrono::seconds>(options.keep_alive_timeout).count()));
  auto gate = std::make_shared<const Gate>(options, methods_);
  server_->set_pre_routing_handler([gate](const httplib::Request& req, httplib::Response& res) {
    return gate->refuses(req, res) ? httplib::Server::HandlerResponse::Handled
                                   : httplib::Server::HandlerResponse::Unhandled;
  });
  // A client that sent "Expect: 100-continue" waits for our go before it sends the body:
  // refuse it there and the body never travels.
  server_->set_expect_100_continue_handler(
      [gate](const httplib::Request& req, httplib::Response& res) {
        return gate->refuses(req, res) ? res.status : 100;
      });
  // A connection closed after this answer says so ("Connection: close"). Otherwise the
  // client keeps it for its next request and may write that one into the closing socket
  // before our FIN arrives: a request lost with no answer (seen after a 413 to a chunked
  // body cut off at the limit).
  server_->set_post_routing_handler([](const httplib::Request& /*req*/, httplib::Response& res) {
    const auto* connection = current_connection();
    if (connection != nullptr && connection->close_after_response &&
        res.get_header_value("Connection") != "close") {
      res.headers.erase("Keep-Alive");
      res.set_header("Connection", "close");
    }
  });
  // cpp-httplib answers some requests itself, without a body and without reading theirs: a
  // method it does not know (QUERY: 400, its headers unread too), a path without a
  // route (404), an over-long URI (414). What it left unread would be parsed as the next
  // request on the connection (schemathesis saw every later request on it answered 400 or
  // 414): such an answer ends the connection. Ours always have a body.
  server_->set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request& /*req*/, httplib::Response& res) {
        if (res.body.empty()) close_connection_after_response();
        return httplib::Server::HandlerResponse::Unhandled;
      }));
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
  add_method(*methods_, path, "GET");
  server_->Get(path,
               [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
                 Response response;
                 handler(to_request(req), response);
                 apply(response, res);
               });
}

void Server::post(const std::string& path, std::size_t max_body, Handler handler) {
  add_method(*methods_, path, "POST");
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
          close_connection_after_response();
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
  server_->stop_serving();
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
