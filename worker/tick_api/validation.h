// Input validation of the tick API: turns query parameters or a JSON body into ticks, or
// into FastAPI-style errors (`{"loc": [...], "msg": ..., "type": ...}`) naming each bad field,
// so clients of the seed API keep parsing our 422 answers.
//
// The rules are DESIGN.md's input rules (the same limits as topology/tick_parser.h): names
// are non-empty UTF-8 strings of at most 256 bytes, count an integer in [1, 1e9], default 1.
// Anything the API accepts, the worker accepts (checked by
// tests/unit/worker_tick_api_validation_test and fuzz/tick_api_validation_fuzz). Where a
// body's verdict differs from the worker's: the API takes the last of duplicate fields (the
// worker rejects the record), takes a count of 2.0 as 2 (JSON Schema's integer, as the
// seed's pydantic did; the worker rejects it) and ignores `timestamp`; and a number beyond double's
// range anywhere in the body (1e400, valid JSON that nlohmann cannot hold) makes it json_invalid,
// where the worker skips it in a field it ignores.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace auditor::tick_api {

// The most ticks one POST /ticks may carry: a batch is one Kafka transaction and one
// reply, so it must stay small enough to finish well within the produce timeout.
inline constexpr std::size_t kMaxBatchTicks = 1000;

struct TickInput {
  std::string process_name;
  std::string process_activity;
  std::int64_t count = 1;
};

// One FastAPI error entry; `loc` is e.g. ["query", "count"] or ["body", 3, "process_name"].
struct FieldError {
  nlohmann::json loc;
  std::string msg;
  std::string type;
  nlohmann::json input;  // the offending value (null when missing)
};

using Errors = std::vector<FieldError>;
template <typename T>
using Validated = std::variant<T, Errors>;

// Query parameters (or a form body) as the HTTP server decodes them; with repeated parameters
// the last one wins, as in FastAPI.
[[nodiscard]] Validated<TickInput> tick_from_query(
    const std::multimap<std::string, std::string>& params);

// A JSON object body for POST /tick.
[[nodiscard]] Validated<TickInput> tick_from_json(std::string_view body);

// The tick of a POST /tick: from its JSON body when it has one (whatever its Content-Type,
// as the seed API did), else from its query parameters. Query parameters given with a body
// are validated too (FastAPI validates every parameter it declares and is given, and the
// OpenAPI document declares both); their errors come first, as FastAPI orders them.
[[nodiscard]] Validated<TickInput> tick_from_request(
    const std::multimap<std::string, std::string>& params, std::string_view body);

// A JSON array body for POST /ticks: every element is validated, and one bad element makes
// the whole batch invalid (all or nothing).
[[nodiscard]] Validated<std::vector<TickInput>> ticks_from_json(std::string_view body);

// {"detail": [...]} for a 422 answer.
[[nodiscard]] nlohmann::ordered_json error_body(const Errors& errors);

// The record written to the input topic: {"process_name":..,"process_activity":..,"count":..}.
[[nodiscard]] std::string record_value(const TickInput& tick);
// The record key: {"process_activity":..,"process_name":..} (canonical JSON, unambiguous for
// any characters), so all ticks of one process and activity land in one partition, in order.
[[nodiscard]] std::string record_key(const TickInput& tick);
// The "event" object of a success answer.
[[nodiscard]] nlohmann::ordered_json event_json(const TickInput& tick);

}  // namespace auditor::tick_api
