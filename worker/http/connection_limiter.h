// How many connections a server holds at once (`--max-connections`). cpp-httplib hands
// every accepted connection to its task queue, which by default queues without bound:
// with every request thread held (keep-alive connections, event streams, slow clients) a
// new client would wait forever. The limiter decides at accept time instead: a connection
// gets a request thread of its own, or room is made by closing an idle keep-alive
// connection, or it is turned away at once (http/server.cpp answers 503).
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>

namespace auditor::web {

class ConnectionLimiter {
 public:
  enum class Admission : std::uint8_t { kServe, kReject };

  // `max`: connections served at once (>= 1).
  explicit ConnectionLimiter(std::size_t max) : max_(max) {}

  // As a connection is accepted, before it is queued: kServe counts it until leave().
  // At the limit, an idle connection (waiting for its next request) is shut down to make
  // room, its thread being free a moment later; kReject when every connection is busy.
  [[nodiscard]] Admission admit();

  // On the connection's thread, around its life: `fd` may be shut down while idle.
  void enter(int fd);
  void set_idle(int fd, bool idle);
  // Before `fd` is closed (so that it is never shut down after it was reused).
  void leave(int fd);

  // Connections counted now (admitted and not left), for tests and metrics.
  [[nodiscard]] std::size_t connections() const;

 private:
  struct Entry {
    bool idle = false;
    bool reclaimed = false;  // shut down by admit() to make room
  };

  mutable std::mutex mutex_;
  const std::size_t max_;
  std::size_t admitted_ = 0;   // admitted and not left
  std::size_t reclaimed_ = 0;  // of those, shut down to make room and about to leave
  std::map<int, Entry> open_;  // by socket, from enter() to leave()
};

}  // namespace auditor::web
