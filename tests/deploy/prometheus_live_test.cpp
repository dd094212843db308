// A real Prometheus (Debian's) scraping a real worker, tick API and dashboard against the
// real broker, with the repository's deploy/prometheus/kubernetes.yml and alerts.yml:
//
// 1. `promtool check metrics` finds no problem in any of the three /metrics (checked last,
//    once ticks flowed and every labelled series exists).
// 2. Prometheus runs kubernetes.yml with its pod discovery swapped for a file of three
//    annotated "pods" (the three services) and two that must be dropped (not annotated;
//    pending): the relabeling must find exactly the three, named auditor-worker,
//    auditor-tick-api, auditor-dashboard, all up.
// 3. Ticks are posted to the tick API at a known steady rate; PromQL over Prometheus's
//    HTTP API must give that rate for the worker's consumed ticks and the tick API's
//    acknowledged ones, within kTolerance.
// 4. auditor_build_info is seen for all three with the binary's version and commit, the
//    rule groups of alerts.yml are loaded and evaluate without error, none fires, and every
//    metric name alerts.yml mentions is one Prometheus scraped from the services.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/services.h"

namespace auditor::api_test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr double kTicksPerSecond = 100;
constexpr auto kPostFor = 30s;
constexpr int kPosters = 4;
// rate() over 15 s of 1 s scrapes: a tick more or less per scrape, and the worker's
// consumption in fetch batches, stay well inside this.
constexpr double kTolerance = 0.10;

const std::filesystem::path kPrometheusDir = AUDITOR_PROMETHEUS_DIR;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// A port nothing listens on right now (the kernel's pick for an ephemeral bind).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// The worker's HTTP port from its "listening on port P" log line; -1 if it exited first.
int worker_port(ChildProcess& worker, Deadline deadline) {
  static const std::regex listening("listening on port ([0-9]+)");
  while (Clock::now() < deadline && worker.running()) {
    const std::string log = read_file(worker.log_file());
    std::smatch m;
    if (std::regex_search(log, m, listening)) return std::stoi(m[1].str());
    std::this_thread::sleep_for(50ms);
  }
  return -1;
}

httplib::Client client_for(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(2s);
  c.set_read_timeout(10s);
  return c;
}

// Runs a program to its end (at most 60 s); its exit status and output.
struct ToolRun {
  bool ok = false;
  std::string output;
};
ToolRun run_tool(const std::filesystem::path& program, const std::vector<std::string>& args,
                 const std::string& log_name) {
  ChildProcess p(program, args, work_dir() / "logs" / (log_name + ".log"));
  const auto status = p.wait(deadline_in(60s));
  return {status && status->clean(), read_file(p.log_file())};
}

// `promtool check metrics` on one service's /metrics.
ToolRun check_metrics(const std::string& service, int port) {
  const auto res = client_for(port).Get("/metrics");
  if (!res || res->status != 200) return {false, service + ": GET /metrics failed"};
  const auto file = work_dir() / "prometheus-live" / (service + ".metrics.txt");
  std::ofstream(file) << res->body;
  return run_tool("/bin/sh",
                  {"-c", std::string(AUDITOR_PROMTOOL) + " check metrics < " + file.string()},
                  "promtool-check-metrics-" + service);
}

// GET on Prometheus's HTTP API; the "data" member, or null (with the reason on stderr).
json api(int port, const std::string& path, const std::string& query = "") {
  const auto res =
      client_for(port).Get(path + (query.empty() ? "" : "?query=" + url_encode(query)));
  if (!res || res->status != 200) {
    std::cerr << "GET " << path << " " << query << ": "
              << (res ? std::to_string(res->status) + " " + res->body : "no answer") << "\n";
    return nullptr;
  }
  const json body = json::parse(res->body, nullptr, false);
  if (body.is_discarded() || body.value("status", "") != "success") return nullptr;
  return body["data"];
}

// An instant PromQL query; the vector result (empty when none or on error).
json query(int port, const std::string& promql) {
  const json data = api(port, "/api/v1/query", promql);
  if (data.is_null() || data.value("resultType", "") != "vector") return json::array();
  return data["result"];
}

