#include "worker/cli_options.h"

#include <algorithm>
#include <cctype>
#include <iostream>

#include "worker/log.h"

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

bool parse(int argc, char** argv, const std::string& command, const std::string& summary,
           const po::options_description& options, po::variables_map& values) {
  po::options_description all(options);
  all.add_options()("help,h", "show this help");
  try {
    po::store(po::parse_command_line(argc, argv, all), values);
    // Environment second: values already given on the command line are kept.
    po::store(po::parse_environment(all,
                                    [&all](const std::string& env) -> std::string {
                                      if (env.rfind("AUDITOR_", 0) != 0) return "";
                                      std::string name = env.substr(8);
                                      std::transform(name.begin(), name.end(), name.begin(),
                                                     [](unsigned char c) {
                                                       return c == '_' ? '-' : std::tolower(c);
                                                     });
                                      return all.find_nothrow(name, false) ? name : "";
                                    }),
              values);
    po::notify(values);
  } catch (const po::error& e) {
    throw ConfigError(e.what());
  }
  if (values.count("help") != 0U) {
    std::cout << "usage: auditor " << command << " [options]\n" << summary << "\n\n" << all;
    return false;
  }
  return true;
}

KafkaSettings kafka_settings(const po::variables_map& values) {
  try {
    log::set_level(values["log-level"].as<std::string>());
  } catch (const std::invalid_argument& e) {
    throw ConfigError(e.what());
  }
  KafkaSettings settings;
  settings.bootstrap_servers = values["bootstrap-servers"].as<std::string>();
  if (settings.bootstrap_servers.empty()) throw ConfigError("--bootstrap-servers: empty");
  if (values.count("kafka") != 0U) {
    for (const auto& property : values["kafka"].as<std::vector<std::string>>()) {
      settings.properties.push_back(parse_kafka_property(property));
    }
  }
  return settings;
}

int run_guarded(const std::string& command, int (*body)(int, char**), int argc, char** argv) {
  try {
    return body(argc, argv);
  } catch (const ConfigError& e) {
    std::cerr << "auditor " << command << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    log::get(command)->critical("{}", e.what());
    return 1;
  }
}

}  // namespace auditor::cli
