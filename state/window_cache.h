// An in-memory copy of the windows a task store wrote and that can still change, so that a
// commit reads a changed window's current counts without a RocksDB lookup
// (docs/architecture.md, "Commits"). Besides the windows it holds, it knows per window size
// a bound up to which the store may hold windows it does not: a window above that bound
// that it does not hold is not in the store either, which answers the common case of a new
// window without a read too.
//
//   lookup(key) ─► kHit (counts) | kAbsent (not in the store) | kUnknown (read the store)
//
// Kept coherent by its owner (TaskStore): before_write() and then put()/erase() around
// every durable write, forget_before() for windows it stops holding, clear() when the store
// changed beneath it. Memory: at most `max_bytes` (an estimate per entry); past it the cache
// empties itself and starts over, which costs reads, never correctness.
//
// Thread-safety: none; one thread at a time (the store's writer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

#include "topology/window_aggregator.h"

namespace auditor::state {

class WindowCache {
 public:
  enum class Lookup : std::uint8_t { kHit, kAbsent, kUnknown };

  // `stored_max_start(size)`: the largest window start the store holds for `size` (nullopt
  // when none), asked at most once per size between clear()s. It must outlive the cache.
  using StoredMaxStart = std::function<std::optional<EventTime>(DurationMs size)>;
  WindowCache(std::size_t max_bytes, StoredMaxStart stored_max_start);

  // kHit sets `counts`.
  [[nodiscard]] Lookup lookup(const WindowKey& key, WindowCounts& counts);

  // Call before the store writes windows of `size`: the bound must describe what the store
  // held before the cache started to follow its writes.
  void before_write(DurationMs size);
  // The store now holds `counts` for `key` / no longer holds `key`.
  void put(const WindowKey& key, const WindowCounts& counts);
  void erase(const WindowKey& key);
  // Stops holding the windows of `size` with start < `before` (closed: they no longer
  // change); the store may still hold them, so they become unknown.
  void forget_before(DurationMs size, EventTime before);
  // Everything unknown again (the store was written past the cache, e.g. a restore).
  void clear();

  [[nodiscard]] std::size_t size() const { return entries_.size(); }
  [[nodiscard]] std::size_t bytes() const { return bytes_; }

 private:
  struct KeyHash {
    std::size_t operator()(const WindowKey& key) const;
  };
  static std::size_t entry_bytes(const WindowKey& key);
  // The bound for `size`: windows with start <= it may be in the store unheld.
  std::optional<EventTime> unknown_through(DurationMs size);

  std::size_t max_bytes_;
  StoredMaxStart stored_max_start_;
  std::unordered_map<WindowKey, WindowCounts, KeyHash> entries_;
  std::size_t bytes_ = 0;
  // Per size (ms): the bound, once known; nullopt inside = no window may be unheld.
  std::map<std::int64_t, std::optional<EventTime>> unknown_through_;
};

}  // namespace auditor::state
