// The dashboard's picture of the rollup topic: the latest value of each recent window, and
// the view the page shows, built from it. Fed by one reader thread, read by the HTTP
// threads (the page and its event streams).
//
// "Current" is the latest window start seen for each window size, "previous" the window
// right before it. Both come from the data, never from the wall clock, so a replayed or
// paused system shows its last windows rather than empty ones, the same windows
// `auditor rollups` prints.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

namespace auditor::dashboard {

struct ViewSettings {
  std::size_t top = 10;           // rows per table
  std::size_t chart_points = 30;  // windows of the smallest size in the chart
  std::size_t chart_keys = 5;     // lines in the chart
  // Windows per size kept in memory, counted back from the latest; the compacted topic
  // holds days of 1m windows, of which the page shows the last few.
  std::int64_t keep_windows = 120;
};

class RollupStore {
 public:
  explicit RollupStore(ViewSettings settings) : settings_(settings) {}

  // One record of the rollup topic; `value` nullopt is a tombstone. Returns false (and
  // counts it) when the record is not a rollup.
  bool apply(std::string_view key, std::optional<std::string_view> value);
  // Reading reached the end of every partition once: the view is complete.
  void set_caught_up();

  // Waits until the version moves past `seen` or `timeout` passes; returns the version.
  std::uint64_t wait_for_change(std::uint64_t seen, std::chrono::milliseconds timeout);
  // The current view as JSON text, and its version (computed once per version).
  std::pair<std::uint64_t, std::shared_ptr<const std::string>> view();

  struct Stats {
    std::uint64_t records = 0;
    std::uint64_t malformed = 0;
    std::uint64_t windows = 0;
    bool caught_up = false;
  };
  [[nodiscard]] Stats stats();

 private:
  struct Row {
    std::int64_t count = 0;
    std::int64_t ticks = 0;
    bool final = false;
  };
  using Key = std::pair<std::string, std::string>;  // process_name, process_activity
  struct Size {
    std::int64_t size_ms = 0;
    std::map<std::int64_t, std::map<Key, Row>> windows;  // by window start (epoch ms)
  };

  [[nodiscard]] nlohmann::ordered_json build_view() const;
  [[nodiscard]] nlohmann::ordered_json window_json(const std::string& label, const Size& size,
                                                   std::int64_t start) const;
  [[nodiscard]] nlohmann::ordered_json chart_json() const;
  void prune(Size& size);
  void changed();

  ViewSettings settings_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::string, Size> sizes_;  // by window label ("1m")
  Stats stats_;
  std::uint64_t version_ = 0;
  std::uint64_t cached_version_ = ~std::uint64_t{0};
  std::shared_ptr<const std::string> cached_;
};

}  // namespace auditor::dashboard
