#include "worker/http/connection_stream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace auditor::web {
namespace {

void address_of(const sockaddr_storage& address, std::string& ip, int& port) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    (void)inet_ntop(AF_INET, &v4.sin_addr, text.data(), text.size());
    port = ntohs(v4.sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    (void)inet_ntop(AF_INET6, &v6.sin6_addr, text.data(), text.size());
    port = ntohs(v6.sin6_port);
  }
  ip = text.data();
}

}  // namespace

ConnectionStream::ConnectionStream(int fd, ssl_ctx_st* tls, int stop_fd,
                                   std::chrono::milliseconds write_timeout)
    : fd_(fd), stop_fd_(stop_fd), write_timeout_(write_timeout) {
  // Every wait is a poll() with its own deadline; the socket itself never blocks.
  const int flags = fcntl(fd_, F_GETFL, 0);
  (void)fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
  if (tls != nullptr) {
    ssl_ = SSL_new(tls);
    if (ssl_ != nullptr && SSL_set_fd(ssl_, fd_) != 1) {
      SSL_free(ssl_);
      ssl_ = nullptr;
    }
    ERR_clear_error();
  }
}

ConnectionStream::~ConnectionStream() {
  if (ssl_ != nullptr) {
    // close_notify when the socket takes it at once; never waits for the client's.
    if (SSL_is_init_finished(ssl_) == 1) (void)SSL_shutdown(ssl_);
    SSL_free(ssl_);
    ERR_clear_error();  // OpenSSL's error queue is per thread: leave it empty
  }
}

bool ConnectionStream::handshake(Clock::time_point deadline) {
  if (ssl_ == nullptr) return false;
  for (;;) {
    const int result = SSL_accept(ssl_);
    if (result == 1) return true;
    const int error = SSL_get_error(ssl_, result);
    ERR_clear_error();
    // A plain-HTTP request to the TLS port, a client that gives up, a bad certificate on
    // the client's side: the connection ends here, without an HTTP answer.
    if (error == SSL_ERROR_WANT_READ) {
      if (!wait(POLLIN, deadline)) return false;
    } else if (error == SSL_ERROR_WANT_WRITE) {
      if (!wait(POLLOUT, deadline)) return false;
    } else {
      return false;
    }
  }
}

bool ConnectionStream::buffered() const {
  return begin_ < end_ || (ssl_ != nullptr && SSL_pending(ssl_) > 0);
}

bool ConnectionStream::wait_for_request(Clock::time_point until) {
  return buffered() || wait(POLLIN, until);
}

