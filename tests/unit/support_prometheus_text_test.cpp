// The Prometheus text parser of tests/support/prometheus_text.h, without a broker: it must
// accept a well-formed exposition and reject malformed or badly named ones, or the /metrics
// tests that rely on it (worker, tick API, dashboard) prove nothing. Moved here from
// tests/integration/http_test.cpp, where it was WorkerHttp.PrometheusParserRejectsMalformedText.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "tests/support/prometheus_text.h"

namespace auditor::test {
namespace {

// The first `max` lines of a list of problems, for assertion messages (as in harness.h).
std::string first_lines(const std::vector<std::string>& lines, std::size_t max = 25) {
  std::string out;
  for (std::size_t i = 0; i < lines.size() && i < max; ++i) out += "  " + lines[i] + "\n";
  if (lines.size() > max) out += "  ... and " + std::to_string(lines.size() - max) + " more\n";
  return out;
}

TEST(PrometheusText, ParserRejectsMalformedText) {
  const std::string good =
      "# HELP auditor_x_total Things.\n# TYPE auditor_x_total counter\n"
      "auditor_x_total{a=\"q\\\"\\\\\\n\"} 3\n"
      "# HELP auditor_d_seconds D.\n# TYPE auditor_d_seconds histogram\n"
      "auditor_d_seconds_bucket{le=\"0.1\"} 1\nauditor_d_seconds_bucket{le=\"+Inf\"} 2\n"
      "auditor_d_seconds_sum 0.3\nauditor_d_seconds_count 2\n";
  const Exposition ok = parse_exposition(good);
  EXPECT_TRUE(ok.errors.empty()) << first_lines(ok.errors);
  EXPECT_TRUE(naming_problems(ok).empty()) << first_lines(naming_problems(ok));
  EXPECT_EQ(ok.value("auditor_x_total", {{"a", "q\"\\\n"}}), 3.0);

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"no TYPE", "auditor_y 1\n"},
      {"bad escape", "# TYPE auditor_x_total counter\nauditor_x_total{a=\"\\t\"} 1\n"},
      {"unterminated label", "# TYPE auditor_x_total counter\nauditor_x_total{a=\"x} 1\n"},
      {"bad value", "# TYPE auditor_x_total counter\nauditor_x_total 1x\n"},
      {"no newline at end", "# TYPE auditor_x_total counter\nauditor_x_total 1"},
      {"duplicate series", "# TYPE auditor_g gauge\nauditor_g 1\nauditor_g 2\n"},
      {"TYPE twice", "# TYPE auditor_g gauge\n# TYPE auditor_g gauge\nauditor_g 1\n"},
      {"not grouped",
       "# TYPE auditor_g gauge\n# TYPE auditor_h gauge\nauditor_g{a=\"1\"} 1\nauditor_h 1\n"
       "auditor_g{a=\"2\"} 1\n"},
      {"not cumulative",
       "# TYPE auditor_d_seconds histogram\nauditor_d_seconds_bucket{le=\"0.1\"} 3\n"
       "auditor_d_seconds_bucket{le=\"+Inf\"} 2\nauditor_d_seconds_sum 1\n"
       "auditor_d_seconds_count 2\n"},
      {"+Inf != count",
       "# TYPE auditor_d_seconds histogram\nauditor_d_seconds_bucket{le=\"+Inf\"} 2\n"
       "auditor_d_seconds_sum 1\nauditor_d_seconds_count 3\n"},
      {"no +Inf bucket",
       "# TYPE auditor_d_seconds histogram\nauditor_d_seconds_bucket{le=\"1\"} 2\n"
       "auditor_d_seconds_sum 1\nauditor_d_seconds_count 2\n"},
      {"negative counter", "# TYPE auditor_x_total counter\nauditor_x_total -1\n"},
  };
  for (const auto& [what, text] : bad) {
    EXPECT_FALSE(parse_exposition(text).errors.empty()) << "accepted: " << what;
  }
  const std::vector<std::pair<std::string, std::string>> badly_named = {
      {"counter without _total", "# HELP auditor_x X.\n# TYPE auditor_x counter\nauditor_x 1\n"},
      {"no prefix", "# HELP x_total X.\n# TYPE x_total counter\nx_total 1\n"},
      {"milliseconds", "# HELP auditor_d_ms D.\n# TYPE auditor_d_ms gauge\nauditor_d_ms 1\n"},
      {"gauge _total",
       "# HELP auditor_g_total G.\n# TYPE auditor_g_total gauge\nauditor_g_total 1\n"},
      {"memory not bytes",
       "# HELP auditor_memory M.\n# TYPE auditor_memory gauge\nauditor_memory 1\n"},
  };
  for (const auto& [what, text] : badly_named) {
    EXPECT_FALSE(naming_problems(parse_exposition(text)).empty()) << "accepted: " << what;
  }
}

}  // namespace
}  // namespace auditor::test
