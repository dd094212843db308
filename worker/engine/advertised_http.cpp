#include "worker/engine/advertised_http.h"

#include <unistd.h>

#include <array>
#include <charconv>

#include "worker/common/config.h"

namespace auditor {
namespace {

constexpr std::string_view kMarker = "|http=";

// The reason `address` is not host:port, or empty when it is.
std::string problem(std::string_view address) {
  const auto colon = address.rfind(':');
  if (colon == std::string_view::npos) return "not host:port";
  const std::string_view host = address.substr(0, colon);
  const std::string_view port = address.substr(colon + 1);
  if (host.empty() || host.size() > 253) return "the host must be 1 to 253 characters";
  for (const char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-';
    if (!ok) return "the host may only contain letters, digits, '.' and '-'";
  }
  int number = 0;
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || error != std::errc{} || end != port.data() + port.size() || number < 1 ||
      number > 65535) {
    return "the port must be a number from 1 to 65535";
  }
  return "";
}

}  // namespace

void validate_advertised_http(const std::string& option, const std::string& address) {
  if (const std::string why = problem(address); !why.empty()) {
    throw ConfigError(option + ": '" + address + "': " + why + " (e.g. worker-0.auditor:8080)");
  }
}

std::string default_advertised_http(int port) {
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0 || host[0] == '\0') {
    return "localhost:" + std::to_string(port);
  }
  return std::string(host.data()) + ":" + std::to_string(port);
}

std::string client_id_with_http(const std::string& base, const std::string& address) {
  return base + std::string(kMarker) + address;
}

std::optional<std::string> http_of_client_id(std::string_view client_id) {
  const auto at = client_id.rfind(kMarker);
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view address = client_id.substr(at + kMarker.size());
  if (!problem(address).empty()) return std::nullopt;
  return std::string(address);
}

}  // namespace auditor
