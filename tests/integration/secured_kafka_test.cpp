// The secured broker (README, "Secured Kafka (SASL_SSL, SCRAM, ACLs)"): `scripts/kafka.sh
// start --secure` on ports of its own, under <build>/tests/integration/work/kafka-secure
// (unless $AUDITOR_KAFKA_SECURE_HOME; test::SecondBroker), formatted afresh, started and stopped by
// this suite. One ctest entry runs the whole suite in one process, so the broker starts once
// (tests/integration/CMakeLists.txt); its first run downloads the broker jars.
//
//   Acls           the broker's ACLs are exactly the README's table (per principal)
//   Pipeline       worker, tick-api, generate, rollups and reset as the worker, producer,
//                  reader and reset users with credentials from config files, password
//                  files and the environment, never the command line; exact counts, also
//                  after a reset and replay; no password in logs, cmdlines or the dump
//   WrongPassword  the worker and `rollups` stop with "authentication failed" within 30 s
//   MissingWrite   without WRITE on audit_rollups the worker stops within 60 s naming the
//                  ACL to grant (runs last: it changes the ACLs, then restores them)
#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/second_broker.h"
#include "tests/support/services.h"

namespace auditor::secured_test {
namespace {

namespace fs = std::filesystem;
using api_test::auditor_binary;
using api_test::work_dir;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using test::ChildProcess;
using test::Clock;
using test::deadline_in;

const std::vector<std::string> kUsers = {"admin", "worker", "producer", "reader", "reset"};

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string first_line(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// The secured broker of this suite and its users' files (scripts/kafka/secure.sh).
class SecureBroker {
 public:
  // Starts a broker with fresh storage, users and ACLs (the jars are kept); "" or why not.
  std::string start() {
    if (const auto stopped = broker_.run("stop"); !stopped.empty()) return stopped;
    for (const auto& entry :
         fs::directory_iterator(broker_.home(), fs::directory_options::skip_permission_denied)) {
      if (entry.path().filename() != "lib") fs::remove_all(entry.path());
    }
    return broker_.run("start");
  }
  std::string stop() { return broker_.run("stop"); }

  [[nodiscard]] fs::path secure_dir() const { return fs::path(broker_.home()) / "secure"; }
  [[nodiscard]] fs::path config(const std::string& user) const {
    return secure_dir() / (user + ".conf");
  }
  [[nodiscard]] std::string password(const std::string& user) const {
    return first_line(secure_dir() / (user + ".password"));
  }
  [[nodiscard]] std::string bootstrap() const { return broker_.bootstrap(); }

  // A librdkafka client as `user` (the admin API of the tests).
  [[nodiscard]] test::KafkaPtr client(const std::string& user) const {
    return test::make_client(RD_KAFKA_PRODUCER,
                             {{"bootstrap.servers", bootstrap()},
                              {"security.protocol", "SASL_SSL"},
                              {"sasl.mechanism", "SCRAM-SHA-512"},
                              {"sasl.username", user},
                              {"sasl.password", password(user)},
                              {"ssl.ca.location", (secure_dir() / "ca.crt").string()}});
  }

 private:
  // Home <work>/kafka-secure ($AUDITOR_KAFKA_SECURE_HOME), ports 19192-19194.
  test::SecondBroker broker_{"kafka-secure", 19192, "127.0.0.1", /*secure=*/true};
};

// ---- ACLs through librdkafka's admin API --------------------------------------------------

// Kafka's resource type codes. librdkafka 2.0.2 names only Topic, Group and Broker (4, which
// Kafka calls Cluster); it reports a TransactionalId binding (5) as UNKNOWN (0).
std::string resource_type_name(rd_kafka_ResourceType_t type) {
  switch (static_cast<int>(type)) {
    case RD_KAFKA_RESOURCE_TOPIC:
      return "Topic";
    case RD_KAFKA_RESOURCE_GROUP:
      return "Group";
    case RD_KAFKA_RESOURCE_BROKER:
      return "Cluster";
    case RD_KAFKA_RESOURCE_UNKNOWN:
    case 5:
      return "TransactionalId";
    default:
      return "type " + std::to_string(static_cast<int>(type));
  }
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// "User:worker Topic literal audit_events READ", one per (pattern, operation).
using AclSet = std::set<std::string>;

std::string acl_line(const std::string& principal, const std::string& type,
                     const std::string& pattern, const std::string& name,
                     const std::string& operation) {
  return principal + " " + type + " " + lower(pattern) + " " + name + " " + upper(operation);
}

test::EventPtr await_admin(rd_kafka_queue_t* queue, const std::string& what) {
  test::EventPtr event(rd_kafka_queue_poll(queue, 30'000));
  if (!event) throw std::runtime_error(what + ": no answer");
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(what + ": " + rd_kafka_event_error_string(event.get()));
  }
  return event;
}

AclSet broker_acls(rd_kafka_t* admin) {
  std::array<char, 512> err{};
  auto* filter = rd_kafka_AclBindingFilter_new(
      RD_KAFKA_RESOURCE_ANY, nullptr, RD_KAFKA_RESOURCE_PATTERN_ANY, nullptr, nullptr,
      RD_KAFKA_ACL_OPERATION_ANY, RD_KAFKA_ACL_PERMISSION_TYPE_ANY, err.data(), err.size());
  if (filter == nullptr) throw std::runtime_error(err.data());
  test::QueuePtr queue(rd_kafka_queue_new(admin));
  rd_kafka_DescribeAcls(admin, filter, nullptr, queue.get());
  rd_kafka_AclBinding_destroy(filter);
  const auto event = await_admin(queue.get(), "DescribeAcls");
  std::size_t count = 0;
  const auto* const* acls =
      rd_kafka_DescribeAcls_result_acls(rd_kafka_event_DescribeAcls_result(event.get()), &count);
  AclSet result;
  for (std::size_t i = 0; i < count; ++i) {
    const auto* acl = acls[i];
    EXPECT_EQ(rd_kafka_AclBinding_permission_type(acl), RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW);
    EXPECT_STREQ(rd_kafka_AclBinding_host(acl), "*");
    result.insert(acl_line(
        rd_kafka_AclBinding_principal(acl), resource_type_name(rd_kafka_AclBinding_restype(acl)),
        rd_kafka_ResourcePatternType_name(rd_kafka_AclBinding_resource_pattern_type(acl)),
        rd_kafka_AclBinding_name(acl),
        rd_kafka_AclOperation_name(rd_kafka_AclBinding_operation(acl))));
  }
  return result;
}

// Adds (create) or removes one topic ACL of `principal`.
void change_topic_acl(rd_kafka_t* admin, bool create, const std::string& principal,
                      const std::string& topic, rd_kafka_AclOperation_t operation) {
  std::array<char, 512> err{};
  auto* binding = (create ? rd_kafka_AclBinding_new : rd_kafka_AclBindingFilter_new)(
      RD_KAFKA_RESOURCE_TOPIC, topic.c_str(), RD_KAFKA_RESOURCE_PATTERN_LITERAL, principal.c_str(),
      "*", operation, RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW, err.data(), err.size());
  if (binding == nullptr) throw std::runtime_error(err.data());
  test::QueuePtr queue(rd_kafka_queue_new(admin));
  if (create) {
    rd_kafka_CreateAcls(admin, &binding, 1, nullptr, queue.get());
  } else {
    rd_kafka_DeleteAcls(admin, &binding, 1, nullptr, queue.get());
  }
  rd_kafka_AclBinding_destroy(binding);
  (void)await_admin(queue.get(), create ? "CreateAcls" : "DeleteAcls");
}

// The ACL table of the README's "Secured Kafka" section: rows
// | `User:worker` | Topic | literal | `audit_events` | READ, CREATE | why |
AclSet readme_acls() {
  std::ifstream in(AUDITOR_README);
  AclSet result;
  bool in_section = false;
  const std::regex row(
      R"(^\| `(User:[^`]+)` \| (\w+) \| (literal|prefixed) \| `([^`]+)` \| ([A-Z_, ]+) \|)");
  for (std::string line; std::getline(in, line);) {
    // Headings only: the section's code blocks hold "# comment" lines.
    if (line.rfind("## ", 0) == 0 || line.rfind("### ", 0) == 0) {
      in_section = line.find("Secured Kafka") != std::string::npos;
    }
    std::smatch m;
    if (!in_section || !std::regex_search(line, m, row)) continue;
    std::istringstream operations(m[5].str());
    for (std::string op; std::getline(operations, op, ',');) {
      op.erase(0, op.find_first_not_of(' '));
      op.erase(op.find_last_not_of(' ') + 1);
      result.insert(acl_line(m[1], m[2], m[3], m[4], op));
    }
  }
  return result;
}

AclSet of_principal(const AclSet& all, const std::string& principal) {
  AclSet mine;
  for (const auto& line : all) {
    if (line.rfind(principal + " ", 0) == 0) mine.insert(line);
  }
  return mine;
}

// ---- processes ------------------------------------------------------------------------

// Starts `auditor <args>` with `env` added to the environment: set in this process for the
// fork only, so the values never appear on any command line.
std::unique_ptr<ChildProcess> start(const std::vector<std::string>& args, const fs::path& log,
                                    const std::map<std::string, std::string>& env = {}) {
  for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
  auto child = std::make_unique<ChildProcess>(auditor_binary(), args, log);
  for (const auto& [name, value] : env) unsetenv(name.c_str());
  return child;
}

fs::path log_path(const std::string& name) {
  return work_dir() / "logs" / ("secure-" + name + ".log");
}

// A copy of a user's config file without its password file line: the password then comes
// from AUDITOR_KAFKA_SASL_PASSWORD.
fs::path config_without_password_file(const SecureBroker& broker, const std::string& user) {
  const fs::path out = work_dir() / ("secure-" + user + "-env.conf");
  std::ifstream in(broker.config(user));
  std::ofstream copy(out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("kafka-sasl-password-file", 0) != 0) copy << line << "\n";
  }
  return out;
}

std::string cmdline_of(pid_t pid) {
  auto text = read_text(fs::path("/proc") / std::to_string(pid) / "cmdline");
  for (auto& c : text) {
    if (c == '\0') c = ' ';
  }
  return text;
}

// The worker's HTTP port, from its "listening on port N" line.
int worker_http_port(ChildProcess& worker, test::Deadline deadline) {
  const std::regex listening(R"(listening on port ([0-9]+))");
  while (Clock::now() < deadline && worker.running()) {
    std::smatch m;
    const std::string log = read_text(worker.log_file());
    if (std::regex_search(log, m, listening)) return std::stoi(m[1]);
    std::this_thread::sleep_for(milliseconds(100));
  }
  return 0;
}

std::int64_t metric(int port, const std::string& name) {
  httplib::Client client("127.0.0.1", port);
  const auto res = client.Get("/metrics");
  if (!res || res->status != 200) return -1;
  std::istringstream in(res->body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + " ", 0) == 0) return std::stoll(line.substr(name.size() + 1));
  }
  return -1;
}

// Sum of `ticks` over the 1d windows, read by `auditor rollups` as the reader user.
std::int64_t rollup_ticks(const SecureBroker& broker, std::string& log_text) {
  const auto log = log_path("rollups");
  ChildProcess rollups(auditor_binary(),
                       {"rollups", "--config", broker.config("reader").string(), "--json",
                        "--window", "1d", "--log-level", "warn"},
                       log);
  const auto status = rollups.wait(deadline_in(seconds(60)));
  log_text = read_text(log);
  if (!status || !status->clean()) return -1;
  std::int64_t ticks = 0;
  std::istringstream in(log_text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.front() == '{')
      ticks += json::parse(line).at("ticks").get<std::int64_t>();
  }
  return ticks;
}

// Waits until the rollups hold `expected` ticks; the last sum seen.
std::int64_t await_rollup_ticks(const SecureBroker& broker, std::int64_t expected,
                                std::string& log_text) {
  const auto deadline = deadline_in(seconds(90));
  std::int64_t seen = -1;
  while (Clock::now() < deadline) {
    seen = rollup_ticks(broker, log_text);
    if (seen == expected) break;
    std::this_thread::sleep_for(milliseconds(500));
  }
  return seen;
}

struct Exit {
  std::optional<test::ExitStatus> status;
  milliseconds took{0};
};

Exit wait_exit(ChildProcess& process, seconds bound) {
  const auto started = Clock::now();
  Exit exit;
  exit.status = process.wait(deadline_in(bound));
  exit.took = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
  return exit;
}

class SecuredKafka : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    broker_ = new SecureBroker();
    start_error_ = broker_->start();
  }
  static void TearDownTestSuite() {
    (void)broker_->stop();
    delete broker_;
    broker_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(start_error_, ""); }

  std::vector<std::string> worker_args() const {
    return {"worker",
            "--config",
            config_without_password_file(*broker_, "worker").string(),
            "--state-dir",
            state_dir().string(),
            "--http-port",
            "0",
            "--commit-interval",
            "500ms"};
  }
  static fs::path state_dir() { return work_dir() / "secure-state"; }

  static SecureBroker* broker_;
  static std::string start_error_;
};

