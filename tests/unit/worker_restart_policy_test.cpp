// engine/restart_policy.h: new Kafka clients after a client failure, unless the last
// restart was recent (another process with the same --instance-id); never after another
// kind of failure.
#include <gtest/gtest.h>

#include "worker/engine/restart_policy.h"

namespace auditor {
namespace {

using namespace std::chrono_literals;
using Kind = WorkerExit::Kind;

const RestartPolicy::Clock::time_point t0{};

TEST(RestartPolicy, RestartsAfterTheFirstClientFailure) {
  RestartPolicy policy(60s);
  EXPECT_TRUE(policy.restart_after(Kind::kClientFatal, t0 + 1h));
}

TEST(RestartPolicy, GivesUpWhenClientsFailAgainWithinTheWindow) {
  RestartPolicy policy(60s);
  ASSERT_TRUE(policy.restart_after(Kind::kClientFatal, t0 + 1h));
  EXPECT_FALSE(policy.restart_after(Kind::kClientFatal, t0 + 1h + 59s));
}

TEST(RestartPolicy, RestartsAgainOnceTheNewClientsOutlivedTheWindow) {
  RestartPolicy policy(60s);
  ASSERT_TRUE(policy.restart_after(Kind::kClientFatal, t0 + 1h));
  EXPECT_TRUE(policy.restart_after(Kind::kClientFatal, t0 + 1h + 60s));
  // The window counts from the latest restart.
  EXPECT_FALSE(policy.restart_after(Kind::kClientFatal, t0 + 1h + 61s));
  EXPECT_TRUE(policy.restart_after(Kind::kClientFatal, t0 + 1h + 2min));
}

TEST(RestartPolicy, NeverRestartsAfterOtherFailuresOrAStop) {
  RestartPolicy policy(60s);
  EXPECT_FALSE(policy.restart_after(Kind::kFatal, t0 + 1h));
  EXPECT_FALSE(policy.restart_after(Kind::kStopped, t0 + 1h));
  // ... and they do not count as restarts.
  EXPECT_TRUE(policy.restart_after(Kind::kClientFatal, t0 + 1h + 1s));
}

}  // namespace
}  // namespace auditor
