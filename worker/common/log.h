// Logging: one line per event with UTC time, level and component, to stderr; as text
// (default) or, with --log-format json, one JSON object per line (log_json_formatter.h).
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

namespace auditor::log {

// Sets the level of every component ("trace".."critical", "off"). Throws
// std::invalid_argument on an unknown level.
void set_level(std::string_view level);

// Sets the line format of every component: "text" or "json". Throws std::invalid_argument
// on another name. Thread-safe.
void set_format(std::string_view format);

// Adds a field every JSON line carries from now on in "fields" (the command, the
// application and instance id): what lets a log shipper tell replicas apart. Thread-safe.
void set_field(const std::string& key, const std::string& value);

// The logger of a component ("worker", "kafka", "store", ...), created on first use.
// Thread-safe.
std::shared_ptr<spdlog::logger> get(const std::string& component);

}  // namespace auditor::log
