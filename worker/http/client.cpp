#include "worker/http/client.h"

#include <httplib.h>
#include <strings.h>

namespace auditor::web {

std::optional<std::string> ClientReply::header(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (::strcasecmp(key.c_str(), name.c_str()) == 0) return value;
  }
  return std::nullopt;
}

std::pair<std::optional<ClientReply>, std::string> get(const std::string& address,
                                                       const std::string& target,
                                                       const Headers& headers,
                                                       const ClientTimeouts& timeouts) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return {std::nullopt, "'" + address + "' is not host:port"};
  int port = 0;
  try {
    port = std::stoi(address.substr(colon + 1));
  } catch (const std::exception&) {
    return {std::nullopt, "'" + address + "' is not host:port"};
  }
  httplib::Client client(address.substr(0, colon), port);
  client.set_connection_timeout(timeouts.connect);
  client.set_read_timeout(timeouts.read);
  client.set_write_timeout(timeouts.read);
  client.set_keep_alive(false);
  httplib::Headers sent;
  for (const auto& [name, value] : headers) sent.emplace(name, value);
  const auto result = client.Get(target, sent);
  if (!result) return {std::nullopt, httplib::to_string(result.error())};
  ClientReply reply{result->status, result->body, {}};
  for (const auto& [name, value] : result->headers) reply.headers.emplace_back(name, value);
  return {std::move(reply), ""};
}

std::string url_encode(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4U];
      out += kHex[u & 15U];
    }
  }
  return out;
}

}  // namespace auditor::web
