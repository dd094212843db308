#include "worker/http/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fstream>
#include <stdexcept>
#include <string>

namespace auditor::web {
namespace {

struct OpenSslError {
  unsigned long code = 0;
  std::string reason;  // e.g. "no start line" for a file that is not PEM
};

OpenSslError last_error() {
  OpenSslError error{ERR_peek_last_error(), "unknown error"};
  ERR_clear_error();
  if (error.code != 0) {
    const char* reason = ERR_reason_error_string(error.code);
    error.reason = reason != nullptr ? reason : "error " + std::to_string(error.code);
  }
  return error;
}

void require_readable(const char* option, const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw std::runtime_error(std::string(option) + ": '" + path.string() + "' is a directory");
  }
  if (!std::ifstream(path)) {
    throw std::runtime_error(std::string(option) + ": cannot read '" + path.string() + "'");
  }
}

// Without this callback OpenSSL would prompt on the terminal for an encrypted key's
// passphrase, and a service started by a supervisor would hang there.
int no_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) {
  return 0;
}

}  // namespace

TlsContext::TlsContext(const std::filesystem::path& certificate, const std::filesystem::path& key) {
  require_readable("--tls-cert", certificate);
  require_readable("--tls-key", key);
  ERR_clear_error();
  context_ = SSL_CTX_new(TLS_server_method());
  if (context_ == nullptr) throw std::runtime_error("TLS: " + last_error().reason);
  try {
    SSL_CTX_set_min_proto_version(context_, TLS1_2_VERSION);
    // Released as soon as a connection is idle: a thousand idle TLS connections should
    // not hold 34 KiB of buffers each.
    SSL_CTX_set_mode(context_, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_default_passwd_cb(context_, no_passphrase);
    if (SSL_CTX_use_certificate_chain_file(context_, certificate.c_str()) != 1) {
      throw std::runtime_error("--tls-cert: '" + certificate.string() +
                               "' is not a PEM certificate: " + last_error().reason);
    }
    // OpenSSL checks the key against the certificate as it loads it.
    if (SSL_CTX_use_PrivateKey_file(context_, key.c_str(), SSL_FILETYPE_PEM) != 1 &&
        ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
      throw std::runtime_error("--tls-key: '" + key.string() +
                               "' is not an unencrypted PEM private key: " + last_error().reason);
    }
    ERR_clear_error();
    if (SSL_CTX_check_private_key(context_) != 1) {
      ERR_clear_error();
      throw std::runtime_error("--tls-key: '" + key.string() +
                               "' is not the private key of the certificate in '" +
                               certificate.string() + "'");
    }
  } catch (...) {
    SSL_CTX_free(context_);
    throw;
  }
}

TlsContext::~TlsContext() {
  SSL_CTX_free(context_);
}

}  // namespace auditor::web
