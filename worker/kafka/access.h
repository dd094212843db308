// Access problems said plainly. librdkafka reports a missing ACL as "Broker: Topic
// authorization failed" and a wrong password as a connection error it retries forever;
// both are configuration mistakes that no retry fixes, so the programs stop with a message
// that names the fix:
//   not authorized to write topic audit_rollups: grant WRITE on Topic:audit_rollups to User:worker
//   authentication failed for User:worker (SCRAM-SHA-512 at 127.0.0.1:9192): ...
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <string>
#include <string_view>

#include "worker/common/config.h"

namespace auditor::kafka {

// The broker's authorization refusals (topic, group, transactional id, cluster).
[[nodiscard]] bool is_authorization_error(rd_kafka_resp_err_t code);

// "not authorized to <action> <type> <name>: grant <operation> on <Type>:<name> to <principal>";
// `type` as Kafka spells resource types (Topic, Group, TransactionalId).
[[nodiscard]] std::string missing_acl(std::string_view action, std::string_view type,
                                      std::string_view name, std::string_view operation,
                                      std::string_view principal);

// The principal a client handle authenticates as ("User:<sasl.username>"), from its config.
[[nodiscard]] std::string principal_of(rd_kafka_t* client);

// With SSL or SASL configured: connects once and waits (at most `timeout`) for the broker
// to answer. Throws std::runtime_error saying that authentication (or the TLS handshake)
// failed, as soon as the broker refuses; returns when it answered, or quietly when it did
// not answer in time (the caller's own deadlines deal with an absent broker). Without
// SSL/SASL it returns at once.
void check_credentials(const KafkaSettings& settings, std::chrono::milliseconds timeout);

// What the commands pass: a refusal comes within a second or two; a broker that does not
// answer at all is left to the command's own handling after this.
constexpr std::chrono::milliseconds kCredentialsCheckTimeout{15'000};

}  // namespace auditor::kafka
