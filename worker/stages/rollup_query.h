// Interactive queries (`GET /rollups`): parsing the request, and the mailbox through which
// HTTP threads ask the worker thread. Only the worker thread opens, closes and writes the
// task stores; reading them through the mailbox keeps a query from ever meeting a store
// that is being closed by a revocation (state/task_store.h allows concurrent reads, not
// reads during close()).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>

#include "topology/types.h"
#include "topology/windows.h"

namespace auditor {

struct RollupQuery {
  std::string process_name;
  std::string process_activity;
  std::optional<DurationMs> window;  // absent: every configured size
  std::optional<EventTime> from;     // window_start >= from
  std::optional<EventTime> to;       // window_start < to
};

// Whether the worker runs the task of the queried key (its repartition partition).
enum class TaskHere : std::uint8_t { kRunning, kRestoring, kNotAssigned };

struct HttpAnswer {
  int status = 200;
  std::string body;  // JSON
  // Only with kRunning (or a 400/500 for the request itself) is this the key's answer;
  // otherwise another replica may own it (engine/rollup_endpoint.h asks that one).
  TaskHere task = TaskHere::kRunning;
  std::int32_t partition = -1;  // the key's repartition partition, once known
};

// Builds a query from URL parameters. Returns a one-line reason for a 400 otherwise.
[[nodiscard]] std::variant<RollupQuery, std::string> parse_rollup_query(
    const std::multimap<std::string, std::string>& params, const WindowSet& windows);

// Thread-safe hand-off of queries from HTTP threads to the worker thread.
class QueryMailbox {
 public:
  using Answerer = std::function<HttpAnswer(const RollupQuery&)>;

  // HTTP thread: waits for the worker's answer; nullopt when none came within `timeout`.
  [[nodiscard]] std::optional<HttpAnswer> ask(RollupQuery query, std::chrono::milliseconds timeout);

  // Worker thread: answers every waiting query. Cheap when none waits.
  void serve(const Answerer& answer);

 private:
  struct Pending {
    RollupQuery query;
    std::optional<HttpAnswer> answer;
  };
  std::mutex mutex_;
  std::condition_variable answered_;
  std::deque<std::shared_ptr<Pending>> waiting_;
  bool has_waiting_ = false;  // guarded by mutex_
};

}  // namespace auditor
