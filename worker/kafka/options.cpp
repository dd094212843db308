#include "worker/kafka/options.h"

#include <algorithm>
#include <array>
#include <fstream>

#include "worker/common/log.h"
#include "worker/kafka/client.h"

namespace auditor::cli {
namespace {

struct SecurityOption {
  const char* option;
  const char* property;
  const char* help;
};

constexpr std::array<SecurityOption, 5> kSecurityOptions = {{
    {"kafka-security-protocol", "security.protocol",
     "security.protocol: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"},
    {"kafka-sasl-mechanism", "sasl.mechanism", "sasl.mechanism, e.g. SCRAM-SHA-512"},
    {"kafka-sasl-username", "sasl.username", "sasl.username"},
    {"kafka-sasl-password", "sasl.password",
     "sasl.password; from the environment or the config file only, never the command line"},
    {"kafka-ssl-ca-location", "ssl.ca.location", "ssl.ca.location: CA certificate file (PEM)"},
}};
constexpr const char* kPasswordFile = "kafka-sasl-password-file";

// The file's first line (a trailing newline is not part of the password, as with Docker
// and Kubernetes secrets). The message names the file, never its contents.
std::string read_password_file(const std::string& label, const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(label + ": cannot read '" + path + "'");
  std::string password;
  std::getline(in, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) throw ConfigError(label + ": '" + path + "' is empty");
  return password;
}

void set_property(KafkaSettings& settings, std::string key, std::string value) {
  auto same = std::find_if(settings.properties.begin(), settings.properties.end(),
                           [&](const auto& p) { return p.first == key; });
  if (same != settings.properties.end()) {
    same->second = std::move(value);
  } else {
    settings.properties.emplace_back(std::move(key), std::move(value));
  }
}

}  // namespace

void add_kafka_options(po::options_description& options) {
  options.add_options()("bootstrap-servers",
                        po::value<std::string>()->default_value("127.0.0.1:9092"),
                        "Kafka bootstrap servers")(
      "kafka", po::value<std::vector<std::string>>()->composing(),
      "extra librdkafka property key=value (repeatable), e.g. for SASL/TLS");
  for (const auto& o : kSecurityOptions) {
    options.add_options()(o.option, po::value<std::string>(), o.help);
  }
  options.add_options()(kPasswordFile, po::value<std::string>(),
                        "read sasl.password from FILE (its first line)")(
      "log-level", po::value<std::string>()->default_value("info"),
      "trace, debug, info, warn, error, critical, off")(
      "log-format", po::value<std::string>()->default_value("text"),
      "text (one readable line per event) or json (one JSON object per line: time, level, "
      "component, message, fields)");
}

KafkaSettings kafka_settings(const po::variables_map& values, const Origins& origins) {
  try {
    log::set_level(values["log-level"].as<std::string>());
  } catch (const std::invalid_argument& e) {
    throw ConfigError(option_label(origins, "log-level") + ": " + e.what());
  }
  try {
    log::set_format(values["log-format"].as<std::string>());
  } catch (const std::invalid_argument& e) {
    throw ConfigError(option_label(origins, "log-format") + ": " + e.what());
  }
  KafkaSettings settings;
  settings.bootstrap_servers = values["bootstrap-servers"].as<std::string>();
  validate_bootstrap_servers(option_label(origins, "bootstrap-servers"),
                             settings.bootstrap_servers);
  if (values.count("kafka") != 0U) {
    // Values arrive lowest precedence first: a later one for the same key replaces it.
    for (const auto& text : values["kafka"].as<std::vector<std::string>>()) {
      auto [key, value] = parse_kafka_property(text);
      set_property(settings, std::move(key), std::move(value));
    }
  }
  const auto from_kafka = [&](const std::string& property) {
    return std::any_of(settings.properties.begin(), settings.properties.end(),
                       [&](const auto& p) { return p.first == property; });
  };
  // One property set two ways has no obvious winner: make the user pick one.
  const auto conflict = [&](const std::string& option, const std::string& property) {
    if (from_kafka(property)) {
      throw ConfigError(option_label(origins, option) + " and --kafka " + property +
                        "=... both set " + property + ": use one of them");
    }
  };
  for (const auto& o : kSecurityOptions) {
    if (values.count(o.option) == 0U) continue;
    conflict(o.option, o.property);
    set_property(settings, o.property, values[o.option].as<std::string>());
  }
  if (values.count(kPasswordFile) != 0U) {
    if (values.count("kafka-sasl-password") != 0U) {
      throw ConfigError(option_label(origins, kPasswordFile) + " and " +
                        option_label(origins, "kafka-sasl-password") + ": use one of them");
    }
    conflict(kPasswordFile, "sasl.password");
    set_property(settings, "sasl.password",
                 read_password_file(option_label(origins, kPasswordFile),
                                    values[kPasswordFile].as<std::string>()));
  }
  // librdkafka checks names and values now, before any client connects.
  (void)kafka::make_conf(settings, {});
  return settings;
}

}  // namespace auditor::cli
