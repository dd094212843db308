#include "worker/kafka/access.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>

#include "worker/common/log.h"
#include "worker/kafka/callback_invoker.h"
#include "worker/kafka/client.h"

namespace auditor::kafka {
namespace {

std::string property(const KafkaSettings& settings, const std::string& key) {
  for (const auto& [k, v] : settings.properties) {
    if (k == key) return v;
  }
  return "";
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// What the check's error callback saw; served on the checking thread (rd_kafka_poll).
struct Refusal {
  rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR_NO_ERROR;
  std::string reason;
};

bool is_refusal(rd_kafka_resp_err_t code) {
  return code == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
         code == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED || code == RD_KAFKA_RESP_ERR__SSL;
}

void on_check_error(rd_kafka_t* /*rk*/, int err, const char* reason, void* opaque) {
  invoke_callback("error", [&] {
    auto* refusal = static_cast<Refusal*>(opaque);
    const auto code = static_cast<rd_kafka_resp_err_t>(err);
    if (is_refusal(code) && refusal->code == RD_KAFKA_RESP_ERR_NO_ERROR) {
      refusal->code = code;
      refusal->reason = reason;
    }
  });
}

}  // namespace

bool is_authorization_error(rd_kafka_resp_err_t code) {
  return code == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
         code == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED ||
         code == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED ||
         code == RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
}

std::string missing_acl(std::string_view action, std::string_view type, std::string_view name,
                        std::string_view operation, std::string_view principal) {
  std::string text = "not authorized to ";
  text.append(action).append(" ").append(lower(type)).append(" ").append(name);
  text.append(": grant ").append(operation).append(" on ").append(type).append(":").append(name);
  text.append(" to ").append(principal);
  return text;
}

std::string principal_of(rd_kafka_t* client) {
  std::array<char, 256> name{};
  std::size_t size = name.size();
  if (rd_kafka_conf_get(rd_kafka_conf(client), "sasl.username", name.data(), &size) ==
          RD_KAFKA_CONF_OK &&
      name[0] != '\0') {
    return "User:" + std::string(name.data());
  }
  return "this client's principal";
}

void check_credentials(const KafkaSettings& settings, std::chrono::milliseconds timeout) {
  const std::string protocol = lower(property(settings, "security.protocol"));
  if (protocol.empty() || protocol == "plaintext") return;
  Refusal refusal;
  ConfPtr conf = make_conf(settings, {{"client.id", "auditor-credentials-check"}});
  rd_kafka_conf_set_error_cb(conf.get(), on_check_error);
  rd_kafka_conf_set_opaque(conf.get(), &refusal);
  const HandlePtr client = make_client(RD_KAFKA_PRODUCER, std::move(conf));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  constexpr int kStepMs = 250;
  while (std::chrono::steady_clock::now() < deadline) {
    const rd_kafka_metadata_t* raw = nullptr;
    // No topics: the answer only proves the connection is authenticated.
    const auto err = rd_kafka_metadata(client.get(), 0, nullptr, &raw, kStepMs);
    const MetadataPtr metadata(raw);
    rd_kafka_poll(client.get(), 0);  // serves on_check_error
    if (refusal.code == RD_KAFKA_RESP_ERR__SSL) {
      throw std::runtime_error("TLS connection to " + settings.bootstrap_servers +
                               " failed: " + refusal.reason +
                               " (check --kafka-ssl-ca-location and --kafka-security-protocol)");
    }
    if (refusal.code != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const std::string mechanism = property(settings, "sasl.mechanism");
      std::string hint = "check the username and password";
      // confluentinc/librdkafka#4895: before 2.6.1 the SCRAM final message repeats the
      // client nonce, which Kafka 4.0+ brokers reject as invalid credentials.
      if (lower(mechanism).rfind("scram", 0) == 0 && rd_kafka_version() < 0x020601ff) {
        hint.append("; if they are right and the broker runs Kafka 4.0 or later: librdkafka ")
            .append(rd_kafka_version_str())
            .append(" cannot log in there with SCRAM (fixed in 2.6.1), use SASL/PLAIN over SSL");
      }
      std::string message = "authentication failed for " + settings.principal();
      message.append(" (").append(mechanism).append(" at ").append(settings.bootstrap_servers);
      message.append("): ").append(refusal.reason).append(" (").append(hint).append(")");
      throw std::runtime_error(message);
    }
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  }
  log::get("kafka")->warn("no answer from {} within {} ms; going on (it may still be starting)",
                          settings.bootstrap_servers, timeout.count());
}

}  // namespace auditor::kafka
