#include "worker/engine/worker_http.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "worker/common/log.h"
#include "worker/engine/advertised_http.h"

namespace auditor {
namespace {

constexpr std::chrono::seconds kStuckAfter{30};
constexpr std::chrono::seconds kFailingAfter{60};

std::uint64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t pages = 0;
  std::uint64_t resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

void reply_json(web::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.body = body.dump();
}

double load(const WorkerMetrics::Counter& c) {
  return static_cast<double>(c.load(std::memory_order_relaxed));
}

}  // namespace

std::string render_metrics(const WorkerMetrics& m, const StatusSnapshot& s,
                           const WindowSet& windows, const Health& health) {
  prometheus::Writer w;
  w.build_info();
  w.gauge("auditor_healthy", "1 while GET /healthz answers 200, 0 while it answers 503",
          health.ok ? 1.0 : 0.0);
  w.counter("auditor_records_consumed_total", "Records consumed, by stage and topic",
            load(m.input_records), {{"stage", "ingest"}, {"topic", "input"}});
  w.counter("auditor_records_consumed_total", "", load(m.repartition_records_in),
            {{"stage", "aggregate"}, {"topic", "repartition"}});
  w.counter("auditor_records_produced_total", "Records produced, by stage and topic",
            load(m.repartition_records_out), {{"stage", "ingest"}, {"topic", "repartition"}});
  w.counter("auditor_records_produced_total", "", load(m.rollups_published),
            {{"stage", "aggregate"}, {"topic", "output"}});
  w.counter("auditor_records_produced_total", "", load(m.changelog_records),
            {{"stage", "aggregate"}, {"topic", "changelog"}});
  w.counter("auditor_records_produced_total", "", load(m.dead_letters),
            {{"stage", "any"}, {"topic", "dlq"}});
  w.counter("auditor_watermarks_produced_total",
            "Watermark records written to the repartition topic (one per task per change)",
            load(m.watermarks_out));
  w.counter("auditor_ticks_valid_total", "Valid ticks accepted by stage 1", load(m.valid_ticks));
  for (std::size_t i = 0; i < kInvalidReasonCount; ++i) {
    w.counter("auditor_records_invalid_total", "Invalid input records, by reason",
              load(m.invalid[i]), {{"reason", reason_label(static_cast<InvalidReason>(i))}});
  }
  w.counter("auditor_records_late_total",
            "Ticks late for at least one window in their input partition (and pre-aggregates "
            "that found their window closed after an idle partition woke up)",
            load(m.late_records));
  for (std::size_t i = 0; i < windows.size(); ++i) {
    w.counter("auditor_records_late_by_window_total", "Late records, by window size",
              load(m.late_by_window[i]), {{"window", windows.windows()[i].name}});
  }
  w.counter("auditor_dead_letters_total", "Records written to the dead-letter topic",
            load(m.dead_letters));
  w.counter("auditor_rollups_published_total", "Rollup records published",
            load(m.rollups_published));
  w.counter("auditor_commits_total", "Successful commits", load(m.commits));
  w.counter("auditor_transaction_aborts_total", "Commits aborted and rewound",
            load(m.commit_failures));
  w.histogram("auditor_commit_duration_seconds",
              "From sealing a commit to its stores written (the worker reads on meanwhile)",
              m.commit_seconds);
  w.counter("auditor_rebalances_total", "Rebalance callbacks", load(m.rebalances));
  // Each stage is balanced over the replicas on its own: these two are its shares.
  w.gauge("auditor_assigned_input_partitions", "Input partitions assigned to stage 1 here",
          static_cast<double>(s.input_partitions));
  const auto count = [](const std::vector<std::int32_t>& tasks) {
    return static_cast<double>(tasks.size());
  };
  w.gauge("auditor_assigned_tasks", "Aggregate tasks assigned to stage 2 here",
          count(s.restoring_tasks) + count(s.running_tasks));
  w.gauge("auditor_tasks",
          "Aggregate tasks by state: restoring (assigned, catching up from the "
          "changelog), running, or standby (a warm copy of a task another replica runs)",
          count(s.restoring_tasks), {{"state", "restoring"}});
  w.gauge("auditor_tasks", "", count(s.running_tasks), {{"state", "running"}});
  w.gauge("auditor_tasks", "", count(s.standby_tasks), {{"state", "standby"}});
  w.gauge("auditor_restoring_tasks", "Tasks restoring from their changelog",
          count(s.restoring_tasks));
  w.counter("auditor_restore_records_total", "Changelog records restored",
            load(m.restored_records));
  w.counter("auditor_damaged_stores_total",
            "Task stores found damaged or inconsistent with their changelog, set aside and "
            "rebuilt from it",
            load(m.damaged_stores));
  w.gauge("auditor_restore_remaining_records", "Changelog records left to restore",
          static_cast<double>(s.restore_remaining_records));
  for (const auto& lag : s.consumer_lag) {
    const std::string partition = std::to_string(lag.partition);
    w.gauge("auditor_consumer_lag_records", "Records not yet consumed, by topic and partition",
            static_cast<double>(lag.records), {{"topic", lag.topic}, {"partition", partition}});
  }
  w.gauge("auditor_idle_input_partitions",
          "Assigned input partitions at their end with no record for --idle-timeout",
          static_cast<double>(s.idle_input_partitions));
  for (const auto& wm : s.task_watermarks) {
    w.gauge("auditor_task_watermark_seconds",
            "Event time up to which every input partition has reached this task (epoch s); "
            "windows close at end + grace",
            static_cast<double>(wm.event_time_ms) / 1000.0, {{"task", std::to_string(wm.task)}});
  }
  w.gauge("auditor_rocksdb_estimated_keys", "Estimated keys in the local stores",
          static_cast<double>(s.store_estimated_keys));
  w.gauge("auditor_rocksdb_memory_bytes",
          "Memory of the local stores (their shared budget is the block cache share of --memory)",
          static_cast<double>(s.store_memory_bytes));
  w.gauge("auditor_process_resident_memory_bytes", "Resident memory of the process",
          static_cast<double>(resident_bytes()));
  w.counter("auditor_rollup_queries_total",
            "GET /rollups answers: from this replica's stores, forwarded to the key's owner, "
            "or 503 while no replica could answer (rebalancing)",
            load(m.queries_local), {{"answer", "local"}});
  w.counter("auditor_rollup_queries_total", "", load(m.queries_forwarded),
            {{"answer", "forwarded"}});
  w.counter("auditor_rollup_queries_total", "", load(m.queries_unavailable),
            {{"answer", "unavailable"}});
  return w.text();
}

WorkerHttp::WorkerHttp(const WorkerConfig& config, WorkerMetrics& metrics,
                       const StatusBoard& status, QueryMailbox& queries)
    : server_(std::make_unique<web::Server>("--http-port", web::Server::Options{})) {
  auto& server = *server_;
  const WindowSet& windows = config.windows;
  server.get("/healthz", [&status](const web::Request&, web::Response& res) {
    const Health health = status.health(kStuckAfter, kFailingAfter);
    if (health.ok) {
      reply_json(res, 200, {{"status", "ok"}});
    } else {
      reply_json(res, 503, {{"status", "unhealthy"}, {"reason", health.reason}});
    }
  });
  server.get("/readyz", [&status](const web::Request&, web::Response& res) {
    const auto s = status.snapshot();
    const bool ready = s.in_group && s.restoring_tasks.empty();
    reply_json(res, ready ? 200 : 503,
               {{"status", ready ? "ready" : "not ready"},
                {"in_group", s.in_group},
                {"input_partitions", s.input_partitions},
                {"assigned_tasks", s.restoring_tasks.size() + s.running_tasks.size()},
                {"restoring_tasks", s.restoring_tasks.size()},
                {"tasks",
                 {{"restoring", s.restoring_tasks},
                  {"running", s.running_tasks},
                  {"standby", s.standby_tasks}}}});
  });
  server.get("/metrics", [&](const web::Request&, web::Response& res) {
    res.body = render_metrics(metrics, status.snapshot(), windows,
                              status.health(kStuckAfter, kFailingAfter));
    res.content_type = "text/plain; version=0.0.4";
  });
  server.get("/rollups",
             [this](const web::Request& req, web::Response& res) { rollups_->handle(req, res); });
  port_ = server.bind("0.0.0.0", config.http_port);
  owners_ = std::make_unique<OwnerDirectory>(
      config, config.advertised_http.value_or(default_advertised_http(port_)));
  rollups_ = std::make_unique<RollupEndpoint>(queries, *owners_, metrics, windows);
  thread_ = std::thread([&server] { (void)server.listen(); });
  log::get("http")->info(
      "listening on port {} (/healthz /readyz /metrics /rollups), advertised as {}", port_,
      advertised());
}

WorkerHttp::~WorkerHttp() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace auditor
