// Counters of the tick API, rendered as Prometheus text for GET /metrics. Updated from
// every HTTP thread: relaxed atomics, each value is independent.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "worker/common/prometheus.h"

namespace auditor::tick_api {

class Metrics {
 public:
  // One finished request: its route ("/tick", "/ticks", "/healthz", "/metrics", "other")
  // and status code.
  void count_request(const std::string& path, int status);
  // One produce call (a single tick or a batch) and how long the acknowledgement took.
  void count_produce(bool ok, std::uint64_t ticks, std::chrono::nanoseconds latency);

  [[nodiscard]] std::string render() const;

 private:
  using Counter = std::atomic<std::uint64_t>;
  static constexpr std::size_t kPaths = 5;
  static constexpr std::array<int, 9> kStatuses = {200, 400, 404, 413, 422, 500, 503, 504, 0};

  std::array<std::array<Counter, kStatuses.size()>, kPaths> requests_{};
  Counter ticks_produced_{0};
  Counter produce_failures_{0};
  // Acknowledgements take a few milliseconds when the broker is healthy and up to the
  // produce timeout when it is not.
  prometheus::Histogram produce_latency_;
};

}  // namespace auditor::tick_api
