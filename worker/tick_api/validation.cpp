#include "worker/tick_api/validation.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

#include "topology/tick_parser.h"

namespace auditor::tick_api {
namespace {

using nlohmann::json;

constexpr std::string_view kName = "process_name";
constexpr std::string_view kActivity = "process_activity";
constexpr std::string_view kCount = "count";

json loc_with(const json& prefix, std::string_view field) {
  json loc = prefix;
  loc.push_back(field);
  return loc;
}

// Strict UTF-8 (no overlongs, no surrogates, at most U+10FFFF). Query strings arrive
// percent-decoded as raw bytes, so `%FF` must be caught here; JSON strings are checked by
// nlohmann's parser.
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1FU;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0FU;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07U;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6U) | (cc & 0x3FU);
    }
    constexpr std::uint32_t kMinOf[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinOf[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// The name checks shared by both sources, once the value is known to be a string.
std::optional<FieldError> check_name(const json& loc, const std::string& value) {
  if (!valid_utf8(value)) {
    return FieldError{loc,
                      "Input should be a valid string, unable to parse raw data as a unicode "
                      "string",
                      "string_unicode", nullptr};
  }
  if (value.empty()) {
    return FieldError{loc, "String should have at least 1 character", "string_too_short", value};
  }
  if (value.size() > kMaxNameBytes) {
    return FieldError{loc,
                      "String should have at most " + std::to_string(kMaxNameBytes) +
                          " bytes (UTF-8), got " + std::to_string(value.size()),
                      "string_too_long", value};
  }
  return std::nullopt;
}

std::optional<FieldError> check_count_range(const json& loc, std::int64_t count,
                                            const json& input) {
  if (count < 1) {
    return FieldError{loc, "Input should be greater than or equal to 1", "greater_than_equal",
                      input};
  }
  if (count > kMaxTickCount) {
    return FieldError{loc, "Input should be less than or equal to " + std::to_string(kMaxTickCount),
                      "less_than_equal", input};
  }
  return std::nullopt;
}

FieldError missing(const json& loc) {
  return FieldError{loc, "Field required", "missing", nullptr};
}

// Reads one tick from a JSON value (an element of a batch or the whole body).
Validated<TickInput> tick_from_value(const json& value, const json& prefix) {
  Errors errors;
  if (!value.is_object()) {
    errors.push_back({prefix, "Input should be a valid dictionary or object to extract fields from",
                      "model_attributes_type", value});
    return errors;
  }
  TickInput tick;
  const auto read_name = [&](std::string_view field, std::string& out) {
    const json loc = loc_with(prefix, field);
    const auto it = value.find(field);
    if (it == value.end()) {
      errors.push_back(missing(loc));
    } else if (!it->is_string()) {
      errors.push_back({loc, "Input should be a valid string", "string_type", *it});
    } else if (auto error = check_name(loc, it->get<std::string>())) {
      errors.push_back(std::move(*error));
    } else {
      out = it->get<std::string>();
    }
  };
  read_name(kName, tick.process_name);
  read_name(kActivity, tick.process_activity);
  if (const auto it = value.find(kCount); it != value.end()) {
    const json loc = loc_with(prefix, kCount);
    if (it->is_number_unsigned()) {
      // nlohmann parses every non-negative integer as unsigned, 0 included; clamping keeps
      // values beyond int64 "too large" rather than wrapping them.
      const auto n =
          std::min(it->get<std::uint64_t>(), static_cast<std::uint64_t>(kMaxTickCount) + 1);
      tick.count = static_cast<std::int64_t>(n);
      if (auto error = check_count_range(loc, tick.count, *it)) errors.push_back(std::move(*error));
    } else if (it->is_number_integer()) {
      tick.count = it->get<std::int64_t>();
      if (auto error = check_count_range(loc, tick.count, *it)) errors.push_back(std::move(*error));
    } else if (it->is_number_float()) {
      // 2.0 is an integer to JSON Schema (the OpenAPI document's "type": "integer") and to
      // the seed's pydantic: taken as 2. The record written carries the integer.
      const double d = it->get<double>();
      if (d != std::floor(d)) {
        errors.push_back({loc,
                          "Input should be a valid integer, got a number with a fractional part",
                          "int_from_float", *it});
      } else if (d < 1 || d > kMaxTickCount) {
        errors.push_back(*check_count_range(loc, d < 1 ? 0 : kMaxTickCount + 1, *it));
      } else {
        tick.count = static_cast<std::int64_t>(d);
      }
    } else {
      // "5", true and null are not integers (nor to the worker, DESIGN.md).
      errors.push_back({loc, "Input should be a valid integer", "int_type", *it});
    }
  }
  if (!errors.empty()) return errors;
  return tick;
}

// A SAX handler that accepts every value and remembers where parsing stopped: the position
// of an out_of_range error, which json::parse throws without one.
class ErrorPosition : public nlohmann::json_sax<json> {
 public:
  std::size_t byte = 0;

  bool null() override { return true; }
  bool boolean(bool /*val*/) override { return true; }
  bool number_integer(number_integer_t /*val*/) override { return true; }
  bool number_unsigned(number_unsigned_t /*val*/) override { return true; }
  bool number_float(number_float_t /*val*/, const string_t& /*s*/) override { return true; }
  bool string(string_t& /*val*/) override { return true; }
  bool binary(binary_t& /*val*/) override { return true; }
  bool start_object(std::size_t /*elements*/) override { return true; }
  bool key(string_t& /*val*/) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t /*elements*/) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const json::exception& /*ex*/) override {
    byte = position;
    return false;
  }
};

