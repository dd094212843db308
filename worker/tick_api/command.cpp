// `auditor tick-api`: the seed system's HTTP API. POST /tick (query parameters or a JSON
// body) and POST /ticks (a JSON array, all or nothing) produce ticks to the input topic and
// answer only once Kafka acknowledged them; 422 with FastAPI-style details for bad input,
// 503 within --produce-timeout when Kafka does not acknowledge.
#include <unistd.h>

#include <array>
#include <chrono>
#include <thread>

#include "worker/commands.h"
#include "worker/common/cli_options.h"
#include "worker/common/effective_config.h"
#include "worker/common/log.h"
#include "worker/http/server.h"
#include "worker/http/service_options.h"
#include "worker/kafka/access.h"
#include "worker/kafka/admin.h"
#include "worker/kafka/options.h"
#include "worker/tick_api/metrics.h"
#include "worker/tick_api/openapi.h"
#include "worker/tick_api/producer.h"
#include "worker/tick_api/validation.h"

namespace auditor::commands {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::ordered_json;

// The limit of a single tick's body: DESIGN.md's 64 KiB per input record (or --max-body
// when that is smaller). A batch may use all of --max-body: 1,000 ticks with 256-byte
// names take about 0.6 MB.
constexpr std::size_t kMaxTickBody = std::size_t{64} * 1024;
constexpr web::ServiceDefaults kServiceDefaults{.port = 8000, .max_connections = 64};

struct TickApiOptions {
  KafkaSettings kafka;
  std::string topic;
  web::ServiceSettings http;
  int partitions = 6;
  std::chrono::milliseconds timeout{5000};
  std::string transactional_id;
};

TickApiOptions read_options(int argc, char** argv, bool& help) {
  namespace po = cli::po;
  po::options_description options("tick-api options");
  cli::add_kafka_options(options);
  web::add_service_options(options, kServiceDefaults);
  options.add_options()("input-topic", po::value<std::string>()->default_value("audit_events"),
                        "topic the ticks go to")(
      "produce-timeout", po::value<std::string>()->default_value("5s"),
      "answer 503 when Kafka has not acknowledged within this long")(
      "partitions", po::value<int>()->default_value(6),
      "partitions of the input topic if the API creates it")(
      "transactional-id", po::value<std::string>()->default_value(""),
      "transactional.id of the POST /ticks producer (default: auditor-tick-api-<host>-<port>)");
  po::variables_map v;
  cli::Origins origins;
  help = !cli::parse(argc, argv, "tick-api", "Serves POST /tick and POST /ticks.", options, v,
                     &origins);
  TickApiOptions o;
  if (help) return o;
  o.kafka = cli::kafka_settings(v, origins);
  cli::log_configuration("tick-api", v, origins);
  o.topic = v["input-topic"].as<std::string>();
  validate_topic_name(cli::option_label(origins, "input-topic"), o.topic);
  web::Server::Options http;
  http.internal_error_body = R"({"detail":"internal error"})";
  // Each acknowledged request needs a round trip to Kafka: let clients keep connections.
  http.keep_alive_requests = 100000;
  // The contract is no secret, and clients need it to learn they need a token.
  for (auto& path : tick_api::docs_paths()) http.open_paths.push_back(std::move(path));
  o.http = web::service_settings(v, origins, kServiceDefaults, http);
  o.partitions = v["partitions"].as<int>();
  if (o.partitions < 1) throw ConfigError("--partitions: must be >= 1");
  o.timeout = std::chrono::milliseconds(
      parse_duration_option("--produce-timeout", v["produce-timeout"].as<std::string>()).value);
  if (o.timeout < std::chrono::milliseconds(100) || o.timeout > std::chrono::minutes(5)) {
    throw ConfigError("--produce-timeout: must be between 100ms and 5m");
  }
  o.transactional_id = v["transactional-id"].as<std::string>();
  return o;
}

void reply_json(web::Response& res, int status, const ordered_json& body) {
  res.status = status;
  // Replacing invalid UTF-8 (U+FFFD) rather than throwing: a JSON decode error quotes the
  // client's bytes back, and those may be anything.
  res.body = body.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

void reply_too_large(web::Response& res, std::size_t limit) {
  reply_json(res, 413, {{"detail", "request body over " + std::to_string(limit) + " bytes"}});
}

class TickApi {
 public:
  explicit TickApi(const TickApiOptions& o)
      : o_(o),
        single_(o.kafka, o.topic, o.timeout),
        batch_(o.kafka, o.topic, o.transactional_id, o.timeout) {}

  void routes(web::Server& server) {
    const std::size_t max_body = o_.http.server.max_payload;
    const std::size_t max_tick = std::min(kMaxTickBody, max_body);
    server.post("/tick", max_tick, [this, max_tick](const web::Request& req, web::Response& res) {
      if (req.body_too_large) return reply_too_large(res, max_tick);
      post_tick(req, res);
    });
    server.post("/ticks", max_body, [this, max_body](const web::Request& req, web::Response& res) {
      if (req.body_too_large) return reply_too_large(res, max_body);
      post_ticks(req.body, res);
    });
    server.get("/healthz", [](const web::Request& /*req*/, web::Response& res) {
      reply_json(res, 200, {{"status", "ok"}});
    });
    server.get("/metrics", [this](const web::Request& /*req*/, web::Response& res) {
      res.body = metrics_.render();
      res.content_type = "text/plain; version=0.0.4";
    });
    docs_routes(server);
    server.on_response(
        [this](const std::string& path, int status) { metrics_.count_request(path, status); });
  }

  // The input topic may not exist yet (auto-creation is off on our brokers) and the
  // broker may not be up yet: create it in the background until that worked.
  void ensure_topic(const std::atomic<bool>& stop) {
    while (!stop.load()) {
      try {
        // Only when absent: a principal that may write the topic need not create it.
        if (!kafka::partition_counts(single_.handle(), {o_.topic}, std::chrono::seconds(5))
                 .contains(o_.topic)) {
          kafka::create_topics(single_.handle(), {{o_.topic, o_.partitions, {}}},
                               std::chrono::seconds(5));
        }
        return;
      } catch (const std::exception& e) {
        log::get("tick-api")->warn("input topic {} not ready: {}", o_.topic, e.what());
      }
      for (int i = 0; i < 50 && !stop.load(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }

 private:
  void docs_routes(web::Server& server) const {
    server.get("/openapi.json", [doc = tick_api::openapi_document(o_.http.server.auth != nullptr)](
                                    const web::Request& /*req*/, web::Response& res) {
      res.body = doc;
      res.headers.emplace_back("Cache-Control", "no-cache");
    });
    server.get("/docs",
               [page = tick_api::docs_page()](const web::Request& /*req*/, web::Response& res) {
                 res.body = page;
                 res.content_type = "text/html; charset=utf-8";
                 res.headers.emplace_back("Cache-Control", "no-cache");
               });
    for (const auto& asset : tick_api::docs_assets()) {
      server.get("/docs/" + std::string(asset.name),
                 [asset](const web::Request& /*req*/, web::Response& res) {
                   res.body = asset.bytes;
                   res.content_type = asset.content_type;
                   // The page asks for them with ?v=<Swagger UI version>: never stale.
                   res.headers.emplace_back("Cache-Control", "public, max-age=31536000, immutable");
                 });
    }
  }

  void post_tick(const web::Request& req, web::Response& res) {
    auto input = tick_api::tick_from_request(req.params, req.body);
    if (const auto* errors = std::get_if<tick_api::Errors>(&input)) {
      return reply_json(res, 422, tick_api::error_body(*errors));
    }
    const auto& tick = std::get<tick_api::TickInput>(input);
    if (!produce(res, single_, {tick})) return;
    reply_json(res, 200, {{"status", "success"}, {"event", tick_api::event_json(tick)}});
  }

  void post_ticks(const std::string& body, web::Response& res) {
    auto input = tick_api::ticks_from_json(body);
    if (const auto* errors = std::get_if<tick_api::Errors>(&input)) {
      return reply_json(res, 422, tick_api::error_body(*errors));
    }
    const auto& ticks = std::get<std::vector<tick_api::TickInput>>(input);
    if (!ticks.empty() && !produce(res, batch_, ticks)) return;
    auto events = ordered_json::array();
    for (const auto& tick : ticks) events.push_back(tick_api::event_json(tick));
    reply_json(res, 200, {{"status", "success"}, {"events", std::move(events)}});
  }

  // Produces and waits; on failure answers 503 (nothing written, retry) or 504 (Kafka did not
  // say in time: maybe written, all or nothing) and returns false.
  template <typename Producer>
  bool produce(web::Response& res, Producer& producer,
               const std::vector<tick_api::TickInput>& ticks) {
    std::vector<tick_api::Record> records;
    records.reserve(ticks.size());
    for (const auto& t : ticks) {
      records.push_back({tick_api::record_key(t), tick_api::record_value(t)});
    }
    const auto started = Clock::now();
    const auto result = producer.send(records);
    metrics_.count_produce(result.written(), ticks.size(), Clock::now() - started);
    if (result.written()) return true;
    if (result.outcome == tick_api::SendOutcome::kUnknown) {
      log::get("tick-api")
          ->warn("Kafka did not confirm {} tick(s) in time; they may be written: {}", ticks.size(),
                 result.error);
      reply_json(res, 504,
                 {{"detail",
                   "Kafka did not confirm in time; the tick(s) may have been written "
                   "(a batch all or nothing), and a retry may count them twice: " +
                       result.error}});
      return false;
    }
    log::get("tick-api")
        ->warn("Kafka did not acknowledge {} tick(s): {}", ticks.size(), result.error);
    res.headers.emplace_back("Retry-After", "1");
    reply_json(res, 503, {{"detail", "Kafka unavailable: " + result.error}});
    return false;
  }

  const TickApiOptions& o_;
  tick_api::Metrics metrics_;
  tick_api::AckedProducer single_;
  tick_api::TransactionalProducer batch_;
};

int run_tick_api(int argc, char** argv) {
  bool help = false;
  TickApiOptions o = read_options(argc, argv, help);
  if (help) return 0;
  kafka::check_credentials(o.kafka, kafka::kCredentialsCheckTimeout);
  auto logger = log::get("tick-api");
  // Signals go to a waiting thread (blocked everywhere else, librdkafka's threads included).
  web::SignalStopper stopper;

  web::Server server("tick-api", o.http.server);
  const int port = server.bind(o.http.host, o.http.port);
  if (o.transactional_id.empty()) {
    std::array<char, 256> host{};
    (void)gethostname(host.data(), host.size() - 1);
    o.transactional_id =
        "auditor-tick-api-" + std::string(host.data()) + "-" + std::to_string(port);
  }
  TickApi api(o);
  api.routes(server);

  std::thread topic_thread([&] { api.ensure_topic(stopper.stopping()); });
  logger->info("listening on {}://{}:{} (topic {}, produce timeout {} ms; {})", o.http.scheme(),
               o.http.host, port, o.topic, o.timeout.count(), o.http.describe());
  const bool ok = server.serve_until_stopped(stopper);
  topic_thread.join();
  logger->info("stopped");
  return ok ? 0 : 1;
}

}  // namespace

int tick_api(int argc, char** argv) {
  return cli::run_guarded("tick-api", run_tick_api, argc, argv);
}

}  // namespace auditor::commands
