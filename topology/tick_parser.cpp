#include "topology/tick_parser.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>
#include <new>

#include "topology/event_time.h"

namespace auditor {

namespace ondemand = simdjson::ondemand;

namespace {

// Nesting limit for ignored fields, which are walked recursively to prove the whole
// record is valid JSON. A tick has no reason to nest; the bound keeps the stack small.
constexpr int kMaxDepth = 64;

// The first input buffer; it grows (geometrically, up to kMaxTickBytes) on larger ticks.
constexpr std::size_t kInitialCapacity = 4096;

enum class Field : std::uint8_t { kName, kActivity, kCount, kTimestamp, kOther };

Field field_of(std::string_view key) {
  if (key == "process_name") return Field::kName;
  if (key == "process_activity") return Field::kActivity;
  if (key == "count") return Field::kCount;
  if (key == "timestamp") return Field::kTimestamp;
  return Field::kOther;
}

std::string_view field_name(Field f) {
  switch (f) {
    case Field::kName:
      return "process_name";
    case Field::kActivity:
      return "process_activity";
    case Field::kCount:
      return "count";
    case Field::kTimestamp:
      return "timestamp";
    case Field::kOther:
      break;
  }
  return "field";
}

std::string_view type_name(ondemand::json_type t) {
  switch (t) {
    case ondemand::json_type::array:
      return "an array";
    case ondemand::json_type::object:
      return "an object";
    case ondemand::json_type::number:
      return "a number";
    case ondemand::json_type::string:
      return "a string";
    case ondemand::json_type::boolean:
      return "a boolean";
    case ondemand::json_type::null:
      return "null";
  }
  return "a value";
}

TickError make_error(InvalidReason reason, std::string_view a, std::string_view b = {},
                     std::string_view c = {}) {
  std::string message;
  message.reserve(a.size() + b.size() + c.size());
  message.append(a).append(b).append(c);
  // Messages go into a Kafka header and a log line: keep them on one line whatever a
  // library put in them.
  std::replace_if(
      message.begin(), message.end(),
      [](char ch) { return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f; }, ' ');
  return TickError{reason, std::move(message)};
}

TickError not_json(simdjson::error_code code) {
  return make_error(InvalidReason::kNotJson, "not JSON: ", simdjson::error_message(code));
}

// simdjson's raw tokens run up to the next structural character, trailing spaces included.
std::string_view trim_right(std::string_view token) {
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t' || token.back() == '\n' ||
                            token.back() == '\r')) {
    token.remove_suffix(1);
  }
  return token;
}

// The token inside an error message: short, and numbers only ever hold [-+.0-9eE].
std::string_view excerpt(std::string_view token) {
  return token.size() <= 24 ? token : token.substr(0, 24);
}

enum class NumberKind : std::uint8_t { kInvalid, kInteger, kOther };

// RFC 8259 number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
// simdjson on-demand does not parse values nobody asked for, and its own number parsers
// reject valid JSON they cannot represent (integers beyond 64 bits), so classification
// is done here on the raw token.
NumberKind classify_number(std::string_view s) {
  std::size_t i = 0;
  const auto digits = [&] {
    const std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i - start;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (digits() == 0) {
    return NumberKind::kInvalid;
  }
  bool integer = true;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (digits() == 0) return NumberKind::kInvalid;
    integer = false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return NumberKind::kInvalid;
    integer = false;
  }
  if (i != s.size()) return NumberKind::kInvalid;
  return integer ? NumberKind::kInteger : NumberKind::kOther;
}

