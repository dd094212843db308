// The address at which a worker's HTTP endpoints are reached by the other replicas
// (`--advertised-http host:port`), and how it travels to them: appended to the client id
// of the worker's stage-2 consumer, which DescribeConsumerGroups reports for every member
// together with its assignment (docs/architecture.md, "Queries from any replica").
// Pure functions, any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace auditor {

// Checks `host:port`: a host name or IPv4 address (letters, digits, '.', '-', at most 253
// characters) and a port 1-65535. Throws ConfigError naming `option` otherwise.
void validate_advertised_http(const std::string& option, const std::string& address);

// The default: this machine's host name and the bound HTTP port.
[[nodiscard]] std::string default_advertised_http(int port);

// "<base>|http=<address>" and back. The marker cannot occur in `base` (the application id
// is a topic-name prefix: letters, digits, '.', '_', '-'). nullopt for a client id without
// a valid address (a member of an older version, or another client in the group).
[[nodiscard]] std::string client_id_with_http(const std::string& base, const std::string& address);
[[nodiscard]] std::optional<std::string> http_of_client_id(std::string_view client_id);

}  // namespace auditor
