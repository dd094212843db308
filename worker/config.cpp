#include "worker/config.h"

#include <algorithm>

#include "topology/duration.h"

namespace auditor {

void validate_topic_name(const std::string& option, const std::string& name) {
  // Kafka's own rule (Topic.validate): 1..249 characters of [a-zA-Z0-9._-], not "." or "..".
  const bool legal_chars = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
  if (name.empty() || name.size() > 249 || name == "." || name == ".." || !legal_chars) {
    throw ConfigError(option + ": '" + name +
                      "' is not a valid Kafka topic name (1-249 characters of a-z A-Z 0-9 . _ -)");
  }
}

DurationMs parse_duration_option(const std::string& option, const std::string& text) {
  const auto parsed = parse_duration(text);
  if (!parsed) {
    throw ConfigError(option + ": '" + text + "' is not a duration (like 500ms, 30s, 5m, 1h, 1d)");
  }
  return *parsed;
}

std::pair<std::string, std::string> parse_kafka_property(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError("--kafka: '" + text + "' is not key=value");
  }
  return {text.substr(0, eq), text.substr(eq + 1)};
}

}  // namespace auditor
