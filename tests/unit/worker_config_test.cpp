// Every invalid configuration value stops the real `auditor` binary before it connects:
// exit code 2 and a message on stderr that names the option (and, for values from the
// environment or a config file, where it was set). No broker is needed: the binary is
// pointed at a closed port, so a check that failed to stop it would show up as a hang that
// the runner kills, not as a connection.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace auditor {
namespace {

namespace fs = std::filesystem;

struct Outcome {
  int exit_code = -1;  // -1: killed after the deadline
  std::string err;
};

// Runs `auditor <args>` with the AUDITOR_* variables of this process removed and `env`
// added; collects stderr; kills the child after `limit`.
Outcome run_auditor(const std::vector<std::string>& args,
                    const std::map<std::string, std::string>& env = {},
                    std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  std::vector<std::string> environment;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).rfind("AUDITOR_", 0) != 0) environment.emplace_back(*e);
  }
  for (const auto& [key, value] : env) environment.push_back(key + "=" + value);
  std::vector<std::string> argv_text = {AUDITOR_BINARY_PATH};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  std::vector<char*> envp;
  for (auto& a : argv_text) argv.push_back(a.data());
  for (auto& e : environment) envp.push_back(e.data());
  argv.push_back(nullptr);
  envp.push_back(nullptr);

  int err_pipe[2];
  if (pipe(err_pipe) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = fork();
  if (pid == 0) {
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    close(err_pipe[0]);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(err_pipe[1]);
  Outcome outcome;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd fd{err_pipe[0], POLLIN, 0};
    if (left.count() <= 0 || poll(&fd, 1, static_cast<int>(left.count())) <= 0) {
      kill(pid, SIGKILL);  // still running: it got past validation
      break;
    }
    const auto n = read(err_pipe[0], buffer, sizeof buffer);
    if (n <= 0) break;
    outcome.err.append(buffer, static_cast<std::size_t>(n));
  }
  close(err_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) outcome.exit_code = WEXITSTATUS(status);
  return outcome;
}

struct InvalidCase {
  const char* name;
  std::vector<std::string> args;      // after the command
  std::vector<std::string> expected;  // substrings of stderr
  std::map<std::string, std::string> env = {};
  std::string file = {};  // config file content, passed with --config when not empty
};

// A scratch directory per test process for config files and state dirs, removed at exit.
struct ScratchDir {
  fs::path path = fs::temp_directory_path() / ("auditor-config-test-" + std::to_string(getpid()));
  ScratchDir() { fs::create_directories(path); }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
};

const fs::path& scratch() {
  static const ScratchDir dir;
  return dir.path;
}

// Whether the case sets `option` itself (command line, environment or file).
bool sets(const InvalidCase& c, const std::string& option) {
  std::string env = "AUDITOR_";
  for (const char ch : option) env += ch == '-' ? '_' : static_cast<char>(std::toupper(ch));
  return std::any_of(c.args.begin(), c.args.end(),
                     [&](const std::string& a) { return a.rfind("--" + option, 0) == 0; }) ||
         c.env.contains(env) || c.file.find(option) != std::string::npos;
}

Outcome run_case(const std::string& command, const InvalidCase& c) {
  std::vector<std::string> args = {command};
  // A closed port, a scratch state dir and any free HTTP port, unless the case tests them.
  const std::vector<std::pair<std::string, std::string>> defaults = {
      {"bootstrap-servers", "127.0.0.1:1"},
      {"state-dir", (scratch() / "state").string()},
      {"http-port", "0"}};
  for (const auto& [option, value] : defaults) {
    if (option == "http-port" && command != "worker") continue;
    if (!sets(c, option)) args.insert(args.end(), {"--" + option, value});
  }
  if (!c.file.empty()) {
    const auto path = scratch() / (std::string(c.name) + ".conf");
    std::ofstream(path) << c.file;
    args.insert(args.end(), {"--config", path.string()});
  }
  args.insert(args.end(), c.args.begin(), c.args.end());
  return run_auditor(args, c.env);
}

