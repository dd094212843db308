#include "worker/common/cli_options.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>

#include "worker/common/effective_config.h"
#include "worker/common/log.h"

namespace auditor::cli {
namespace {

constexpr std::string_view kEnvPrefix = "AUDITOR_";
constexpr const char* kCommandLine = "command line";

std::string env_name(const std::string& option) {
  std::string name(kEnvPrefix);
  for (const char c : option) {
    name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

// AUDITOR_GRACE -> "grace"; "" for variables that are not one of this command's options
// (they may belong to another command, or to something else entirely).
std::string option_of_env(const po::options_description& all, const std::string& env) {
  if (env.rfind(kEnvPrefix, 0) != 0) return "";
  std::string name = env.substr(kEnvPrefix.size());
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) {
    return c == '_' ? '-' : static_cast<char>(std::tolower(c));
  });
  if (name == "help") return "";  // a stray AUDITOR_HELP must not turn every run into --help
  return all.find_nothrow(name, false) != nullptr ? name : "";
}

bool repeatable(const po::options_description& all, const std::string& key) {
  const auto* option = all.find_nothrow(key, false);
  return option != nullptr && option->semantic()->is_composing();
}

// Removes the options a higher-precedence source already set. Repeatable options stay:
// their values add up over the sources (kafka_settings resolves them per property).
void drop_overridden(po::parsed_options& source, const std::set<std::string>& given,
                     const po::options_description& all) {
  std::erase_if(source.options, [&](const po::option& o) {
    return given.contains(o.string_key) && !repeatable(all, o.string_key);
  });
}

// Notes where each option of `source` was set; `origin` empty: its environment variable.
void record(const po::parsed_options& source, const std::string& origin,
            std::set<std::string>& given, Origins& origins) {
  for (const auto& o : source.options) {
    const std::string here = origin.empty() ? env_name(o.string_key) : origin;
    auto& where = origins[o.string_key];
    if (where.empty()) {
      where = here;
    } else if (where.find(here) == std::string::npos) {
      where += " + " + here;
    }
    given.insert(o.string_key);
  }
}

std::optional<std::string> value_of(const po::parsed_options& source, const std::string& key) {
  for (const auto& o : source.options) {
    if (o.string_key == key && !o.value.empty()) return o.value.front();
  }
  return std::nullopt;
}

// Boost's messages name the option ("the argument ('abc') for option '--http-port' is
// invalid"); for the environment and files we add where it was set.
[[noreturn]] void fail(const po::error& e, const std::string& where) {
  throw ConfigError(where.empty() ? std::string(e.what()) : where + ": " + e.what());
}

std::string env_where(const po::error& e) {
  if (const auto* named = dynamic_cast<const po::error_with_option_name*>(&e)) {
    std::string name = named->get_option_name();
    name.erase(0, name.find_first_not_of('-'));
    return "environment variable " + env_name(name);
  }
  return "environment";
}

po::parsed_options parse_file(const std::string& path, const po::options_description& all) {
  std::ifstream in(path);
  if (!in) throw ConfigError("--config: cannot read '" + path + "'");
  const std::string where = "config file " + path;
  try {
    auto parsed = po::parse_config_file(in, all, /*allow_unregistered=*/true);
    for (const auto& o : parsed.options) {
      if (o.string_key == "config") throw ConfigError(where + ": 'config' cannot name a file");
      if (o.unregistered || o.string_key == "help") {
        log::get("config")->warn("{}: ignoring '{}': not an option of this command", where,
                                 o.string_key);
      }
    }
    std::erase_if(parsed.options,
                  [](const po::option& o) { return o.unregistered || o.string_key == "help"; });
    return parsed;
  } catch (const po::error& e) {
    fail(e, where);
  }
}

// A secret on the command line is readable by every local user (`ps`, /proc/<pid>/cmdline)
// and stays in shell histories and process listings: refuse it before anything runs.
void refuse_secrets(const po::parsed_options& command_line) {
  for (const auto& o : command_line.options) {
    std::string secret;
    if (o.string_key == "kafka") {
      for (const auto& text : o.value) {
        const std::string key = text.substr(0, text.find('='));
        if (is_secret_property(key)) secret = "--kafka " + key;
      }
    } else if (is_secret_property(o.string_key)) {
      secret = "--" + o.string_key;
    }
    if (!secret.empty()) {
      throw ConfigError(secret +
                        ": secrets are not accepted on the command line (other users see it in "
                        "ps); use the environment (AUDITOR_KAFKA_SASL_PASSWORD), the --config "
                        "file or --kafka-sasl-password-file");
    }
  }
}

}  // namespace

bool parse(int argc, char** argv, const std::string& command, const std::string& summary,
           const po::options_description& options, po::variables_map& values, Origins* origins) {
  log::set_field("command", command);
  po::options_description all(options);
  all.add_options()("config", po::value<std::string>(),
                    "read options from FILE: `name = value` lines, # comments")("help,h",
                                                                                "show this help");
  po::parsed_options from_command_line(&all);
  po::parsed_options from_env(&all);
  try {
    from_command_line = po::command_line_parser(argc, argv).options(all).run();
  } catch (const po::error& e) {
    fail(e, "");
  }
  for (const auto& o : from_command_line.options) {
    // Without a positional description Boost would silently drop stray words.
    if (o.string_key.empty()) {
      throw ConfigError("unexpected argument '" +
                        (o.original_tokens.empty() ? std::string() : o.original_tokens.front()) +
                        "' (options start with --)");
    }
  }
  refuse_secrets(from_command_line);
  try {
    from_env = po::parse_environment(
        all, [&all](const std::string& env) { return option_of_env(all, env); });
  } catch (const po::error& e) {
    fail(e, env_where(e));
  }

  Origins found;
  std::set<std::string> given;
  record(from_command_line, kCommandLine, given, found);
  drop_overridden(from_env, given, all);
  record(from_env, "", given, found);

  std::optional<po::parsed_options> from_file;
  auto config_path = value_of(from_command_line, "config");
  if (!config_path) config_path = value_of(from_env, "config");
  if (config_path) {
    from_file = parse_file(*config_path, all);
    drop_overridden(*from_file, given, all);
    record(*from_file, "config file " + *config_path, given, found);
  }

  // Lowest precedence first: repeatable values then end up in the order file, environment,
  // command line, so the last value of a property is the one that wins.
  try {
    if (from_file) po::store(*from_file, values);
  } catch (const po::error& e) {
    fail(e, "config file " + *config_path);
  }
  try {
    po::store(from_env, values);
  } catch (const po::error& e) {
    fail(e, env_where(e));
  }
  try {
    po::store(from_command_line, values);
    po::notify(values);
  } catch (const po::error& e) {
    fail(e, "");
  }
  if (origins != nullptr) *origins = std::move(found);
  if (values.count("help") != 0U) {
    std::cout << "usage: auditor " << command << " [options]\n"
              << summary << "\n\n"
              << all
              << "\nEvery option can also be set as an environment variable AUDITOR_<OPTION>\n"
                 "(AUDITOR_BOOTSTRAP_SERVERS=...) or in the --config file (bootstrap-servers = "
                 "...);\nthe command line wins over the environment, which wins over the file.\n";
    return false;
  }
  return true;
}

std::string option_label(const Origins& origins, const std::string& name) {
  const auto it = origins.find(name);
  if (it == origins.end() || it->second == kCommandLine) return "--" + name;
  return "--" + name + " (from " + it->second + ")";
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