SecureBroker* SecuredKafka::broker_ = nullptr;
std::string SecuredKafka::start_error_;

TEST_F(SecuredKafka, AclsAreTheReadmeTable) {
  const auto documented = readme_acls();
  ASSERT_FALSE(documented.empty()) << "no ACL table found in " << AUDITOR_README;
  const auto admin = broker_->client("admin");
  const auto granted = broker_acls(admin.get());
  for (const std::string principal :
       {"User:worker", "User:producer", "User:reader", "User:reset"}) {
    const auto want = of_principal(documented, principal);
    const auto have = of_principal(granted, principal);
    EXPECT_FALSE(want.empty()) << principal;
    std::string diff;
    for (const auto& acl : want) {
      if (!have.contains(acl)) diff += "  documented, not granted: " + acl + "\n";
    }
    for (const auto& acl : have) {
      if (!want.contains(acl)) diff += "  granted, not documented: " + acl + "\n";
    }
    EXPECT_EQ(diff, "") << principal;
  }
}

TEST_F(SecuredKafka, PipelineCountsExactlyWithCredentialsFromFilesAndEnvironment) {
  fs::remove_all(state_dir());
  const std::map<std::string, std::string> worker_env = {
      {"AUDITOR_KAFKA_SASL_PASSWORD", broker_->password("worker")}};
  auto worker = start(worker_args(), log_path("worker"), worker_env);
  const int http_port = worker_http_port(*worker, deadline_in(seconds(60)));
  ASSERT_GT(http_port, 0) << worker->log_tail();

  auto api = api_test::start_service("tick-api", {"--config", broker_->config("producer").string()},
                                     "secure-tick-api", broker_->bootstrap());
  auto client = api.client();
  constexpr int kSingles = 20;
  constexpr int kBatch = 30;
  constexpr int kGenerated = 1000;
  const auto ready_by = deadline_in(seconds(60));
  int posted = 0;
  while (posted < kSingles) {
    const auto res = client.Post("/tick?process_name=secure-api&process_activity=single");
    if (res && res->status == 200) {
      ++posted;
      continue;
    }
    ASSERT_LT(Clock::now(), ready_by) << api.process->log_tail();
    std::this_thread::sleep_for(milliseconds(200));
  }
  json batch = json::array();
  for (int i = 0; i < kBatch; ++i) {
    batch.push_back({{"process_name", "secure-api"}, {"process_activity", "batch"}});
  }
  const auto batch_res = client.Post("/ticks", batch.dump(), "application/json");
  ASSERT_TRUE(batch_res);
  ASSERT_EQ(batch_res->status, 200) << batch_res->body << api.process->log_tail();

  ChildProcess generate(auditor_binary(),
                        {"generate", "--config", broker_->config("producer").string(), "--total",
                         std::to_string(kGenerated), "--processes", "5", "--activities", "2"},
                        log_path("generate"));
  const auto generated = generate.wait(deadline_in(seconds(60)));
  ASSERT_TRUE(generated && generated->clean()) << generate.log_tail();

  const std::int64_t expected = kSingles + kBatch + kGenerated;
  std::string rollups_log;
  EXPECT_EQ(await_rollup_ticks(*broker_, expected, rollups_log), expected)
      << rollups_log << worker->log_tail();

  // (e) While they run: no secret on any command line.
  const std::string worker_cmdline = cmdline_of(worker->pid());
  const std::string api_cmdline = cmdline_of(api.process->pid());
  EXPECT_NE(worker_cmdline.find("worker"), std::string::npos) << worker_cmdline;

  // Replay: reset as the reset user, then the worker rebuilds the same counts.
  ASSERT_EQ(api_test::stop(*worker), "");
  ChildProcess reset(auditor_binary(),
                     {"reset", "--config", broker_->config("reset").string(), "--to-earliest",
                      "--delete-state", "--state-dir", state_dir().string()},
                     log_path("reset"));
  const auto reset_status = reset.wait(deadline_in(seconds(60)));
  ASSERT_TRUE(reset_status && reset_status->clean()) << reset.log_tail();
  worker = start(worker_args(), log_path("worker-replay"), worker_env);
  const int replay_port = worker_http_port(*worker, deadline_in(seconds(60)));
  ASSERT_GT(replay_port, 0) << worker->log_tail();
  const auto replayed_by = deadline_in(seconds(60));
  while (metric(replay_port, "auditor_ticks_valid_total") != expected &&
         Clock::now() < replayed_by) {
    std::this_thread::sleep_for(milliseconds(200));
  }
  EXPECT_EQ(metric(replay_port, "auditor_ticks_valid_total"), expected) << worker->log_tail();
  EXPECT_EQ(await_rollup_ticks(*broker_, expected, rollups_log), expected) << rollups_log;
  const std::string replay_cmdline = cmdline_of(worker->pid());
  ASSERT_EQ(api_test::stop(*worker), "");
  ASSERT_EQ(api_test::stop(*api.process), "");

  // (e) No password anywhere a user of the machine or a log reader could see it.
  std::map<std::string, std::string> seen = {{"worker cmdline", worker_cmdline},
                                             {"replay worker cmdline", replay_cmdline},
                                             {"tick-api cmdline", api_cmdline},
                                             {"worker log", read_text(log_path("worker"))},
                                             {"replay log", read_text(log_path("worker-replay"))},
                                             {"tick-api log", read_text(api.process->log_file())},
                                             {"generate log", read_text(log_path("generate"))},
                                             {"reset log", read_text(log_path("reset"))},
                                             {"rollups log", rollups_log}};
  for (const auto& user : kUsers) {
    const std::string password = broker_->password(user);
    ASSERT_GE(password.size(), 16U);
    for (const auto& [where, text] : seen) {
      EXPECT_EQ(text.find(password), std::string::npos) << user << "'s password in " << where;
    }
  }
  // The effective-config dump shows where the password came from, not the password.
  EXPECT_NE(seen["worker log"].find("kafka-sasl-password = *** (AUDITOR_KAFKA_SASL_PASSWORD)"),
            std::string::npos)
      << seen["worker log"];
  EXPECT_NE(seen["reset log"].find("kafka-sasl-password-file = "), std::string::npos)
      << seen["reset log"];
}

