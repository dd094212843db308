// The Kafka options every subcommand shares (--bootstrap-servers, --kafka, the client
// security options, --log-level, --log-format), checked with librdkafka before anything connects.
//
// The security options exist on their own (besides --kafka key=value) so that each can be
// set through the environment or the config file like any other option:
//   --kafka-security-protocol   AUDITOR_KAFKA_SECURITY_PROTOCOL   security.protocol
//   --kafka-sasl-mechanism      AUDITOR_KAFKA_SASL_MECHANISM      sasl.mechanism
//   --kafka-sasl-username       AUDITOR_KAFKA_SASL_USERNAME       sasl.username
//   --kafka-sasl-password       AUDITOR_KAFKA_SASL_PASSWORD       sasl.password
//   --kafka-sasl-password-file  AUDITOR_KAFKA_SASL_PASSWORD_FILE  sasl.password, read from FILE
//   --kafka-ssl-ca-location     AUDITOR_KAFKA_SSL_CA_LOCATION     ssl.ca.location
// Secrets are refused on the command line (cli::parse), where `ps` shows them.
#pragma once

#include "worker/common/cli_options.h"
#include "worker/common/config.h"

namespace auditor::cli {

// Adds --bootstrap-servers, --kafka key=value (repeatable), the security options above,
// --log-level and --log-format.
void add_kafka_options(po::options_description& options);

// Reads what add_kafka_options declared, applies --log-level and --log-format, reads the
// password file and checks the properties with librdkafka (no connection is made). Throws
// ConfigError naming the option; the message never contains a secret.
[[nodiscard]] KafkaSettings kafka_settings(const po::variables_map& values,
                                           const Origins& origins = {});

}  // namespace auditor::cli
