#include "worker/tick_api/metrics.h"

#include <string_view>

namespace auditor::tick_api {
namespace {

constexpr std::array<std::string_view, 5> kPathNames = {"/tick", "/ticks", "/healthz", "/metrics",
                                                        "other"};

std::size_t path_index(const std::string& path) {
  for (std::size_t i = 0; i + 1 < kPathNames.size(); ++i) {
    if (path == kPathNames[i]) return i;
  }
  return kPathNames.size() - 1;
}

}  // namespace

void Metrics::count_request(const std::string& path, int status) {
  std::size_t s = kStatuses.size() - 1;  // "other" statuses
  for (std::size_t i = 0; i + 1 < kStatuses.size(); ++i) {
    if (kStatuses[i] == status) s = i;
  }
  requests_[path_index(path)][s].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::count_produce(bool ok, std::uint64_t ticks, std::chrono::nanoseconds latency) {
  if (ok) {
    ticks_produced_.fetch_add(ticks, std::memory_order_relaxed);
  } else {
    produce_failures_.fetch_add(1, std::memory_order_relaxed);
  }
  produce_latency_.observe(std::chrono::duration<double>(latency).count());
}

std::string Metrics::render() const {
  prometheus::Writer w;
  w.build_info();
  for (std::size_t p = 0; p < kPaths; ++p) {
    for (std::size_t s = 0; s < kStatuses.size(); ++s) {
      const auto n = requests_[p][s].load(std::memory_order_relaxed);
      // The produce routes' series exist from the start, so that rate() sees the first
      // errors (a series born with its first 503 would hide that one); the others appear
      // when used.
      const bool produce_route = kPathNames[p] == "/tick" || kPathNames[p] == "/ticks";
      if (n == 0 && !produce_route) continue;
      const std::string status =
          kStatuses[s] == 0 ? std::string("other") : std::to_string(kStatuses[s]);
      w.counter("auditor_tick_api_requests_total", "HTTP requests by route and status code",
                static_cast<double>(n), {{"path", kPathNames[p]}, {"status", status}});
    }
  }
  w.counter("auditor_tick_api_ticks_produced_total", "Ticks acknowledged by Kafka",
            static_cast<double>(ticks_produced_.load(std::memory_order_relaxed)));
  w.counter("auditor_tick_api_produce_failures_total",
            "Produce calls not acknowledged (answered 503 or 504)",
            static_cast<double>(produce_failures_.load(std::memory_order_relaxed)));
  w.histogram("auditor_tick_api_produce_latency_seconds", "Time from produce to acknowledgement",
              produce_latency_);
  return w.text();
}

}  // namespace auditor::tick_api
