// The tick API while Kafka is away: 503 within the produce timeout, /healthz still up, and
// back to 200 once the broker returns; every acknowledged tick is in the topic exactly once.
//
// Runs against a second broker of its own (second_broker.h), so stopping it does not
// disturb the shared one other tests use.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <thread>

#include "tests/support/second_broker.h"
#include "tests/support/services.h"

namespace auditor::api_test {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

struct Answer {
  int status = -1;  // -1: no HTTP answer
  milliseconds took{0};
};

Answer post(httplib::Client& client, const std::string& path, const std::string& body = "") {
  const auto started = Clock::now();
  const auto res = body.empty() ? client.Post(path) : client.Post(path, body, "application/json");
  return {res ? res->status : -1, std::chrono::duration_cast<milliseconds>(Clock::now() - started)};
}

std::string tick_path(const std::string& name) {
  return "/tick?process_name=" + name + "&process_activity=outage";
}

std::string batch_body(const std::string& prefix, int n) {
  json ticks = json::array();
  for (int i = 0; i < n; ++i) {
    ticks.push_back({{"process_name", prefix + std::to_string(i)}, {"process_activity", "outage"}});
  }
  return ticks.dump();
}

TEST(BrokerOutage, AnswersWithinTheTimeoutAndRecovers) {
  constexpr auto kTimeout = seconds(3);
  // The bound the API promises: the produce timeout, plus scheduling slack on a busy machine.
  constexpr auto kBound = kTimeout + seconds(2);
  test::SecondBroker broker("kafka-b", 19092);
  ASSERT_EQ(broker.run("start"), "");
  const std::string topic = "api_outage_" + test::unique_suffix();
  Service api = start_service(
      "tick-api", {"--input-topic", topic, "--produce-timeout", "3s", "--partitions", "2"}, topic,
      broker.bootstrap());
  auto client = api.client();
  std::set<std::string> acknowledged;

  // The API creates the topic in the background; wait until ticks go through.
  const auto ready_by = deadline_in(seconds(60));
  // A call answered 504 may still land (its outcome is unknown): each try has its own name.
  int warmups = 0;
  while (post(client, tick_path("warmup-" + std::to_string(++warmups))).status != 200) {
    ASSERT_LT(Clock::now(), ready_by) << api.process->log_tail();
  }
  acknowledged.insert("warmup-" + std::to_string(warmups));
  for (int i = 0; i < 5; ++i) {
    const std::string name = "before-" + std::to_string(i);
    ASSERT_EQ(post(client, tick_path(name)).status, 200);
    acknowledged.insert(name);
  }
  ASSERT_EQ(post(client, "/ticks", batch_body("batch-before-", 20)).status, 200);
  for (int i = 0; i < 20; ++i) acknowledged.insert("batch-before-" + std::to_string(i));

  ASSERT_EQ(broker.run("stop"), "");
  // 503: not written; 504: Kafka did not confirm in time, maybe written (a batch whole).
  std::set<std::string> refused;
  for (int i = 0; i < 3; ++i) {
    const std::string name = "down-" + std::to_string(i);
    const auto single = post(client, tick_path(name));
    EXPECT_TRUE(single.status == 503 || single.status == 504) << single.status;
    EXPECT_LE(single.took, kBound) << "POST /tick took " << single.took.count() << " ms";
    if (single.status == 503) refused.insert(name);
  }
  const auto batch = post(client, "/ticks", batch_body("batch-down-", 20));
  EXPECT_TRUE(batch.status == 503 || batch.status == 504) << batch.status;
  EXPECT_LE(batch.took, kBound) << "POST /ticks took " << batch.took.count() << " ms";
  std::cout << "[ outage ] singles refused (503): " << refused.size() << " of 3, batch answered "
            << batch.status << "\n";
  const auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  ASSERT_EQ(broker.run("start"), "");
  const auto restarted = Clock::now();
  const auto recover_by = deadline_in(seconds(90));
  int attempt = 0;
  for (;;) {
    const std::string name = "after-" + std::to_string(attempt++);
    const auto a = post(client, tick_path(name));
    if (a.status == 200) {
      acknowledged.insert(name);
      break;
    }
    // 504: sent while the broker came back, not confirmed in time (may be in the topic).
    ASSERT_TRUE(a.status == 503 || a.status == 504) << a.status;
    ASSERT_LT(Clock::now(), recover_by) << "no recovery\n" << api.process->log_tail();
  }
  std::cout << "[ recovery ] first 200 "
            << std::chrono::duration_cast<milliseconds>(Clock::now() - restarted).count()
            << " ms after the broker answered again\n";
  // The transactional producer re-initialises on its first batch after an outage.
  bool batch_ok = false;
  for (int i = 0; i < 10 && !batch_ok; ++i) {
    batch_ok = post(client, "/ticks", batch_body("batch-after-", 20)).status == 200;
  }
  ASSERT_TRUE(batch_ok) << api.process->log_tail();
  for (int i = 0; i < 20; ++i) acknowledged.insert("batch-after-" + std::to_string(i));

  // Every acknowledged tick is in the topic exactly once (read_committed).
  ::setenv("AUDITOR_IT_BOOTSTRAP_SERVERS", broker.bootstrap().c_str(), 1);
  test::ConsumeOptions options;
  options.idle = seconds(3);
  options.deadline = deadline_in(seconds(60));
  std::map<std::string, int> seen;
  int batch_down_seen = 0;
  for (const auto& r : test::consume_all(topic, options)) {
    const auto name = json::parse(*r.value).at("process_name").get<std::string>();
    ++seen[name];
    if (name.rfind("batch-down-", 0) == 0) ++batch_down_seen;
  }
  for (const auto& name : acknowledged) EXPECT_EQ(seen[name], 1) << name;
  for (const auto& [name, times] : seen) {
    EXPECT_TRUE(acknowledged.contains(name) || name.rfind("after-", 0) == 0 ||
                name.rfind("down-", 0) == 0 || name.rfind("warmup-", 0) == 0 ||
                name.rfind("batch-down-", 0) == 0)
        << name;
    EXPECT_FALSE(refused.contains(name)) << name << " was answered 503 but is in the topic";
  }
  // A batch answered 503 was aborted: none of it visible; after a 504, all of it or none.
  if (batch.status == 503) {
    EXPECT_EQ(batch_down_seen, 0);
  }
  EXPECT_TRUE(batch_down_seen == 0 || batch_down_seen == 20) << batch_down_seen;
  EXPECT_EQ(stop(*api.process), "");
}

}  // namespace
}  // namespace auditor::api_test