double sample_value(const json& sample) {
  return std::stod(sample["value"][1].get<std::string>());
}

// One annotated "pod" as Kubernetes discovery would describe it (pod IP plus a container
// port the annotation overrides).
json pod(const std::string& name, const std::string& component, int port,
         const std::string& scrape = "true", const std::string& phase = "Running") {
  return {{"targets", json::array({"127.0.0.1:1"})},
          {"labels",
           {{"__meta_kubernetes_namespace", "auditor-test"},
            {"__meta_kubernetes_pod_name", name},
            {"__meta_kubernetes_pod_phase", phase},
            {"__meta_kubernetes_pod_label_app_kubernetes_io_component", component},
            {"__meta_kubernetes_pod_annotation_prometheus_io_scrape", scrape},
            {"__meta_kubernetes_pod_annotation_prometheus_io_port", std::to_string(port)},
            {"__meta_kubernetes_pod_annotation_prometheus_io_path", "/metrics"}}}};
}

// "auditor 0.6.0 (commit abc)" -> {"0.6.0", "abc"}
std::pair<std::string, std::string> binary_version() {
  const ToolRun r = run_tool(auditor_binary(), {"--version"}, "auditor-version");
  static const std::regex line(R"(auditor (\S+) \(commit (\S+)\))");
  std::smatch m;
  if (!r.ok || !std::regex_search(r.output, m, line)) return {};
  return {m[1].str(), m[2].str()};
}

