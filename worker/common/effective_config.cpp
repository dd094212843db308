#include "worker/common/effective_config.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>

#include "worker/common/build_info.h"
#include "worker/common/log.h"

namespace auditor::cli {
namespace {

constexpr std::string_view kMask = "***";

std::string masked_property(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || !is_secret_property(text.substr(0, eq))) return text;
  return text.substr(0, eq + 1) + std::string(kMask);
}

// The option types the commands declare; anything else shows as "?", never throws.
std::string value_text(const po::variable_value& value) {
  const auto& any = value.value();
  if (const auto* s = boost::any_cast<std::string>(&any)) return *s;
  if (const auto* list = boost::any_cast<std::vector<std::string>>(&any)) {
    // key=value items as the clients get them: the last value of a key wins.
    std::vector<std::string> shown;
    for (const auto& item : *list) {
      const auto key = item.substr(0, item.find('='));
      std::erase_if(shown, [&](const std::string& s) { return s.substr(0, s.find('=')) == key; });
      shown.push_back(masked_property(item));
    }
    std::string joined;
    for (const auto& item : shown) joined += (joined.empty() ? "" : ", ") + item;
    return joined;
  }
  if (const auto* b = boost::any_cast<bool>(&any)) return *b ? "true" : "false";
  if (const auto* i = boost::any_cast<int>(&any)) return std::to_string(*i);
  if (const auto* i = boost::any_cast<std::int64_t>(&any)) return std::to_string(*i);
  if (const auto* u = boost::any_cast<std::uint64_t>(&any)) return std::to_string(*u);
  if (const auto* d = boost::any_cast<double>(&any)) return std::to_string(*d);
  if (any.empty()) return "(set)";  // a flag without a value
  return "?";
}

}  // namespace

bool is_secret_property(std::string_view key) {
  // A file or location option names where a secret is, not the secret: shown as is.
  if (key.ends_with("-file") || key.ends_with(".location")) return false;
  std::string lower(key);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  constexpr std::array<std::string_view, 5> kSecretParts = {"password", "secret", "sasl.jaas",
                                                            "oauthbearer.config", "key.pem"};
  return std::any_of(kSecretParts.begin(), kSecretParts.end(),
                     [&](std::string_view part) { return lower.find(part) != std::string::npos; });
}

std::vector<std::string> describe_configuration(const po::variables_map& values,
                                                const Origins& origins) {
  std::vector<std::string> lines;
  for (const auto& [name, value] : values) {
    if (name == "help" || value.empty()) continue;
    const auto origin = origins.find(name);
    std::string shown = is_secret_property(name) ? std::string(kMask) : value_text(value);
    lines.push_back(name + " = " + shown + " (" +
                    (origin != origins.end() ? origin->second : std::string("default")) + ")");
  }
  return lines;
}

void log_configuration(const std::string& command, const po::variables_map& values,
                       const Origins& origins) {
  auto logger = log::get(command);
  logger->info("auditor {} (commit {})", build_info::version(), build_info::commit());
  for (const auto& line : describe_configuration(values, origins)) {
    logger->info("config: {}", line);
  }
}

}  // namespace auditor::cli
