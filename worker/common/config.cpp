#include "worker/common/config.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "topology/duration.h"

namespace auditor {

std::string KafkaSettings::principal() const {
  for (const auto& [key, value] : properties) {
    if (key == "sasl.username" && !value.empty()) return "User:" + value;
  }
  return "this client's principal";
}

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

void validate_bootstrap_servers(const std::string& option, const std::string& servers) {
  if (servers.empty()) throw ConfigError(option + ": empty");
  std::size_t begin = 0;
  while (begin <= servers.size()) {
    const std::size_t end = std::min(servers.find(',', begin), servers.size());
    std::string entry = servers.substr(begin, end - begin);
    // librdkafka tolerates "a:9092, b:9092".
    entry.erase(0, entry.find_first_not_of(' '));
    entry.erase(entry.find_last_not_of(' ') + 1);
    const auto bad = [&](const std::string& why) {
      throw ConfigError(option + ": '" + entry + "' " + why + " (expected host:port[,host:port])");
    };
    std::string server = entry;
    if (const auto scheme = server.find("://"); scheme != std::string::npos) {
      server = server.substr(scheme + 3);
    }
    if (server.empty()) bad("is empty");
    const auto colon = server.rfind(':');
    const auto bracket = server.rfind(']');
    // The last ':' of "[::1]" is inside the brackets: no port there.
    if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
      const std::string port = server.substr(colon + 1);
      const bool digits =
          !port.empty() && port.size() <= 5 &&
          std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (!digits || std::stoi(port) < 1 || std::stoi(port) > 65535) {
        bad("has no valid port");
      }
      if (colon == 0) bad("has no host");
    }
    begin = end + 1;
  }
}

DurationMs parse_duration_option(const std::string& option, const std::string& text) {
  const auto parsed = parse_duration(text);
  if (!parsed) {
    throw ConfigError(option + ": '" + text + "' is not a duration (like 500ms, 30s, 5m, 1h, 1d)");
  }
  return *parsed;
}

std::uint64_t parse_size_option(const std::string& option, const std::string& text) {
  std::uint64_t number = 0;
  const char* end = text.data() + text.size();
  const auto [rest, error] = std::from_chars(text.data(), end, number);
  const std::string unit(rest, end);
  std::uint64_t scale = 0;
  if (unit.empty() || unit == "B") scale = 1;
  if (unit == "KiB") scale = kKiB;
  if (unit == "MiB") scale = kMiB;
  if (unit == "GiB") scale = kGiB;
  if (error != std::errc() || rest == text.data() || scale == 0) {
    throw ConfigError(option + ": '" + text +
                      "' is not a size (a whole number of bytes, KiB, MiB or GiB: 1048576, "
                      "64KiB, 512MiB, 1GiB)");
  }
  if (number > std::numeric_limits<std::uint64_t>::max() / scale) {
    throw ConfigError(option + ": '" + text + "' is too large");
  }
  return number * scale;
}

MemoryBudget worker_memory(const WorkerConfig& config) {
  const int consumers = config.standby_tasks == StandbyTasksMode::kAll ? 4 : 3;
  return split_memory(config.memory_bytes, consumers);
}

std::pair<std::string, std::string> parse_kafka_property(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError("--kafka: '" + text + "' is not key=value");
  }
  return {text.substr(0, eq), text.substr(eq + 1)};
}

}  // namespace auditor
