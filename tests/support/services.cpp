#include "tests/support/services.h"

#include <csignal>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/harness.h"

namespace auditor::api_test {
namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

std::filesystem::path auditor_binary() {
  return it::auditor_binary();
}

std::filesystem::path work_dir() {
  return it::work_dir();
}

std::string first_lines(const std::vector<std::string>& lines, std::size_t max) {
  return it::first_lines(lines, max);
}

httplib::Client Service::client() const {
  httplib::Client c("127.0.0.1", port);
  c.set_keep_alive(true);
  c.set_tcp_nodelay(true);
  c.set_connection_timeout(std::chrono::seconds(5));
  c.set_read_timeout(std::chrono::seconds(30));
  return c;
}

std::string Service::url(const std::string& path) const {
  return scheme + "://127.0.0.1:" + std::to_string(port) + path;
}

Service start_service(const std::string& command, std::vector<std::string> args,
                      const std::string& log_name, const std::string& bootstrap) {
  args.insert(args.begin(),
              {command, "--port", "0", "--host", "127.0.0.1", "--bootstrap-servers", bootstrap});
  Service service;
  service.process = std::make_unique<ChildProcess>(auditor_binary(), args,
                                                   work_dir() / "logs" / (log_name + ".log"));
  const std::regex listening(R"(listening on (https?)://[^ ]*:([0-9]+))");
  const auto deadline = deadline_in(std::chrono::seconds(20));
  while (Clock::now() < deadline) {
    std::smatch m;
    const std::string log = read_file(service.process->log_file());
    if (std::regex_search(log, m, listening)) {
      service.scheme = m[1];
      service.port = std::stoi(m[2]);
      return service;
    }
    if (!service.process->running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("auditor " + command + " did not start listening:\n" +
                           service.process->log_tail());
}

std::unique_ptr<ChildProcess> start_worker(const std::string& app_id,
                                           const std::string& input_topic,
                                           const std::string& output_topic,
                                           const std::string& grace) {
  const auto state_dir = work_dir() / "state" / app_id;
  std::filesystem::remove_all(state_dir);
  return std::make_unique<ChildProcess>(
      auditor_binary(),
      std::vector<std::string>{"worker", "--bootstrap-servers", test::bootstrap_servers(),
                               "--application-id", app_id, "--input-topic", input_topic,
                               "--output-topic", output_topic, "--dlq-topic", input_topic + ".dlq",
                               "--grace", grace, "--commit-interval", "500ms", "--state-dir",
                               state_dir.string(), "--http-port", "0"},
      work_dir() / "logs" / (app_id + "-worker.log"));
}

std::string stop(ChildProcess& process) {
  process.signal(SIGTERM);
  const auto status = process.wait(deadline_in(std::chrono::seconds(30)));
  if (!status) return "did not stop within 30 s\n" + process.log_tail();
  if (!status->clean()) return status->describe() + "\n" + process.log_tail();
  return "";
}

std::string url_encode(const std::string& value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4U];
      out += kHex[c & 15U];
    }
  }
  return out;
}

std::vector<nlohmann::json> rollups_json(const std::string& topic) {
  const auto log = work_dir() / "logs" / ("rollups-" + topic + ".log");
  ChildProcess rollups(auditor_binary(),
                       {"rollups", "--bootstrap-servers", test::bootstrap_servers(),
                        "--output-topic", topic, "--json", "--log-level", "warn"},
                       log);
  const auto status = rollups.wait(deadline_in(std::chrono::seconds(60)));
  if (!status || !status->clean()) {
    throw std::runtime_error("auditor rollups failed:\n" + rollups.log_tail());
  }
  std::vector<nlohmann::json> lines;
  std::istringstream in(read_file(log));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.front() == '{') lines.push_back(nlohmann::json::parse(line));
  }
  return lines;
}

std::map<std::string, nlohmann::json> latest_rollups(
    const std::string& topic,
    const std::function<bool(const std::map<std::string, nlohmann::json>&)>& until,
    Deadline deadline) {
  test::TopicReader reader(topic, deadline);
  std::map<std::string, nlohmann::json> latest;
  std::size_t folded = 0;
  while (Clock::now() < deadline) {
    reader.poll(std::chrono::milliseconds(300));
    for (; folded < reader.records().size(); ++folded) {
      const auto& r = reader.records()[folded];
      if (!r.key) continue;
      if (r.value) {
        latest[*r.key] = nlohmann::json::parse(*r.value);
      } else {
        latest.erase(*r.key);
      }
    }
    if (until(latest)) break;
  }
  return latest;
}

std::int64_t total_count(const std::map<std::string, nlohmann::json>& latest,
                         const std::string& window) {
  std::int64_t total = 0;
  for (const auto& [key, value] : latest) {
    if (value.at("window") == window) total += value.at("count").get<std::int64_t>();
  }
  return total;
}

}  // namespace auditor::api_test
