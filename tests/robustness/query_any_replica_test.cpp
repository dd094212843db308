// GET /rollups answered by any replica (engine/rollup_endpoint.h): three replicas of one
// application, ticks for 300 keys over all six tasks (a few keys much busier than the
// rest), every window final. Then every key is asked from every replica: each answer must
// be 200, name in X-Auditor-Owner the replica that runs the key's task (its /readyz says
// which tasks run there; its log says which address it advertises), and carry exactly the
// latest values of the rollup topic, which equal the brute-force count of the input. Then
// a fourth replica joins, and later one leaves, while the keys are asked in a loop: every
// answer is a correct 200 or a 503 with Retry-After (never a wrong value, never a 404),
// and once the group settled every key is answered again from every replica.
//
// Registered with label integration (tests/robustness/CMakeLists.txt): it needs the
// replicas of replicas.h, not a broken environment.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "tests/robustness/replicas.h"
#include "tests/support/prometheus_text.h"
#include "tests/support/services.h"

namespace auditor::rb {
namespace {

using namespace std::chrono_literals;

constexpr const char* kOwnerHeader = "X-Auditor-Owner";

struct Reply {
  int status = 0;  // 0: no answer
  std::string body;
  std::string owner;        // X-Auditor-Owner
  std::string retry_after;  // Retry-After
};

Reply get(int port, const std::string& target) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1, 0);
  client.set_read_timeout(15, 0);
  const auto res = client.Get(target);
  if (!res) return {};
  return {res->status, res->body, res->get_header_value(kOwnerHeader),
          res->get_header_value("Retry-After")};
}

using api_test::url_encode;

// What a replica says about itself: the address it advertises (its log) and the tasks it
// runs (its /readyz).
struct ReplicaView {
  Replica* replica = nullptr;
  int port = 0;
  std::string address;
  std::set<int> running;
};

std::optional<std::string> advertised_address(const std::filesystem::path& log) {
  static const std::regex advertised(R"(advertised as (\S+))");
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, advertised)) return m[1].str();
  }
  return std::nullopt;
}

// nullopt unless the replica is ready (in the group, nothing restoring).
std::optional<ReplicaView> view_of(Replica& r) {
  const auto port = http_port(r.log());
  const auto address = advertised_address(r.log());
  if (!port || !address) return std::nullopt;
  const Reply ready = get(*port, "/readyz");
  if (ready.status != 200) return std::nullopt;
  ReplicaView v{&r, *port, *address, {}};
  const auto body = nlohmann::json::parse(ready.body);
  for (const int t : body.at("tasks").at("running")) v.running.insert(t);
  return v;
}

// Every replica ready and every task running on exactly one of them, the same split for
// 2 s (a cooperative rebalance has two rounds; /readyz is at most a second old).
class SettledGroup {
 public:
  explicit SettledGroup(std::vector<Replica*> replicas) : replicas_(std::move(replicas)) {}
  bool operator()() {
    std::vector<ReplicaView> views;
    std::map<int, int> runs;
    for (Replica* r : replicas_) {
      auto v = view_of(*r);
      if (!v) return reset();
      for (const int t : v->running) ++runs[t];
      views.push_back(std::move(*v));
    }
    if (runs.size() != static_cast<std::size_t>(kPartitions)) return reset();
    for (const auto& [task, n] : runs) {
      if (n != 1) return reset();
    }
    std::string split;
    for (const auto& v : views) split += v.address + show(v.running) + " ";
    if (split != split_) {
      split_ = split;
      since_ = Clock::now();
      return false;
    }
    views_ = std::move(views);
    return Clock::now() - since_ >= 2s;
  }
  [[nodiscard]] const std::vector<ReplicaView>& views() const { return views_; }
  [[nodiscard]] const std::string& split() const { return split_; }
  // The replica running `task`.
  [[nodiscard]] const ReplicaView& owner(int task) const {
    for (const auto& v : views_) {
      if (v.running.contains(task)) return v;
    }
    throw std::logic_error("no owner of task " + std::to_string(task));
  }

