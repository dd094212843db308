// Tumbling windows aligned to the UTC epoch: which window a tick falls into.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "topology/types.h"

namespace auditor {

struct WindowSpec {
  DurationMs size;
  std::string name;  // as published in rollups: format_duration(size), e.g. "1m"
};

// Start of the window of `size` containing `t`: floor division, so negative times
// (before 1970) land in the window that contains them. Requires size > 0.
[[nodiscard]] constexpr EventTime window_start(EventTime t, DurationMs size) {
  std::int64_t q = t.value / size.value;
  if (t.value % size.value < 0) --q;
  return EventTime{q * size.value};
}

// The configured window sizes, ascending and distinct (at most 32).
class WindowSet {
 public:
  // Parses "1m,1h,1d". Throws std::invalid_argument with a one-line reason on an empty
  // list, a bad duration, a zero size, a size above 366 days, duplicates or more than 32.
  static WindowSet parse(std::string_view spec);

  explicit WindowSet(std::vector<DurationMs> sizes);  // same checks as parse

  [[nodiscard]] const std::vector<WindowSpec>& windows() const { return windows_; }
  [[nodiscard]] std::size_t size() const { return windows_.size(); }

  // The greatest common divisor of all sizes. Every window boundary of every size is a
  // multiple of it, so ticks of one key within one bucket share all their windows: this
  // is the unit stage 1 pre-aggregates by.
  [[nodiscard]] DurationMs bucket() const { return bucket_; }

  // "1m,1h" for the windows whose bit is set in `mask` (bit i = windows()[i]).
  [[nodiscard]] std::string names(std::uint32_t mask) const;

 private:
  std::vector<WindowSpec> windows_;
  DurationMs bucket_{};
};

}  // namespace auditor
