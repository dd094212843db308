// A strict parser of the Prometheus text exposition format 0.0.4, for tests that scrape a
// /metrics endpoint: parse_exposition() reports every line that breaks the format (syntax,
// escapes, values, TYPE before samples, grouping, duplicate series, negative counters,
// histogram buckets that are not cumulative or lack +Inf, _count, _sum), and
// naming_problems() every family that breaks the naming conventions of
// https://prometheus.io/docs/practices/naming/ (auditor_ prefix, HELP text, _total on
// counters only, base units with their suffix).
//
// Used by the /metrics checks of the worker (tests/integration/http_test.cpp), the tick API
// (tests/integration/tick_api_test.cpp) and the dashboard (tests/integration/
// dashboard_test.cpp); its own test, which makes sure it is strict, is
// tests/unit/support_prometheus_text_test.cpp.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace auditor::test {

using Labels = std::map<std::string, std::string>;

struct PromSample {
  std::string name;
  Labels labels;
  double value = 0;
  int line = 0;
};

struct PromFamily {
  std::string type;  // counter, gauge, histogram, summary, untyped
  std::optional<std::string> help;
  std::vector<std::size_t> samples;  // indexes into Exposition::samples
};

struct Exposition {
  std::map<std::string, PromFamily> families;
  std::vector<PromSample> samples;
  std::vector<std::string> errors;

  // The value of the series with exactly these labels.
  [[nodiscard]] std::optional<double> value(const std::string& name,
                                            const Labels& labels = {}) const {
    for (const auto& s : samples) {
      if (s.name == name && s.labels == labels) return s.value;
    }
    return std::nullopt;
  }
  [[nodiscard]] std::vector<const PromSample*> series(const std::string& name) const {
    std::vector<const PromSample*> out;
    for (const auto& s : samples) {
      if (s.name == name) out.push_back(&s);
    }
    return out;
  }
};

// Parses an exposition; every problem found lands in Exposition::errors ("line N: ...").
[[nodiscard]] Exposition parse_exposition(const std::string& text);

// Every family whose name, type or HELP breaks the naming conventions; empty when none.
[[nodiscard]] std::vector<std::string> naming_problems(const Exposition& e);

}  // namespace auditor::test
