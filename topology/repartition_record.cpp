#include "topology/repartition_record.h"

#include <limits>
#include <stdexcept>

namespace auditor {
namespace {

constexpr std::uint8_t kFormatV1Delta = 1;
constexpr std::uint8_t kFormatDelta = 2;
constexpr std::uint8_t kFormatWatermark = 3;
constexpr std::size_t kV1DeltaSize = 1 + 3 * 8;
constexpr std::size_t kDeltaFixedSize = 1 + 3 * 8 + 1;
constexpr std::uint8_t kHasTime = 1;
constexpr std::uint8_t kIdle = 2;

void put_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>(static_cast<std::uint8_t>(v >> shift)));
  }
}

std::uint64_t get_u(std::string_view bytes, std::size_t pos, std::size_t width) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < width; ++i) v = (v << 8) | static_cast<std::uint8_t>(bytes[pos + i]);
  return v;
}

std::int64_t get_i64(std::string_view bytes, std::size_t pos) {
  return static_cast<std::int64_t>(get_u(bytes, pos, 8));  // two's complement, as put_u64 wrote
}

bool in_range(EventTime t) {
  return kMinEventTime <= t && t <= kMaxEventTime;
}

RepartitionMessage decode_watermark(std::string_view key, std::string_view value) {
  RepartitionMessage m;
  if (!key.empty() || value.size() < 6) return m;
  const auto input = static_cast<std::int32_t>(get_u(value, 1, 4));
  const auto flags = static_cast<std::uint8_t>(value[5]);
  if (input < 0 || (flags & ~(kHasTime | kIdle)) != 0) return m;
  const bool has_time = (flags & kHasTime) != 0;
  if (value.size() != (has_time ? 14U : 6U)) return m;
  if (has_time) {
    const EventTime t{get_i64(value, 6)};
    if (!in_range(t)) return m;
    m.watermark.time = t;
  }
  m.watermark.idle = (flags & kIdle) != 0;
  m.input = PartitionId{input};
  m.kind = RepartitionMessage::Kind::kWatermark;
  return m;
}

}  // namespace

std::string encode_repartition_key(std::string_view process_name,
                                   std::string_view process_activity) {
  // Names are validated to at most 256 bytes long before they get here; a longer one
  // would be a bug, and truncating the length prefix would merge different keys.
  if (process_name.size() > std::numeric_limits<std::uint16_t>::max()) {
    throw std::length_error("repartition key: process_name longer than 65535 bytes");
  }
  std::string out;
  out.reserve(2 + process_name.size() + process_activity.size());
  out.push_back(static_cast<char>(static_cast<std::uint8_t>(process_name.size() >> 8)));
  out.push_back(static_cast<char>(static_cast<std::uint8_t>(process_name.size())));
  out.append(process_name);
  out.append(process_activity);
  return out;
}

std::string encode_repartition_value(EventTime event_time, std::int64_t count, std::int64_t ticks,
                                     std::uint32_t late_mask, const WindowSet& windows) {
  std::string out;
  out.reserve(kDeltaFixedSize);
  out.push_back(static_cast<char>(kFormatDelta));
  put_u64(out, static_cast<std::uint64_t>(event_time.value));
  put_u64(out, static_cast<std::uint64_t>(count));
  put_u64(out, static_cast<std::uint64_t>(ticks));
  const std::size_t count_at = out.size();
  out.push_back('\0');
  std::uint8_t late_sizes = 0;
  for (std::size_t i = 0; i < windows.size(); ++i) {
    if (((late_mask >> i) & 1U) != 0) {
      put_u64(out, static_cast<std::uint64_t>(windows.windows()[i].size.value));
      ++late_sizes;
    }
  }
  out[count_at] = static_cast<char>(late_sizes);
  return out;
}

std::string encode_watermark_value(PartitionId input, const PartitionWatermark& wm) {
  std::string out;
  out.push_back(static_cast<char>(kFormatWatermark));
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>(static_cast<std::uint8_t>(
        static_cast<std::uint32_t>(input.value) >> static_cast<unsigned>(shift))));
  }
  const std::uint8_t flags = (wm.time ? kHasTime : 0) | (wm.idle ? kIdle : 0);
  out.push_back(static_cast<char>(flags));
  if (wm.time) put_u64(out, static_cast<std::uint64_t>(wm.time->value));
  return out;
}

RepartitionMessage decode_repartition_message(std::string_view key, std::string_view value,
                                              const WindowSet& windows) {
  using Kind = RepartitionMessage::Kind;
  RepartitionMessage m;
  if (value.empty()) return m;
  const auto format = static_cast<std::uint8_t>(value[0]);
  if (format == kFormatWatermark) return decode_watermark(key, value);
  if (format == kFormatV1Delta && value.size() == kV1DeltaSize) {
    m.kind = Kind::kEarlierVersion;
    return m;
  }
  if (format != kFormatDelta || value.size() < kDeltaFixedSize) return m;

  if (key.size() < 2) return m;
  const std::size_t name_size =
      (std::size_t{static_cast<std::uint8_t>(key[0])} << 8) | static_cast<std::uint8_t>(key[1]);
  if (name_size > key.size() - 2) return m;
  RepartitionRecord& r = m.delta;
  r.process_name = key.substr(2, name_size);
  r.process_activity = key.substr(2 + name_size);
  // Stage 1 only forwards valid ticks, whose names are never empty.
  if (r.process_name.empty() || r.process_activity.empty()) return m;

  r.event_time = EventTime{get_i64(value, 1)};
  r.count = get_i64(value, 9);
  r.ticks = get_i64(value, 17);
  if (!in_range(r.event_time)) return m;
  // Every tick carries a count of at least 1, so a sum has count >= ticks >= 1.
  if (r.ticks < 1 || r.count < r.ticks) return m;
  const std::size_t late_sizes = static_cast<std::uint8_t>(value[25]);
  if (value.size() != kDeltaFixedSize + 8 * late_sizes) return m;
  for (std::size_t j = 0; j < late_sizes; ++j) {
    const DurationMs size{get_i64(value, kDeltaFixedSize + 8 * j)};
    if (size.value <= 0) return m;
    for (std::size_t i = 0; i < windows.size(); ++i) {
      if (windows.windows()[i].size == size) r.late_mask |= std::uint32_t{1} << i;
    }
  }
  m.kind = Kind::kDelta;
  return m;
}

PartitionId partition_for(std::string_view repartition_key, std::int32_t partitions) {
  if (partitions <= 0) throw std::invalid_argument("partition_for: partitions must be positive");
  std::uint64_t h = 14695981039346656037ULL;  // FNV-1a 64 offset basis
  for (const char c : repartition_key) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 1099511628211ULL;  // FNV 64 prime
  }
  return PartitionId{static_cast<std::int32_t>(h % static_cast<std::uint64_t>(partitions))};
}

}  // namespace auditor