// Value of a token that classify_number accepted as an integer; nullopt when it does not
// fit in an int64 (the callers' ranges are much smaller anyway).
std::optional<std::int64_t> integer_value(std::string_view s) {
  const bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  std::int64_t v = 0;
  for (const char c : s) {
    if (v > (std::numeric_limits<std::int64_t>::max() - 9) / 10) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return negative ? -v : v;
}

// get_string() failed on a string whose boundaries stage 1 already found: either a
// malformed escape (not JSON) or a \u escape of an unpaired UTF-16 surrogate, which is
// JSON syntax but cannot become UTF-8. `raw` points just after the opening quote.
TickError string_error(const char* raw, std::string_view what) {
  for (std::size_t i = 0; raw[i] != '"'; ++i) {
    if (raw[i] != '\\') continue;
    ++i;
    if (std::strchr("\"\\/bfnrt", raw[i]) != nullptr && raw[i] != '\0') continue;
    if (raw[i] != 'u') return make_error(InvalidReason::kNotJson, "not JSON: bad escape sequence");
    for (int k = 1; k <= 4; ++k) {
      if (std::isxdigit(static_cast<unsigned char>(raw[i + static_cast<std::size_t>(k)])) == 0) {
        return make_error(InvalidReason::kNotJson, "not JSON: bad \\u escape sequence");
      }
    }
    i += 4;
  }
  return make_error(InvalidReason::kInvalidUtf8, what,
                    ": \\u escape of an unpaired UTF-16 surrogate is not valid UTF-8");
}

// Walks a value nobody reads, so that a tick is accepted only if it is JSON as a whole
// (simdjson on-demand would otherwise skip over, say, `[1 2]` or `tru` unchecked).
std::optional<TickError> validate(ondemand::value& value, int depth) {
  if (depth > kMaxDepth) {
    return make_error(InvalidReason::kNotJson, "not JSON: nested deeper than 64 levels");
  }
  ondemand::json_type type;
  if (const auto err = value.type().get(type)) return not_json(err);
  switch (type) {
    case ondemand::json_type::object: {
      ondemand::object object;
      if (const auto err = value.get_object().get(object)) return not_json(err);
      for (auto result : object) {
        if (const auto err = result.error()) return not_json(err);
        ondemand::field& field = result.value_unsafe();
        const char* raw_key = field.key().raw();
        std::string_view key;
        if (field.unescaped_key().get(key)) return string_error(raw_key, "invalid UTF-8");
        if (auto error = validate(field.value(), depth + 1)) return error;
      }
      return std::nullopt;
    }
    case ondemand::json_type::array: {
      ondemand::array array;
      if (const auto err = value.get_array().get(array)) return not_json(err);
      for (auto element : array) {
        ondemand::value child;
        if (const auto err = element.get(child)) return not_json(err);
        if (auto error = validate(child, depth + 1)) return error;
      }
      return std::nullopt;
    }
    case ondemand::json_type::string: {
      const std::string_view raw = value.raw_json_token();
      std::string_view s;
      if (value.get_string().get(s)) return string_error(raw.data() + 1, "invalid UTF-8");
      return std::nullopt;
    }
    case ondemand::json_type::number:
      if (classify_number(trim_right(value.raw_json_token())) == NumberKind::kInvalid) {
        return make_error(InvalidReason::kNotJson, "not JSON: malformed number");
      }
      return std::nullopt;
    case ondemand::json_type::boolean:
    case ondemand::json_type::null: {
      const std::string_view token = trim_right(value.raw_json_token());
      if (token != "true" && token != "false" && token != "null") {
        return make_error(InvalidReason::kNotJson, "not JSON: unknown literal");
      }
      return std::nullopt;
    }
  }
  return make_error(InvalidReason::kNotJson, "not JSON: unknown value type");
}

}  // namespace

std::string_view reason_label(InvalidReason r) {
  switch (r) {
    case InvalidReason::kNullValue:
      return "null_value";
    case InvalidReason::kTooLarge:
      return "too_large";
    case InvalidReason::kInvalidUtf8:
      return "invalid_utf8";
    case InvalidReason::kNotJson:
      return "not_json";
    case InvalidReason::kNotObject:
      return "not_object";
    case InvalidReason::kMissingField:
      return "missing_field";
    case InvalidReason::kWrongType:
      return "wrong_type";
    case InvalidReason::kDuplicateField:
      return "duplicate_field";
    case InvalidReason::kEmptyName:
      return "empty_name";
    case InvalidReason::kNameTooLong:
      return "name_too_long";
    case InvalidReason::kCountOutOfRange:
      return "count_out_of_range";
    case InvalidReason::kBadTimestamp:
      return "bad_timestamp";
  }
  return "unknown";
}

