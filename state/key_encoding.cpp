#include "state/key_encoding.h"

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace auditor::state {
namespace {

constexpr char kWindowPrefix = 'w';
constexpr std::uint64_t kSignBit = std::uint64_t{1} << 63;
// Inside the name, 0x00 is escaped as 0x00 0xFF and the name ends with 0x00 0x01. Both
// sequences sort below any continuation of the name, so a name sorts before every name
// it is a prefix of, exactly as std::string compares (see the header).
constexpr char kEscape = '\x00';
constexpr char kEscapedZero = '\xFF';
constexpr char kTerminator = '\x01';
// 'w' + size + start: the fixed part before the name.
constexpr std::size_t kWindowHeaderSize = 1 + 8 + 8;
constexpr std::size_t kCountsSize = 16;

// Version 1 held a task-wide stream time instead of per-partition watermarks.
constexpr std::uint8_t kEarlierCheckpointVersion = 1;
constexpr std::uint8_t kCheckpointVersion = 2;
constexpr std::uint8_t kHasInputOffset = 1U << 0;
constexpr std::uint8_t kHasChangelogOffset = 1U << 1;
constexpr std::uint8_t kHasWatermark = 1U << 2;
constexpr std::uint8_t kKnownFlags = kHasInputOffset | kHasChangelogOffset | kHasWatermark;
// Flags of one partition's watermark.
constexpr std::uint8_t kWatermarkHasTime = 1U << 0;
constexpr std::uint8_t kWatermarkIdle = 1U << 1;

void put_u64(std::string& out, std::uint64_t v) {
  // Big-endian, appended in one go (a byte at a time was a visible cost per window).
  std::array<char, 8> bytes{};
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<char>((v >> (56 - 8 * i)) & 0xFFU);
  }
  out.append(bytes.data(), bytes.size());
}

void put_i64(std::string& out, std::int64_t v) {
  put_u64(out, std::bit_cast<std::uint64_t>(v));
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xFFU));
  }
}

// Consumes big-endian fields from the front of a byte string; every read fails (nullopt)
// instead of reading past the end, so truncated input can never be misread.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}

  [[nodiscard]] bool empty() const { return rest_.empty(); }
  [[nodiscard]] std::string_view rest() const { return rest_; }

  std::optional<std::uint64_t> u64() { return unsigned_be<std::uint64_t>(8); }
  std::optional<std::uint32_t> u32() { return unsigned_be<std::uint32_t>(4); }
  std::optional<std::uint8_t> u8() { return unsigned_be<std::uint8_t>(1); }

  std::optional<std::int64_t> i64() {
    auto v = u64();
    if (!v) return std::nullopt;
    return std::bit_cast<std::int64_t>(*v);
  }

 private:
  template <typename U>
  std::optional<U> unsigned_be(std::size_t n) {
    if (rest_.size() < n) return std::nullopt;
    U v = 0;
    for (std::size_t i = 0; i < n; ++i) {
      v = static_cast<U>((v << 8) | static_cast<unsigned char>(rest_[i]));
    }
    rest_.remove_prefix(n);
    return v;
  }

  std::string_view rest_;
};

void put_window_prefix(std::string& out, DurationMs size, EventTime start) {
  out.push_back(kWindowPrefix);
  put_u64(out, static_cast<std::uint64_t>(size.value));
  put_u64(out, std::bit_cast<std::uint64_t>(start.value) ^ kSignBit);
}

void put_event_time_map(std::string& out, const std::map<std::int64_t, EventTime>& m) {
  put_u32(out, static_cast<std::uint32_t>(m.size()));
  for (const auto& [size, bound] : m) {
    put_i64(out, size);
    put_i64(out, bound.value);
  }
}

