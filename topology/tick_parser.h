// Stage 1 input validation: one audit tick from the raw bytes of a Kafka record value.
//
// The contract (DESIGN.md, "Input record"): a JSON object with non-empty UTF-8 strings
// `process_name` and `process_activity` of at most 256 bytes, an integer `count` in
// [1, 1e9] (absent = 1), an optional `timestamp` (RFC 3339 string or integer epoch ms).
// Other fields are ignored. Everything else is rejected with a one-line reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "topology/types.h"

namespace auditor {

inline constexpr std::size_t kMaxTickBytes = std::size_t{64} * 1024;
inline constexpr std::size_t kMaxNameBytes = 256;
inline constexpr std::int64_t kMaxTickCount = 1'000'000'000;

// Why a record was rejected; one metrics label each.
enum class InvalidReason : std::uint8_t {
  kNullValue,     // Kafka record without a value
  kTooLarge,      // value over kMaxTickBytes
  kInvalidUtf8,   // value is not valid UTF-8
  kNotJson,       // not parseable JSON (including trailing garbage)
  kNotObject,     // JSON, but not an object
  kMissingField,  // process_name or process_activity absent
  kWrongType,     // a known field has the wrong JSON type (count 1.5, name 7, ...)
  kDuplicateField,
  kEmptyName,
  kNameTooLong,
  kCountOutOfRange,
  kBadTimestamp,  // timestamp not RFC 3339 / out of range
};
inline constexpr std::size_t kInvalidReasonCount = 12;

// Stable snake_case label: "null_value", "too_large", "invalid_utf8", "not_json",
// "not_object", "missing_field", "wrong_type", "duplicate_field", "empty_name",
// "name_too_long", "count_out_of_range", "bad_timestamp".
[[nodiscard]] std::string_view reason_label(InvalidReason r);

// A valid tick. The string views point into the TickParser (or the input) and stay valid
// until the next call to TickParser::parse.
struct Tick {
  std::string_view process_name;
  std::string_view process_activity;
  std::int64_t count = 1;
  std::optional<EventTime> timestamp;  // from the payload, if present
};

struct TickError {
  InvalidReason reason;
  std::string message;  // one line, names the field: "count: must be between 1 and 1000000000"
};

// Exactly one of tick / error is set.
struct TickParseResult {
  std::optional<Tick> tick;
  std::optional<TickError> error;
};

// Parses ticks with simdjson on-demand, reusing its buffers: no allocation per record in
// the common case. Not thread-safe; one per consumer thread.
class TickParser {
 public:
  TickParser();
  ~TickParser();
  TickParser(const TickParser&) = delete;
  TickParser& operator=(const TickParser&) = delete;

  // `data == nullptr` means a Kafka record with a null value.
  [[nodiscard]] TickParseResult parse(const void* data, std::size_t size);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace auditor