struct TickParser::Impl {
  ondemand::parser parser;
  std::unique_ptr<char[]> buffer;
  std::size_t capacity = 0;  // bytes of JSON the buffer holds, padding not included

  // Grows the buffer and the parser together: after the largest tick seen so far, parse()
  // allocates nothing (simdjson's parser would otherwise reallocate to each new maximum).
  void reserve(std::size_t size) {
    if (size <= capacity && buffer) return;
    std::size_t next = std::max(capacity, kInitialCapacity);
    while (next < size) next *= 2;
    next = std::min(std::max(next, size), kMaxTickBytes);
    buffer = std::make_unique<char[]>(next + simdjson::SIMDJSON_PADDING);
    if (parser.allocate(next) != simdjson::SUCCESS) throw std::bad_alloc();
    capacity = next;
  }

  TickParseResult parse(const char* data, std::size_t size);
  // The error for a document whose root is not an object: "not JSON" unless it is valid.
  TickError not_an_object(ondemand::document& doc, ondemand::json_type type, std::string_view json);
  // The fields of one object; returns the first error, or nullopt with `tick` filled in.
  std::optional<TickError> read_object(ondemand::document& doc, Tick& tick);
  std::optional<TickError> read_name(Field field, ondemand::value& value, std::string_view& out);
  std::optional<TickError> read_count(ondemand::value& value, std::int64_t& out);
  std::optional<TickError> read_timestamp(ondemand::value& value, std::optional<EventTime>& out);
};

TickParser::TickParser() : impl_(std::make_unique<Impl>()) {}
TickParser::~TickParser() = default;

TickParseResult TickParser::parse(const void* data, std::size_t size) {
  return impl_->parse(static_cast<const char*>(data), size);
}

namespace {
TickParseResult failure(TickError error) {
  return TickParseResult{std::nullopt, std::move(error)};
}
}  // namespace

TickParseResult TickParser::Impl::parse(const char* data, std::size_t size) {
  if (data == nullptr) return failure(make_error(InvalidReason::kNullValue, "null value"));
  if (size > kMaxTickBytes) {
    return failure(make_error(InvalidReason::kTooLarge, "too large: ", std::to_string(size),
                              " bytes, the limit is 65536"));
  }
  // Checked on the whole value first, so the reason does not depend on where the bad
  // byte is (simdjson would report it as a JSON error).
  if (!simdjson::validate_utf8(data, size)) {
    return failure(make_error(InvalidReason::kInvalidUtf8, "invalid UTF-8"));
  }

  // simdjson reads up to SIMDJSON_PADDING bytes past the end: copy into our padded buffer
  // rather than trusting what follows the Kafka message in librdkafka's memory.
  reserve(size);
  if (size > 0) std::memcpy(buffer.get(), data, size);
  std::memset(buffer.get() + size, 0, simdjson::SIMDJSON_PADDING);
  const simdjson::padded_string_view json(buffer.get(), size,
                                          capacity + simdjson::SIMDJSON_PADDING);

  ondemand::document doc;
  if (const auto err = parser.iterate(json).get(doc)) return failure(not_json(err));
  ondemand::json_type type;
  if (const auto err = doc.type().get(type)) return failure(not_json(err));
  if (type != ondemand::json_type::object) {
    return failure(not_an_object(doc, type, std::string_view(buffer.get(), size)));
  }

  Tick tick;
  if (auto error = read_object(doc, tick)) return failure(std::move(*error));
  return TickParseResult{tick, std::nullopt};
}

