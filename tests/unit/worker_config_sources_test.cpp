// Where options come from: command line > AUDITOR_* environment > --config file > default,
// tested on the functions that build the configurations (no binary, no broker).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/unit/isolated_environment.h"
#include "worker/common/cli_options.h"
#include "worker/common/effective_config.h"
#include "worker/engine/options.h"
#include "worker/reset/options.h"

namespace auditor {
namespace {

namespace fs = std::filesystem;
using Properties = std::vector<std::pair<std::string, std::string>>;

class ConfigSources : public test::IsolatedEnvironment {
 protected:
  // Parses like the command does; `args` follow the command name.
  template <typename Declare>
  bool parse(const std::string& command, Declare declare, std::vector<std::string> args) {
    args.insert(args.begin(), command);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    cli::po::options_description options(command + " options");
    declare(options);
    values_ = {};
    origins_ = {};
    return cli::parse(static_cast<int>(argv.size()), argv.data(), command, "", options, values_,
                      &origins_);
  }

  WorkerConfig worker(std::vector<std::string> args = {}) {
    EXPECT_TRUE(parse("worker", add_worker_options, std::move(args)));
    return worker_config(values_, origins_);
  }

  ResetConfig reset(std::vector<std::string> args = {}) {
    EXPECT_TRUE(parse("reset", add_reset_options, std::move(args)));
    return reset_config(values_, origins_);
  }

