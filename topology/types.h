// Strong small types for values that are easy to mix up: event time vs durations,
// partitions vs offsets. All are plain int64/int32 wrappers with no runtime cost.
#pragma once

#include <compare>
#include <cstdint>
#include <limits>

namespace auditor {

// A tagged integer: only values of the same tag compare or subtract.
template <typename Tag, typename Rep>
struct Strong {
  Rep value{};

  constexpr Strong() = default;
  constexpr explicit Strong(Rep v) : value(v) {}
  constexpr auto operator<=>(const Strong&) const = default;
};

// A length of time in milliseconds (window sizes, grace, commit interval).
struct DurationMs : Strong<struct DurationTag, std::int64_t> {
  using Strong::Strong;
};

// Event time: milliseconds since the UTC epoch, taken from the tick's payload or the
// Kafka record timestamp. Never the wall clock.
struct EventTime : Strong<struct EventTimeTag, std::int64_t> {
  using Strong::Strong;
  [[nodiscard]] constexpr EventTime plus(DurationMs d) const { return EventTime{value + d.value}; }
  [[nodiscard]] constexpr EventTime minus(DurationMs d) const { return EventTime{value - d.value}; }
};

// Earliest and latest event times the system accepts: 0000-01-01T00:00:00Z and
// 9999-12-31T23:59:59.999Z. Bounding them keeps every window arithmetic far from overflow.
inline constexpr EventTime kMinEventTime{-62167219200000};
inline constexpr EventTime kMaxEventTime{253402300799999};

// A reading of the worker's monotonic clock in milliseconds. Only stage 1's idle detection
// uses it; it never enters a window, a lateness decision or a rollup.
struct ClockMs : Strong<struct ClockTag, std::int64_t> {
  using Strong::Strong;
};

struct PartitionId : Strong<struct PartitionTag, std::int32_t> {
  using Strong::Strong;
};

// A Kafka offset: the position of the next record to read when used as a checkpoint.
struct Offset : Strong<struct OffsetTag, std::int64_t> {
  using Strong::Strong;
};

}  // namespace auditor