TickError TickParser::Impl::not_an_object(ondemand::document& doc, ondemand::json_type type,
                                          std::string_view json) {
  // Proving it is JSON first makes `[1,` "not JSON" rather than "not an object".
  switch (type) {
    case ondemand::json_type::array: {
      ondemand::value value;
      if (const auto err = doc.get_value().get(value)) return not_json(err);
      if (auto error = validate(value, 1)) return std::move(*error);
      if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
        return make_error(InvalidReason::kNotJson, "not JSON: trailing content after the value");
      }
      break;
    }
    case ondemand::json_type::string:
    case ondemand::json_type::number:
    case ondemand::json_type::boolean:
    case ondemand::json_type::null: {
      const std::string_view token = trim_right(doc.raw_json_token().value_unsafe());
      if (type == ondemand::json_type::string) {
        std::string_view s;
        if (const auto err = doc.get_string().get(s)) {
          if (err != simdjson::STRING_ERROR) return not_json(err);
          return string_error(token.data() + 1, "invalid UTF-8");
        }
      } else if (type == ondemand::json_type::number
                     ? classify_number(token) == NumberKind::kInvalid
                     : token != "true" && token != "false" && token != "null") {
        return make_error(InvalidReason::kNotJson, "not JSON: malformed value");
      }
      // Reading a root scalar does not move simdjson's iterator past it, so check directly
      // that its token is all there is.
      if (token.data() + token.size() != json.data() + trim_right(json).size()) {
        return make_error(InvalidReason::kNotJson, "not JSON: trailing content after the value");
      }
      break;
    }
    case ondemand::json_type::object:
      break;
  }
  return make_error(InvalidReason::kNotObject, "not a JSON object: got ", type_name(type));
}

std::optional<TickError> TickParser::Impl::read_object(ondemand::document& doc, Tick& tick) {
  ondemand::object object;
  if (const auto err = doc.get_object().get(object)) return not_json(err);

  bool seen[4] = {false, false, false, false};
  // The first error about a field's content. Reading goes on after it, because a record
  // that is not JSON at all must be reported as such, whatever its first field says.
  std::optional<TickError> field_error;
  for (auto result : object) {
    if (const auto err = result.error()) return not_json(err);
    ondemand::field& field = result.value_unsafe();
    const char* raw_key = field.key().raw();
    std::string_view key;
    if (field.unescaped_key().get(key)) return string_error(raw_key, "invalid UTF-8");
    ondemand::value& value = field.value();

    const Field which = field_of(key);
    if (which == Field::kOther || field_error || seen[static_cast<int>(which)]) {
      if (auto error = validate(value, 1)) return error;
      if (which != Field::kOther && !field_error) {
        field_error = make_error(InvalidReason::kDuplicateField, field_name(which),
                                 ": appears more than once");
      }
      continue;
    }
    seen[static_cast<int>(which)] = true;
    std::optional<TickError> error;
    switch (which) {
      case Field::kName:
        error = read_name(which, value, tick.process_name);
        break;
      case Field::kActivity:
        error = read_name(which, value, tick.process_activity);
        break;
      case Field::kCount:
        error = read_count(value, tick.count);
        break;
      case Field::kTimestamp:
        error = read_timestamp(value, tick.timestamp);
        break;
      case Field::kOther:
        break;
    }
    if (error) {
      // Errors about the document itself end the walk; errors about a field wait.
      if (error->reason == InvalidReason::kNotJson ||
          error->reason == InvalidReason::kInvalidUtf8) {
        return error;
      }
      field_error = std::move(error);
    }
  }
  // `{"a":1} x` and `{"a":1}}`: simdjson stops at the object's end; the rest must be empty.
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return make_error(InvalidReason::kNotJson, "not JSON: trailing content after the object");
  }
  if (field_error) return field_error;
  if (!seen[static_cast<int>(Field::kName)]) {
    return make_error(InvalidReason::kMissingField, "process_name: missing");
  }
  if (!seen[static_cast<int>(Field::kActivity)]) {
    return make_error(InvalidReason::kMissingField, "process_activity: missing");
  }
  return std::nullopt;
}

