// The options the tick API and the dashboard share (worker/http/service_options.h): from
// every source, validated at start-up with messages naming the option; the token never in
// the effective configuration. Also the TLS context's checks of certificate and key (files
// made with the `openssl` tool) and the connection limiter.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/unit/isolated_environment.h"
#include "worker/common/config.h"
#include "worker/common/effective_config.h"
#include "worker/http/bearer_auth.h"
#include "worker/http/connection_limiter.h"
#include "worker/http/service_options.h"
#include "worker/http/tls_context.h"

namespace auditor::web {
namespace {

namespace fs = std::filesystem;

class ServiceOptions : public test::IsolatedEnvironment {
 protected:
  ServiceSettings settings(std::vector<std::string> args) {
    args.insert(args.begin(), "tick-api");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    cli::po::options_description options("tick-api options");
    add_service_options(options, kDefaults);
    values_ = {};
    origins_ = {};
    EXPECT_TRUE(cli::parse(static_cast<int>(argv.size()), argv.data(), "tick-api", "", options,
                           values_, &origins_));
    return service_settings(values_, origins_, kDefaults, {});
  }

  // The ConfigError's message, "" when the settings were accepted.
  std::string error_of(std::vector<std::string> args) {
    try {
      (void)settings(std::move(args));
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  }

  // A self-signed certificate and its key, made by the openssl tool: false when it is missing.
  bool make_certificate(const std::string& name) {
    const std::string command =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout '" +
        (dir_ / (name + ".key")).string() + "' -out '" + (dir_ / (name + ".crt")).string() +
        "' >/dev/null 2>&1";
    return std::system(command.c_str()) == 0;
  }

  static constexpr ServiceDefaults kDefaults{.port = 8000, .max_connections = 64};
  cli::po::variables_map values_;
  cli::Origins origins_;
};

TEST_F(ServiceOptions, DefaultsAreOpenAndBounded) {
  const auto s = settings({});
  EXPECT_EQ(s.host, "0.0.0.0");
  EXPECT_EQ(s.port, 8000);
  EXPECT_EQ(s.scheme(), "http");
  EXPECT_EQ(s.server.max_connections, 64U);
  EXPECT_EQ(s.server.max_payload, 1048576U);
  EXPECT_EQ(s.server.request_timeout, std::chrono::seconds(10));
  EXPECT_EQ(s.server.keep_alive_timeout, std::chrono::seconds(5));
  EXPECT_EQ(s.server.auth, nullptr);
  EXPECT_EQ(s.server.tls, nullptr);
}

TEST_F(ServiceOptions, Sizes) {
  EXPECT_EQ(parse_size_option("--max-body", "1048576"), 1048576U);
  EXPECT_EQ(parse_size_option("--max-body", "512B"), 512U);
  EXPECT_EQ(parse_size_option("--max-body", "64KiB"), 65536U);
  EXPECT_EQ(parse_size_option("--max-body", "2MiB"), 2097152U);
  for (const char* bad : {"", "MiB", "1.5MiB", "-1", "1 MiB", "1mb", "1MB", "1GB", "x"}) {
    EXPECT_THROW((void)parse_size_option("--max-body", bad), ConfigError) << bad;
  }
  EXPECT_THROW((void)parse_size_option("--max-body", "99999999999999999999MiB"), ConfigError);
  EXPECT_EQ(settings({"--max-body", "64KiB"}).server.max_payload, 65536U);
  EXPECT_NE(error_of({"--max-body", "100"}).find("--max-body: must be between 1KiB and 64MiB"),
            std::string::npos);
  EXPECT_NE(error_of({"--max-body", "65MiB"}).find("--max-body"), std::string::npos);
}

TEST_F(ServiceOptions, LimitsAreValidated) {
  EXPECT_EQ(settings({"--max-connections", "3"}).server.max_connections, 3U);
  EXPECT_NE(error_of({"--max-connections", "0"}).find("--max-connections: must be 1-4096"),
            std::string::npos);
  EXPECT_NE(error_of({"--max-connections", "5000"}).find("--max-connections"), std::string::npos);
  // The old name still works, and loses against the new one.
  EXPECT_EQ(settings({"--threads", "7"}).server.max_connections, 7U);
  EXPECT_EQ(settings({"--threads", "7", "--max-connections", "9"}).server.max_connections, 9U);
  EXPECT_NE(error_of({"--threads", "0"}).find("--threads: must be"), std::string::npos);
  EXPECT_EQ(settings({"--request-timeout", "3s"}).server.request_timeout, std::chrono::seconds(3));
  EXPECT_NE(error_of({"--request-timeout", "20m"}).find("--request-timeout: must be between"),
            std::string::npos);
  EXPECT_NE(error_of({"--request-timeout", "soon"}).find("--request-timeout"), std::string::npos);
  EXPECT_NE(error_of({"--keep-alive-timeout", "500ms"}).find("--keep-alive-timeout"),
            std::string::npos);
  EXPECT_NE(error_of({"--port", "70000"}).find("--port: must be 0-65535"), std::string::npos);
}

TEST_F(ServiceOptions, TokenFileFromEverySourceNeverShownInTheConfiguration) {
  const std::string token = "Zq9-very-secret-token";
  const auto file = write_file("token", token + "\n");
  for (int source = 0; source < 3; ++source) {
    SCOPED_TRACE(source);
    std::vector<std::string> args;
    if (source == 0) args = {"--auth-token-file", file};
    if (source == 1) set_env("AUDITOR_AUTH_TOKEN_FILE", file);
    if (source == 2)
      args = {"--config", write_file("api.conf", "auth-token-file = " + file + "\n")};
    const auto s = settings(args);
    ASSERT_NE(s.server.auth, nullptr);
    EXPECT_TRUE(s.server.auth->allows("Bearer " + token));
    EXPECT_FALSE(s.server.auth->allows("Bearer " + token + "x"));
    for (const auto& line : cli::describe_configuration(values_, origins_)) {
      EXPECT_EQ(line.find(token), std::string::npos) << line;
    }
    EXPECT_EQ(s.describe().find(token), std::string::npos);
    unsetenv("AUDITOR_AUTH_TOKEN_FILE");
  }
}

TEST_F(ServiceOptions, BadTokenFilesStopTheStart) {
  EXPECT_NE(error_of({"--auth-token-file", write_file("empty", "")})
                .find("--auth-token-file: '" + (dir_ / "empty").string() + "' is empty"),
            std::string::npos);
  EXPECT_NE(error_of({"--auth-token-file", (dir_ / "nope").string()}).find("cannot read"),
            std::string::npos);
  set_env("AUDITOR_AUTH_TOKEN_FILE", (dir_ / "nope").string());
  EXPECT_NE(error_of({}).find("--auth-token-file (from AUDITOR_AUTH_TOKEN_FILE)"),
            std::string::npos);
}

TEST_F(ServiceOptions, TlsNeedsBothHalvesAndAMatchingPair) {
  EXPECT_NE(error_of({"--tls-cert", "x.crt"}).find("--tls-cert and --tls-key go together"),
            std::string::npos);
  EXPECT_NE(error_of({"--tls-key", "x.key"}).find("--tls-key: --tls-cert and --tls-key"),
            std::string::npos);
  if (!make_certificate("a") || !make_certificate("b")) GTEST_SKIP() << "no openssl tool";
  const auto a_crt = (dir_ / "a.crt").string();
  const auto a_key = (dir_ / "a.key").string();
  const auto b_key = (dir_ / "b.key").string();
  const auto s = settings({"--tls-cert", a_crt, "--tls-key", a_key});
  EXPECT_NE(s.server.tls, nullptr);
  EXPECT_EQ(s.scheme(), "https");
  EXPECT_NE(error_of({"--tls-cert", a_crt, "--tls-key", b_key})
                .find("is not the private key of the certificate"),
            std::string::npos);
  EXPECT_NE(error_of({"--tls-cert", a_key, "--tls-key", a_key}).find("is not a PEM certificate"),
            std::string::npos);
  EXPECT_NE(error_of({"--tls-cert", a_crt, "--tls-key", a_crt})
                .find("is not an unencrypted PEM private key"),
            std::string::npos);
  EXPECT_NE(error_of({"--tls-cert", (dir_ / "none.crt").string(), "--tls-key", a_key})
                .find("--tls-cert: cannot read"),
            std::string::npos);
  EXPECT_NE(error_of({"--tls-cert", a_crt, "--tls-key", dir_.string()}).find("is a directory"),
            std::string::npos);
}

// Socket pairs stand in for connections: a shut-down end reads as end of file.
struct Pair {
  Pair() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0); }
  ~Pair() {
    close(fds[0]);
    close(fds[1]);
  }
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;
  [[nodiscard]] bool shut_down() const {
    char c = 0;
    return recv(fds[1], &c, 1, MSG_DONTWAIT) == 0;
  }
  int fds[2] = {-1, -1};
};

TEST(ConnectionLimiter, AdmitsUpToTheLimitThenReclaimsIdleThenRejects) {
  ConnectionLimiter limiter(2);
  Pair a;
  Pair b;
  ASSERT_EQ(limiter.admit(), ConnectionLimiter::Admission::kServe);
  limiter.enter(a.fds[0]);
  ASSERT_EQ(limiter.admit(), ConnectionLimiter::Admission::kServe);
  limiter.enter(b.fds[0]);
  // Both busy: the third is turned away.
  EXPECT_EQ(limiter.admit(), ConnectionLimiter::Admission::kReject);
  EXPECT_EQ(limiter.connections(), 2U);
  // `a` waits for its next request: it makes room, once.
  limiter.set_idle(a.fds[0], true);
  EXPECT_EQ(limiter.admit(), ConnectionLimiter::Admission::kServe);
  EXPECT_TRUE(a.shut_down());
  EXPECT_FALSE(b.shut_down());
  EXPECT_EQ(limiter.admit(), ConnectionLimiter::Admission::kReject);
  // `a` leaves; its replacement arrives: at the limit again.
  limiter.leave(a.fds[0]);
  Pair c;
  limiter.enter(c.fds[0]);
  EXPECT_EQ(limiter.connections(), 2U);
  EXPECT_EQ(limiter.admit(), ConnectionLimiter::Admission::kReject);
  limiter.leave(b.fds[0]);
  EXPECT_EQ(limiter.admit(), ConnectionLimiter::Admission::kServe);
}

}  // namespace
}  // namespace auditor::web