bool ConnectionStream::wait(short events, Clock::time_point until) const {
  for (;;) {
    const auto now = Clock::now();
    if (now >= until) return false;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
    std::array<pollfd, 2> fds{{{fd_, events, 0}, {stop_fd_, POLLIN, 0}}};
    const int ready = ::poll(fds.data(), stop_fd_ >= 0 ? 2 : 1,
                             static_cast<int>(std::min<std::int64_t>(left, 60'000)));
    if (ready < 0 && errno != EINTR) return false;
    if (ready <= 0) continue;
    if (stop_fd_ >= 0 && fds[1].revents != 0) return false;
    // POLLHUP/POLLERR: the next read or write tells what happened.
    if (fds[0].revents != 0) return true;
  }
}

ConnectionStream::Io ConnectionStream::ssl_outcome(int n, std::size_t& count) const {
  if (n > 0) {
    count = static_cast<std::size_t>(n);
    return Io::kDone;
  }
  const int error = SSL_get_error(ssl_, n);
  ERR_clear_error();
  if (error == SSL_ERROR_WANT_READ) return Io::kWantRead;
  if (error == SSL_ERROR_WANT_WRITE) return Io::kWantWrite;
  // A clean TLS close by the peer (close_notify).
  return error == SSL_ERROR_ZERO_RETURN ? Io::kClosed : Io::kFailed;
}

ConnectionStream::Io ConnectionStream::receive(char* ptr, std::size_t size, std::size_t& count) {
  count = 0;
  if (ssl_ != nullptr) {
    return ssl_outcome(
        SSL_read(ssl_, ptr, static_cast<int>(std::min<std::size_t>(size, 1U << 30U))), count);
  }
  const ssize_t n = ::recv(fd_, ptr, size, 0);
  if (n > 0) {
    count = static_cast<std::size_t>(n);
    return Io::kDone;
  }
  if (n == 0) return Io::kClosed;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return Io::kWantRead;
  return Io::kFailed;
}

ConnectionStream::Io ConnectionStream::send(const char* ptr, std::size_t size, std::size_t& count) {
  count = 0;
  if (ssl_ != nullptr) {
    return ssl_outcome(
        SSL_write(ssl_, ptr, static_cast<int>(std::min<std::size_t>(size, 1U << 30U))), count);
  }
  // MSG_NOSIGNAL: a client that went away is a failed write, not a SIGPIPE.
  const ssize_t n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
  if (n >= 0) {
    count = static_cast<std::size_t>(n);
    return Io::kDone;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return Io::kWantWrite;
  return Io::kFailed;
}

bool ConnectionStream::is_readable() const {
  return buffered() || wait(POLLIN, read_deadline_);
}

bool ConnectionStream::is_writable() const {
  if (!wait(POLLOUT, Clock::now() + write_timeout_)) return false;
  // Still connected? A closed peer reads as end of file (an event stream's client sends
  // nothing, so this is how a stream learns that its page was closed).
  char byte = 0;
  const ssize_t n = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
}

ssize_t ConnectionStream::read(char* ptr, std::size_t size) {
  if (size == 0) return 0;
  const ssize_t n = read_some(ptr, size);
  if (n <= 0) broken_ = true;
  return n;
}

ssize_t ConnectionStream::read_some(char* ptr, std::size_t size) {
  for (;;) {
    if (begin_ < end_) {
      const std::size_t n = std::min(size, end_ - begin_);
      std::memcpy(ptr, buffer_.data() + begin_, n);
      begin_ += n;
      return static_cast<ssize_t>(n);
    }
    if (Clock::now() >= read_deadline_) return -1;
    std::size_t count = 0;
    switch (receive(buffer_.data(), buffer_.size(), count)) {
      case Io::kDone:
        begin_ = 0;
        end_ = count;
        break;
      case Io::kWantRead:
        if (!wait(POLLIN, read_deadline_)) return -1;
        break;
      case Io::kWantWrite:
        if (!wait(POLLOUT, read_deadline_)) return -1;
        break;
      case Io::kClosed:
        return 0;
      case Io::kFailed:
        return -1;
    }
  }
}

ssize_t ConnectionStream::write(const char* ptr, std::size_t size) {
  std::size_t written = 0;
  while (written < size) {
    std::size_t count = 0;
    switch (send(ptr + written, size - written, count)) {
      case Io::kDone:
        written += count;
        break;
      // No progress for the write timeout: the client does not read what it asked for.
      case Io::kWantWrite:
        if (!wait(POLLOUT, Clock::now() + write_timeout_)) return -1;
        break;
      case Io::kWantRead:
        if (!wait(POLLIN, Clock::now() + write_timeout_)) return -1;
        break;
      case Io::kClosed:
      case Io::kFailed:
        return -1;
    }
  }
  return static_cast<ssize_t>(size);
}

void ConnectionStream::linger(Clock::time_point until, std::size_t max_bytes) {
  if (ssl_ != nullptr && SSL_is_init_finished(ssl_) == 1) {
    (void)SSL_shutdown(ssl_);
    ERR_clear_error();
  }
  (void)::shutdown(fd_, SHUT_WR);
  std::array<char, 16384> sink{};
  std::size_t dropped = 0;
  while (dropped < max_bytes && wait(POLLIN, until)) {
    const ssize_t n = ::recv(fd_, sink.data(), sink.size(), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return;
    if (n > 0) dropped += static_cast<std::size_t>(n);
  }
}

void ConnectionStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    address_of(address, ip, port);
  }
}

void ConnectionStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    address_of(address, ip, port);
  }
}

}  // namespace auditor::web
