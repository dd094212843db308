// `auditor tick-api` against the real broker: acknowledged calls land in the topic exactly
// once, every invalid input answers 422 naming the field (and produces nothing), a batch is
// all or nothing, and /metrics is strict Prometheus text (tests/support/prometheus_text.h).
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "tests/support/prometheus_text.h"
#include "tests/support/services.h"

namespace auditor::api_test {
namespace {

using nlohmann::json;

class TickApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    topic_ = "api_events_" + test::unique_suffix();
    test::create_topic(topic_, 3);
    api_ = start_service("tick-api", {"--input-topic", topic_}, topic_);
  }
  void TearDown() override {
    if (api_.process) {
      EXPECT_EQ(stop(*api_.process), "");
    }
    if (!HasFailure()) test::delete_topics({topic_});
  }

  // Every record of the topic (read_committed), once `expected` arrived and nothing more
  // came for two seconds (a duplicate would show up in that time).
  std::vector<test::Record> records(std::size_t expected) {
    test::ConsumeOptions options;
    options.idle = std::chrono::seconds(2);
    options.deadline = deadline_in(std::chrono::seconds(30));
    auto all = test::consume_all(topic_, options);
    EXPECT_GE(all.size(), expected);
    return all;
  }

  std::string topic_;
  Service api_;
};

struct Call {
  std::string path;  // with query string
  std::string body;  // empty: no body
  json event;        // what must land
};