void expect_rejected(const std::string& command, const InvalidCase& c) {
  const auto outcome = run_case(command, c);
  EXPECT_EQ(outcome.exit_code, 2) << "stderr:\n" << outcome.err;
  for (const auto& part : c.expected) {
    EXPECT_NE(outcome.err.find(part), std::string::npos)
        << "stderr does not mention '" << part << "':\n"
        << outcome.err;
  }
}

const std::string kLongName(250, 'a');

std::vector<InvalidCase> worker_cases() {
  return {
      {"WindowsUnknownUnit", {"--windows", "5x"}, {"--windows", "5x"}},
      {"WindowsEmpty", {"--windows", ""}, {"--windows"}},
      {"WindowsZero", {"--windows", "0s"}, {"--windows"}},
      {"WindowsDuplicate", {"--windows", "1m,60s"}, {"--windows"}},
      {"GraceNegative", {"--grace=-5s"}, {"--grace", "-5s"}},
      {"GraceNegativeSeparate", {"--grace", "-5s"}, {"--grace"}},
      {"GraceWithoutUnit", {"--grace", "30"}, {"--grace"}},
      {"GraceMissingValue", {"--grace"}, {"--grace"}},
      {"GraceTwice", {"--grace", "1s", "--grace", "2s"}, {"--grace"}},
      {"CommitIntervalTooShort", {"--commit-interval", "1ms"}, {"--commit-interval"}},
      {"CommitIntervalTooLong", {"--commit-interval", "2m"}, {"--commit-interval"}},
      {"StateRetentionNotDuration", {"--state-retention", "long"}, {"--state-retention"}},
      {"RollupRetentionZero", {"--rollup-retention", "0s"}, {"--rollup-retention"}},
      {"GuaranteeUnknown", {"--guarantee", "exactly_once"}, {"--guarantee", "exactly_once"}},
      {"EmitUnknown", {"--emit", "sometimes"}, {"--emit", "sometimes"}},
      {"InputTopicSpace", {"--input-topic", "audit events"}, {"--input-topic"}},
      {"InputTopicEmpty", {"--input-topic", ""}, {"--input-topic"}},
      {"OutputTopicTooLong", {"--output-topic", kLongName}, {"--output-topic"}},
      {"DlqTopicDotDot", {"--dlq-topic", ".."}, {"--dlq-topic"}},
      {"ApplicationIdSlash", {"--application-id", "a/b"}, {"--application-id"}},
      // Fits as a topic name alone, but not with "-ticks-repartition" appended.
      {"ApplicationIdTooLongForInternalTopics",
       {"--application-id", std::string(240, 'a')},
       {"--application-id"}},
      {"OutputTopicIsInput", {"--output-topic", "audit_events"}, {"--output-topic"}},
      {"DlqTopicIsOutput", {"--dlq-topic", "audit_rollups"}, {"--dlq-topic"}},
      {"HttpPortNotNumber", {"--http-port", "abc"}, {"--http-port", "abc"}},
      {"HttpPortTooLarge", {"--http-port", "70000"}, {"--http-port"}},
      {"HttpPortNegative", {"--http-port", "-1"}, {"--http-port"}},
      {"HttpPortOverflow", {"--http-port", "99999999999"}, {"--http-port"}},
      {"AdvertisedHttpNoPort", {"--advertised-http", "worker-0"}, {"--advertised-http"}},
      {"AdvertisedHttpPortZero", {"--advertised-http", "worker-0:0"}, {"--advertised-http"}},
      {"AdvertisedHttpUrl", {"--advertised-http", "http://w:8080"}, {"--advertised-http"}},
      {"AdvertisedHttpEmptyHost", {"--advertised-http", ":8080"}, {"--advertised-http"}},
      {"EnvAdvertisedHttp",
       {},
       {"AUDITOR_ADVERTISED_HTTP", "advertised-http"},
       {{"AUDITOR_ADVERTISED_HTTP", "w|0:8080"}}},
      {"MemoryDecimalUnit", {"--memory", "768MB"}, {"--memory", "768MB", "KiB, MiB or GiB"}},
      {"MemoryTooSmall", {"--memory", "64MiB"}, {"--memory", "between 128MiB and 64GiB"}},
      {"EnvMemory", {}, {"AUDITOR_MEMORY", "memory"}, {{"AUDITOR_MEMORY", "1GB"}}},
      {"FileMemory", {}, {"--memory", "config file"}, {}, "memory = 100MiB\n"},
      {"PartitionsZero", {"--partitions", "0"}, {"--partitions"}},
      {"PartitionsNotNumber", {"--partitions", "six"}, {"--partitions"}},
      {"InstanceIdEmpty", {"--instance-id", ""}, {"--instance-id"}},
      {"StateDirEmpty", {"--state-dir", ""}, {"--state-dir"}},
      {"LogLevelUnknown", {"--log-level", "loud"}, {"--log-level", "loud"}},
      {"LogFormatUnknown", {"--log-format", "xml"}, {"--log-format", "xml"}},
      {"BootstrapServersEmpty", {"--bootstrap-servers", ""}, {"--bootstrap-servers"}},
      {"BootstrapServersBadPort", {"--bootstrap-servers", "kafka:abc"}, {"--bootstrap-servers"}},
      {"BootstrapServersEmptyEntry", {"--bootstrap-servers", "a:9092,"}, {"--bootstrap-servers"}},
      {"KafkaNotKeyValue", {"--kafka", "acks"}, {"--kafka", "acks"}},
      {"KafkaUnknownProperty", {"--kafka", "no.such.property=1"}, {"--kafka", "no.such.property"}},
      {"KafkaBadValue", {"--kafka", "acks=banana"}, {"--kafka", "acks"}},
      {"KafkaOwnedByWorker", {"--kafka", "group.id=other"}, {"--kafka", "group.id"}},
      {"KafkaIsolationOwned", {"--kafka", "isolation.level=read_uncommitted"}, {"--kafka"}},
      {"UnknownOption", {"--gracee", "1m"}, {"--gracee"}},
      {"StrayArgument", {"30s"}, {"unexpected argument '30s'"}},
      {"EnvGrace", {}, {"--grace", "AUDITOR_GRACE"}, {{"AUDITOR_GRACE", "5x"}}},
      {"EnvHttpPort", {}, {"AUDITOR_HTTP_PORT", "http-port"}, {{"AUDITOR_HTTP_PORT", "abc"}}},
      {"EnvGuarantee", {}, {"--guarantee", "AUDITOR_GUARANTEE"}, {{"AUDITOR_GUARANTEE", "x"}}},
      {"EnvBootstrap", {}, {"--bootstrap-servers"}, {{"AUDITOR_BOOTSTRAP_SERVERS", "h:0"}}},
      {"EnvConfigMissing", {}, {"--config"}, {{"AUDITOR_CONFIG", "/nonexistent/auditor.conf"}}},
      {"FileGrace", {}, {"--grace", "config file"}, {}, "grace = 5x\n"},
      {"FileHttpPort", {}, {"http-port", "config file"}, {}, "# port\nhttp-port = abc\n"},
      {"FileWindows", {}, {"--windows", "config file"}, {}, "windows = 1m,1x\n"},
      {"FileSyntax", {}, {"config file"}, {}, "grace 30s\n"},
      {"FileNamesAnotherFile", {}, {"config"}, {}, "config = other.conf\n"},
      {"ConfigMissing", {"--config", "/nonexistent/auditor.conf"}, {"--config"}},
  };
}

