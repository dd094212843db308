#include "topology/window_aggregator.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <tuple>

namespace auditor {
namespace {

// a - b, clamped to the int64 range: grace and retention are caller-supplied durations,
// and "retain forever" may well be spelled as a huge one.
std::int64_t saturating_sub(std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  if (__builtin_sub_overflow(a, b, &out)) {
    return b > 0 ? std::numeric_limits<std::int64_t>::min()
                 : std::numeric_limits<std::int64_t>::max();
  }
  return out;
}

// The bound a size starts from when nothing has closed yet: the earliest window start any
// accepted event time can have. (kMinEventTime itself is not one for sizes that do not
// divide its distance from the epoch, such as 7d.)
EventTime floor_bound(DurationMs size) {
  return window_start(kMinEventTime, size);
}

EventTime bound_or_floor(const std::map<std::int64_t, EventTime>& bounds, DurationMs size) {
  const auto it = bounds.find(size.value);
  return it != bounds.end() ? it->second : floor_bound(size);
}

// Windows of `size` starting before the result are closed at stream time `s`:
// start + size + grace <= s  <=>  start < s + 1 - size - grace.
EventTime closed_bound(EventTime s, DurationMs size, DurationMs grace) {
  return EventTime{saturating_sub(saturating_sub(s.value + 1, size.value), grace.value)};
}

WindowCounts operator+(WindowCounts a, const WindowCounts& b) {
  a.count += b.count;
  a.ticks += b.ticks;
  return a;
}

}  // namespace

bool WindowAggregator::KeyLess::operator()(const KeyRef& a, const WindowKey& b) const {
  return std::tie(a.size, a.start, a.process_name, a.process_activity) <
         std::tie(b.size, b.start, b.process_name, b.process_activity);
}

bool WindowAggregator::KeyLess::operator()(const WindowKey& a, const KeyRef& b) const {
  return std::tie(a.size, a.start, a.process_name, a.process_activity) <
         std::tie(b.size, b.start, b.process_name, b.process_activity);
}

WindowAggregator::WindowAggregator(WindowSet windows, DurationMs grace, DurationMs retention,
                                   EmitMode emit, TaskProgress restored)
    : windows_(std::move(windows)),
      grace_(grace),
      retention_(retention),
      emit_(emit),
      durable_(std::move(restored)),
      stream_time_(durable_.stream_time) {
  if (grace.value < 0) throw std::invalid_argument("grace must not be negative");
  if (retention.value < 0) throw std::invalid_argument("retention must not be negative");
}

std::uint32_t WindowAggregator::add(std::string_view process_name,
                                    std::string_view process_activity, EventTime event_time,
                                    WindowCounts delta) {
  // Stream time first: a record that advances it is judged against its own time, exactly
  // as a brute-force replay of the arrival order would.
  if (!stream_time_ || event_time > *stream_time_) {
    stream_time_ = event_time;
    progress_dirty_ = true;
  }
  std::uint32_t late = 0;
  const std::vector<WindowSpec>& specs = windows_.windows();
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const DurationMs size = specs[i].size;
    const EventTime start = window_start(event_time, size);
    // The durable bound matters only after a restart with a larger grace: a window that
    // was already finalized must stay closed even if today's grace would reopen it.
    const EventTime bound = std::max(closed_bound(*stream_time_, size, grace_),
                                     bound_or_floor(durable_.closed_before, size));
    if (start < bound) {
      late |= std::uint32_t{1} << i;
      continue;
    }
    const auto it = pending_.find(KeyRef{size, start, process_name, process_activity});
    if (it != pending_.end()) {
      it->second = it->second + delta;
    } else {
      pending_.emplace(
          WindowKey{size, start, std::string(process_name), std::string(process_activity)}, delta);
    }
  }
  return late;
}

CommitResult WindowAggregator::commit(const WindowReader& store) {
  CommitResult result;

  // Absolute values of every window this commit changed: one read per window. The map's
  // nodes are reused: the keys move, no string is copied.
  std::map<WindowKey, WindowCounts> updated;
  while (!pending_.empty()) {
    auto node = pending_.extract(pending_.begin());
    const WindowCounts absolute = store.get(node.key()).value_or(WindowCounts{}) + node.mapped();
    updated.emplace_hint(updated.end(), std::move(node.key()), absolute);
  }
  progress_dirty_ = false;

  result.progress = durable_;
  result.progress.stream_time = stream_time_;
  // Final values of the windows that close in this commit, sorted by key. A std::map,
  // because the store's scan order need not be WindowKey order.
  std::map<WindowKey, WindowCounts> finals;
  if (stream_time_) {
    for (const WindowSpec& spec : windows_.windows()) {
      const DurationMs size = spec.size;
      const EventTime old_closed = bound_or_floor(durable_.closed_before, size);
      const EventTime new_closed = std::max(old_closed, closed_bound(*stream_time_, size, grace_));
      if (old_closed < new_closed) {
        store.scan(size, old_closed, new_closed,
                   [&finals](const WindowKey& key, const WindowCounts& counts) {
                     finals.emplace(key, counts);
                   });
        // This commit's values win over the stored ones, and windows that exist only in
        // this commit close too.
        for (auto it = updated.lower_bound(WindowKey{size, old_closed, {}, {}});
             it != updated.end() && it->first.size == size && it->first.start < new_closed; ++it) {
          finals.insert_or_assign(it->first, it->second);
        }
      }

      const EventTime old_expired = bound_or_floor(durable_.expired_before, size);
      // Expiry never overtakes closing (retention >= 0), so no window is deleted unseen.
      const EventTime new_expired = std::max(
          old_expired, EventTime{saturating_sub(closed_bound(*stream_time_, size, grace_).value,
                                                retention_.value)});
      if (old_expired < new_expired) {
        store.scan(size, old_expired, new_expired,
                   [&result](const WindowKey& key, const WindowCounts&) {
                     result.deletes.push_back(key);
                   });
      }
      result.progress.closed_before[size.value] = new_closed;
      result.progress.expired_before[size.value] = new_expired;
    }
  }

  const auto before = [](const std::map<std::int64_t, EventTime>& bounds, const WindowKey& key) {
    const auto it = bounds.find(key.size.value);
    return it != bounds.end() && key.start < it->second;
  };
  for (const auto& [key, counts] : updated) {
    // A window that closes and expires in the same commit is published (final) but never
    // written: the store would only have to delete it again.
    if (before(result.progress.expired_before, key)) continue;
    result.puts.emplace_back(key, counts);
  }
  if (emit_ == EmitMode::kUpdates) {
    for (const auto& [key, counts] : updated) {
      if (before(result.progress.closed_before, key)) continue;  // its final follows
      result.rollups.push_back(Rollup{key, counts, false});
    }
  }
  for (auto& [key, counts] : finals) result.rollups.push_back(Rollup{key, counts, true});
  return result;
}

void WindowAggregator::committed(const TaskProgress& progress) {
  durable_ = progress;
  if (progress.stream_time && (!stream_time_ || *stream_time_ < *progress.stream_time)) {
    stream_time_ = progress.stream_time;
  }
}

void WindowAggregator::rollback(const TaskProgress& last_durable) {
  durable_ = last_durable;
  stream_time_ = last_durable.stream_time;
  pending_.clear();
  progress_dirty_ = false;
}

}  // namespace auditor
