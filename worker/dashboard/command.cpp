// `auditor dashboard`: a live ops page of the rollups. Reads the rollup topic into memory
// (dashboard_reader), and serves one page (embedded in the binary: no file to deploy, no
// script from the internet) that receives the view as server-sent events.

#include <atomic>
#include <thread>

#include "worker/commands.h"
#include "worker/common/cli_options.h"
#include "worker/common/effective_config.h"
#include "worker/common/log.h"
#include "worker/common/prometheus.h"
#include "worker/dashboard/page.h"
#include "worker/dashboard/reader.h"
#include "worker/dashboard/store.h"
#include "worker/http/server.h"
#include "worker/http/service_options.h"
#include "worker/kafka/access.h"
#include "worker/kafka/admin.h"
#include "worker/kafka/options.h"

namespace auditor::commands {
namespace {

using Clock = std::chrono::steady_clock;

// Updates are pushed at most this often: during a catch-up the store changes thousands of
// times a second, and the page only needs the latest picture.
constexpr auto kMinPushInterval = std::chrono::milliseconds(500);
// An SSE comment this often keeps proxies from closing an idle stream.
constexpr auto kKeepAlive = std::chrono::seconds(15);
// Each open page holds a connection for its event stream, and loads over another.
constexpr web::ServiceDefaults kServiceDefaults{
    .port = 8081, .max_connections = 32, .min_connections = 2};

struct DashboardOptions {
  KafkaSettings kafka;
  std::string topic;
  web::ServiceSettings http;
  dashboard::ViewSettings view;
};

DashboardOptions read_options(int argc, char** argv, bool& help) {
  namespace po = cli::po;
  po::options_description options("dashboard options");
  cli::add_kafka_options(options);
  web::add_service_options(options, kServiceDefaults);
  options.add_options()("output-topic", po::value<std::string>()->default_value("audit_rollups"),
                        "rollup topic to show")("top", po::value<std::size_t>()->default_value(10),
                                                "rows per table")(
      "chart-points", po::value<std::size_t>()->default_value(30),
      "windows of the smallest size in the chart")(
      "chart-keys", po::value<std::size_t>()->default_value(5), "lines in the chart");
  po::variables_map v;
  cli::Origins origins;
  help = !cli::parse(argc, argv, "dashboard", "Serves a live page of the top rollups.", options, v,
                     &origins);
  DashboardOptions o;
  if (help) return o;
  o.kafka = cli::kafka_settings(v, origins);
  cli::log_configuration("dashboard", v, origins);
  o.topic = v["output-topic"].as<std::string>();
  validate_topic_name(cli::option_label(origins, "output-topic"), o.topic);
  web::Server::Options http;
  http.internal_error_body = R"({"detail":"internal error"})";
  o.http = web::service_settings(v, origins, kServiceDefaults, http);
  o.view.top = v["top"].as<std::size_t>();
  o.view.chart_points = v["chart-points"].as<std::size_t>();
  o.view.chart_keys = v["chart-keys"].as<std::size_t>();
  if (o.view.top < 1 || o.view.top > 1000) throw ConfigError("--top: must be 1-1000");
  if (o.view.chart_points < 2 || o.view.chart_points > 1000) {
    throw ConfigError("--chart-points: must be 2-1000");
  }
  if (o.view.chart_keys > 50) throw ConfigError("--chart-keys: must be 0-50");
  o.view.keep_windows =
      std::max<std::int64_t>(o.view.keep_windows, static_cast<std::int64_t>(o.view.chart_points));
  return o;
}

// One open event stream: what it last sent and when.
struct Stream {
  std::uint64_t sent_version = ~std::uint64_t{0};
  Clock::time_point last_write{};
};

void serve_events(web::Response& res, dashboard::RollupStore& store,
                  const std::atomic<bool>& stopping, std::atomic<int>& clients) {
  res.headers = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
  res.content_type = "text/event-stream";
  ++clients;
  auto stream = std::make_shared<Stream>();
  res.stream = [&store, &stopping, stream](web::StreamSink& sink) {
    if (stopping.load()) return false;
    // Short waits, so a stopping server is not held up by an idle stream.
    const auto version = store.wait_for_change(stream->sent_version, std::chrono::seconds(1));
    const auto now = Clock::now();
    if (version != stream->sent_version) {
      if (now - stream->last_write < kMinPushInterval) {
        std::this_thread::sleep_for(kMinPushInterval - (now - stream->last_write));
      }
      const auto [current, text] = store.view();
      stream->sent_version = current;
      stream->last_write = Clock::now();
      return sink.write("data: " + *text + "\n\n");
    }
    if (now - stream->last_write >= kKeepAlive) {
      stream->last_write = now;
      return sink.write(": keep-alive\n\n");
    }
    return true;
  };
  res.stream_done = [&clients] { --clients; };
}

// The page with the current view filled in. Inside a <script>, "</script>" or "<!--" in
// a process name would change how the HTML parser reads the rest; '<' only ever occurs
// inside JSON strings, where "\u003c" means the same.
std::string page_with_view(const std::string& view) {
  constexpr std::string_view kSlot = "/*AUDITOR_INITIAL_VIEW*/null";
  std::string script_safe;
  script_safe.reserve(view.size());
  for (const char c : view) {
    if (c == '<') {
      script_safe += "\\u003c";
    } else {
      script_safe += c;
    }
  }
  std::string page(dashboard::kPage);
  const auto at = page.find(kSlot);
  if (at != std::string::npos) page.replace(at, kSlot.size(), script_safe);
  return page;
}

std::string render_metrics(dashboard::RollupStore& store, int clients) {
  const auto s = store.stats();
  prometheus::Writer w;
  w.build_info();
  w.counter("auditor_dashboard_records_total", "Rollup records read",
            static_cast<double>(s.records));
  w.counter("auditor_dashboard_malformed_total", "Records that were not rollups",
            static_cast<double>(s.malformed));
  w.gauge("auditor_dashboard_windows", "Windows held in memory", static_cast<double>(s.windows));
  w.gauge("auditor_dashboard_caught_up", "1 once the topic was read to its end",
          s.caught_up ? 1.0 : 0.0);
  w.gauge("auditor_dashboard_event_streams", "Open server-sent event streams",
          static_cast<double>(clients));
  return w.text();
}

int run_dashboard(int argc, char** argv) {
  bool help = false;
  const DashboardOptions o = read_options(argc, argv, help);
  if (help) return 0;
  kafka::check_credentials(o.kafka, kafka::kCredentialsCheckTimeout);
  auto logger = log::get("dashboard");
  web::SignalStopper stopper;

  dashboard::RollupStore store(o.view);
  std::atomic<int> clients{0};
  web::Server server("dashboard", o.http.server);
  const int port = server.bind(o.http.host, o.http.port);
  server.get("/", [&store](const web::Request& /*req*/, web::Response& res) {
    res.headers = {{"Cache-Control", "no-cache"}};
    res.body = page_with_view(*store.view().second);
    res.content_type = "text/html; charset=utf-8";
  });
  server.get("/api/view", [&store](const web::Request& /*req*/, web::Response& res) {
    res.headers = {{"Cache-Control", "no-cache"}};
    res.body = *store.view().second;
  });
  server.get("/events", [&](const web::Request& /*req*/, web::Response& res) {
    serve_events(res, store, stopper.stopping(), clients);
  });
  server.get("/healthz", [&store](const web::Request& /*req*/, web::Response& res) {
    res.body = nlohmann::json{{"status", "ok"}, {"caught_up", store.stats().caught_up}}.dump();
  });
  server.get("/metrics", [&](const web::Request& /*req*/, web::Response& res) {
    res.body = render_metrics(store, clients.load());
    res.content_type = "text/plain; version=0.0.4";
  });

  std::thread reader([&] {
    try {
      dashboard::read_rollups(o.kafka, o.topic, store, stopper.stopping());
    } catch (const std::exception& e) {
      logger->critical("reading {}: {}", o.topic, e.what());
      stopper.stop();
    }
  });
  logger->info("listening on {}://{}:{} (topic {}; {})", o.http.scheme(), o.http.host, port,
               o.topic, o.http.describe());
  const bool ok = server.serve_until_stopped(stopper);
  reader.join();
  logger->info("stopped");
  return ok ? 0 : 1;
}

}  // namespace

int dashboard(int argc, char** argv) {
  return cli::run_guarded("dashboard", run_dashboard, argc, argv);
}

}  // namespace auditor::commands