// Strictly ascending keys only: the encoder writes a std::map in order, so anything else
// (e.g. a duplicate that would silently collapse) is corruption.
std::optional<std::map<std::int64_t, EventTime>> read_event_time_map(Reader& in) {
  auto n = in.u32();
  if (!n) return std::nullopt;
  std::map<std::int64_t, EventTime> m;
  for (std::uint32_t i = 0; i < *n; ++i) {
    auto size = in.i64();
    auto bound = in.i64();
    if (!size || !bound) return std::nullopt;
    if (!m.empty() && *size <= m.rbegin()->first) return std::nullopt;
    m.emplace_hint(m.end(), *size, EventTime{*bound});
  }
  return m;
}

// Event times are bounded (topology/types.h); one outside the bounds is damage, and window
// arithmetic on it could overflow.
bool in_event_time_range(std::int64_t t) {
  return kMinEventTime.value <= t && t <= kMaxEventTime.value;
}

void put_watermarks(std::string& out, const PartitionWatermarks& watermarks) {
  put_u32(out, static_cast<std::uint32_t>(watermarks.size()));
  for (const auto& [partition, wm] : watermarks) {
    put_u32(out, static_cast<std::uint32_t>(partition));
    const std::uint8_t flags = (wm.time ? kWatermarkHasTime : 0) | (wm.idle ? kWatermarkIdle : 0);
    out.push_back(static_cast<char>(flags));
    if (wm.time) put_i64(out, wm.time->value);
  }
}

// Strictly ascending, non-negative partitions only (the encoder writes a std::map).
std::optional<PartitionWatermarks> read_watermarks(Reader& in) {
  auto n = in.u32();
  if (!n) return std::nullopt;
  PartitionWatermarks out;
  for (std::uint32_t i = 0; i < *n; ++i) {
    auto partition = in.u32();
    auto flags = in.u8();
    if (!partition || !flags || *partition > 0x7FFFFFFFU) return std::nullopt;
    if ((*flags & ~(kWatermarkHasTime | kWatermarkIdle)) != 0) return std::nullopt;
    const auto p = static_cast<std::int32_t>(*partition);
    if (!out.empty() && p <= out.rbegin()->first) return std::nullopt;
    PartitionWatermark wm;
    wm.idle = (*flags & kWatermarkIdle) != 0;
    if ((*flags & kWatermarkHasTime) != 0) {
      auto t = in.i64();
      if (!t || !in_event_time_range(*t)) return std::nullopt;
      wm.time = EventTime{*t};
    }
    out.emplace_hint(out.end(), p, wm);
  }
  return out;
}

}  // namespace

std::string encode_window_key(const WindowKey& key) {
  std::string out;
  out.reserve(kWindowHeaderSize + key.process_name.size() + 2 + key.process_activity.size());
  put_window_prefix(out, key.size, key.start);
  if (key.process_name.find(kEscape) == std::string::npos) {
    out.append(key.process_name);  // the common case: nothing to escape
  } else {
    for (char c : key.process_name) {
      out.push_back(c);
      if (c == kEscape) out.push_back(kEscapedZero);
    }
  }
  out.push_back(kEscape);
  out.push_back(kTerminator);
  out.append(key.process_activity);
  return out;
}

std::optional<WindowKey> decode_window_key(std::string_view bytes) {
  Reader in(bytes);
  auto prefix = in.u8();
  if (!prefix || static_cast<char>(*prefix) != kWindowPrefix) return std::nullopt;
  auto size = in.u64();
  auto start = in.u64();
  if (!size || !start) return std::nullopt;
  const auto size_ms = std::bit_cast<std::int64_t>(*size);
  if (size_ms <= 0) return std::nullopt;  // sizes are positive; anything else is corrupt

  WindowKey key{
      DurationMs{size_ms}, EventTime{std::bit_cast<std::int64_t>(*start ^ kSignBit)}, {}, {}};
  // Unescape the name; only the two defined escape sequences are accepted, so every
  // decodable key has exactly one encoding.
  std::string_view rest = in.rest();
  std::size_t i = 0;
  for (;;) {
    if (i >= rest.size()) return std::nullopt;  // no terminator
    if (rest[i] != kEscape) {
      key.process_name.push_back(rest[i]);
      ++i;
      continue;
    }
    if (i + 1 >= rest.size()) return std::nullopt;
    if (rest[i + 1] == kTerminator) break;
    if (rest[i + 1] != kEscapedZero) return std::nullopt;
    key.process_name.push_back(kEscape);
    i += 2;
  }
  key.process_activity.assign(rest.substr(i + 2));
  return key;
}

