// JSON of the published records: rollups (key and value) and late-record dead letters.
#pragma once

#include <string>
#include <string_view>

#include "topology/window_aggregator.h"

namespace auditor {

// Canonical key: keys sorted, no spaces, UTF-8 kept as is, so one window always has
// byte-identical key bytes:
// {"process_activity":"login","process_name":"auth","window":"1m","window_start":"2026-11-22T09:47:00Z"}
[[nodiscard]] std::string rollup_key_json(const WindowKey& key);

// {"process_name":"auth","process_activity":"login","window":"1m",
//  "window_start":"...","window_end":"...","count":1234,"ticks":57,"final":false}
// (one line, no spaces). `window` is format_duration(key.size).
[[nodiscard]] std::string rollup_value_json(const Rollup& rollup);

// Value of a dead letter for a pre-aggregated record that was late:
// {"process_name":..,"process_activity":..,"event_time":"<RFC 3339>","count":..,"ticks":..}
[[nodiscard]] std::string late_record_json(std::string_view process_name,
                                           std::string_view process_activity, EventTime event_time,
                                           std::int64_t count, std::int64_t ticks);

}  // namespace auditor
