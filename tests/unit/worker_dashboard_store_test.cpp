// The dashboard's store without a broker: latest value per window, tombstones, current vs
// previous windows from the data, top ordering, pruning, and the chart series.
#include <gtest/gtest.h>

#include "worker/dashboard/store.h"

namespace auditor::dashboard {
namespace {

using nlohmann::json;

std::string key(const std::string& name, const std::string& window, const std::string& start) {
  return json{{"process_name", name},
              {"process_activity", "a"},
              {"window", window},
              {"window_start", start}}
      .dump();
}
std::string value(const std::string& name, const std::string& window, const std::string& start,
                  std::int64_t count, bool final) {
  return json{{"process_name", name}, {"process_activity", "a"},
              {"window", window},     {"window_start", start},
              {"window_end", "x"},    {"count", count},
              {"ticks", 1},           {"final", final}}
      .dump();
}

json view(RollupStore& store) {
  return json::parse(*store.view().second);
}

TEST(DashboardStore, KeepsTheLatestValueAndSortsTheTop) {
  RollupStore store(ViewSettings{});
  const std::string t0 = "2026-11-22T09:47:00Z";
  const std::string t1 = "2026-11-22T09:48:00Z";
  ASSERT_TRUE(store.apply(key("p", "1m", t0), value("p", "1m", t0, 5, false)));
  ASSERT_TRUE(store.apply(key("p", "1m", t0), value("p", "1m", t0, 9, true)));
  ASSERT_TRUE(store.apply(key("q", "1m", t0), value("q", "1m", t0, 9, true)));
  ASSERT_TRUE(store.apply(key("r", "1m", t1), value("r", "1m", t1, 1, false)));
  EXPECT_FALSE(store.apply("junk", std::string_view("not json")));
  const auto v = view(store);
  const auto& w = v.at("windows").at(0);
  EXPECT_EQ(w.at("current").at("window_start"), t1);
  EXPECT_FALSE(w.at("current").at("final"));
  EXPECT_EQ(w.at("previous").at("window_start"), t0);
  EXPECT_TRUE(w.at("previous").at("final"));
  EXPECT_EQ(w.at("previous").at("total"), 18);
  // Equal counts: by name.
  EXPECT_EQ(w.at("previous").at("top").at(0).at("process_name"), "p");
  EXPECT_EQ(w.at("previous").at("top").at(0).at("count"), 9);
  EXPECT_EQ(w.at("previous").at("top").at(1).at("process_name"), "q");
  // Chart: the last points of the smallest window size.
  const auto& chart = v.at("chart");
  EXPECT_EQ(chart.at("starts").back(), t1);
  EXPECT_EQ(chart.at("series").at(0).at("counts").back(), 0);  // p has nothing in t1
  EXPECT_EQ(store.stats().malformed, 1U);
}

TEST(DashboardStore, TombstonesRemoveWindows) {
  RollupStore store(ViewSettings{});
  const std::string t0 = "2026-11-22T09:00:00Z";
  ASSERT_TRUE(store.apply(key("p", "1h", t0), value("p", "1h", t0, 5, true)));
  ASSERT_TRUE(store.apply(key("p", "1h", t0), std::nullopt));
  EXPECT_TRUE(view(store).at("windows").empty());
}

TEST(DashboardStore, KeepsOnlyRecentWindows) {
  ViewSettings settings;
  settings.keep_windows = 2;
  RollupStore store(settings);
  for (const char* t : {"2026-11-22T09:00:00Z", "2026-11-22T09:01:00Z", "2026-11-22T09:02:00Z",
                        "2026-11-22T09:05:00Z"}) {
    ASSERT_TRUE(store.apply(key("p", "1m", t), value("p", "1m", t, 1, false)));
  }
  // 09:05 minus two windows: 09:03 onwards are kept.
  EXPECT_EQ(store.stats().windows, 1U);
  ASSERT_TRUE(store.apply(key("p", "1m", "2026-11-22T08:00:00Z"),
                          value("p", "1m", "2026-11-22T08:00:00Z", 1, false)));
  EXPECT_EQ(store.stats().windows, 1U);
}

TEST(DashboardStore, WaitForChangeWakesOnApply) {
  RollupStore store(ViewSettings{});
  const auto v0 = store.view().first;
  EXPECT_EQ(store.wait_for_change(v0, std::chrono::milliseconds(10)), v0);
  store.set_caught_up();
  EXPECT_NE(store.wait_for_change(v0, std::chrono::milliseconds(10)), v0);
}

}  // namespace
}  // namespace auditor::dashboard
