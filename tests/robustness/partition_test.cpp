// A network partition (issue 13, fault 2): replica a runs in a network namespace of its
// own, joined to the host by a veth pair; its link is cut for longer than the session
// timeout while b and c go on, then restored. a's tasks move to b and c; when the link
// returns, a rejoins (or is fenced and exits non-zero with a clear message); the rollups
// equal the brute-force count: no tick lost or counted twice.
//
// Needs root (CI runs as root) for `ip netns`; skipped otherwise. Traffic stays on the
// addresses the test makes: the broker (second_broker.h) listens on the host's end of the
// veth pair, which b, c and the test's clients reach as a local address.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <thread>

#include "tests/robustness/replicas.h"
#include "tests/support/second_broker.h"

namespace auditor::rb {
namespace {

using namespace std::chrono_literals;

constexpr const char* kNamespace = "auditor-part";
constexpr const char* kHostEnd = "aud-part-h";
constexpr const char* kNamespaceEnd = "aud-part-n";
constexpr const char* kHostAddress = "10.231.77.1";
constexpr const char* kNamespaceAddress = "10.231.77.2";
constexpr auto kCut = 25s;  // the session timeout is 10 s

// Runs a shell command; its exit status (0: success).
int sh(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str());
}

// The namespace and the veth pair, removed again on destruction.
class Namespace {
 public:
  // "" when it is set up, else why not.
  std::string set_up() {
    tear_down();  // leftovers of an interrupted run
    for (const std::string& c :
         {"ip netns add " + std::string(kNamespace),
          "ip link add " + std::string(kHostEnd) + " type veth peer name " + kNamespaceEnd,
          "ip link set " + std::string(kNamespaceEnd) + " netns " + kNamespace,
          "ip addr add " + std::string(kHostAddress) + "/30 dev " + kHostEnd,
          "ip link set " + std::string(kHostEnd) + " up",
          "ip -n " + std::string(kNamespace) + " addr add " + kNamespaceAddress + "/30 dev " +
              kNamespaceEnd,
          "ip -n " + std::string(kNamespace) + " link set " + kNamespaceEnd + " up",
          "ip -n " + std::string(kNamespace) + " link set lo up"}) {
      if (sh(c) != 0) return "failed: " + c;
    }
    return "";
  }
  ~Namespace() { tear_down(); }

  // Cuts (or restores) the link: packets in flight are dropped, connections hang.
  [[nodiscard]] bool set_link(bool up) {
    return sh("ip link set " + std::string(kHostEnd) + (up ? " up" : " down")) == 0;
  }

 private:
  static void tear_down() {
    (void)sh("ip link del " + std::string(kHostEnd));
    (void)sh("ip netns del " + std::string(kNamespace));
  }
};

// The input partitions and running tasks b and c report, summed; nullopt if one does not
// answer.
std::optional<Shares> shares_of(const std::vector<Replica*>& replicas) {
  Shares sum;
  for (Replica* r : replicas) {
    const auto s = read_shares(*r);
    if (!s) return std::nullopt;
    sum.input_partitions += s->input_partitions;
    sum.running += s->running;
  }
  return sum;
}

TEST(Partition, ReplicaCutOffPastItsSessionRejoinsOrIsFencedAndNothingIsLostOrDoubled) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for ip netns";
  Namespace ns;
  ASSERT_EQ(ns.set_up(), "");
  test::SecondBroker broker("kafka-p", 29192, kHostAddress);
  ASSERT_EQ(broker.run("start"), "");
  ::setenv("AUDITOR_IT_BOOTSTRAP_SERVERS", broker.bootstrap().c_str(), 1);
  const Scenario scenario("partition");
  const WorkerConfig& cfg = scenario.cfg;
  // 2,000 ticks/s over 400 keys until stopped (the cap is a safety net).
  PacedProducer producer(
      cfg.input_topic,
      TickSource(make_keys(400), scenario.day + 10 * it::kHour, 10 * it::kMinute, scenario.seed),
      500, 250ms, 2'000'000);
  auto phase = [&](const std::string& what) {
    std::cerr << static_cast<int>(seconds_since(scenario.started)) << " s: " << what << "; "
              << producer.acknowledged() << " ticks produced\n";
  };

  Replica a(cfg, "a");
  a.set_launcher("/usr/sbin/ip", {"netns", "exec", kNamespace});
  Replica b(cfg, "b");
  Replica c(cfg, "c");
  for (Replica* r : {&a, &b, &c}) r->start();
  producer.start();
  ASSERT_EQ(wait_until(
                [&] {
                  const auto of_b = read_shares(b);
                  const auto of_c = read_shares(c);
                  if (!of_b || !of_c || of_b->running == 0 || of_c->running == 0 ||
                      of_b->input_partitions == 0 || of_c->input_partitions == 0) {
                    return false;
                  }
                  const auto of_a = latest_assignment(a.log());
                  const auto a_running = static_cast<int>(running_tasks(a.log()).size());
                  return of_a && of_a->tasks > 0 && of_a->input_partitions > 0 && a_running > 0 &&
                         of_b->input_partitions + of_c->input_partitions + of_a->input_partitions ==
                             kPartitions &&
                         of_b->running + of_c->running + a_running == kPartitions;
                },
                deadline_in(90s), {&a, &b, &c}, "a, b and c share both stages"),
            "");
  phase("a runs tasks " + show(running_tasks(a.log())));
  std::this_thread::sleep_for(3s);

  ASSERT_TRUE(ns.set_link(false));
  const auto cut = Clock::now();
  phase("a's link cut");
  ASSERT_EQ(wait_until(
                [&] {
                  const auto bc = shares_of({&b, &c});
                  return bc && bc->input_partitions == kPartitions && bc->running == kPartitions;
                },
                deadline_in(60s), {&b, &c}, "b and c took over a's input partitions and tasks"),
            "");
  std::cerr << "[ moved ] b and c own everything " << seconds_since(cut) << " s after the cut\n";
  std::this_thread::sleep_until(cut + kCut);
  ASSERT_TRUE(ns.set_link(true));
  const auto healed = Clock::now();
  phase("a's link restored");

  // a rejoins (both stages shared by three again) or exits non-zero saying why.
  ASSERT_EQ(wait_until(
                [&] {
                  if (!a.running()) return true;
                  const auto bc = shares_of({&b, &c});
                  return bc && bc->input_partitions < kPartitions && bc->running < kPartitions;
                },
                deadline_in(90s), {&b, &c}, "a rejoined or exited"),
            "");
  const bool rejoined = a.running();
  std::cerr << "[ after the partition ] a " << (rejoined ? "rejoined" : "exited") << " "
            << seconds_since(healed) << " s after the link returned\n";
  if (!rejoined) {
    const auto status = *a.process().exit_status();
    EXPECT_TRUE(status.exited && status.code != 0) << a.report();
    EXPECT_GT(count_lines(a.log(), "fenced"), 0U) << a.report();
  }
  std::this_thread::sleep_for(5s);
  producer.stop();
  producer.join();
  phase("producer done");

  std::vector<Replica*> live = {&b, &c};
  if (rejoined) live.push_back(&a);
  RollupView view(cfg.output_topic, deadline_in(60s));
  const Verdict verdict =
      close_windows_and_compare(cfg, view, producer.expected(), scenario.day, live, 240s);
  EXPECT_TRUE(verdict.ok()) << verdict.describe();
  phase("compared " + std::to_string(producer.expected().windows().size()) + " windows");
  const auto failures = stop_all(live, 30s);
  EXPECT_TRUE(failures.empty()) << it::first_lines(failures);
}

}  // namespace
}  // namespace auditor::rb
