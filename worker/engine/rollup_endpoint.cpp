#include "worker/engine/rollup_endpoint.h"

#include <nlohmann/json.hpp>

namespace auditor {
namespace {

std::string query_string(const std::multimap<std::string, std::string>& params) {
  std::string out;
  for (const auto& [key, value] : params) {
    out += (out.empty() ? "?" : "&") + web::url_encode(key) + "=" + web::url_encode(value);
  }
  return out;
}

}  // namespace

void RollupEndpoint::handle(const web::Request& request, web::Response& response) {
  auto parsed = parse_rollup_query(request.params, windows_);
  if (auto* error = std::get_if<std::string>(&parsed)) {
    response.status = 400;
    response.body = nlohmann::json{{"error", *error}}.dump();
    return;
  }
  const auto local = queries_.ask(std::get<RollupQuery>(std::move(parsed)), kLocalTimeout);
  if (!local) {
    unavailable(response, -1, "the worker did not answer in time", owners_.self());
    return;
  }
  switch (local->task) {
    case TaskHere::kRunning:
      WorkerMetrics::inc(metrics_.queries_local);
      response.status = local->status;
      response.body = local->body;
      response.headers.emplace_back(kOwnerHeader, owners_.self());
      return;
    case TaskHere::kRestoring:
      unavailable(response, local->partition, "the task of this key is restoring here",
                  owners_.self());
      return;
    case TaskHere::kNotAssigned:
      break;
  }
  const std::string task = "task " + std::to_string(local->partition);
  if (const auto from = request.header(kForwardedHeader)) {
    // The sender's view of the group is newer or older than ours: either way the client
    // should ask again once the group has settled, not be sent round in circles.
    unavailable(response, local->partition,
                "forwarded by " + *from + ", but " + task + " does not run here (rebalancing)", "");
    return;
  }
  const Route route = owners_.route(PartitionId{local->partition});
  switch (route.kind) {
    case Route::Kind::kUnavailable:
      unavailable(response, local->partition, route.reason, "");
      return;
    case Route::Kind::kHere:
      unavailable(response, local->partition,
                  task + " was just assigned here and does not run yet (rebalancing)",
                  owners_.self());
      return;
    case Route::Kind::kForward:
      forward(request, response, local->partition, route.owner);
      return;
  }
}

void RollupEndpoint::forward(const web::Request& request, web::Response& response,
                             std::int32_t partition, const std::string& owner) {
  const auto [reply, why] = web::get(owner, "/rollups" + query_string(request.params),
                                     {{kForwardedHeader, owners_.self()}}, kForwardTimeouts);
  if (!reply) {
    owners_.forget();
    unavailable(response, partition, "the owner " + owner + " did not answer: " + why, owner);
    return;
  }
  if (reply->status == 503 || reply->status == 404) {
    // The owner no longer (or not yet) runs the task: the group moved it meanwhile.
    owners_.forget();
    std::string reason;
    try {
      reason = nlohmann::json::parse(reply->body).value("error", "");
    } catch (const nlohmann::json::exception&) {
    }
    unavailable(response, partition, "the owner " + owner + " cannot answer now: " + reason, owner);
    return;
  }
  WorkerMetrics::inc(metrics_.queries_forwarded);
  response.status = reply->status;
  response.body = reply->body;
  response.headers.emplace_back(kOwnerHeader, reply->header(kOwnerHeader).value_or(owner));
}

void RollupEndpoint::unavailable(web::Response& response, std::int32_t partition,
                                 const std::string& reason, const std::string& owner) {
  WorkerMetrics::inc(metrics_.queries_unavailable);
  response.status = 503;
  nlohmann::ordered_json body = {{"error", reason}};
  if (partition >= 0) body["partition"] = partition;
  body["retry_after_seconds"] = kRetryAfterSeconds;
  response.body = body.dump();
  response.headers.emplace_back("Retry-After", std::to_string(kRetryAfterSeconds));
  if (!owner.empty()) response.headers.emplace_back(kOwnerHeader, owner);
}

}  // namespace auditor