std::string window_range_bound(DurationMs size, EventTime start) {
  std::string out;
  out.reserve(kWindowHeaderSize);
  put_window_prefix(out, size, start);
  return out;
}

std::string encode_counts(const WindowCounts& counts) {
  std::string out;
  out.reserve(kCountsSize);
  put_i64(out, counts.count);
  put_i64(out, counts.ticks);
  return out;
}

std::optional<WindowCounts> decode_counts(std::string_view bytes) {
  if (bytes.size() != kCountsSize) return std::nullopt;
  Reader in(bytes);
  WindowCounts counts{*in.i64(), *in.i64()};
  // Counts are sums of positive numbers; a negative one can only be a damaged value.
  if (counts.count < 0 || counts.ticks < 0) return std::nullopt;
  return counts;
}

std::string encode_checkpoint(const TaskCheckpoint& checkpoint) {
  const TaskProgress& progress = checkpoint.progress;
  std::uint8_t flags = 0;
  if (checkpoint.input_offset) flags |= kHasInputOffset;
  if (checkpoint.changelog_offset) flags |= kHasChangelogOffset;
  if (progress.watermark) flags |= kHasWatermark;

  std::string out;
  out.reserve(2 + 3 * 8 + 8 +
              16 * (progress.closed_before.size() + progress.expired_before.size()) + 4 +
              13 * progress.watermarks.size());
  out.push_back(static_cast<char>(kCheckpointVersion));
  out.push_back(static_cast<char>(flags));
  if (checkpoint.input_offset) put_i64(out, checkpoint.input_offset->value);
  if (checkpoint.changelog_offset) put_i64(out, checkpoint.changelog_offset->value);
  if (progress.watermark) put_i64(out, progress.watermark->value);
  put_event_time_map(out, progress.closed_before);
  put_event_time_map(out, progress.expired_before);
  put_watermarks(out, progress.watermarks);
  return out;
}

std::optional<TaskCheckpoint> decode_checkpoint(std::string_view bytes) {
  Reader in(bytes);
  auto version = in.u8();
  auto flags = in.u8();
  if (!version || *version != kCheckpointVersion) return std::nullopt;
  if (!flags || (*flags & ~kKnownFlags) != 0) return std::nullopt;

  TaskCheckpoint checkpoint;
  if ((*flags & kHasInputOffset) != 0) {
    auto v = in.i64();
    if (!v) return std::nullopt;
    checkpoint.input_offset = Offset{*v};
  }
  if ((*flags & kHasChangelogOffset) != 0) {
    auto v = in.i64();
    if (!v) return std::nullopt;
    checkpoint.changelog_offset = Offset{*v};
  }
  if ((*flags & kHasWatermark) != 0) {
    auto v = in.i64();
    if (!v || !in_event_time_range(*v)) return std::nullopt;
    checkpoint.progress.watermark = EventTime{*v};
  }
  auto closed = read_event_time_map(in);
  if (!closed) return std::nullopt;
  auto expired = read_event_time_map(in);
  if (!expired) return std::nullopt;
  auto watermarks = read_watermarks(in);
  if (!watermarks) return std::nullopt;
  if (!in.empty()) return std::nullopt;  // trailing bytes: not what we wrote
  checkpoint.progress.closed_before = std::move(*closed);
  checkpoint.progress.expired_before = std::move(*expired);
  checkpoint.progress.watermarks = std::move(*watermarks);
  return checkpoint;
}

bool is_earlier_checkpoint_version(std::string_view bytes) {
  return !bytes.empty() && static_cast<std::uint8_t>(bytes[0]) == kEarlierCheckpointVersion;
}

}  // namespace auditor::state