TEST_F(TickApiTest, AcknowledgedCallsLandExactlyOnce) {
  const std::string long_name(256, 'n');
  std::vector<Call> calls = {
      {"/tick?process_name=auth&process_activity=login&count=3",
       "",
       {{"process_name", "auth"}, {"process_activity", "login"}, {"count", 3}}},
      {"/tick?process_name=auth&process_activity=logout",
       "",
       {{"process_name", "auth"}, {"process_activity", "logout"}, {"count", 1}}},
      {"/tick?process_name=" + url_encode("zürich|\"q\" 東京") +
           "&process_activity=" + url_encode("a|b") + "&count=%2B7",
       "",
       {{"process_name", "zürich|\"q\" 東京"}, {"process_activity", "a|b"}, {"count", 7}}},
      {"/tick",
       R"({"process_name":"billing","process_activity":"charge","count":1000000000})",
       {{"process_name", "billing"}, {"process_activity", "charge"}, {"count", 1000000000}}},
      {"/tick",
       R"({"process_name":"billing","process_activity":"refund","extra":[1,{"x":2}]})",
       {{"process_name", "billing"}, {"process_activity", "refund"}, {"count", 1}}},
      {"/tick",
       json{{"process_name", long_name}, {"process_activity", "</script>"}}.dump(),
       {{"process_name", long_name}, {"process_activity", "</script>"}, {"count", 1}}},
  };
  // Many calls, concurrently, to catch lost or duplicated records under load.
  for (int i = 0; i < 200; ++i) {
    const std::string name = "svc-" + std::to_string(i);
    calls.push_back(
        {"/tick?process_name=" + name + "&process_activity=run&count=" + std::to_string(i + 1),
         "",
         {{"process_name", name}, {"process_activity", "run"}, {"count", i + 1}}});
  }
  std::vector<std::thread> threads;
  std::vector<std::string> failures(calls.size());
  for (std::size_t t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto client = api_.client();
      for (std::size_t i = t; i < calls.size(); i += 8) {
        const auto res = calls[i].body.empty()
                             ? client.Post(calls[i].path)
                             : client.Post(calls[i].path, calls[i].body, "application/json");
        if (!res) {
          failures[i] = "no answer: " + httplib::to_string(res.error());
        } else if (res->status != 200) {
          failures[i] = std::to_string(res->status) + " " + res->body;
        } else if (json::parse(res->body) !=
                   json{{"status", "success"}, {"event", calls[i].event}}) {
          failures[i] = "unexpected answer " + res->body;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(failures[i], "") << calls[i].path << " " << calls[i].body;
  }

  std::map<std::string, int> seen;  // value -> times
  for (const auto& r : records(calls.size())) {
    ASSERT_TRUE(r.value && r.key);
    const auto value = json::parse(*r.value);
    // Keyed by process and activity: canonical JSON, so one key per pair.
    EXPECT_EQ(*r.key, (json{{"process_name", value.at("process_name")},
                            {"process_activity", value.at("process_activity")}}
                           .dump()));
    ++seen[value.dump()];
  }
  EXPECT_EQ(seen.size(), calls.size());
  for (const auto& call : calls) {
    EXPECT_EQ(seen[call.event.dump()], 1) << call.event.dump();
  }
}

struct Invalid {
  std::string path;
  std::string body;
  json loc;
  std::string type;
};

TEST_F(TickApiTest, EveryInvalidInputAnswers422NamingTheField) {
  const std::string q = "/tick?process_name=p&process_activity=a";
  const std::string too_long(257, 'x');
  const std::vector<Invalid> cases = {
      {"/tick?process_activity=a", "", {"query", "process_name"}, "missing"},
      {"/tick?process_name=p", "", {"query", "process_activity"}, "missing"},
      {"/tick", "", {"query", "process_name"}, "missing"},
      {"/tick?process_name=&process_activity=a", "", {"query", "process_name"}, "string_too_short"},
      {"/tick?process_name=p&process_activity=" + too_long,
       "",
       {"query", "process_activity"},
       "string_too_long"},
      {"/tick?process_name=%FF%FE&process_activity=a",
       "",
       {"query", "process_name"},
       "string_unicode"},
      {"/tick?process_name=p&process_activity=%C0%AF",
       "",
       {"query", "process_activity"},
       "string_unicode"},
      {q + "&count=0", "", {"query", "count"}, "greater_than_equal"},
      {q + "&count=-5", "", {"query", "count"}, "greater_than_equal"},
      {q + "&count=1000000001", "", {"query", "count"}, "less_than_equal"},
      {q + "&count=99999999999999999999999", "", {"query", "count"}, "less_than_equal"},
      {q + "&count=abc", "", {"query", "count"}, "int_parsing"},
      {q + "&count=1.5", "", {"query", "count"}, "int_parsing"},
      {q + "&count=", "", {"query", "count"}, "int_parsing"},
      {"/tick", R"({"process_activity":"a"})", {"body", "process_name"}, "missing"},
      {"/tick", R"({"process_name":"p"})", {"body", "process_activity"}, "missing"},
      {"/tick",
       R"({"process_name":7,"process_activity":"a"})",
       {"body", "process_name"},
       "string_type"},
      {"/tick",
       R"({"process_name":null,"process_activity":"a"})",
       {"body", "process_name"},
       "string_type"},
      {"/tick",
       R"({"process_name":"","process_activity":"a"})",
       {"body", "process_name"},
       "string_too_short"},
      {"/tick",
       json{{"process_name", "p"}, {"process_activity", too_long}}.dump(),
       {"body", "process_activity"},
       "string_too_long"},
      {"/tick",
       R"({"process_name":"p","process_activity":"a","count":"5"})",
       {"body", "count"},
       "int_type"},
      {"/tick",
       R"({"process_name":"p","process_activity":"a","count":1.5})",
       {"body", "count"},
       "int_from_float"},
      {"/tick",
       R"({"process_name":"p","process_activity":"a","count":true})",
       {"body", "count"},
       "int_type"},
      {"/tick",
       R"({"process_name":"p","process_activity":"a","count":null})",
       {"body", "count"},
       "int_type"},
      {"/tick",
       R"({"process_name":"p","process_activity":"a","count":0})",
       {"body", "count"},
       "greater_than_equal"},
      {"/tick",
       R"({"process_name":"p","process_activity":"a","count":-1})",
       {"body", "count"},
       "greater_than_equal"},
      {"/tick",
       R"({"process_name":"p","process_activity":"a","count":1000000001})",
       {"body", "count"},
       "less_than_equal"},
      {"/tick",
       R"({"process_name":"p","process_activity":"a","count":18446744073709551615})",
       {"body", "count"},
       "less_than_equal"},
      {"/tick",
       R"([{"process_name":"p","process_activity":"a"}])",
       {"body"},
       "model_attributes_type"},
      {"/tick", "\"text\"", {"body"}, "model_attributes_type"},
      {"/ticks",
       R"([{"process_name":"p","process_activity":"a"},{"process_name":"p"}])",
       {"body", 1, "process_activity"},
       "missing"},
      {"/ticks",
       R"([{"process_name":"p","process_activity":"a","count":0}])",
       {"body", 0, "count"},
       "greater_than_equal"},
      {"/ticks",
       R"([{"process_name":"p","process_activity":"a"},7])",
       {"body", 1},
       "model_attributes_type"},
      {"/ticks", R"({"process_name":"p","process_activity":"a"})", {"body"}, "list_type"},
  };
  auto client = api_.client();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.path + " " + c.body);
    const auto res =
        c.body.empty() ? client.Post(c.path) : client.Post(c.path, c.body, "application/json");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    ASSERT_EQ(res->status, 422) << res->body;
    const auto detail = json::parse(res->body).at("detail");
    bool named = false;
    for (const auto& d : detail) {
      EXPECT_TRUE(d.contains("msg") && d.at("msg").is_string()) << d.dump();
      named = named || (d.at("loc") == c.loc && d.at("type") == c.type);
    }
    EXPECT_TRUE(named) << res->body;
  }
  // Bodies that are not JSON: FastAPI's json_invalid, located in the body.
  for (const std::string& body : {std::string("{bad"), std::string("{\"process_name\":\"\xff\"}"),
                                  std::string("{} trailing")}) {
    for (const char* path : {"/tick", "/ticks"}) {
      const auto res = client.Post(path, body, "application/json");
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, 422) << body;
      const auto d = json::parse(res->body).at("detail").at(0);
      EXPECT_EQ(d.at("type"), "json_invalid") << res->body;
      EXPECT_EQ(d.at("loc").at(0), "body") << res->body;
    }
  }
  // Nothing invalid may reach the topic: one valid tick afterwards is all there is.
  const auto ok = client.Post("/tick?process_name=marker&process_activity=end");
  ASSERT_TRUE(ok && ok->status == 200);
  const auto all = records(1);
  ASSERT_EQ(all.size(), 1U);
  EXPECT_EQ(json::parse(*all[0].value).at("process_name"), "marker");
}

