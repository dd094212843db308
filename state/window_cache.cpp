#include "state/window_cache.h"

#include <algorithm>
#include <iterator>
#include <string_view>
#include <utility>

namespace auditor::state {

WindowCache::WindowCache(std::size_t max_bytes, StoredMaxStart stored_max_start)
    : max_bytes_(max_bytes), stored_max_start_(std::move(stored_max_start)) {}

std::size_t WindowCache::KeyHash::operator()(const WindowKey& key) const {
  std::size_t h = std::hash<std::string_view>{}(key.process_name);
  h ^= std::hash<std::string_view>{}(key.process_activity) + 0x9e3779b97f4a7c15ULL + (h << 6) +
       (h >> 2);
  h ^= static_cast<std::size_t>(key.start.value) * 0x9e3779b97f4a7c15ULL;
  return h ^ static_cast<std::size_t>(key.size.value);
}

std::size_t WindowCache::entry_bytes(const WindowKey& key) {
  // The node (key, counts, next pointer, cached hash) and bucket, plus names too long for
  // std::string's inline buffer.
  constexpr std::size_t kNode = sizeof(WindowKey) + sizeof(WindowCounts) + 32;
  constexpr std::size_t kInline = 15;
  const auto heap = [](const std::string& s) { return s.size() > kInline ? s.size() + 1 : 0; };
  return kNode + heap(key.process_name) + heap(key.process_activity);
}

std::optional<EventTime> WindowCache::unknown_through(DurationMs size) {
  auto it = unknown_through_.find(size.value);
  if (it == unknown_through_.end()) {
    it = unknown_through_.emplace(size.value, stored_max_start_(size)).first;
  }
  return it->second;
}

WindowCache::Lookup WindowCache::lookup(const WindowKey& key, WindowCounts& counts) {
  if (const auto it = entries_.find(key); it != entries_.end()) {
    counts = it->second;
    return Lookup::kHit;
  }
  const std::optional<EventTime> bound = unknown_through(key.size);
  return bound && !(*bound < key.start) ? Lookup::kUnknown : Lookup::kAbsent;
}

void WindowCache::put(const WindowKey& key, const WindowCounts& counts) {
  if (const auto it = entries_.find(key); it != entries_.end()) {
    it->second = counts;
    return;
  }
  const std::size_t bytes = entry_bytes(key);
  if (bytes_ + bytes > max_bytes_) {
    // Full: start over. The bounds are asked of the store again, which now holds all that
    // was cached.
    clear();
  }
  entries_.emplace(key, counts);
  bytes_ += bytes;
}

void WindowCache::before_write(DurationMs size) {
  (void)unknown_through(size);
}

void WindowCache::erase(const WindowKey& key) {
  if (const auto it = entries_.find(key); it != entries_.end()) {
    bytes_ -= entry_bytes(it->first);
    entries_.erase(it);
  }
}

void WindowCache::forget_before(DurationMs size, EventTime before) {
  const EventTime last{before.value - 1};
  if (const std::optional<EventTime> bound = unknown_through(size); !bound || *bound < last) {
    unknown_through_[size.value] = last;
  }
  std::erase_if(entries_, [&](const auto& entry) {
    const WindowKey& key = entry.first;
    if (key.size != size || !(key.start < before)) return false;
    bytes_ -= entry_bytes(key);
    return true;
  });
}

void WindowCache::clear() {
  entries_.clear();
  bytes_ = 0;
  unknown_through_.clear();
}

}  // namespace auditor::state
