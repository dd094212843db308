// `GET /rollups` on any replica, for any key (Kafka Streams' interactive queries with
// `application.server`): answered from the local store when this replica runs the key's
// task, else forwarded to the replica that does (engine/owner_directory.h finds it) and
// its answer passed on. Every answer about a key names its owner in `X-Auditor-Owner`. A
// forwarded request carries `X-Auditor-Forwarded-By` and is never forwarded again. While
// no replica can answer (rebalancing, restoring, owner unreachable) the reply is 503 with
// `Retry-After` and a JSON error. Thread-safe: handle() runs on any HTTP thread.
#pragma once

#include <chrono>
#include <string>

#include "topology/windows.h"
#include "worker/engine/owner_directory.h"
#include "worker/http/client.h"
#include "worker/http/server.h"
#include "worker/stages/metrics.h"
#include "worker/stages/rollup_query.h"

namespace auditor {

inline constexpr const char* kOwnerHeader = "X-Auditor-Owner";
inline constexpr const char* kForwardedHeader = "X-Auditor-Forwarded-By";

class RollupEndpoint {
 public:
  // The referenced objects must outlive this.
  RollupEndpoint(QueryMailbox& queries, OwnerDirectory& owners, WorkerMetrics& metrics,
                 const WindowSet& windows)
      : queries_(queries), owners_(owners), metrics_(metrics), windows_(windows) {}

  void handle(const web::Request& request, web::Response& response);

  // How long the worker thread may take to answer a local query.
  static constexpr std::chrono::seconds kLocalTimeout{5};
  // The forwarded query: the owner answers local queries within kLocalTimeout.
  static constexpr web::ClientTimeouts kForwardTimeouts{std::chrono::milliseconds{2'000},
                                                        std::chrono::milliseconds{7'000}};
  // What 503 answers ask clients to wait: about a rebalance round.
  static constexpr int kRetryAfterSeconds = 1;

 private:
  void unavailable(web::Response& response, std::int32_t partition, const std::string& reason,
                   const std::string& owner);
  void forward(const web::Request& request, web::Response& response, std::int32_t partition,
               const std::string& owner);

  QueryMailbox& queries_;
  OwnerDirectory& owners_;
  WorkerMetrics& metrics_;
  const WindowSet& windows_;
};

}  // namespace auditor
