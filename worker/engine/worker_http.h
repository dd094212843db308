// The worker's HTTP endpoints (http/server.h, its own threads):
//   GET /healthz   200 while the loop turns, commits succeed and Kafka answers, else 503
//                  with {"status": "unhealthy", "reason": ...} (StatusBoard::health)
//   GET /readyz    200 once in the group with every assigned task restored, else 503
//   GET /metrics   Prometheus text
//   GET /rollups   interactive query of any key: from the local stores (answered by the
//                  worker thread) or forwarded to the replica that owns the key
//                  (engine/rollup_endpoint.h)
// Handlers only read atomics and snapshots, or go through the QueryMailbox: they never
// touch the worker's data directly. Bad requests get 400 with a one-line reason.
#pragma once

#include <memory>
#include <thread>

#include "topology/windows.h"
#include "worker/common/config.h"
#include "worker/engine/owner_directory.h"
#include "worker/engine/rollup_endpoint.h"
#include "worker/http/server.h"
#include "worker/stages/metrics.h"
#include "worker/stages/rollup_query.h"
#include "worker/stages/status_board.h"

namespace auditor {

class WorkerHttp {
 public:
  // Binds 0.0.0.0:`config.http_port` (0: any free port; reachable from other containers)
  // and serves on its own threads; advertises `config.advertised_http`, by default this
  // host's name and the bound port. The referenced objects must outlive this. Throws
  // std::runtime_error when the port cannot be bound.
  WorkerHttp(const WorkerConfig& config, WorkerMetrics& metrics, const StatusBoard& status,
             QueryMailbox& queries);
  ~WorkerHttp();
  WorkerHttp(const WorkerHttp&) = delete;
  WorkerHttp& operator=(const WorkerHttp&) = delete;

  [[nodiscard]] int port() const { return port_; }
  // host:port at which the other replicas reach these endpoints.
  [[nodiscard]] const std::string& advertised() const { return owners_->self(); }

 private:
  std::unique_ptr<web::Server> server_;
  int port_ = 0;
  std::unique_ptr<OwnerDirectory> owners_;
  std::unique_ptr<RollupEndpoint> rollups_;
  std::thread thread_;
};

// The /metrics body; `health` is what /healthz answers at the same moment.
[[nodiscard]] std::string render_metrics(const WorkerMetrics& metrics, const StatusSnapshot& status,
                                         const WindowSet& windows, const Health& health);

}  // namespace auditor