  std::string config_error(std::vector<std::string> args) {
    try {
      (void)worker(std::move(args));
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "(no error)";
  }

  cli::po::variables_map values_;
  cli::Origins origins_;
};

TEST_F(ConfigSources, DefaultsWhenNothingIsSet) {
  const auto c = worker();
  EXPECT_EQ(c.grace, DurationMs{30'000});
  EXPECT_EQ(c.windows.size(), 3U);
  EXPECT_EQ(c.http_port, 8080);
  EXPECT_EQ(c.topics.input, "audit_events");
  EXPECT_EQ(c.guarantee, Guarantee::kExactlyOnce);
  EXPECT_EQ(c.standby_tasks, StandbyTasksMode::kNone);
  EXPECT_EQ(c.topics.ingest_group(), "auditor");
  EXPECT_EQ(c.topics.aggregate_group(), "auditor-aggregate");
  EXPECT_TRUE(origins_.empty());
}

TEST_F(ConfigSources, StandbyTasksIsNoneOrAll) {
  EXPECT_EQ(worker({"--standby-tasks", "all"}).standby_tasks, StandbyTasksMode::kAll);
  EXPECT_EQ(config_error({"--standby-tasks", "2"}),
            "--standby-tasks: '2' is not one of none or all");
}

TEST_F(ConfigSources, MemoryInBinaryUnits) {
  EXPECT_EQ(worker().memory_bytes, 512U << 20U);
  EXPECT_EQ(worker({"--memory", "1GiB"}).memory_bytes, 1U << 30U);
  EXPECT_EQ(worker({"--memory", "131072KiB"}).memory_bytes, 128U << 20U);
  EXPECT_EQ(worker({"--memory", "268435456"}).memory_bytes, 256U << 20U);
  set_env("AUDITOR_MEMORY", "768MiB");
  EXPECT_EQ(worker().memory_bytes, 768U << 20U);
  EXPECT_EQ(origins_.at("memory"), "AUDITOR_MEMORY");
  EXPECT_EQ(worker({"--config", write_file("m.conf", "memory = 2GiB\n")}).memory_bytes,
            768U << 20U);  // the environment wins over the file
  unset_env("AUDITOR_MEMORY");
  EXPECT_EQ(worker({"--config", write_file("m.conf", "memory = 2GiB\n")}).memory_bytes,
            2ULL << 30U);
}

TEST_F(ConfigSources, MemoryRejectsOtherUnitsAndTooLittle) {
  for (const char* text :
       {"768MB", "1GB", "512M", "1g", "512 MiB", "1.5GiB", "-1GiB", "", "lots"}) {
    EXPECT_NE(config_error({"--memory", text})
                  .find("--memory: '" + std::string(text) +
                        "' is not a size (a whole number of bytes, "
                        "KiB, MiB or GiB"),
              std::string::npos)
        << text;
  }
  EXPECT_EQ(config_error({"--memory", "127MiB"}),
            "--memory: must be between 128MiB and 64GiB (the parts it is split into would be "
            "too small to work below 128MiB)");
  EXPECT_NE(config_error({"--memory", "65GiB"}).find("between 128MiB and 64GiB"),
            std::string::npos);
  EXPECT_NE(config_error({"--memory", "99999999999999999999GiB"}).find("--memory"),
            std::string::npos);
}

TEST_F(ConfigSources, MemorySplitCountsTheStandbyConsumer) {
  const auto none = worker_memory(worker({"--memory", "1GiB"}));
  const auto all = worker_memory(worker({"--memory", "1GiB", "--standby-tasks", "all"}));
  EXPECT_EQ(none.consumers, 3);
  EXPECT_EQ(all.consumers, 4);
  EXPECT_EQ(none.block_cache_bytes, split_memory(1ULL << 30U, 3).block_cache_bytes);
}

TEST_F(ConfigSources, FileSetsOptions) {
  const auto file = write_file("w.conf",
                               "# a comment\n\ngrace = 1m\nwindows = 1m,1h\nhttp-port = 9090\n"
                               "guarantee = at-least-once\n");
  const auto c = worker({"--config", file});
  EXPECT_EQ(c.grace, DurationMs{60'000});
  EXPECT_EQ(c.windows.size(), 2U);
  EXPECT_EQ(c.http_port, 9090);
  EXPECT_EQ(c.guarantee, Guarantee::kAtLeastOnce);
  EXPECT_EQ(origins_.at("grace"), "config file " + file);
}

TEST_F(ConfigSources, EnvironmentBeatsFile) {
  const auto file = write_file("w.conf", "grace = 1m\n");
  set_env("AUDITOR_GRACE", "2m");
  EXPECT_EQ(worker({"--config", file}).grace, DurationMs{120'000});
  EXPECT_EQ(origins_.at("grace"), "AUDITOR_GRACE");
}

TEST_F(ConfigSources, CommandLineBeatsEnvironmentAndFile) {
  const auto file = write_file("w.conf", "grace = 1m\n");
  set_env("AUDITOR_GRACE", "2m");
  EXPECT_EQ(worker({"--config", file, "--grace", "3m"}).grace, DurationMs{180'000});
  EXPECT_EQ(origins_.at("grace"), "command line");
}

TEST_F(ConfigSources, EachOptionTakesItsHighestSource) {
  const auto file = write_file("w.conf", "windows = 1m\ngrace = 1m\nhttp-port = 1\n");
  set_env("AUDITOR_GRACE", "2m");
  set_env("AUDITOR_HTTP_PORT", "2");
  const auto c = worker({"--config", file, "--http-port", "3"});
  EXPECT_EQ(c.windows.size(), 1U);          // file
  EXPECT_EQ(c.grace, DurationMs{120'000});  // environment
  EXPECT_EQ(c.http_port, 3);                // command line
}

TEST_F(ConfigSources, ConfigFileNamedInTheEnvironment) {
  set_env("AUDITOR_CONFIG", write_file("env.conf", "grace = 4m\n"));
  EXPECT_EQ(worker().grace, DurationMs{240'000});
}

TEST_F(ConfigSources, ConfigFileOnTheCommandLineBeatsTheEnvironmentOne) {
  set_env("AUDITOR_CONFIG", write_file("env.conf", "grace = 4m\n"));
  EXPECT_EQ(worker({"--config", write_file("cli.conf", "grace = 5m\n")}).grace,
            DurationMs{300'000});
}

TEST_F(ConfigSources, KafkaPropertiesMergePerPropertyHigherSourceWins) {
  const auto file = write_file("w.conf",
                               "kafka = client.id=from-file\nkafka = client.rack=from-file\n"
                               "kafka = socket.timeout.ms=1000\n");
  set_env("AUDITOR_KAFKA", "client.rack=from-env");
  auto c = worker({"--config", file, "--kafka", "socket.timeout.ms=2000"});
  EXPECT_EQ(c.kafka.properties, (Properties{{"client.id", "from-file"},
                                            {"client.rack", "from-env"},
                                            {"socket.timeout.ms", "2000"}}));
  c = worker({"--config", file, "--kafka", "client.rack=from-cli"});
  EXPECT_EQ(c.kafka.properties, (Properties{{"client.id", "from-file"},
                                            {"client.rack", "from-cli"},
                                            {"socket.timeout.ms", "1000"}}));
}

TEST_F(ConfigSources, RepeatedPropertyOnTheCommandLineLastWins) {
  const auto c = worker({"--kafka", "client.rack=a", "--kafka", "client.rack=b"});
  EXPECT_EQ(c.kafka.properties, (Properties{{"client.rack", "b"}}));
}

// One file may serve the worker and `auditor reset`: keys of the other command only warn.
TEST_F(ConfigSources, FileKeysOfOtherCommandsAreIgnored) {
  const auto file = write_file("w.conf",
                               "application-id = shared\ngrace = 1m\nwindows = 1m\n"
                               "state-dir = /var/lib/auditor\n");
  const auto r = reset({"--config", file, "--to-earliest"});
  EXPECT_EQ(r.topics.application_id, "shared");
  EXPECT_EQ(r.state_dir, "/var/lib/auditor");
  EXPECT_EQ(worker({"--config", write_file("typo.conf", "gracee = 5m\n")}).grace,
            DurationMs{30'000});
}

TEST_F(ConfigSources, UnrelatedEnvironmentIsIgnored) {
  set_env("AUDITOR_BINARY", "/usr/bin/auditor");
  set_env("AUDITOR_HELP", "1");  // must not turn every run into --help
  set_env("AUDITOR_NOT_AN_OPTION", "x");
  cli::po::options_description options;
  add_worker_options(options);
  std::string command = "worker";
  char* argv[] = {command.data()};
  cli::po::variables_map values;
  EXPECT_TRUE(cli::parse(1, argv, "worker", "", options, values));
}

TEST_F(ConfigSources, ErrorsSayWhereTheValueWasSet) {
  set_env("AUDITOR_GRACE", "5x");
  EXPECT_NE(config_error({}).find("--grace (from AUDITOR_GRACE)"), std::string::npos)
      << config_error({});
  unset_env("AUDITOR_GRACE");
  const auto file = write_file("w.conf", "emit = sometimes\n");
  const auto error = config_error({"--config", file});
  EXPECT_NE(error.find("--emit (from config file " + file + ")"), std::string::npos) << error;
  EXPECT_NE(config_error({"--emit", "never"}).find("--emit: 'never'"), std::string::npos);
}

TEST_F(ConfigSources, ResetFlagsFromTheEnvironment) {
  set_env("AUDITOR_TO_EARLIEST", "true");
  set_env("AUDITOR_DRY_RUN", "1");
  set_env("AUDITOR_DELETE_STATE", "yes");
  const auto r = reset();
  EXPECT_EQ(r.target.kind, ResetTarget::Kind::kEarliest);
  EXPECT_TRUE(r.dry_run);
  EXPECT_EQ(r.local_state, LocalState::kDelete);
  set_env("AUDITOR_DRY_RUN", "false");
  EXPECT_FALSE(reset().dry_run);
}

TEST_F(ConfigSources, ResetTargets) {
  auto r = reset({"--to-datetime", "2026-11-22T09:00:00+01:00"});
  EXPECT_EQ(r.target.kind, ResetTarget::Kind::kDatetime);
  EXPECT_EQ(r.target.time, EventTime{1795334400000});  // 2026-11-22T08:00:00Z
  r = reset({"--to-offsets", "1:20,0:10", "--keep-state", "--timeout", "5s"});
  EXPECT_EQ(r.target.kind, ResetTarget::Kind::kOffsets);
  EXPECT_EQ(r.target.offsets, (std::map<std::int32_t, std::int64_t>{{0, 10}, {1, 20}}));
  EXPECT_EQ(r.local_state, LocalState::kKeep);
  EXPECT_EQ(r.timeout, std::chrono::milliseconds(5'000));
}

TEST_F(ConfigSources, EffectiveConfigurationMasksSecrets) {
  const auto file = write_file("secrets.conf",
                               "kafka = ssl.key.password=hunter2\n"
                               "kafka = sasl.oauthbearer.config=principal=admin secret=hunter3\n");
  set_env("AUDITOR_KAFKA_SASL_PASSWORD", "hunter4");
  set_env("AUDITOR_KAFKA_SASL_USERNAME", "worker");
  (void)worker({"--config", file, "--kafka", "client.id=visible"});
  std::string all;
  for (const auto& line : cli::describe_configuration(values_, origins_)) all += line + "\n";
  EXPECT_EQ(all.find("hunter"), std::string::npos) << all;
  EXPECT_NE(all.find("ssl.key.password=***"), std::string::npos) << all;
  EXPECT_NE(all.find("kafka-sasl-password = *** (AUDITOR_KAFKA_SASL_PASSWORD)"), std::string::npos)
      << all;
  EXPECT_NE(all.find("kafka-sasl-username = worker"), std::string::npos) << all;
  EXPECT_NE(all.find("client.id=visible"), std::string::npos) << all;
  EXPECT_NE(all.find("kafka = "), std::string::npos) << all;
  EXPECT_NE(all.find("(command line"), std::string::npos) << all;
  EXPECT_NE(all.find("grace = 30s (default)"), std::string::npos) << all;
}

TEST_F(ConfigSources, SecretsAreRefusedOnTheCommandLine) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"--kafka-sasl-password", "hunter2"},
                                             {"--kafka", "sasl.password=hunter2"},
                                             {"--kafka", "ssl.key.password=hunter2"}}) {
    const auto error = config_error(args);
    EXPECT_NE(error.find("not accepted on the command line"), std::string::npos) << error;
    EXPECT_EQ(error.find("hunter2"), std::string::npos) << error;
  }
}

TEST_F(ConfigSources, SecurityOptionsFromEnvironmentAndFile) {
  const auto password = write_file("password", "s3cret\n");
  const auto file = write_file("secure.conf",
                               "kafka-security-protocol = SASL_SSL\n"
                               "kafka-sasl-mechanism = SCRAM-SHA-512\n"
                               "kafka-sasl-password-file = " +
                                   password + "\n");
  set_env("AUDITOR_KAFKA_SASL_USERNAME", "worker");
  set_env("AUDITOR_KAFKA_SSL_CA_LOCATION", "/etc/ssl/certs/ca-certificates.crt");
  const auto c = worker({"--config", file});
  const Properties expected = {{"security.protocol", "SASL_SSL"},
                               {"sasl.mechanism", "SCRAM-SHA-512"},
                               {"sasl.username", "worker"},
                               {"ssl.ca.location", "/etc/ssl/certs/ca-certificates.crt"},
                               {"sasl.password", "s3cret"}};
  EXPECT_EQ(c.kafka.properties, expected);
  EXPECT_EQ(c.kafka.principal(), "User:worker");
  std::string all;
  for (const auto& line : cli::describe_configuration(values_, origins_)) all += line + "\n";
  EXPECT_EQ(all.find("s3cret"), std::string::npos) << all;
  EXPECT_NE(all.find("kafka-sasl-password-file = " + password), std::string::npos) << all;
}

TEST_F(ConfigSources, PasswordSetTwiceOrUnreadableIsAnError) {
  set_env("AUDITOR_KAFKA_SASL_PASSWORD", "hunter2");
  auto error = config_error({"--kafka-sasl-password-file", write_file("p", "x")});
  EXPECT_NE(error.find("use one of them"), std::string::npos) << error;
  unset_env("AUDITOR_KAFKA_SASL_PASSWORD");
  error = config_error({"--kafka-sasl-password-file", (dir_ / "absent").string()});
  EXPECT_NE(error.find("--kafka-sasl-password-file: cannot read"), std::string::npos) << error;
  set_env("AUDITOR_KAFKA_SASL_USERNAME", "a");
  error = config_error({"--kafka", "sasl.username=b"});
  EXPECT_NE(error.find("both set sasl.username"), std::string::npos) << error;
}

TEST(SecretProperty, RecognisesCredentials) {
  for (const char* key :
       {"sasl.password", "ssl.key.password", "ssl.keystore.password",
        "sasl.oauthbearer.client.secret", "sasl.oauthbearer.config", "ssl.key.pem",
        "sasl.jaas.config", "SASL.PASSWORD", "kafka-sasl-password"}) {
    EXPECT_TRUE(cli::is_secret_property(key)) << key;
  }
  for (const char* key : {"sasl.username", "security.protocol", "client.id", "acks",
                          "kafka-sasl-password-file", "ssl.keystore.location"}) {
    EXPECT_FALSE(cli::is_secret_property(key)) << key;
  }
}

TEST(BootstrapServers, AcceptsTheFormsLibrdkafkaTakes) {
  for (const char* servers : {"127.0.0.1:9092", "a:9092,b:9093", "a:9092, b:9093", "kafka",
                              "SSL://broker:9093", "[::1]:9092", "[::1]"}) {
    EXPECT_NO_THROW(validate_bootstrap_servers("--bootstrap-servers", servers)) << servers;
  }
  for (const char* servers : {"", "a:", "a:0", "a:65536", "a:x", "a:9092,", ",a:9092", ":9092"}) {
    EXPECT_THROW(validate_bootstrap_servers("--bootstrap-servers", servers), ConfigError)
        << servers;
  }
}

}  // namespace
}  // namespace auditor
