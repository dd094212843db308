// Shared pieces of the tick API and dashboard tests (tests/integration/tick_api_test.cpp,
// dashboard_test.cpp, load_test.cpp; tests/robustness/broker_outage_test.cpp): starting
// `auditor` subcommands on a free port, HTTP helpers, and reading rollups the way
// `auditor rollups --json` prints them. Built once, into the auditor_test_harness library
// (tests/support/CMakeLists.txt).
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/kafka.h"

namespace auditor::api_test {

using test::ChildProcess;
using test::Clock;
using test::Deadline;
using test::deadline_in;

// The binary under test ($AUDITOR_BINARY overrides) and where logs and screenshots go (the
// same as harness.h's: <dir of the test executable>/work).
[[nodiscard]] std::filesystem::path auditor_binary();
[[nodiscard]] std::filesystem::path work_dir();

// A running `auditor tick-api` or `auditor dashboard` on a free port.
struct Service {
  std::unique_ptr<ChildProcess> process;
  int port = 0;
  std::string scheme = "http";  // "https" when started with --tls-cert/--tls-key
  // A plain-HTTP client (an HTTPS service needs an httplib::SSLClient).
  [[nodiscard]] httplib::Client client() const;
  [[nodiscard]] std::string url(const std::string& path = "/") const;
};

// Starts `auditor <command> --port 0 <args>` and waits for its "listening on" log line.
// `bootstrap` defaults to the test broker. Throws with the log tail on failure.
[[nodiscard]] Service start_service(const std::string& command, std::vector<std::string> args,
                                    const std::string& log_name,
                                    const std::string& bootstrap = test::bootstrap_servers());

// Starts `auditor worker` with its own application id, topics and state dir.
[[nodiscard]] std::unique_ptr<ChildProcess> start_worker(const std::string& app_id,
                                                         const std::string& input_topic,
                                                         const std::string& output_topic,
                                                         const std::string& grace = "30s");

// Sends SIGTERM and waits up to 30 s for a clean exit; "" or what went wrong.
[[nodiscard]] std::string stop(ChildProcess& process);

// Percent-encodes a query parameter value (every byte but unreserved characters).
[[nodiscard]] std::string url_encode(const std::string& value);

// The first `max` lines of a list of problems, for assertion messages (harness.h's).
[[nodiscard]] std::string first_lines(const std::vector<std::string>& lines, std::size_t max = 25);

// Runs `auditor rollups --json` on `topic` and returns its lines, parsed.
[[nodiscard]] std::vector<nlohmann::json> rollups_json(const std::string& topic);

// The latest value of every window of a rollup topic (key bytes -> value), tombstones
// applied, read directly (read_committed) until `until` holds or the deadline passes.
[[nodiscard]] std::map<std::string, nlohmann::json> latest_rollups(
    const std::string& topic,
    const std::function<bool(const std::map<std::string, nlohmann::json>&)>& until,
    Deadline deadline);

// Sum of `count` over the windows of one size ("1d") in a latest_rollups() map.
[[nodiscard]] std::int64_t total_count(const std::map<std::string, nlohmann::json>& latest,
                                       const std::string& window);

}  // namespace auditor::api_test
