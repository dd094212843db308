#include "worker/tick_api/metrics.h"

#include <sstream>
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
  const double seconds = std::chrono::duration<double>(latency).count();
  std::size_t b = 0;
  while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
  latency_buckets_[b].fetch_add(1, std::memory_order_relaxed);
  latency_count_.fetch_add(1, std::memory_order_relaxed);
  latency_sum_ns_.fetch_add(static_cast<std::uint64_t>(latency.count()), std::memory_order_relaxed);
}

std::string Metrics::render() const {
  std::ostringstream out;
  out << "# HELP auditor_tick_api_requests_total HTTP requests by route and status code.\n"
         "# TYPE auditor_tick_api_requests_total counter\n";
  for (std::size_t p = 0; p < kPaths; ++p) {
    for (std::size_t s = 0; s < kStatuses.size(); ++s) {
      const auto n = requests_[p][s].load(std::memory_order_relaxed);
      if (n == 0) continue;
      out << "auditor_tick_api_requests_total{path=\"" << kPathNames[p] << "\",status=\""
          << (kStatuses[s] == 0 ? std::string("other") : std::to_string(kStatuses[s])) << "\"} "
          << n << "\n";
    }
  }
  out << "# HELP auditor_tick_api_ticks_produced_total Ticks acknowledged by Kafka.\n"
         "# TYPE auditor_tick_api_ticks_produced_total counter\n"
         "auditor_tick_api_ticks_produced_total "
      << ticks_produced_.load(std::memory_order_relaxed)
      << "\n# HELP auditor_tick_api_produce_failures_total Produce calls answered with 503.\n"
         "# TYPE auditor_tick_api_produce_failures_total counter\n"
         "auditor_tick_api_produce_failures_total "
      << produce_failures_.load(std::memory_order_relaxed)
      << "\n# HELP auditor_tick_api_produce_latency_seconds Time from produce to acknowledgement.\n"
         "# TYPE auditor_tick_api_produce_latency_seconds histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t b = 0; b <= kBuckets.size(); ++b) {
    cumulative += latency_buckets_[b].load(std::memory_order_relaxed);
    out << "auditor_tick_api_produce_latency_seconds_bucket{le=\"";
    if (b < kBuckets.size()) {
      out << kBuckets[b];
    } else {
      out << "+Inf";
    }
    out << "\"} " << cumulative << "\n";
  }
  out << "auditor_tick_api_produce_latency_seconds_sum "
      << static_cast<double>(latency_sum_ns_.load(std::memory_order_relaxed)) / 1e9 << "\n"
      << "auditor_tick_api_produce_latency_seconds_count "
      << latency_count_.load(std::memory_order_relaxed) << "\n";
  return out.str();
}

}  // namespace auditor::tick_api