std::optional<TickError> TickParser::Impl::read_name(Field field, ondemand::value& value,
                                                     std::string_view& out) {
  const std::string_view name = field_name(field);
  ondemand::json_type type;
  if (const auto err = value.type().get(type)) return not_json(err);
  if (type != ondemand::json_type::string) {
    if (auto error = validate(value, 1)) return error;
    return make_error(InvalidReason::kWrongType, name, ": must be a string, got ", type_name(type));
  }
  const std::string_view raw = value.raw_json_token();
  // The view points into the parser's string buffer, where each string of a document gets
  // its own space: it survives reading the rest of the object, until the next parse().
  if (value.get_string().get(out)) return string_error(raw.data() + 1, name);
  if (out.empty()) return make_error(InvalidReason::kEmptyName, name, ": must not be empty");
  if (out.size() > kMaxNameBytes) {
    return make_error(InvalidReason::kNameTooLong, name, ": ",
                      std::to_string(out.size()) + " bytes, the limit is 256");
  }
  return std::nullopt;
}

std::optional<TickError> TickParser::Impl::read_count(ondemand::value& value, std::int64_t& out) {
  constexpr std::string_view kExpected = "count: must be an integer between 1 and 1000000000, got ";
  ondemand::json_type type;
  if (const auto err = value.type().get(type)) return not_json(err);
  if (type != ondemand::json_type::number) {
    if (auto error = validate(value, 1)) return error;
    return make_error(InvalidReason::kWrongType, kExpected, type_name(type));
  }
  const std::string_view token = trim_right(value.raw_json_token());
  switch (classify_number(token)) {
    case NumberKind::kInvalid:
      return make_error(InvalidReason::kNotJson, "not JSON: malformed number");
    case NumberKind::kOther:
      // 1.0 and 1e3 are integers in value but not in type: producers sending them have a
      // bug worth seeing, and JSON has no integer/float distinction to lean on.
      return make_error(InvalidReason::kWrongType, kExpected, excerpt(token));
    case NumberKind::kInteger:
      break;
  }
  const std::optional<std::int64_t> count = integer_value(token);
  if (!count || *count < 1 || *count > kMaxTickCount) {
    return make_error(InvalidReason::kCountOutOfRange, kExpected, excerpt(token));
  }
  out = *count;
  return std::nullopt;
}

std::optional<TickError> TickParser::Impl::read_timestamp(ondemand::value& value,
                                                          std::optional<EventTime>& out) {
  constexpr std::string_view kExpected =
      "timestamp: must be an RFC 3339 string or integer epoch milliseconds, got ";
  ondemand::json_type type;
  if (const auto err = value.type().get(type)) return not_json(err);
  if (type == ondemand::json_type::string) {
    const std::string_view raw = value.raw_json_token();
    std::string_view text;
    if (value.get_string().get(text)) return string_error(raw.data() + 1, "timestamp");
    out = parse_rfc3339(text);
    if (!out) {
      // The text itself is not quoted back: it could hold anything, newlines included.
      return make_error(InvalidReason::kBadTimestamp,
                        "timestamp: not an RFC 3339 date-time between 0000-01-01T00:00:00Z and "
                        "9999-12-31T23:59:59.999Z");
    }
    return std::nullopt;
  }
  if (type != ondemand::json_type::number) {
    if (auto error = validate(value, 1)) return error;
    return make_error(InvalidReason::kWrongType, kExpected, type_name(type));
  }
  const std::string_view token = trim_right(value.raw_json_token());
  switch (classify_number(token)) {
    case NumberKind::kInvalid:
      return make_error(InvalidReason::kNotJson, "not JSON: malformed number");
    case NumberKind::kOther:
      return make_error(InvalidReason::kWrongType, kExpected, excerpt(token));
    case NumberKind::kInteger:
      break;
  }
  const std::optional<std::int64_t> ms = integer_value(token);
  if (!ms || *ms < kMinEventTime.value || *ms > kMaxEventTime.value) {
    return make_error(InvalidReason::kBadTimestamp,
                      "timestamp: epoch milliseconds outside years 0000-9999, got ",
                      excerpt(token));
  }
  out = EventTime{*ms};
  return std::nullopt;
}

}  // namespace auditor
