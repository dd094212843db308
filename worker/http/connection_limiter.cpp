#include "worker/http/connection_limiter.h"

#include <sys/socket.h>

namespace auditor::web {

ConnectionLimiter::Admission ConnectionLimiter::admit() {
  const std::lock_guard lock(mutex_);
  // A reclaimed connection still holds its thread for a moment, but no longer counts: the
  // connection admitted in its place waits in the queue only until that thread is free.
  if (admitted_ - reclaimed_ < max_) {
    ++admitted_;
    return Admission::kServe;
  }
  for (auto& [fd, entry] : open_) {
    if (!entry.idle || entry.reclaimed) continue;
    // Wakes the connection's thread, which sees the end of the stream and leaves.
    (void)::shutdown(fd, SHUT_RDWR);
    entry.reclaimed = true;
    ++reclaimed_;
    ++admitted_;
    return Admission::kServe;
  }
  return Admission::kReject;
}

void ConnectionLimiter::enter(int fd) {
  const std::lock_guard lock(mutex_);
  open_[fd] = Entry{};
}

void ConnectionLimiter::set_idle(int fd, bool idle) {
  const std::lock_guard lock(mutex_);
  const auto it = open_.find(fd);
  if (it != open_.end()) it->second.idle = idle;
}

void ConnectionLimiter::leave(int fd) {
  const std::lock_guard lock(mutex_);
  const auto it = open_.find(fd);
  if (it != open_.end()) {
    if (it->second.reclaimed) --reclaimed_;
    open_.erase(it);
  }
  if (admitted_ > 0) --admitted_;
}

std::size_t ConnectionLimiter::connections() const {
  const std::lock_guard lock(mutex_);
  return admitted_;
}

}  // namespace auditor::web
