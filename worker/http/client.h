// A plain-HTTP GET to another replica (the worker forwarding a query to the owner of its
// key): deadlines on connecting and on the answer, no retries, no redirects. Keeps
// cpp-httplib inside http/. Any thread; each call has its own connection.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace auditor::web {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct ClientReply {
  int status = 0;
  std::string body;
  Headers headers;  // every response header, names as sent
  // The value of header `name` (case-insensitive), if present.
  [[nodiscard]] std::optional<std::string> header(const std::string& name) const;
};

struct ClientTimeouts {
  std::chrono::milliseconds connect{1'000};
  std::chrono::milliseconds read{3'000};
};

// GET http://`address``target` (`address`: host:port; `target`: path and query, already
// URL-encoded) with `headers`. The reply, or a one-line reason why there is none
// (connection refused, timed out, ...).
[[nodiscard]] std::pair<std::optional<ClientReply>, std::string> get(
    const std::string& address, const std::string& target, const Headers& headers,
    const ClientTimeouts& timeouts);

// `text` percent-encoded for a query string (RFC 3986 unreserved characters kept).
[[nodiscard]] std::string url_encode(const std::string& text);

}  // namespace auditor::web