std::vector<InvalidCase> reset_cases() {
  return {
      {"NoTarget", {}, {"--to-earliest", "--to-datetime", "--to-offsets"}},
      {"TwoTargets", {"--to-earliest", "--to-offsets", "0:1"}, {"--to-earliest"}},
      {"DatetimeNotRfc3339", {"--to-datetime", "yesterday"}, {"--to-datetime", "yesterday"}},
      {"DatetimeWithoutZone", {"--to-datetime", "2026-11-22T09:00:00"}, {"--to-datetime"}},
      {"DatetimeBefore1970", {"--to-datetime", "1969-12-31T23:59:59Z"}, {"--to-datetime"}},
      {"OffsetsNotNumbers", {"--to-offsets", "0:x"}, {"--to-offsets", "0:x"}},
      {"OffsetsNegative", {"--to-offsets", "0:-5"}, {"--to-offsets"}},
      {"OffsetsWithoutColon", {"--to-offsets", "12"}, {"--to-offsets"}},
      {"OffsetsDuplicatePartition", {"--to-offsets", "0:1,0:2"}, {"--to-offsets"}},
      {"DeleteAndKeepState", {"--to-earliest", "--delete-state", "--keep-state"}, {"--keep-state"}},
      {"TimeoutZero", {"--to-earliest", "--timeout", "0s"}, {"--timeout"}},
      {"ApplicationIdBad", {"--to-earliest", "--application-id", "a b"}, {"--application-id"}},
      {"EnvDryRunNotBool",
       {"--to-earliest"},
       {"AUDITOR_DRY_RUN", "dry-run"},
       {{"AUDITOR_DRY_RUN", "maybe"}}},
      {"UnknownOption", {"--to-latest"}, {"--to-latest"}},
  };
}