json batch(int n, const std::string& prefix) {
  json ticks = json::array();
  for (int i = 0; i < n; ++i) {
    ticks.push_back({{"process_name", prefix + std::to_string(i)},
                     {"process_activity", "batch"},
                     {"count", i % 7 + 1}});
  }
  return ticks;
}

TEST_F(TickApiTest, BatchIsAllOrNothing) {
  auto client = api_.client();
  // One bad element anywhere rejects the whole batch, and says which one.
  json bad = batch(300, "bad-");
  bad[217]["count"] = 0;
  auto res = client.Post("/ticks", bad.dump(), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422);
  EXPECT_EQ(json::parse(res->body).at("detail").at(0).at("loc"), json({"body", 217, "count"}));

  // Over the limit: rejected before anything is produced.
  res = client.Post("/ticks", batch(1001, "big-").dump(), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422);
  EXPECT_EQ(json::parse(res->body).at("detail").at(0).at("type"), "too_long");

  res = client.Post("/ticks", "[]", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);

  // Full batches, four at once (each one transaction, serialised by the API).
  std::vector<std::thread> threads;
  std::vector<int> statuses(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto c = api_.client();
      const auto r =
          c.Post("/ticks", batch(1000, "b" + std::to_string(t) + "-").dump(), "application/json");
      statuses[static_cast<std::size_t>(t)] = r ? r->status : -1;
      if (r && r->status == 200) {
        EXPECT_EQ(json::parse(r->body).at("events").size(), 1000U);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(statuses, std::vector<int>(4, 200));

  std::map<std::string, int> seen;
  for (const auto& r : records(4000)) ++seen[json::parse(*r.value).at("process_name")];
  EXPECT_EQ(seen.size(), 4000U);
  for (const auto& [name, times] : seen) {
    EXPECT_EQ(times, 1) << name;
    EXPECT_EQ(name.rfind("bad-", 0), std::string::npos) << "rejected batch leaked " << name;
  }
}

TEST_F(TickApiTest, HealthAndMetrics) {
  auto client = api_.client();
  ASSERT_TRUE(client.Post("/tick?process_name=m&process_activity=a&count=5"));
  ASSERT_TRUE(client.Post("/tick?process_name=m&count=5"));
  const auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  const auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("auditor_tick_api_requests_total{path=\"/tick\",status=\"200\"} 1"),
            std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("auditor_tick_api_requests_total{path=\"/tick\",status=\"422\"} 1"),
            std::string::npos);
  EXPECT_NE(metrics->body.find("auditor_tick_api_ticks_produced_total 1\n"), std::string::npos);
  EXPECT_NE(metrics->body.find("auditor_tick_api_produce_latency_seconds_count 1\n"),
            std::string::npos);
  // The whole body is strict Prometheus text and follows the naming conventions.
  const test::Exposition exposition = test::parse_exposition(metrics->body);
  EXPECT_TRUE(exposition.errors.empty()) << first_lines(exposition.errors) << metrics->body;
  EXPECT_TRUE(test::naming_problems(exposition).empty())
      << first_lines(test::naming_problems(exposition)) << metrics->body;
}

}  // namespace
}  // namespace auditor::api_test
