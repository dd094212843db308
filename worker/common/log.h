// Logging: one line per event with UTC time, level and component, to stderr.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

namespace auditor::log {

// Sets the level of every component ("trace".."critical", "off"). Throws
// std::invalid_argument on an unknown level.
void set_level(std::string_view level);

// The logger of a component ("worker", "kafka", "store", ...), created on first use.
// Thread-safe.
std::shared_ptr<spdlog::logger> get(const std::string& component);

}  // namespace auditor::log