// Test names instead of byte dumps in failure messages.
void PrintTo(const InvalidCase& c, std::ostream* out) {
  *out << c.name;
}

class WorkerRejects : public testing::TestWithParam<InvalidCase> {};
class ResetRejects : public testing::TestWithParam<InvalidCase> {};

TEST_P(WorkerRejects, WithExitCodeTwoNamingTheOption) {
  expect_rejected("worker", GetParam());
}

TEST_P(ResetRejects, WithExitCodeTwoNamingTheOption) {
  expect_rejected("reset", GetParam());
}

std::string case_name(const testing::TestParamInfo<InvalidCase>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Config, WorkerRejects, testing::ValuesIn(worker_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Config, ResetRejects, testing::ValuesIn(reset_cases()), case_name);

// A replay on top of an existing local store would count its ticks twice: without
// --delete-state or --keep-state the reset stops before connecting.
TEST(ResetLocalState, ExistingStateNeedsADecision) {
  fs::create_directories(scratch() / "state" / "auditor" / "task-0");
  const auto outcome = run_case("reset", {"ExistingState", {"--to-earliest"}, {}});
  fs::remove_all(scratch() / "state");
  EXPECT_EQ(outcome.exit_code, 2) << outcome.err;
  EXPECT_NE(outcome.err.find("--delete-state"), std::string::npos) << outcome.err;
  EXPECT_NE(outcome.err.find("--keep-state"), std::string::npos) << outcome.err;
}

// --log-format json from the first line on: the effective configuration and whatever the
// worker says while it cannot reach the (closed) bootstrap port are each one JSON object.
TEST(LogFormat, JsonLinesFromTheStart) {
  const auto outcome = run_auditor(
      {"worker", "--log-format", "json", "--instance-id", "r1", "--bootstrap-servers",
       "127.0.0.1:1", "--state-dir", (scratch() / "json-state").string(), "--http-port", "0"},
      {}, std::chrono::seconds(4));
  std::istringstream lines(outcome.err);
  int parsed = 0;
  for (std::string line; std::getline(lines, line);) {
    const auto json = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(json.is_object()) << "not a JSON object: " << line;
    for (const char* key : {"time", "level", "component", "message", "fields"}) {
      EXPECT_TRUE(json.contains(key)) << key << " missing: " << line;
    }
    EXPECT_EQ(json["fields"].value("command", ""), "worker") << line;
    EXPECT_EQ(json["fields"].value("instance_id", ""), "r1") << line;
    ++parsed;
  }
  EXPECT_GE(parsed, 5) << "expected the configuration lines at least:\n" << outcome.err;
}

TEST(Help, ExitsZeroForEveryConfiguredCommand) {
  for (const char* command : {"worker", "reset"}) {
    EXPECT_EQ(run_auditor({command, "--help"}).exit_code, 0) << command;
  }
}

}  // namespace
}  // namespace auditor