 private:
  bool reset() {
    split_.clear();
    return false;
  }
  std::vector<Replica*> replicas_;
  std::vector<ReplicaView> views_;
  std::string split_;
  Clock::time_point since_ = Clock::now();
};

// The rollup topic's latest value of each of `key`'s windows in [from, to), in the order
// /rollups lists them (by size, then start); each must also equal the brute-force count.
nlohmann::json topic_windows(const std::map<std::string, nlohmann::json>& latest, const Key& key,
                             std::int64_t from, std::int64_t to) {
  nlohmann::json out = nlohmann::json::array();
  for (const it::WindowSize& size : it::kWindows) {
    for (std::int64_t start = from - from % size.ms; start < to; start += size.ms) {
      if (start < from) continue;
      const auto found = latest.find(it::rollup_key(key.name, key.activity, size.name, start));
      if (found != latest.end()) out.push_back(found->second);
    }
  }
  return out;
}

// What is wrong with a 200 answer: the windows differ from `want`, or the key or the
// partition it names.
std::string wrong_value(const Reply& reply, const Key& key, const nlohmann::json& want) {
  try {
    const auto body = nlohmann::json::parse(reply.body);
    if (body.at("process_name") != key.name || body.at("process_activity") != key.activity ||
        body.at("partition") != it::repartition_partition(key, kPartitions)) {
      return "wrong key or partition: " + reply.body.substr(0, 200);
    }
    if (body.at("windows") != want) {
      return "windows differ:\n    got  " + body.at("windows").dump().substr(0, 300) +
             "\n    want " + want.dump().substr(0, 300);
    }
  } catch (const std::exception& e) {
    return std::string("unexpected body (") + e.what() + "): " + reply.body.substr(0, 200);
  }
  return "";
}

// A 503 must say when to retry and why (JSON error).
std::string bad_unavailable(const Reply& reply) {
  if (reply.retry_after.empty()) return "503 without Retry-After: " + reply.body;
  try {
    if (nlohmann::json::parse(reply.body).at("error").get<std::string>().empty()) {
      return "503 with an empty error";
    }
  } catch (const std::exception&) {
    return "503 without a JSON error: " + reply.body;
  }
  return "";
}

double metric(int port, const std::string& answer) {
  const Reply r = get(port, "/metrics");
  const auto v =
      test::parse_exposition(r.body).value("auditor_rollup_queries_total", {{"answer", answer}});
  return v.value_or(-1);
}

