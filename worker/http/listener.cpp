#include "worker/http/listener.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <string_view>

#include "worker/common/log.h"
#include "worker/http/connection_stream.h"

namespace auditor::web {
namespace {

// Set on the one thread that turns connections away (Listener::reject).
thread_local bool t_rejecting = false;
thread_local ConnectionFlags* t_connection = nullptr;

// What a client still sending an unread body gets to send before the close.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::size_t kLingerBytes = std::size_t{64} << 20U;
// At most one "connection limit reached" warning per this long.
constexpr std::int64_t kRejectLogIntervalMs = 10'000;

constexpr std::string_view kOverloaded =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 40\r\n"
    "Retry-After: 1\r\n"
    "Connection: close\r\n"
    "\r\n"
    R"({"detail":"too many connections, retry"})";

// cpp-httplib's default queue grows without bound. This one admits a connection to a
// request thread of its own, or hands it to a single thread that answers 503 at once.
class AdmittingQueue final : public httplib::TaskQueue {
 public:
  AdmittingQueue(ConnectionLimiter& limiter, std::size_t threads)
      : limiter_(limiter), serve_(threads), reject_(1) {}

  void enqueue(std::function<void()> fn) override {
    if (limiter_.admit() == ConnectionLimiter::Admission::kServe) {
      serve_.enqueue(std::move(fn));
      return;
    }
    reject_.enqueue([fn = std::move(fn)] {
      t_rejecting = true;
      fn();
      t_rejecting = false;
    });
  }
  void shutdown() override {
    serve_.shutdown();
    reject_.shutdown();
  }

 private:
  ConnectionLimiter& limiter_;
  httplib::ThreadPool serve_;
  httplib::ThreadPool reject_;
};

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

}  // namespace

ConnectionFlags* current_connection() {
  return t_connection;
}

Listener::Listener(Settings settings)
    : settings_(std::move(settings)),
      limiter_(settings_.max_connections),
      stop_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  new_task_queue = [this] { return new AdmittingQueue(limiter_, settings_.max_connections); };
}

Listener::~Listener() {
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

void Listener::stop_serving() {
  stop();
  const std::uint64_t one = 1;
  (void)::write(stop_fd_, &one, sizeof(one));
}

bool Listener::process_and_close_socket(socket_t sock) {
  bool ok = false;
  if (t_rejecting) {
    reject(sock);
  } else {
    limiter_.enter(sock);
    ok = serve(sock);
    limiter_.leave(sock);
  }
  (void)::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

// cpp-httplib's keep-alive loop (process_server_socket_core), with our stream and limits.
bool Listener::serve(int fd) {
  ConnectionStream stream(fd, settings_.tls, stop_fd_, settings_.write_timeout);
  if (settings_.tls != nullptr && !stream.handshake(Clock::now() + settings_.request_timeout)) {
    return false;
  }
  ConnectionFlags flags;
  t_connection = &flags;
  bool ok = false;
  for (std::size_t left = keep_alive_max_count_; left > 0 && svr_sock_ != INVALID_SOCKET; --left) {
    limiter_.set_idle(fd, true);
    const bool request = stream.wait_for_request(Clock::now() + settings_.keep_alive_timeout);
    limiter_.set_idle(fd, false);
    if (!request) break;
    stream.set_read_deadline(Clock::now() + settings_.request_timeout);
    bool closed = false;
    ok = process_request(stream, left == 1, closed, nullptr);
    // A request cut off by its deadline was answered 400 by cpp-httplib, which would then
    // read the rest of the trickle as the next request.
    if (!ok || closed || flags.close_after_response || stream.broken()) break;
  }
  t_connection = nullptr;
  if (flags.body_unread) stream.linger(Clock::now() + kLingerTime, kLingerBytes);
  return ok;
}

void Listener::reject(int fd) {
  const auto now = now_ms();
  auto last = last_reject_log_ms_.load();
  if (now - last >= kRejectLogIntervalMs &&
      last_reject_log_ms_.compare_exchange_strong(last, now)) {
    log::get("http")->warn("{}: {} connections open (--max-connections): turning new ones away",
                           settings_.name, settings_.max_connections);
  }
  // Over TLS a 503 would need a handshake first, which a slow client could drag out on
  // this one thread: the connection is just closed.
  if (settings_.tls != nullptr) return;
  // A fresh socket's send buffer is empty: this never blocks. The request is not read;
  // dropping what already arrived keeps the close from turning into a reset that could
  // destroy the 503 before the client read it.
  (void)::send(fd, kOverloaded.data(), kOverloaded.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)::shutdown(fd, SHUT_WR);
  std::array<char, 4096> sink{};
  for (int i = 0; i < 16 && ::recv(fd, sink.data(), sink.size(), MSG_DONTWAIT) > 0; ++i) {
  }
}

}  // namespace auditor::web
