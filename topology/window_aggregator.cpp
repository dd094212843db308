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

// Windows of `size` starting before the result are closed at watermark `s`:
// start + size + grace <= s  <=>  start < s + 1 - size - grace.
EventTime closed_bound(EventTime s, DurationMs size, DurationMs grace) {
  return EventTime{saturating_sub(saturating_sub(s.value + 1, size.value), grace.value)};
}

WindowCounts operator+(WindowCounts a, const WindowCounts& b) {
  a.count += b.count;
  a.ticks += b.ticks;
  return a;
}

// WindowKey's order for a key and a KeyRef alike, as one tuple type: clang (14, with
// libstdc++ 12) cannot compare a tuple of string_views with one of strings.
std::tuple<DurationMs, EventTime, std::string_view, std::string_view> order_of(const auto& k) {
  return {k.size, k.start, k.process_name, k.process_activity};
}

}  // namespace

bool WindowAggregator::KeyLess::operator()(const KeyRef& a, const WindowKey& b) const {
  return order_of(a) < order_of(b);
}

bool WindowAggregator::KeyLess::operator()(const WindowKey& a, const KeyRef& b) const {
  return order_of(a) < order_of(b);
}

WindowAggregator::WindowAggregator(WindowSet windows, DurationMs grace, DurationMs retention,
                                   EmitMode emit, std::int32_t input_partitions,
                                   TaskProgress restored)
    : windows_(std::move(windows)),
      grace_(grace),
      retention_(retention),
      emit_(emit),
      input_partitions_(input_partitions),
      durable_(std::move(restored)),
      watermarks_(durable_.watermarks),
      watermark_(durable_.watermark) {
  if (grace.value < 0) throw std::invalid_argument("grace must not be negative");
  if (retention.value < 0) throw std::invalid_argument("retention must not be negative");
  if (input_partitions <= 0) throw std::invalid_argument("input partitions must be positive");
}

void WindowAggregator::observe_watermark(PartitionId input, const PartitionWatermark& watermark) {
  const auto before = watermarks_.find(input.value);
  const std::optional<PartitionWatermark> old =
      before != watermarks_.end() ? std::optional(before->second) : std::nullopt;
  merge_watermark(watermarks_, input, watermark);
  if (old == watermarks_.at(input.value)) return;  // a duplicate: nothing to persist
  const std::optional<EventTime> combined = combined_watermark(watermarks_, input_partitions_);
  // Never back: an idle partition that wakes up with an older time does not reopen windows.
  if (combined && (!watermark_ || *watermark_ < *combined)) watermark_ = combined;
  progress_dirty_ = true;
}

std::uint32_t WindowAggregator::add(std::string_view process_name,
                                    std::string_view process_activity, EventTime event_time,
                                    WindowCounts delta, std::uint32_t late_mask) {
  std::uint32_t late = 0;
  const std::vector<WindowSpec>& specs = windows_.windows();
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (((late_mask >> i) & 1U) != 0) continue;  // stage 1 did not count it here
    const DurationMs size = specs[i].size;
    const EventTime start = window_start(event_time, size);
    // The durable bound matters after a restart with a larger grace: a window that was
    // already finalized must stay closed even if today's grace would reopen it.
    EventTime bound = bound_or_floor(durable_.closed_before, size);
    if (watermark_) bound = std::max(bound, closed_bound(*watermark_, size, grace_));
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
  result.progress.watermarks = watermarks_;
  result.progress.watermark = watermark_;
  // Final values of the windows that close in this commit, sorted by key. A std::map,
  // because the store's scan order need not be WindowKey order.
  std::map<WindowKey, WindowCounts> finals;
  if (watermark_) {
    for (const WindowSpec& spec : windows_.windows()) {
      const DurationMs size = spec.size;
      const EventTime old_closed = bound_or_floor(durable_.closed_before, size);
      const EventTime new_closed = std::max(old_closed, closed_bound(*watermark_, size, grace_));
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
          old_expired, EventTime{saturating_sub(closed_bound(*watermark_, size, grace_).value,
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
  // The current watermarks already include the committed ones (and maybe later ones).
  durable_ = progress;
}

void WindowAggregator::rollback(const TaskProgress& last_durable) {
  durable_ = last_durable;
  watermarks_ = last_durable.watermarks;
  watermark_ = last_durable.watermark;
  pending_.clear();
  progress_dirty_ = false;
}

}  // namespace auditor