TEST_F(SecuredKafka, WrongPasswordFailsFast) {
  constexpr auto kBound = seconds(30);
  auto worker = start(worker_args(), log_path("worker-wrong-password"),
                      {{"AUDITOR_KAFKA_SASL_PASSWORD", "not-the-password"}});
  const auto worker_exit = wait_exit(*worker, kBound);
  ASSERT_TRUE(worker_exit.status) << "still running after " << kBound.count() << " s\n"
                                  << worker->log_tail();
  EXPECT_FALSE(worker_exit.status->clean());
  EXPECT_NE(read_text(worker->log_file()).find("authentication failed for User:worker"),
            std::string::npos)
      << worker->log_tail();
  std::cout << "worker with a wrong password exited after " << worker_exit.took.count() << " ms\n";

  const fs::path wrong = work_dir() / "secure-wrong.password";
  std::ofstream(wrong) << "not-the-password\n";
  auto rollups = start({"rollups", "--config", broker_->config("reader").string(),
                        "--kafka-sasl-password-file", wrong.string(), "--json"},
                       log_path("rollups-wrong-password"));
  // The config file's password file and the command line's: the command line wins.
  const auto rollups_exit = wait_exit(*rollups, kBound);
  ASSERT_TRUE(rollups_exit.status) << rollups->log_tail();
  EXPECT_FALSE(rollups_exit.status->clean());
  EXPECT_NE(read_text(rollups->log_file()).find("authentication failed for User:reader"),
            std::string::npos)
      << rollups->log_tail();
  std::cout << "rollups with a wrong password exited after " << rollups_exit.took.count()
            << " ms\n";
}

