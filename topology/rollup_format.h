// JSON of the published records: rollups (key and value) and late-record dead letters.
//
// Written by hand rather than through a JSON library: formatting rollups is most of a
// commit's CPU time. The output is the one nlohmann::json produces with ensure_ascii off and
// invalid UTF-8 replaced (the unit tests compare the two), so keys stay byte-identical.
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

// Formats many rollups, reusing its buffers and the text of the last window's size, start
// and end, which consecutive rollups of a commit (sorted by window) share.
// Not thread-safe: one per thread.
class RollupFormatter {
 public:
  // Formats `rollup`; the views stay valid until the next call.
  void format(const Rollup& rollup);
  [[nodiscard]] std::string_view key() const { return key_; }
  [[nodiscard]] std::string_view value() const { return value_; }

 private:
  void set_window(DurationMs size, EventTime start);

  std::string key_;
  std::string value_;
  bool have_window_ = false;
  DurationMs size_{0};
  EventTime start_{0};
  std::string window_fields_;     // ,"window":"1m","window_start":"..."
  std::string window_end_field_;  // ,"window_end":"..."
};

// Value of a dead letter for a pre-aggregated record that was late:
// {"process_name":..,"process_activity":..,"event_time":"<RFC 3339>","count":..,"ticks":..}
[[nodiscard]] std::string late_record_json(std::string_view process_name,
                                           std::string_view process_activity, EventTime event_time,
                                           std::int64_t count, std::int64_t ticks);

}  // namespace auditor
