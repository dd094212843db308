#include "topology/rollup_format.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "topology/duration.h"
#include "topology/event_time.h"

namespace auditor {
namespace {

// Appends `text` as a JSON string. Printable ASCII other than '"' and '\' is copied as is;
// anything else (control characters, UTF-8, possibly invalid) goes through nlohmann, whose
// escaping is the canonical one: short escapes, \u00XX for other control characters,
// UTF-8 kept, invalid bytes replaced by U+FFFD rather than throwing inside a commit.
void append_string(std::string& out, std::string_view text) {
  for (const char c : text) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
      out += nlohmann::json(text).dump(-1, ' ', /*ensure_ascii=*/false,
                                       nlohmann::json::error_handler_t::replace);
      return;
    }
  }
  out += '"';
  out += text;
  out += '"';
}

void append_int(std::string& out, std::int64_t value) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, end);
}

// `"name":"text"`, `name` a literal that needs no escaping.
void append_string_field(std::string& out, std::string_view name, std::string_view text) {
  out += '"';
  out += name;
  out += "\":";
  append_string(out, text);
}

}  // namespace

void RollupFormatter::set_window(DurationMs size, EventTime start) {
  if (have_window_ && size == size_ && start == start_) return;
  window_fields_ = ",\"window\":\"" + format_duration(size) + "\",\"window_start\":\"" +
                   format_rfc3339(start) + '"';
  window_end_field_ = ",\"window_end\":\"" + format_rfc3339(start.plus(size)) + '"';
  have_window_ = true;
  size_ = size;
  start_ = start;
}

void RollupFormatter::format(const Rollup& rollup) {
  const WindowKey& window = rollup.key;
  set_window(window.size, window.start);

  key_.assign("{");
  append_string_field(key_, "process_activity", window.process_activity);
  key_ += ',';
  append_string_field(key_, "process_name", window.process_name);
  key_ += window_fields_;
  key_ += '}';

  value_.assign("{");
  append_string_field(value_, "process_name", window.process_name);
  value_ += ',';
  append_string_field(value_, "process_activity", window.process_activity);
  value_ += window_fields_;
  value_ += window_end_field_;
  value_ += ",\"count\":";
  append_int(value_, rollup.counts.count);
  value_ += ",\"ticks\":";
  append_int(value_, rollup.counts.ticks);
  value_ += rollup.final ? ",\"final\":true}" : ",\"final\":false}";
}

std::string rollup_key_json(const WindowKey& key) {
  RollupFormatter formatter;
  formatter.format(Rollup{key, {}, false});
  return std::string(formatter.key());
}

std::string rollup_value_json(const Rollup& rollup) {
  RollupFormatter formatter;
  formatter.format(rollup);
  return std::string(formatter.value());
}

std::string late_record_json(std::string_view process_name, std::string_view process_activity,
                             EventTime event_time, std::int64_t count, std::int64_t ticks) {
  std::string out = "{";
  append_string_field(out, "process_name", process_name);
  out += ',';
  append_string_field(out, "process_activity", process_activity);
  out += ",\"event_time\":\"";
  out += format_rfc3339(event_time);
  out += "\",\"count\":";
  append_int(out, count);
  out += ",\"ticks\":";
  append_int(out, ticks);
  out += '}';
  return out;
}

}  // namespace auditor
