#include "worker/kafka/options.h"

#include <algorithm>

#include "worker/common/log.h"
#include "worker/kafka/client.h"

namespace auditor::cli {

void add_kafka_options(po::options_description& options) {
  options.add_options()("bootstrap-servers",
                        po::value<std::string>()->default_value("127.0.0.1:9092"),
                        "Kafka bootstrap servers")(
      "kafka", po::value<std::vector<std::string>>()->composing(),
      "extra librdkafka property key=value (repeatable), e.g. for SASL/TLS")(
      "log-level", po::value<std::string>()->default_value("info"),
      "trace, debug, info, warn, error, critical, off");
}

KafkaSettings kafka_settings(const po::variables_map& values, const Origins& origins) {
  try {
    log::set_level(values["log-level"].as<std::string>());
  } catch (const std::invalid_argument& e) {
    throw ConfigError(option_label(origins, "log-level") + ": " + e.what());
  }
  KafkaSettings settings;
  settings.bootstrap_servers = values["bootstrap-servers"].as<std::string>();
  validate_bootstrap_servers(option_label(origins, "bootstrap-servers"),
                             settings.bootstrap_servers);
  if (values.count("kafka") != 0U) {
    for (const auto& text : values["kafka"].as<std::vector<std::string>>()) {
      auto property = parse_kafka_property(text);
      // Values arrive lowest precedence first: a later one for the same key replaces it.
      auto same = std::find_if(settings.properties.begin(), settings.properties.end(),
                               [&](const auto& p) { return p.first == property.first; });
      if (same != settings.properties.end()) {
        same->second = std::move(property.second);
      } else {
        settings.properties.push_back(std::move(property));
      }
    }
  }
  // librdkafka checks names and values now, before any client connects.
  (void)kafka::make_conf(settings, {});
  return settings;
}

}  // namespace auditor::cli
