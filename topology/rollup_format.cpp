#include "topology/rollup_format.h"

#include <nlohmann/json.hpp>

#include "topology/duration.h"
#include "topology/event_time.h"

namespace auditor {
namespace {

// Compact, UTF-8 kept as is. Names that reach us come from validated ticks, so they are
// valid UTF-8; `replace` only matters for a corrupt record and keeps formatting from
// throwing inside the worker's commit.
template <typename Json>
std::string dump(const Json& j) {
  return j.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string rollup_key_json(const WindowKey& key) {
  // nlohmann::json keeps object keys in a std::map: sorted, as the canonical form needs.
  nlohmann::json j;
  j["process_activity"] = key.process_activity;
  j["process_name"] = key.process_name;
  j["window"] = format_duration(key.size);
  j["window_start"] = format_rfc3339(key.start);
  return dump(j);
}

std::string rollup_value_json(const Rollup& rollup) {
  // ordered_json keeps the documented field order, which is easier to read than sorted.
  nlohmann::ordered_json j;
  j["process_name"] = rollup.key.process_name;
  j["process_activity"] = rollup.key.process_activity;
  j["window"] = format_duration(rollup.key.size);
  j["window_start"] = format_rfc3339(rollup.key.start);
  j["window_end"] = format_rfc3339(rollup.key.end());
  j["count"] = rollup.counts.count;
  j["ticks"] = rollup.counts.ticks;
  j["final"] = rollup.final;
  return dump(j);
}

std::string late_record_json(std::string_view process_name, std::string_view process_activity,
                             EventTime event_time, std::int64_t count, std::int64_t ticks) {
  nlohmann::ordered_json j;
  j["process_name"] = process_name;
  j["process_activity"] = process_activity;
  j["event_time"] = format_rfc3339(event_time);
  j["count"] = count;
  j["ticks"] = ticks;
  return dump(j);
}

}  // namespace auditor
