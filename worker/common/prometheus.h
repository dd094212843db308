// Prometheus text exposition (format 0.0.4): a small writer and a lock-free histogram.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace auditor::prometheus {

using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

// Fixed buckets in seconds, from 1 ms to 60 s. observe() may be called from one thread
// while others read: each field is an independent relaxed atomic.
class Histogram {
 public:
  static constexpr std::array<double, 12> kBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                     0.1,   0.25,   0.5,   1.0,  5.0,   60.0};
  void observe(double seconds);

  // Non-cumulative; the last one counts observations above every bound. The count is
  // derived from the buckets when rendering, so a scrape never sees buckets above it.
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets{};
  std::atomic<std::uint64_t> sum_micros{0};
};

// Builds one exposition. HELP/TYPE are written once per metric name, before its first
// sample; samples of one name must be written consecutively.
class Writer {
 public:
  void counter(std::string_view name, std::string_view help, double value, Labels labels = {});
  void gauge(std::string_view name, std::string_view help, double value, Labels labels = {});
  void histogram(std::string_view name, std::string_view help, const Histogram& h);
  // auditor_build_info{version,commit} 1: every service's exposition starts with it, so a
  // dashboard can tell which build each scrape target runs.
  void build_info();

  [[nodiscard]] const std::string& text() const { return text_; }

 private:
  void header(std::string_view name, std::string_view help, std::string_view type);
  void sample(std::string_view name, Labels labels, double value);

  std::string text_;
  std::set<std::string, std::less<>> declared_;
};

}  // namespace auditor::prometheus