TEST(QueryAnyReplica, EveryKeyFromEveryReplicaAlsoWhileTheGroupChanges) {
  const Scenario scenario("query");
  const WorkerConfig& cfg = scenario.cfg;
  const std::int64_t day = scenario.day;

  // 300 keys: 16,000 ticks over all of them, 8,000 more over the first 12 (uneven keys and
  // tasks), in [10:00, 10:30) of the data day.
  const std::vector<Key> keys = make_keys(300);
  const std::vector<Key> busy(keys.begin(), keys.begin() + 12);
  ExpectedRollups expected;
  {
    test::Producer producer;
    const std::int64_t base = day + 10 * it::kHour;
    for (const auto& r : it::random_ticks(keys, 16'000, kPartitions, base, 30 * it::kMinute,
                                          scenario.seed, expected)) {
      producer.send(cfg.input_topic, r);
    }
    for (const auto& r : it::random_ticks(busy, 8'000, kPartitions, base, 30 * it::kMinute,
                                          scenario.seed + 1, expected)) {
      producer.send(cfg.input_topic, r);
    }
    producer.flush(deadline_in(30s));
  }
  std::map<int, int> keys_per_task;
  for (const Key& k : keys) ++keys_per_task[it::repartition_partition(k, kPartitions)];
  std::cerr << "[query] " << expected.ticks() << " ticks, " << keys.size()
            << " keys; keys per task:";
  for (const auto& [task, n] : keys_per_task) std::cerr << " " << task << ":" << n;
  std::cerr << "\n";

  Replica a(cfg, "a");
  Replica b(cfg, "b");
  Replica c(cfg, "c");
  Replica d(cfg, "d");
  a.start();
  b.start();
  c.start();
  std::vector<Replica*> three = {&a, &b, &c};

  // Every window final (sentinels at 01:00 the next day: every window closes, none expires
  // from the stores, whose retention runs a day past end + grace), equal to the model.
  RollupView view(cfg.output_topic, deadline_in(60s));
  ASSERT_EQ(wait_until([&] { return input_consumed(cfg); }, deadline_in(90s), three,
                       "all input committed"),
            "");
  {
    test::Producer producer;
    it::send_sentinels(producer, cfg.input_topic, kPartitions, day + it::kDay + it::kHour);
    producer.flush(deadline_in(30s));
  }
  ASSERT_EQ(wait_until(
                [&] {
                  view.poll(300ms);
                  return view.missing_finals(expected) == 0;
                },
                deadline_in(90s), three, "every window final"),
            "");
  ASSERT_TRUE(view.diff(expected).empty()) << it::first_lines(view.diff(expected));
  std::map<std::string, nlohmann::json> latest;
  for (const auto& r : test::consume_all(cfg.output_topic, {.idle = 1000ms})) {
    if (r.key && r.value) latest[*r.key] = nlohmann::json::parse(*r.value);
  }
  const std::int64_t from = day - it::kDay;
  const std::int64_t to = day + it::kDay;
  std::vector<std::string> targets;
  std::vector<nlohmann::json> wants;
  std::size_t windows = 0;
  for (const Key& key : keys) {
    targets.push_back("/rollups?process_name=" + url_encode(key.name) +
                      "&process_activity=" + url_encode(key.activity) +
                      "&from=" + std::to_string(from) + "&to=" + std::to_string(to));
    wants.push_back(topic_windows(latest, key, from, to));
    windows += wants.back().size();
    // The topic's values are the model's (view.diff above); here: each is there.
    EXPECT_FALSE(wants.back().empty()) << key.name;
  }
  std::cerr << "[query] all final after " << seconds_since(scenario.started) << " s; " << windows
            << " windows of the keys in " << cfg.output_topic << "\n";

  // 1. Three replicas, settled: every key from every replica.
  SettledGroup settled3(three);
  ASSERT_EQ(wait_until(std::ref(settled3), deadline_in(60s), three, "three replicas settled"), "");
  std::cerr << "[query] settled: " << settled3.split() << "\n";
  // Every key from every replica, on 8 threads (the worker answers queries between
  // polls, up to 100 ms apart, all waiting ones at once).
  auto ask_everything = [&](const SettledGroup& group, const std::string& phase) {
    std::vector<std::string> problems;
    std::mutex mutex;
    std::atomic<int> local = 0;
    std::atomic<int> forwarded = 0;
    const auto started = Clock::now();
    auto ask = [&](std::size_t k) {
      const ReplicaView& owner = group.owner(it::repartition_partition(keys[k], kPartitions));
      for (const ReplicaView& asked : group.views()) {
        const Reply r = get(asked.port, targets[k]);
        const std::string what =
            phase + ": " + keys[k].name + "/" + keys[k].activity + " from " + asked.replica->name();
        std::string problem;
        if (r.status != 200) {
          problem = what + ": status " + std::to_string(r.status) + " " + r.body;
        } else if (r.owner != owner.address) {
          problem = what + ": owner header '" + r.owner + "', the task runs on " + owner.address;
        } else if (const auto wrong = wrong_value(r, keys[k], wants[k]); !wrong.empty()) {
          problem = what + ": " + wrong;
        }
        (asked.address == owner.address ? local : forwarded) += 1;
        if (!problem.empty()) {
          const std::lock_guard lock(mutex);
          problems.push_back(problem);
        }
      }
    };
    constexpr std::size_t kThreads = 8;
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (std::size_t k = t; k < keys.size(); k += kThreads) ask(k);
      });
    }
    for (auto& thread : threads) thread.join();
    std::fprintf(stderr, "[query] %s: %d answers (%d local, %d forwarded) in %.2f s, %zu wrong\n",
                 phase.c_str(), local + forwarded, local.load(), forwarded.load(),
                 seconds_since(started), problems.size());
    return std::pair{problems, forwarded.load()};
  };
  double forwarded_before = 0;
  for (const auto& v : settled3.views()) forwarded_before += metric(v.port, "forwarded");
  const auto [problems3, forwarded3] = ask_everything(settled3, "3 replicas");
  EXPECT_TRUE(problems3.empty()) << problems3.size() << " bad answers\n"
                                 << it::first_lines(problems3);
  EXPECT_GT(forwarded3, 0);
  double forwarded_after = 0;
  for (const auto& v : settled3.views()) forwarded_after += metric(v.port, "forwarded");
  EXPECT_EQ(forwarded_after - forwarded_before, forwarded3)
      << "auditor_rollup_queries_total{answer=\"forwarded\"} over the three replicas";

  // 2. While the group changes: ask in a loop until the group settled and then a whole
  // round of every key from every replica was right.
  auto churn = [&](const std::string& phase, const std::function<void()>& change,
                   std::vector<Replica*> after) {
    const auto started = Clock::now();
    change();
    SettledGroup settled(after);
    int answers = 0;
    int ok = 0;
    int unavailable = 0;
    std::vector<std::string> problems;
    std::optional<double> settled_at;
    std::optional<double> last_503;
    std::size_t k = 0;
    std::map<const Replica*, int> ports;  // from each replica's log, once it is there
    const Deadline deadline = deadline_in(90s);
    while (Clock::now() < deadline && problems.size() < 50) {
      if (!settled_at && settled()) settled_at = seconds_since(started);
      if (settled_at) break;
      for (Replica* r : after) {
        if (!ports.contains(r)) {
          if (const auto port = http_port(r->log())) ports[r] = *port;
        }
        if (!ports.contains(r) || !r->running()) continue;
        const Reply reply = get(ports[r], targets[k]);
        ++answers;
        const std::string what =
            phase + ": " + keys[k].name + "/" + keys[k].activity + " from " + r->name();
        if (reply.status == 200) {
          ++ok;
          if (reply.owner.empty()) problems.push_back(what + ": 200 without an owner header");
          if (const auto wrong = wrong_value(reply, keys[k], wants[k]); !wrong.empty()) {
            problems.push_back(what + ": " + wrong);
          }
        } else if (reply.status == 503) {
          ++unavailable;
          last_503 = seconds_since(started);
          if (const auto bad = bad_unavailable(reply); !bad.empty()) {
            problems.push_back(what + ": " + bad);
          }
        } else {
          problems.push_back(what + ": status " + std::to_string(reply.status) + " " +
                             reply.body.substr(0, 200));
        }
      }
      k = (k + 1) % keys.size();
    }
    std::fprintf(stderr,
                 "[query] %s: %d answers while it settled (%d 200, %d 503, last 503 at %.1f s), "
                 "%zu wrong; settled after %.1f s: %s\n",
                 phase.c_str(), answers, ok, unavailable, last_503.value_or(-1.0), problems.size(),
                 settled_at.value_or(-1.0), settled.split().c_str());
    EXPECT_TRUE(problems.empty()) << problems.size() << " bad answers\n"
                                  << it::first_lines(problems);
    EXPECT_TRUE(settled_at.has_value()) << phase << ": the group did not settle within 90 s";
    EXPECT_GT(answers, 0);
    if (!settled_at) return;
    const auto [after_problems, ignored] = ask_everything(settled, phase + ", settled");
    EXPECT_TRUE(after_problems.empty()) << after_problems.size() << " bad answers\n"
                                        << it::first_lines(after_problems);
  };
  churn("d joins", [&] { d.start(); }, {&a, &b, &c, &d});
  churn("a leaves", [&] { ASSERT_EQ(a.stop(20s), ""); }, {&b, &c, &d});

  const auto failures = stop_all({&b, &c, &d}, 20s);
  EXPECT_TRUE(failures.empty()) << it::first_lines(failures);
  std::cerr << "[query] test took " << seconds_since(scenario.started) << " s\n";
}

}  // namespace
}  // namespace auditor::rb
