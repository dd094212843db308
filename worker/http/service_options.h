// The options `auditor tick-api` and `auditor dashboard` share, in one place: where to
// listen, and how the server protects itself (README, "Securing the tick API and
// dashboard"): --host, --port, --max-connections, --max-body, --request-timeout,
// --keep-alive-timeout, --auth-token-file, --tls-cert, --tls-key. Like every option they
// come from the command line, AUDITOR_<OPTION> or a --config file (cli_options.h).
#pragma once

#include <cstddef>
#include <string>

#include "worker/common/cli_options.h"
#include "worker/http/server.h"

namespace auditor::web {

struct ServiceDefaults {
  int port = 8000;
  std::size_t max_connections = 64;
  std::size_t min_connections = 1;  // the least --max-connections the service works with
};

void add_service_options(cli::po::options_description& options, const ServiceDefaults& defaults);

struct ServiceSettings {
  std::string host;
  int port = 0;
  Server::Options server;
  [[nodiscard]] std::string scheme() const { return server.tls ? "https" : "http"; }
  // "TLS, bearer token, at most 64 connections, ..." for the start-up log line (no secret).
  [[nodiscard]] std::string describe() const;
};

// Reads what add_service_options declared (with the same `defaults`) into `base` (the
// service's other server options), loading the token file and the TLS certificate and key now.
// Throws ConfigError naming the option (and where it was set) for a bad value, an unreadable, empty
// or malformed token file, a missing half of --tls-cert/--tls-key, unreadable or invalid PEM files,
// or a key that is not the certificate's.
[[nodiscard]] ServiceSettings service_settings(const cli::po::variables_map& values,
                                               const cli::Origins& origins,
                                               const ServiceDefaults& defaults,
                                               Server::Options base);

}  // namespace auditor::web
