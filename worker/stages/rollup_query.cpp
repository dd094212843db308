#include "worker/stages/rollup_query.h"

#include "topology/duration.h"
#include "topology/event_time.h"
#include "topology/tick_parser.h"

namespace auditor {
namespace {

// RFC 3339 or integer epoch milliseconds, like the tick's `timestamp`.
std::optional<EventTime> parse_time(const std::string& text) {
  if (const auto t = parse_rfc3339(text)) return t;
  if (text.empty() || text.size() > 16) return std::nullopt;
  std::size_t i = text[0] == '-' ? 1 : 0;
  if (i == text.size()) return std::nullopt;
  std::int64_t value = 0;
  for (; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  if (text[0] == '-') value = -value;
  if (value < kMinEventTime.value || value > kMaxEventTime.value) return std::nullopt;
  return EventTime{value};
}

}  // namespace

std::variant<RollupQuery, std::string> parse_rollup_query(
    const std::multimap<std::string, std::string>& params, const WindowSet& windows) {
  RollupQuery query;
  for (const auto& [key, value] : params) {
    if (params.count(key) > 1) return key + ": given more than once";
    if (key == "process_name" || key == "process_activity") {
      if (value.empty() || value.size() > kMaxNameBytes) {
        return key + ": must be 1 to " + std::to_string(kMaxNameBytes) + " bytes";
      }
      (key == "process_name" ? query.process_name : query.process_activity) = value;
    } else if (key == "window") {
      const auto size = parse_duration(value);
      bool configured = false;
      for (const auto& w : windows.windows()) configured |= size && w.size == *size;
      if (!configured) return "window: '" + value + "' is not one of " + windows.names(~0U);
      query.window = size;
    } else if (key == "from" || key == "to") {
      const auto t = parse_time(value);
      if (!t) return key + ": not an RFC 3339 time or epoch milliseconds";
      (key == "from" ? query.from : query.to) = t;
    } else {
      return key + ": unknown parameter (process_name, process_activity, window, from, to)";
    }
  }
  if (query.process_name.empty()) return "process_name: required";
  if (query.process_activity.empty()) return "process_activity: required";
  if (query.from && query.to && *query.to <= *query.from) return "to: must be after from";
  return query;
}

std::optional<HttpAnswer> QueryMailbox::ask(RollupQuery query, std::chrono::milliseconds timeout) {
  auto pending = std::make_shared<Pending>(Pending{std::move(query), std::nullopt});
  std::unique_lock lock(mutex_);
  waiting_.push_back(pending);
  has_waiting_ = true;
  answered_.wait_for(lock, timeout, [&] { return pending->answer.has_value(); });
  if (!pending->answer) {
    std::erase(waiting_, pending);
    return std::nullopt;
  }
  return pending->answer;
}

void QueryMailbox::serve(const Answerer& answer) {
  std::unique_lock lock(mutex_);
  if (!has_waiting_) return;
  std::deque<std::shared_ptr<Pending>> batch;
  batch.swap(waiting_);
  has_waiting_ = false;
  lock.unlock();
  // Answered outside the lock: store reads must not block HTTP threads that post.
  for (auto& pending : batch) {
    HttpAnswer result = answer(pending->query);
    lock.lock();
    pending->answer = std::move(result);
    lock.unlock();
  }
  answered_.notify_all();
}

}  // namespace auditor
