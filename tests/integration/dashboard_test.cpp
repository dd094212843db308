// `auditor dashboard` after a real run: ticks -> worker -> rollup topic -> dashboard. The
// page, rendered by headless Chromium, shows the same top counts as `auditor rollups`
// for the current and previous window of each size, final and open windows marked; its
// event stream pushes a change without a reload; /metrics is strict Prometheus text
// (tests/support/prometheus_text.h). Saves a screenshot in the build tree
// (<build>/tests/integration/work/dashboard.png).
#include <gtest/gtest.h>

#include <ctime>
#include <fstream>
#include <regex>
#include <thread>

#include "tests/support/prometheus_text.h"
#include "tests/support/services.h"

namespace auditor::api_test {
namespace {

using nlohmann::json;
using std::chrono::seconds;

constexpr std::int64_t kMinute = 60'000;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "2026-11-22T09:47:00Z" -> epoch ms (rollup window starts are whole seconds, UTC).
std::int64_t epoch_ms(const std::string& utc) {
  std::tm tm{};
  strptime(utc.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

struct Row {
  std::string process;
  std::string activity;
  std::int64_t count = 0;
  bool final = false;
  bool operator==(const Row&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Row& r) {
  return os << r.process << "/" << r.activity << "=" << r.count << (r.final ? " final" : " open");
}

using Tables = std::map<std::string, std::vector<Row>>;  // "1m current" -> rows in page order

// What the page must show, from `auditor rollups --json`: per window size, the latest
// window start ("current") and the one before it ("previous"), largest count first (ties
// by name, as the dashboard orders them), top `limit`.
Tables expected_tables(const std::vector<json>& rollups, std::size_t limit) {
  const std::map<std::string, std::int64_t> sizes = {
      {"1m", kMinute}, {"1h", 60 * kMinute}, {"1d", 1440 * kMinute}};
  std::map<std::string, std::int64_t> current;
  for (const auto& r : rollups) {
    auto& c = current[r.at("window")];
    c = std::max(c, epoch_ms(r.at("window_start")));
  }
  Tables tables;
  for (const auto& [window, start] : current) {
    for (const auto& [slot, at] : {std::pair<std::string, std::int64_t>{"current", start},
                                   {"previous", start - sizes.at(window)}}) {
      auto& rows = tables[window + " " + slot];
      for (const auto& r : rollups) {
        if (r.at("window") != window || epoch_ms(r.at("window_start")) != at) continue;
        rows.push_back(
            {r.at("process_name"), r.at("process_activity"), r.at("count"), r.at("final")});
      }
      std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
        return std::tie(b.count, a.process, a.activity) < std::tie(a.count, b.process, b.activity);
      });
      if (rows.size() > limit) rows.resize(limit);
    }
  }
  return tables;
}

// The table rows of a DOM dump (<tr class="row" data-...>).
Tables page_tables(const std::string& dom) {
  static const std::regex row(R"(<tr class="row"([^>]*)>)");
  static const std::regex attr(R"re(data-([a-z]+)="([^"]*)")re");
  Tables tables;
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), row); it != std::sregex_iterator();
       ++it) {
    std::map<std::string, std::string> a;
    const std::string attrs = (*it)[1];
    for (auto at = std::sregex_iterator(attrs.begin(), attrs.end(), attr);
         at != std::sregex_iterator(); ++at) {
      a[(*at)[1]] = (*at)[2];
    }
    tables[a["window"] + " " + a["slot"]].push_back(
        {a["process"], a["activity"], std::stoll(a["count"]), a["final"] == "true"});
  }
  return tables;
}

// Headless Chromium on `url`: `--dump-dom` (returns the DOM) or `--screenshot=<file>`.
std::string chromium(const std::string& mode, const std::string& url, const std::string& name) {
  const char* env = std::getenv("AUDITOR_CHROMIUM");
  const std::string binary = env != nullptr && *env != '\0' ? env : "/usr/bin/chromium";
  const auto profile = work_dir() / ("chromium-profile-" + name);
  std::filesystem::remove_all(profile);
  const auto log = work_dir() / "logs" / ("chromium-" + name + ".log");
  ChildProcess browser(
      binary,
      {"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
       "--disable-component-update", "--no-first-run", "--hide-scrollbars",
       "--window-size=1400,1400", "--user-data-dir=" + profile.string(), mode, url},
      log);
  const auto status = browser.wait(deadline_in(seconds(90)));
  if (!status) return "chromium did not finish:\n" + browser.log_tail();
  std::ifstream in(log);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A minimal server-sent events reader: every `data:` payload, parsed.
class EventStream {
 public:
  explicit EventStream(int port)
      : thread_([this, port] {
          httplib::Client client("127.0.0.1", port);
          client.set_read_timeout(seconds(60));
          (void)client.Get("/events", [this](const char* data, std::size_t size) {
            const std::lock_guard lock(mutex_);
            buffer_.append(data, size);
            for (auto end = buffer_.find("\n\n"); end != std::string::npos;
                 end = buffer_.find("\n\n")) {
              const std::string event = buffer_.substr(0, end);
              buffer_.erase(0, end + 2);
              if (event.rfind("data: ", 0) == 0) views_.push_back(json::parse(event.substr(6)));
            }
            return !stop_.load();
          });
        }) {}
  ~EventStream() {
    stop_.store(true);
    thread_.join();  // returns at the next event or keep-alive (at most 15 s)
  }
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  std::vector<json> views() {
    const std::lock_guard lock(mutex_);
    return views_;
  }

 private:
  std::mutex mutex_;
  std::string buffer_;
  std::vector<json> views_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::string tick(const std::string& name, const std::string& activity, std::int64_t count,
                 std::int64_t at_ms) {
  return json{{"process_name", name},
              {"process_activity", activity},
              {"count", count},
              {"timestamp", at_ms}}
      .dump();
}

TEST(Dashboard, ShowsTheSameTopCountsAsRollupsAndUpdatesLive) {
  const std::string suffix = test::unique_suffix();
  const std::string input = "api_dash_" + suffix;
  const std::string output = "api_dash_rollups_" + suffix;
  // One partition: ticks reach the worker in event-time order, so none is late.
  test::create_topic(input, 1);

  // Grace 5 s: stream time ends 10 s into minute m, so the earlier 1m windows are final
  // and minute m is still open.
  auto worker = start_worker("api-dash-" + suffix, input, output, "5s");
  test::Producer producer;
  std::int64_t total = 0;
  const auto send = [&](const std::string& name, const std::string& activity, std::int64_t count,
                        std::int64_t at) {
    producer.send(input, {test::kAnyPartition, std::nullopt, tick(name, activity, count, at), 0});
    total += count;
  };
  // Waits until the worker counted everything sent so far. The minutes go in one at a
  // time: the worker pre-aggregates what one commit read, and may publish those
  // aggregates out of event-time order, so a commit spanning minutes could make the
  // earlier ones late under a 5 s grace.
  const auto counted_all = [&] {
    producer.flush(deadline_in(seconds(30)));
    std::int64_t counted = 0;
    (void)latest_rollups(
        output,
        [&](const auto& l) {
          counted = total_count(l, "1m");
          return counted == total;
        },
        deadline_in(seconds(60)));
    return counted == total;
  };
  // Seven keys over five minutes, counts distinct within each window, after one earlier
  // minute 90 minutes back (another hour, for the 1h "previous" table).
  const std::int64_t m = (now_ms() - 5 * kMinute) / kMinute * kMinute;
  for (int k = 0; k < 7; ++k) {
    send("svc-" + std::to_string(k % 6), k == 6 ? "logout" : "login", (k + 1) * 3,
         m - 90 * kMinute + 10'000);
  }
  ASSERT_TRUE(counted_all()) << worker->log_tail();
  for (int j = 0; j < 5; ++j) {
    for (int k = 0; k < 7; ++k) {
      send("svc-" + std::to_string(k % 6), k == 6 ? "logout" : "login", (k + 1) * (j + 1) * 7 + k,
           m - (4 - j) * kMinute + 10'000);
    }
    ASSERT_TRUE(counted_all()) << worker->log_tail();
  }

  Service dash = start_service("dashboard", {"--output-topic", output}, output);
  auto client = dash.client();
  const auto caught_up_by = deadline_in(seconds(30));
  for (;;) {
    const auto health = client.Get("/healthz");
    if (health && json::parse(health->body).value("caught_up", false)) break;
    ASSERT_LT(Clock::now(), caught_up_by) << dash.process->log_tail();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }

  // /metrics says so too, as strict Prometheus text that follows the naming conventions.
  const auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("auditor_dashboard_caught_up 1\n"), std::string::npos)
      << metrics->body;
  const test::Exposition exposition = test::parse_exposition(metrics->body);
  EXPECT_TRUE(exposition.errors.empty()) << first_lines(exposition.errors) << metrics->body;
  EXPECT_TRUE(test::naming_problems(exposition).empty())
      << first_lines(test::naming_problems(exposition)) << metrics->body;

  const Tables expected = expected_tables(rollups_json(output), 10);
  ASSERT_EQ(expected.size(), 6U);  // 1m, 1h, 1d x current, previous
  EXPECT_FALSE(expected.at("1m current").empty());
  EXPECT_FALSE(expected.at("1m previous").empty());
  EXPECT_FALSE(expected.at("1m current").front().final);
  EXPECT_TRUE(expected.at("1m previous").front().final);

  const std::string dom = chromium("--dump-dom", dash.url("/"), "dom");
  Tables shown = page_tables(dom);
  for (const auto& [table, rows] : expected) {
    EXPECT_EQ(shown[table], rows) << table << "\n" << dom.substr(0, 2000);
  }
  EXPECT_NE(dom.find("data-caught-up=\"true\""), std::string::npos);

  const auto screenshot = work_dir() / "dashboard.png";
  std::filesystem::remove(screenshot);
  (void)chromium("--screenshot=" + screenshot.string(), dash.url("/"), "screenshot");
  ASSERT_TRUE(std::filesystem::exists(screenshot));
  EXPECT_GT(std::filesystem::file_size(screenshot), 10'000U);
  std::cout << "[ screenshot ] " << screenshot.string() << "\n";

  // Live: a new tick reaches an open page through its event stream, without a reload.
  EventStream events(dash.port);
  const auto live_by = deadline_in(seconds(60));
  while (events.views().empty()) {
    ASSERT_LT(Clock::now(), live_by) << "no first event";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  send("svc-new", "burst", 999'999, m + 20'000);
  producer.flush(deadline_in(seconds(30)));
  bool seen = false;
  while (!seen) {
    ASSERT_LT(Clock::now(), live_by) << "the event stream did not push the new tick";
    for (const auto& view : events.views()) {
      for (const auto& w : view.at("windows")) {
        if (w.at("window") != "1m") continue;
        const auto& top = w.at("current").at("top");
        seen = seen || (!top.empty() && top.at(0).at("process_name") == "svc-new" &&
                        top.at(0).at("count") == 999'999);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }

  EXPECT_EQ(stop(*dash.process), "");
  EXPECT_EQ(stop(*worker), "");
  if (!HasFailure()) test::delete_topics({input, output, input + ".dlq"});
}

}  // namespace
}  // namespace auditor::api_test
