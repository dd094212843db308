#include "worker/common/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <map>
#include <mutex>
#include <stdexcept>

#include "worker/common/log_json_formatter.h"

namespace auditor::log {
namespace {

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}

spdlog::level::level_enum& current_level() {
  static spdlog::level::level_enum level = spdlog::level::info;
  return level;
}

std::unique_ptr<spdlog::formatter> text_formatter() {
  return std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %-5l [%n] %v",
                                                     spdlog::pattern_time_type::utc);
}

spdlog::sink_ptr shared_sink() {
  static spdlog::sink_ptr sink = [] {
    auto s = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    s->set_formatter(text_formatter());
    return s;
  }();
  return sink;
}

// Both under registry_mutex(); the sink gets a new formatter whenever either changes.
bool& json_format() {
  static bool json = false;
  return json;
}

std::map<std::string, std::string>& json_fields() {
  static std::map<std::string, std::string> fields;
  return fields;
}

void apply_format() {
  shared_sink()->set_formatter(json_format() ? std::make_unique<JsonFormatter>(json_fields())
                                             : text_formatter());
}

}  // namespace

void set_level(std::string_view level) {
  const auto parsed = spdlog::level::from_str(std::string(level));
  // from_str maps unknown names to "off"; only accept "off" when it was asked for.
  if (parsed == spdlog::level::off && level != "off") {
    throw std::invalid_argument("unknown level '" + std::string(level) +
                                "' (trace, debug, info, warn, error, critical, off)");
  }
  std::lock_guard lock(registry_mutex());
  current_level() = parsed;
  spdlog::apply_all([parsed](const std::shared_ptr<spdlog::logger>& l) { l->set_level(parsed); });
}

void set_format(std::string_view format) {
  if (format != "text" && format != "json") {
    throw std::invalid_argument("unknown format '" + std::string(format) + "' (text, json)");
  }
  std::lock_guard lock(registry_mutex());
  json_format() = format == "json";
  apply_format();
}

void set_field(const std::string& key, const std::string& value) {
  std::lock_guard lock(registry_mutex());
  json_fields()[key] = value;
  apply_format();
}

std::shared_ptr<spdlog::logger> get(const std::string& component) {
  std::lock_guard lock(registry_mutex());
  if (auto existing = spdlog::get(component)) return existing;
  auto logger = std::make_shared<spdlog::logger>(component, shared_sink());
  logger->set_level(current_level());
  logger->flush_on(spdlog::level::info);
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace auditor::log
