#include "topology/repartition_record.h"

#include <limits>
#include <stdexcept>

namespace auditor {
namespace {

constexpr std::uint8_t kValueVersion = 1;
constexpr std::size_t kValueSize = 1 + 3 * 8;

void put_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>(static_cast<std::uint8_t>(v >> shift)));
  }
}

std::int64_t get_i64(std::string_view bytes, std::size_t pos) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(bytes[pos + i]);
  return static_cast<std::int64_t>(v);  // two's complement, as written by put_u64
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

std::string encode_repartition_value(EventTime event_time, std::int64_t count, std::int64_t ticks) {
  std::string out;
  out.reserve(kValueSize);
  out.push_back(static_cast<char>(kValueVersion));
  put_u64(out, static_cast<std::uint64_t>(event_time.value));
  put_u64(out, static_cast<std::uint64_t>(count));
  put_u64(out, static_cast<std::uint64_t>(ticks));
  return out;
}

std::optional<RepartitionRecord> decode_repartition_record(std::string_view key,
                                                           std::string_view value) {
  if (key.size() < 2) return std::nullopt;
  const std::size_t name_size =
      (std::size_t{static_cast<std::uint8_t>(key[0])} << 8) | static_cast<std::uint8_t>(key[1]);
  if (name_size > key.size() - 2) return std::nullopt;
  RepartitionRecord r;
  r.process_name = key.substr(2, name_size);
  r.process_activity = key.substr(2 + name_size);
  // Stage 1 only forwards valid ticks, whose names are never empty.
  if (r.process_name.empty() || r.process_activity.empty()) return std::nullopt;

  if (value.size() != kValueSize || static_cast<std::uint8_t>(value[0]) != kValueVersion) {
    return std::nullopt;
  }
  r.event_time = EventTime{get_i64(value, 1)};
  r.count = get_i64(value, 9);
  r.ticks = get_i64(value, 17);
  if (r.event_time < kMinEventTime || r.event_time > kMaxEventTime) return std::nullopt;
  // Every tick carries a count of at least 1, so a sum has count >= ticks >= 1.
  if (r.ticks < 1 || r.count < r.ticks) return std::nullopt;
  return r;
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
