// The access messages (worker/kafka/access.h): what an operator reads when an ACL or a
// credential is wrong. No broker: the credentials check returns at once without SSL/SASL.
#include <gtest/gtest.h>

#include <chrono>

#include "worker/kafka/access.h"

namespace auditor {
namespace {

TEST(KafkaAccess, MissingAclNamesTheResourceTheOperationAndThePrincipal) {
  EXPECT_EQ(kafka::missing_acl("write", "Topic", "audit_rollups", "WRITE", "User:worker"),
            "not authorized to write topic audit_rollups: grant WRITE on Topic:audit_rollups to "
            "User:worker");
  EXPECT_EQ(kafka::missing_acl("use", "TransactionalId", "auditor-a", "WRITE", "User:worker"),
            "not authorized to use transactionalid auditor-a: grant WRITE on "
            "TransactionalId:auditor-a to User:worker");
}

TEST(KafkaAccess, AuthorizationErrorsAreTheBrokersRefusals) {
  for (const auto code :
       {RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED}) {
    EXPECT_TRUE(kafka::is_authorization_error(code)) << rd_kafka_err2name(code);
  }
  for (const auto code : {RD_KAFKA_RESP_ERR_NO_ERROR, RD_KAFKA_RESP_ERR__TRANSPORT,
                          RD_KAFKA_RESP_ERR__AUTHENTICATION, RD_KAFKA_RESP_ERR_NOT_COORDINATOR}) {
    EXPECT_FALSE(kafka::is_authorization_error(code)) << rd_kafka_err2name(code);
  }
}

TEST(KafkaAccess, PrincipalComesFromTheSaslUsername) {
  KafkaSettings settings;
  EXPECT_EQ(settings.principal(), "this client's principal");
  settings.properties = {{"sasl.username", "reader"}};
  EXPECT_EQ(settings.principal(), "User:reader");
}

TEST(KafkaAccess, PlaintextNeedsNoCredentialsCheck) {
  KafkaSettings settings;
  settings.bootstrap_servers = "127.0.0.1:1";  // nothing listens: would time out if checked
  const auto started = std::chrono::steady_clock::now();
  kafka::check_credentials(settings, std::chrono::seconds(10));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1));
}

}  // namespace
}  // namespace auditor