// Parses a body as JSON, or answers FastAPI's json_invalid error.
std::variant<json, Errors> parse_body(std::string_view body) {
  try {
    return json::parse(body.begin(), body.end());
  } catch (const json::parse_error& e) {
    return Errors{FieldError{json::array({"body", e.byte}), "JSON decode error", "json_invalid",
                             std::string(e.what())}};
  } catch (const json::out_of_range& e) {
    // A number beyond double's range (1e400) is JSON, but nlohmann cannot hold it and
    // throws out_of_range, not parse_error: still the client's mistake, not a 500.
    ErrorPosition at;
    json::sax_parse(body.begin(), body.end(), &at);
    return Errors{FieldError{json::array({"body", at.byte}), "JSON decode error", "json_invalid",
                             std::string(e.what())}};
  }
}

}  // namespace

Validated<TickInput> tick_from_query(const std::multimap<std::string, std::string>& params) {
  const auto last = [&](std::string_view field) -> const std::string* {
    const auto [begin, end] = params.equal_range(std::string(field));
    if (begin == end) return nullptr;
    return &std::prev(end)->second;
  };
  Errors errors;
  TickInput tick;
  for (const auto field : {kName, kActivity}) {
    const json loc = {"query", field};
    const std::string* value = last(field);
    if (value == nullptr) {
      errors.push_back(missing(loc));
    } else if (auto error = check_name(loc, *value)) {
      errors.push_back(std::move(*error));
    } else {
      (field == kName ? tick.process_name : tick.process_activity) = *value;
    }
  }
  if (const std::string* text = last(kCount)) {
    const json loc = {"query", kCount};
    const json input = valid_utf8(*text) ? json(*text) : json(nullptr);
    const char* begin = text->data();
    const char* end = begin + text->size();
    if (begin != end && *begin == '+') ++begin;  // pydantic accepts "+5"; from_chars does not
    std::int64_t count = 0;
    const auto [ptr, ec] = std::from_chars(begin, end, count);
    if (ec == std::errc::result_out_of_range) {
      errors.push_back(*check_count_range(loc, *begin == '-' ? 0 : kMaxTickCount + 1, input));
    } else if (ec != std::errc() || ptr != end || begin == end) {
      errors.push_back({loc,
                        "Input should be a valid integer, unable to parse string as an integer",
                        "int_parsing", input});
    } else if (auto error = check_count_range(loc, count, input)) {
      errors.push_back(std::move(*error));
    } else {
      tick.count = count;
    }
  }
  if (!errors.empty()) return errors;
  return tick;
}

Validated<TickInput> tick_from_json(std::string_view body) {
  auto parsed = parse_body(body);
  if (auto* errors = std::get_if<Errors>(&parsed)) return std::move(*errors);
  return tick_from_value(std::get<json>(parsed), json::array({"body"}));
}

Validated<TickInput> tick_from_request(const std::multimap<std::string, std::string>& params,
                                       std::string_view body) {
  if (body.empty()) return tick_from_query(params);
  auto tick = tick_from_json(body);
  auto query = tick_from_query(params);
  auto* errors = std::get_if<Errors>(&query);
  if (errors == nullptr) return tick;
  // With a body, the parameters are optional: only present ones can be wrong.
  std::erase_if(*errors, [](const FieldError& e) { return e.type == "missing"; });
  if (errors->empty()) return tick;
  if (const auto* body_errors = std::get_if<Errors>(&tick)) {
    errors->insert(errors->end(), body_errors->begin(), body_errors->end());
  }
  return std::move(*errors);
}

Validated<std::vector<TickInput>> ticks_from_json(std::string_view body) {
  auto parsed = parse_body(body);
  if (auto* errors = std::get_if<Errors>(&parsed)) return std::move(*errors);
  const json& value = std::get<json>(parsed);
  if (!value.is_array()) {
    return Errors{{json::array({"body"}), "Input should be a valid list", "list_type", value}};
  }
  if (value.size() > kMaxBatchTicks) {
    return Errors{{json::array({"body"}),
                   "List should have at most " + std::to_string(kMaxBatchTicks) +
                       " items after validation, not " + std::to_string(value.size()),
                   "too_long", nullptr}};
  }
  std::vector<TickInput> ticks;
  ticks.reserve(value.size());
  Errors errors;
  for (std::size_t i = 0; i < value.size(); ++i) {
    auto one = tick_from_value(value[i], json::array({"body", i}));
    if (auto* e = std::get_if<Errors>(&one)) {
      errors.insert(errors.end(), e->begin(), e->end());
    } else {
      ticks.push_back(std::move(std::get<TickInput>(one)));
    }
  }
  if (!errors.empty()) return errors;
  return ticks;
}

nlohmann::ordered_json error_body(const Errors& errors) {
  auto detail = nlohmann::ordered_json::array();
  for (const auto& e : errors) {
    // FastAPI's key order, so answers diff cleanly against the seed API's.
    detail.push_back(nlohmann::ordered_json{
        {"type", e.type}, {"loc", e.loc}, {"msg", e.msg}, {"input", e.input}});
  }
  return nlohmann::ordered_json{{"detail", std::move(detail)}};
}

nlohmann::ordered_json event_json(const TickInput& tick) {
  return nlohmann::ordered_json{{"process_name", tick.process_name},
                                {"process_activity", tick.process_activity},
                                {"count", tick.count}};
}

std::string record_value(const TickInput& tick) {
  return event_json(tick).dump();
}

std::string record_key(const TickInput& tick) {
  // nlohmann::json sorts object keys: process_activity before process_name.
  return json{{"process_name", tick.process_name}, {"process_activity", tick.process_activity}}
      .dump();
}

}  // namespace auditor::tick_api