TEST(PrometheusLive, ScrapesTheServicesMeasuresTheTickRateAndLoadsTheAlerts) {
  for (const char* tool : {AUDITOR_PROMTOOL, AUDITOR_PROMETHEUS, AUDITOR_PYTHON3}) {
    ASSERT_EQ(::access(tool, X_OK), 0) << tool << " is missing: run scripts/install-deps.sh";
  }
  const std::string suffix = test::unique_suffix();
  const std::string app_id = "prom-live-" + suffix;
  const std::string input = "prom-live-in-" + suffix;
  const std::string output = "prom-live-out-" + suffix;
  const auto dir = work_dir() / "prometheus-live";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  auto worker = start_worker(app_id, input, output);
  const int wport = worker_port(*worker, deadline_in(30s));
  ASSERT_GT(wport, 0) << worker->log_tail();
  Service tick_api = start_service("tick-api", {"--input-topic", input}, app_id + "-tick-api");
  Service dashboard = start_service("dashboard", {"--output-topic", output}, app_id + "-dashboard");
  const auto ready_by = deadline_in(60s);
  while (Clock::now() < ready_by) {
    const auto res = client_for(wport).Get("/readyz");
    if (res && res->status == 200) break;
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_LT(Clock::now(), ready_by) << "worker not ready\n" << worker->log_tail();

  // Prometheus on kubernetes.yml, discovery swapped for pods.json.
  const json pods = {pod("auditor-worker-0", "worker", wport),
                     pod("auditor-tick-api-x", "tick-api", tick_api.port),
                     pod("auditor-dashboard-y", "dashboard", dashboard.port),
                     pod("not-annotated", "worker", wport, "false"),
                     pod("auditor-worker-1", "worker", wport, "true", "Pending")};
  std::ofstream(dir / "pods.json") << pods.dump(2);
  const ToolRun transformed =
      run_tool(AUDITOR_PYTHON3,
               {AUDITOR_K8S_AS_FILE_SD, (kPrometheusDir / "kubernetes.yml").string(),
                (dir / "prometheus.yml").string(), "--interval", "1s"},
               "prometheus-live-config");
  ASSERT_TRUE(transformed.ok) << transformed.output;
  const ToolRun config_check =
      run_tool(AUDITOR_PROMTOOL, {"check", "config", (dir / "prometheus.yml").string()},
               "prometheus-live-check-config");
  ASSERT_TRUE(config_check.ok) << config_check.output;

  const int pport = free_port();
  ChildProcess prometheus(AUDITOR_PROMETHEUS,
                          {"--config.file=" + (dir / "prometheus.yml").string(),
                           "--storage.tsdb.path=" + (dir / "data").string(),
                           "--web.listen-address=127.0.0.1:" + std::to_string(pport)},
                          work_dir() / "logs" / (app_id + "-prometheus.log"));
  const auto up_by = deadline_in(30s);
  while (Clock::now() < up_by && prometheus.running()) {
    const auto res = client_for(pport).Get("/-/ready");
    if (res && res->status == 200) break;
    std::this_thread::sleep_for(250ms);
  }
  json up;
  while (Clock::now() < up_by && prometheus.running()) {
    up = query(pport, "up");
    if (up.size() == 3 &&
        std::all_of(up.begin(), up.end(), [](const json& s) { return sample_value(s) == 1; })) {
      break;
    }
    std::this_thread::sleep_for(250ms);
  }
  std::set<std::string> jobs;
  for (const auto& s : up) {
    jobs.insert(s["metric"]["job"].get<std::string>() + " up=" + s["value"][1].get<std::string>());
  }
  std::cout << "up: " << up.dump() << "\n";
  ASSERT_EQ(jobs, (std::set<std::string>{"auditor-dashboard up=1", "auditor-tick-api up=1",
                                         "auditor-worker up=1"}))
      << prometheus.log_tail();
  const json targets = api(pport, "/api/v1/targets");
  EXPECT_EQ(targets["activeTargets"].size(), 3U);
  EXPECT_EQ(targets["droppedTargets"].size(), 2U);

  // Ticks at a steady rate through the tick API: kPosters threads, each with its own
  // connection, tick i due at start + i / rate (so a slow acknowledgement delays one
  // thread's next tick, not the rate).
  std::atomic<int> accepted{0};
  std::atomic<int> refused{0};
  const auto start = Clock::now();
  std::vector<std::thread> posters;
  posters.reserve(kPosters);
  for (int k = 0; k < kPosters; ++k) {
    posters.emplace_back([&, k] {
      auto c = tick_api.client();
      for (int i = k;; i += kPosters) {
        const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(i / kTicksPerSecond));
        if (due >= start + kPostFor) break;
        std::this_thread::sleep_until(due);
        const json tick = {{"process_name", "p" + std::to_string(i % 7)},
                           {"process_activity", "a" + std::to_string(i % 3)}};
        const auto res = c.Post("/tick", tick.dump(), "application/json");
        (res && res->status == 200 ? accepted : refused)++;
      }
    });
  }

  // The rate over the last 15 s at three moments once the window lies inside the run.
  const std::string consumed =
      R"(sum(rate(auditor_records_consumed_total{job="auditor-worker",stage="ingest"}[15s])))";
  const std::string produced =
      R"(sum(rate(auditor_tick_api_ticks_produced_total{job="auditor-tick-api"}[15s])))";
  std::vector<std::pair<double, double>> rates;
  for (const auto at : {20s, 24s, 28s}) {
    std::this_thread::sleep_until(start + at);
    const json c = query(pport, consumed);
    const json p = query(pport, produced);
    rates.emplace_back(c.size() == 1 ? sample_value(c[0]) : -1,
                       p.size() == 1 ? sample_value(p[0]) : -1);
  }
  for (auto& p : posters) p.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << "posted " << accepted << " ticks (" << refused << " refused) in " << seconds
            << " s: " << accepted / seconds << " ticks/s (nominal " << kTicksPerSecond << ")\n";
  EXPECT_EQ(refused, 0);
  // The load itself: every tick posted on time (else the rates below prove nothing).
  EXPECT_NEAR(accepted / seconds, kTicksPerSecond, kTicksPerSecond * 0.02);
  for (const auto& [c, p] : rates) {
    std::cout << "PromQL rate[15s]: worker consumed " << c << " ticks/s, tick API produced " << p
              << " ticks/s (expected " << kTicksPerSecond << " +- " << kTolerance * 100 << " %)\n";
    EXPECT_NEAR(c, kTicksPerSecond, kTicksPerSecond * kTolerance) << consumed;
    EXPECT_NEAR(p, kTicksPerSecond, kTicksPerSecond * kTolerance) << produced;
  }

  // The build every service runs.
  const auto [version, commit] = binary_version();
  ASSERT_FALSE(version.empty());
  std::set<std::string> builds;
  for (const auto& s : query(pport, "auditor_build_info")) {
    const auto& m = s["metric"];
    EXPECT_EQ(m.value("version", ""), version) << s.dump();
    EXPECT_EQ(m.value("commit", ""), commit) << s.dump();
    builds.insert(m.value("job", ""));
  }
  std::cout << "auditor_build_info version " << version << " commit " << commit << " seen for "
            << builds.size() << " jobs\n";
  EXPECT_EQ(builds,
            (std::set<std::string>{"auditor-dashboard", "auditor-tick-api", "auditor-worker"}));

  // The rules: every group of alerts.yml loaded, every rule evaluated without error.
  const std::string alerts_yml = read_file(kPrometheusDir / "alerts.yml");
  std::set<std::string> expected_groups;
  std::set<std::string> expected_alerts;
  static const std::regex group_line(R"(\n  - name: (\S+))");
  static const std::regex alert_line(R"(\n      - alert: (\S+))");
  for (std::sregex_iterator i(alerts_yml.begin(), alerts_yml.end(), group_line), end; i != end;
       ++i) {
    expected_groups.insert((*i)[1].str());
  }
  for (std::sregex_iterator i(alerts_yml.begin(), alerts_yml.end(), alert_line), end; i != end;
       ++i) {
    expected_alerts.insert((*i)[1].str());
  }
  const json rules = api(pport, "/api/v1/rules");
  std::set<std::string> groups;
  std::set<std::string> loaded;
  std::vector<std::string> firing;
  for (const auto& g : rules["groups"]) {
    groups.insert(g["name"].get<std::string>());
    for (const auto& r : g["rules"]) {
      loaded.insert(r["name"].get<std::string>());
      EXPECT_EQ(r.value("health", ""), "ok") << r.dump();
      EXPECT_EQ(r.value("lastError", ""), "") << r.dump();
      if (r.value("state", "") == "firing") firing.push_back(r["name"].get<std::string>());
    }
  }
  std::cout << "rules: " << groups.size() << " groups, " << loaded.size()
            << " alerts loaded, firing: " << firing.size() << "\n";
  EXPECT_EQ(groups, expected_groups);
  EXPECT_EQ(loaded, expected_alerts);
  EXPECT_TRUE(firing.empty()) << first_lines(firing);

  // Every metric alerts.yml names is one the services expose.
  const json names = api(pport, "/api/v1/label/__name__/values");
  const std::set<std::string> scraped(names.begin(), names.end());
  static const std::regex metric(R"(\bauditor_[a-z0-9_]+)");
  std::set<std::string> used{"up"};
  for (std::sregex_iterator i(alerts_yml.begin(), alerts_yml.end(), metric), end; i != end; ++i) {
    used.insert((*i)[0].str());
  }
  std::vector<std::string> unknown;
  for (const auto& name : used) {
    if (!scraped.contains(name)) unknown.push_back(name);
  }
  std::cout << used.size() << " metric names in alerts.yml, " << scraped.size()
            << " scraped; unknown: " << unknown.size() << "\n";
  EXPECT_TRUE(unknown.empty()) << first_lines(unknown);

  // promtool's lint of each exposition, now that ticks flowed and every series exists.
  for (const auto& [service, port] : {std::pair<std::string, int>{"worker", wport},
                                      {"tick-api", tick_api.port},
                                      {"dashboard", dashboard.port}}) {
    const ToolRun r = check_metrics(service, port);
    std::cout << "promtool check metrics " << service << ": "
              << (r.ok && r.output.empty() ? "no problems" : r.output) << "\n";
    EXPECT_TRUE(r.ok) << r.output;
    EXPECT_EQ(r.output, "");
  }
}

}  // namespace
}  // namespace auditor::api_test
