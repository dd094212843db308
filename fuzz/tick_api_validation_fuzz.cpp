// Fuzzes the tick API's request validation (worker/tick_api/validation.h) with request
// bodies and query strings: validation must answer with ticks or errors, never throw.
//
// The input is used three ways: as the body of POST /tick and of POST /ticks, and as a
// query string "k=v&k=v..." (split on '&' and the first '=', bytes as the HTTP server
// hands them over after percent-decoding). Properties:
// - accepted ticks meet the input rules (non-empty UTF-8 names of at most 256 bytes,
//   count in [1, 1e9]) and, as the header promises, the worker's parser accepts each
//   record the API would produce, with the same fields; a batch has at most 1000 ticks;
// - an error answer lists at least one error and renders as the server renders it;
// - a body the worker's parser accepts as a tick is accepted by POST /tick with the same
//   fields (one set of input rules; the worker additionally rejects duplicate fields and
//   checks `timestamp`, which the API ignores), unless it holds a number beyond double's
//   range, the one documented exception.
#include <simdjson.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "fuzz/check.h"
#include "topology/tick_parser.h"
#include "worker/tick_api/validation.h"

namespace {

namespace tick_api = auditor::tick_api;
using tick_api::TickInput;

auditor::TickParser& worker_parser() {
  static auditor::TickParser parser;
  return parser;
}

bool valid_name(const std::string& name) {
  return !name.empty() && name.size() <= auditor::kMaxNameBytes &&
         simdjson::validate_utf8(name.data(), name.size());
}

void check_tick(const TickInput& tick) {
  FUZZ_CHECK(valid_name(tick.process_name));
  FUZZ_CHECK(valid_name(tick.process_activity));
  FUZZ_CHECK(tick.count >= 1 && tick.count <= auditor::kMaxTickCount);

  const std::string value = tick_api::record_value(tick);
  const auditor::TickParseResult r = worker_parser().parse(value.data(), value.size());
  FUZZ_CHECK(r.tick.has_value());
  FUZZ_CHECK(r.tick->process_name == tick.process_name);
  FUZZ_CHECK(r.tick->process_activity == tick.process_activity);
  FUZZ_CHECK(r.tick->count == tick.count);
  FUZZ_CHECK(!r.tick->timestamp);
  FUZZ_CHECK(nlohmann::json::parse(tick_api::record_key(tick)).size() == 2);
}

void check_errors(const tick_api::Errors& errors) {
  FUZZ_CHECK(!errors.empty());
  // As the server's reply_json renders it: invalid UTF-8 quoted back is replaced, not thrown.
  const std::string body = tick_api::error_body(errors).dump(
      -1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  FUZZ_CHECK(!body.empty());
}

void check(const tick_api::Validated<TickInput>& v) {
  if (const auto* errors = std::get_if<tick_api::Errors>(&v)) return check_errors(*errors);
  check_tick(std::get<TickInput>(v));
}

void check(const tick_api::Validated<std::vector<TickInput>>& v) {
  if (const auto* errors = std::get_if<tick_api::Errors>(&v)) return check_errors(*errors);
  const auto& ticks = std::get<std::vector<TickInput>>(v);
  FUZZ_CHECK(ticks.size() <= tick_api::kMaxBatchTicks);
  for (const TickInput& tick : ticks) check_tick(tick);
}

// The one body the worker may accept and the API not (validation.h): a number nlohmann
// cannot hold, in a field both ignore.
bool number_beyond_double(const tick_api::Validated<TickInput>& v) {
  const auto* errors = std::get_if<tick_api::Errors>(&v);
  return errors != nullptr && errors->size() == 1 && errors->front().type == "json_invalid" &&
         errors->front().input.get<std::string>().find("out_of_range.406") != std::string::npos;
}

std::multimap<std::string, std::string> query_params(std::string_view text) {
  std::multimap<std::string, std::string> params;
  while (!text.empty()) {
    const std::string_view pair = text.substr(0, text.find('&'));
    text.remove_prefix(std::min(text.size(), pair.size() + 1));
    const std::size_t eq = pair.find('=');
    params.emplace(pair.substr(0, eq), eq == std::string_view::npos ? "" : pair.substr(eq + 1));
  }
  return params;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto single = tick_api::tick_from_json(input);
  check(single);
  check(tick_api::ticks_from_json(input));
  check(tick_api::tick_from_query(query_params(input)));

  const auditor::TickParseResult worker = worker_parser().parse(data, size);
  if (worker.tick && !number_beyond_double(single)) {
    const auto* accepted = std::get_if<TickInput>(&single);
    FUZZ_CHECK(accepted != nullptr);
    FUZZ_CHECK(accepted->process_name == worker.tick->process_name);
    FUZZ_CHECK(accepted->process_activity == worker.tick->process_activity);
    FUZZ_CHECK(accepted->count == worker.tick->count);
  }
  return 0;
}