TEST_F(SecuredKafka, WithoutWriteOnTheRollupTopicTheWorkerStopsNamingTheAcl) {
  constexpr auto kBound = seconds(60);
  const auto admin = broker_->client("admin");
  change_topic_acl(admin.get(), false, "User:worker", "audit_rollups",
                   RD_KAFKA_ACL_OPERATION_WRITE);
  auto worker = start(worker_args(), log_path("worker-no-write"),
                      {{"AUDITOR_KAFKA_SASL_PASSWORD", broker_->password("worker")}});
  const auto exit = wait_exit(*worker, kBound);
  change_topic_acl(admin.get(), true, "User:worker", "audit_rollups", RD_KAFKA_ACL_OPERATION_WRITE);
  ASSERT_TRUE(exit.status) << "still running after " << kBound.count() << " s\n"
                           << worker->log_tail();
  EXPECT_FALSE(exit.status->clean());
  EXPECT_NE(read_text(worker->log_file())
                .find("not authorized to write topic audit_rollups: grant WRITE on "
                      "Topic:audit_rollups to User:worker"),
            std::string::npos)
      << worker->log_tail();
  std::cout << "worker without WRITE on audit_rollups exited after " << exit.took.count()
            << " ms\n";
}

}  // namespace
}  // namespace auditor::secured_test
