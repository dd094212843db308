// The series deploy/prometheus/alerts.yml relies on beyond the counters: the worker's
// auditor_healthy follows /healthz's verdict, and the tick API's produce routes expose
// their error series at zero before the first error (so that rate() counts that error).
#include <gtest/gtest.h>

#include <string>

#include "worker/engine/worker_http.h"
#include "worker/tick_api/metrics.h"

namespace auditor {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(AlertMetrics, WorkerHealthyFollowsTheHealthVerdict) {
  const WorkerMetrics metrics;
  const StatusSnapshot status;
  const WindowSet windows = WindowSet::parse("1m,1h");
  const std::string healthy = render_metrics(metrics, status, windows, Health{});
  EXPECT_TRUE(has_line(healthy, "# TYPE auditor_healthy gauge")) << healthy;
  EXPECT_TRUE(has_line(healthy, "auditor_healthy 1")) << healthy;

  const std::string unhealthy =
      render_metrics(metrics, status, windows, Health{false, "commits have been failing"});
  EXPECT_TRUE(has_line(unhealthy, "auditor_healthy 0")) << unhealthy;
}

TEST(AlertMetrics, TickApiProduceRoutesStartAtZeroOtherRoutesWhenUsed) {
  tick_api::Metrics metrics;
  const std::string fresh = metrics.render();
  for (const char* path : {"/tick", "/ticks"}) {
    for (const char* status : {"200", "422", "500", "503"}) {
      EXPECT_TRUE(has_line(fresh, std::string("auditor_tick_api_requests_total{path=\"") + path +
                                      "\",status=\"" + status + "\"} 0"))
          << path << " " << status << "\n"
          << fresh;
    }
  }
  EXPECT_EQ(fresh.find("path=\"/healthz\""), std::string::npos) << fresh;

  metrics.count_request("/tick", 503);
  metrics.count_request("/healthz", 200);
  const std::string used = metrics.render();
  EXPECT_TRUE(has_line(used, "auditor_tick_api_requests_total{path=\"/tick\",status=\"503\"} 1"))
      << used;
  EXPECT_TRUE(has_line(used, "auditor_tick_api_requests_total{path=\"/healthz\",status=\"200\"} 1"))
      << used;
}

}  // namespace
}  // namespace auditor
