#include "topology/partition_time.h"

#include <charconv>
#include <limits>

namespace auditor {
namespace {

constexpr std::string_view kMetadataPrefix = "auditor.pt=";

}  // namespace

PartitionClock::PartitionClock(std::optional<EventTime> restored, ClockMs now)
    : time_(restored), last_activity_(now) {}

void PartitionClock::record_read(ClockMs now) {
  at_end_ = false;
  last_activity_ = now;
}

std::uint32_t PartitionClock::add_tick(EventTime t, const WindowSet& windows, DurationMs grace) {
  std::uint32_t late = 0;
  if (time_) {
    const std::vector<WindowSpec>& specs = windows.windows();
    for (std::size_t i = 0; i < specs.size(); ++i) {
      // end + grace, saturating: a huge grace means "never late".
      std::int64_t deadline = 0;
      const std::int64_t end = window_start(t, specs[i].size).value + specs[i].size.value;
      if (__builtin_add_overflow(end, grace.value, &deadline)) {
        deadline = std::numeric_limits<std::int64_t>::max();
      }
      if (time_->value >= deadline) late |= std::uint32_t{1} << i;
    }
  }
  if (!time_ || *time_ < t) time_ = t;
  return late;
}

void PartitionClock::reached_end() {
  at_end_ = true;  // the idle clock runs from the last record (or the start)
}

bool PartitionClock::idle(ClockMs now, DurationMs idle_timeout) const {
  return at_end_ && now.value - last_activity_.value >= idle_timeout.value;
}

std::string encode_partition_time_metadata(std::optional<EventTime> time) {
  std::string out(kMetadataPrefix);
  if (time) out += std::to_string(time->value);
  return out;
}

CommittedPartitionTime decode_partition_time_metadata(std::string_view metadata) {
  if (!metadata.starts_with(kMetadataPrefix)) return {};
  const std::string_view digits = metadata.substr(kMetadataPrefix.size());
  if (digits.empty()) return {true, std::nullopt};
  std::int64_t value = 0;
  const auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (err != std::errc{} || end != digits.data() + digits.size() || value < kMinEventTime.value ||
      value > kMaxEventTime.value) {
    return {};
  }
  return {true, EventTime{value}};
}

}  // namespace auditor
