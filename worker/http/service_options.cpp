#include "worker/http/service_options.h"

#include <memory>
#include <stdexcept>

#include "worker/common/log.h"
#include "worker/http/bearer_auth.h"
#include "worker/http/tls_context.h"

namespace auditor::web {
namespace {

namespace po = cli::po;
using std::chrono::milliseconds;

constexpr std::size_t kMinBody = kKiB;
constexpr std::size_t kMaxBody = 64 * kMiB;

milliseconds duration_between(const po::variables_map& v, const cli::Origins& origins,
                              const std::string& name, milliseconds least, milliseconds most,
                              const std::string& range) {
  const std::string label = cli::option_label(origins, name);
  const milliseconds value(parse_duration_option(label, v[name].as<std::string>()).value);
  if (value < least || value > most) throw ConfigError(label + ": must be between " + range);
  return value;
}

std::string optional_path(const po::variables_map& v, const std::string& name) {
  return v.count(name) != 0U ? v[name].as<std::string>() : std::string();
}

}  // namespace

void add_service_options(po::options_description& options, const ServiceDefaults& defaults) {
  options.add_options()("host", po::value<std::string>()->default_value("0.0.0.0"),
                        "address to listen on")("port",
                                                po::value<int>()->default_value(defaults.port),
                                                "port to listen on (0: any free port, logged)")(
      "max-connections", po::value<std::size_t>()->default_value(defaults.max_connections),
      "connections served at once, each on a thread of its own (keep-alive connections and "
      "event streams hold theirs); beyond: an idle one is closed, else 503 at once")(
      "threads", po::value<std::size_t>(), "deprecated: the same as --max-connections")(
      "max-body", po::value<std::string>()->default_value("1MiB"),
      "largest request body (bytes, KiB or MiB); larger: 413")(
      "request-timeout", po::value<std::string>()->default_value("10s"),
      "a request must be in whole (head and body) this long after its first byte, else the "
      "connection is closed")("keep-alive-timeout", po::value<std::string>()->default_value("5s"),
                              "a connection waiting this long for its next request is closed")(
      "auth-token-file", po::value<std::string>(),
      "require 'Authorization: Bearer <token>' with the token in this file (except on "
      "/healthz, /readyz, /metrics)")("tls-cert", po::value<std::string>(),
                                      "serve HTTPS with this PEM certificate (chain)")(
      "tls-key", po::value<std::string>(), "the PEM private key of --tls-cert");
}

ServiceSettings service_settings(const po::variables_map& v, const cli::Origins& origins,
                                 const ServiceDefaults& defaults, Server::Options base) {
  ServiceSettings s;
  s.server = std::move(base);
  s.host = v["host"].as<std::string>();
  s.port = v["port"].as<int>();
  if (s.port < 0 || s.port > 65535) {
    throw ConfigError(cli::option_label(origins, "port") + ": must be 0-65535");
  }

  std::string connections = "max-connections";
  if (v["max-connections"].defaulted() && v.count("threads") != 0U) {
    connections = "threads";
    log::get("config")->warn("{} is deprecated: use --max-connections",
                             cli::option_label(origins, "threads"));
  }
  s.server.max_connections = v[connections].as<std::size_t>();
  constexpr std::size_t kMostConnections = 4096;
  if (s.server.max_connections < defaults.min_connections ||
      s.server.max_connections > kMostConnections) {
    throw ConfigError(cli::option_label(origins, connections) + ": must be " +
                      std::to_string(defaults.min_connections) + "-4096");
  }

  const std::string body_label = cli::option_label(origins, "max-body");
  s.server.max_payload = parse_size_option(body_label, v["max-body"].as<std::string>());
  if (s.server.max_payload < kMinBody || s.server.max_payload > kMaxBody) {
    throw ConfigError(body_label + ": must be between 1KiB and 64MiB");
  }
  s.server.request_timeout = duration_between(v, origins, "request-timeout", milliseconds(100),
                                              std::chrono::minutes(10), "100ms and 10m");
  s.server.keep_alive_timeout =
      duration_between(v, origins, "keep-alive-timeout", std::chrono::seconds(1),
                       std::chrono::minutes(10), "1s and 10m");

  if (const auto path = optional_path(v, "auth-token-file"); !path.empty()) {
    const std::string label = cli::option_label(origins, "auth-token-file");
    try {
      s.server.auth = std::make_shared<const BearerAuth>(read_token_file(path));
    } catch (const std::runtime_error& e) {
      throw ConfigError(label + ": " + e.what());
    }
    if (readable_by_others(path)) {
      log::get("config")->warn("{}: '{}' can be read by other users (chmod 600 it)", label, path);
    }
  } else if (v.count("auth-token-file") != 0U) {
    throw ConfigError(cli::option_label(origins, "auth-token-file") + ": empty path");
  }

  const auto cert = optional_path(v, "tls-cert");
  const auto key = optional_path(v, "tls-key");
  if (cert.empty() != key.empty()) {
    throw ConfigError(cli::option_label(origins, cert.empty() ? "tls-key" : "tls-cert") +
                      ": --tls-cert and --tls-key go together (give both or neither)");
  }
  if (!cert.empty()) {
    try {
      s.server.tls = std::make_shared<const TlsContext>(cert, key);
    } catch (const std::runtime_error& e) {
      throw ConfigError(e.what());
    }
  }
  return s;
}

std::string ServiceSettings::describe() const {
  return std::string(server.tls ? "TLS" : "plain HTTP") + ", " +
         (server.auth ? "bearer token required" : "no authentication") + ", at most " +
         std::to_string(server.max_connections) + " connections, bodies up to " +
         std::to_string(server.max_payload) + " bytes, requests in within " +
         std::to_string(server.request_timeout.count()) + " ms";
}

}  // namespace auditor::web
