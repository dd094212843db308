// The server side of TLS (`--tls-cert`, `--tls-key`): an OpenSSL context loaded and checked
// at start-up, shared by every connection of a server.
#pragma once

#include <filesystem>
#include <memory>

struct ssl_ctx_st;

namespace auditor::web {

// Immutable after construction; OpenSSL contexts are safe to use from many threads at once
// (each connection makes its own session from it).
class TlsContext {
 public:
  // Loads a PEM certificate chain and its PEM private key (unencrypted: there is no one to
  // type a passphrase). Throws std::runtime_error saying which file is unreadable or
  // invalid, or that the key does not belong to the certificate.
  TlsContext(const std::filesystem::path& certificate, const std::filesystem::path& key);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  [[nodiscard]] ssl_ctx_st* get() const { return context_; }

 private:
  ssl_ctx_st* context_ = nullptr;
};

}  // namespace auditor::web
