// One accepted connection as cpp-httplib sees it (its Stream interface), plain or TLS, with
// the time limits cpp-httplib lacks: its own socket stream gives every recv() the read
// timeout afresh, so a client trickling a header byte every few seconds holds a request
// thread forever (slowloris). Here every read of a request fails once the request's
// deadline has passed, whatever trickles in; writes fail when the client has taken nothing
// for the write timeout; and every wait ends when the server stops.
//
// Internal to http/ (it includes httplib.h). Thread-safety: one connection thread uses
// it; nothing is shared.
#pragma once

#include <httplib.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

struct ssl_ctx_st;
struct ssl_st;

namespace auditor::web {

using Clock = std::chrono::steady_clock;

class ConnectionStream final : public httplib::Stream {
 public:
  // `fd`: the accepted socket (made non-blocking here; the caller closes it). `tls`: the
  // context of a TLS server, or null. `stop_fd`: readable once the server stops.
  ConnectionStream(int fd, ssl_ctx_st* tls, int stop_fd, std::chrono::milliseconds write_timeout);
  ~ConnectionStream() override;
  ConnectionStream(const ConnectionStream&) = delete;
  ConnectionStream& operator=(const ConnectionStream&) = delete;

  // TLS only: the handshake, done by `deadline`. False when it failed or took too long.
  [[nodiscard]] bool handshake(Clock::time_point deadline);
  // Waits until the next request's first bytes are there (already buffered, or arriving).
  // False when the client closed, the server stops, or nothing came by `until`.
  [[nodiscard]] bool wait_for_request(Clock::time_point until);
  // Reads of the current request fail once `deadline` has passed.
  void set_read_deadline(Clock::time_point deadline) { read_deadline_ = deadline; }
  // True once a read failed or met the end of the stream (the deadline passed, the client
  // closed): the connection cannot carry another request, whatever cpp-httplib answered.
  [[nodiscard]] bool broken() const { return broken_; }
  // Closing with a request body unread makes the kernel send a reset, and a client still
  // sending that body may then never see the answer (a 413, a 401). So: send what is
  // pending and a FIN, then read and drop what the client still sends, until it closes,
  // `until` passes or `max_bytes` were dropped.
  void linger(Clock::time_point until, std::size_t max_bytes);

  // httplib::Stream
  [[nodiscard]] bool is_readable() const override;
  [[nodiscard]] bool is_writable() const override;
  ssize_t read(char* ptr, std::size_t size) override;
  ssize_t write(const char* ptr, std::size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  [[nodiscard]] socket_t socket() const override { return fd_; }

 private:
  enum class Io : std::uint8_t { kDone, kWantRead, kWantWrite, kClosed, kFailed };
  // One non-blocking attempt; on kDone `count` bytes were moved.
  Io receive(char* ptr, std::size_t size, std::size_t& count);
  Io send(const char* ptr, std::size_t size, std::size_t& count);
  // What an SSL_read/SSL_write that returned `n` means (on kDone, `count` = n).
  Io ssl_outcome(int n, std::size_t& count) const;
  ssize_t read_some(char* ptr, std::size_t size);
  // Waits for `events` on the socket until `until`; false on timeout, error or stop.
  [[nodiscard]] bool wait(short events, Clock::time_point until) const;
  [[nodiscard]] bool buffered() const;

  int fd_;
  int stop_fd_;
  ssl_st* ssl_ = nullptr;
  std::chrono::milliseconds write_timeout_;
  Clock::time_point read_deadline_ = Clock::time_point::max();
  bool broken_ = false;
  // cpp-httplib reads request lines a byte at a time: one recv() per 4 KiB instead.
  std::array<char, 4096> buffer_{};
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace auditor::web
