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

// `"name":` with `name` a literal that needs no escaping.
void append_field(std::string& out, std::string_view name) {
  out += '"';
  out += name;
  out += "\":";
}

}  // namespace

void RollupFormatter::set_window(DurationMs size, EventTime start) {
  if (have_window_ && size == size_ && start == start_) return;
  if (!have_window_ || size != size_) size_text_ = format_duration(size);
  start_text_ = format_rfc3339(start);
  end_text_ = format_rfc3339(start.plus(size));
  have_window_ = true;
  size_ = size;
  start_ = start;
}

void RollupFormatter::format(const Rollup& rollup) {
  const WindowKey& window = rollup.key;
  set_window(window.size, window.start);

  key_.clear();
  key_ += '{';
  append_field(key_, "process_activity");
  append_string(key_, window.process_activity);
  key_ += ',';
  append_field(key_, "process_name");
  append_string(key_, window.process_name);
  key_ += ",\"window\":\"";
  key_ += size_text_;
  key_ += "\",\"window_start\":\"";
  key_ += start_text_;
  key_ += "\"}";

  value_.clear();
  value_ += '{';
  append_field(value_, "process_name");
  append_string(value_, window.process_name);
  value_ += ',';
  append_field(value_, "process_activity");
  append_string(value_, window.process_activity);
  value_ += ",\"window\":\"";
  value_ += size_text_;
  value_ += "\",\"window_start\":\"";
  value_ += start_text_;
  value_ += "\",\"window_end\":\"";
  value_ += end_text_;
  value_ += "\",\"count\":";
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
  append_field(out, "process_name");
  append_string(out, process_name);
  out += ',';
  append_field(out, "process_activity");
  append_string(out, process_activity);
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
