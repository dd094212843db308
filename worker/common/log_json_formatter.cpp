#include "worker/common/log_json_formatter.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

namespace auditor::log {
namespace {

// RFC 3339 in UTC with milliseconds, as the text format writes it.
std::string utc_time(spdlog::log_clock::time_point at) {
  const auto since_epoch = at.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::time_t t = seconds.count();
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];  // room for any int the fields could hold, though real dates need 25
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf;
}

}  // namespace

JsonFormatter::JsonFormatter(std::map<std::string, std::string> fields)
    : fields_(std::move(fields)) {}

void JsonFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  nlohmann::ordered_json fields = nlohmann::ordered_json::object();
  for (const auto& [key, value] : fields_) fields[key] = value;
  fields["thread"] = msg.thread_id;
  const auto level = spdlog::level::to_string_view(msg.level);
  const nlohmann::ordered_json line = {
      {"time", utc_time(msg.time)},
      {"level", std::string_view(level.data(), level.size())},
      {"component", std::string_view(msg.logger_name.data(), msg.logger_name.size())},
      {"message", std::string_view(msg.payload.data(), msg.payload.size())},
      {"fields", std::move(fields)},
  };
  const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  dest.append(text.data(), text.data() + text.size());
  dest.push_back('\n');
}

std::unique_ptr<spdlog::formatter> JsonFormatter::clone() const {
  return std::make_unique<JsonFormatter>(fields_);
}

}  // namespace auditor::log
