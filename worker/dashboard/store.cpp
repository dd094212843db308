#include "worker/dashboard/store.h"

#include <algorithm>
#include <vector>

#include "topology/duration.h"
#include "topology/event_time.h"

namespace auditor::dashboard {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

json parse(std::string_view text) {
  return json::parse(text.begin(), text.end(), nullptr, false);
}

// A string field of a parsed object, or nullopt.
std::optional<std::string> text_field(const json& object, const char* name) {
  if (!object.is_object()) return std::nullopt;
  const auto it = object.find(name);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

bool RollupStore::apply(std::string_view key, std::optional<std::string_view> value) {
  // A tombstone has only its key to say which window it deletes.
  const json doc = parse(value ? *value : key);
  const auto label = text_field(doc, "window");
  const auto start_text = text_field(doc, "window_start");
  const auto name = text_field(doc, "process_name");
  const auto activity = text_field(doc, "process_activity");
  // Plain integers rather than optionals: GCC 12 sees phantom uninitialised reads otherwise.
  std::int64_t size_ms = 0;
  std::int64_t start_ms = 0;
  bool have_start = false;
  if (label) {
    if (const auto d = parse_duration(*label)) size_ms = d->value;
  }
  if (start_text) {
    if (const auto t = parse_rfc3339(*start_text)) {
      start_ms = t->value;
      have_start = true;
    }
  }
  Row row;
  bool ok = name && activity && size_ms > 0 && have_start;
  if (ok && value) {
    try {
      row = Row{doc.at("count").get<std::int64_t>(), doc.at("ticks").get<std::int64_t>(),
                doc.at("final").get<bool>()};
    } catch (const json::exception&) {
      ok = false;
    }
  }
  const std::lock_guard lock(mutex_);
  ++stats_.records;
  if (!ok) {
    ++stats_.malformed;
    return false;
  }
  Size& s = sizes_[*label];
  s.size_ms = size_ms;
  const Key k{*name, *activity};
  if (!value) {
    const auto w = s.windows.find(start_ms);
    if (w != s.windows.end() && w->second.erase(k) > 0) {
      if (w->second.empty()) s.windows.erase(w);
      changed();
    }
    return true;
  }
  if (!s.windows.empty() &&
      start_ms < s.windows.rbegin()->first - settings_.keep_windows * s.size_ms) {
    return true;  // older than anything the page shows
  }
  s.windows[start_ms][k] = row;
  prune(s);
  changed();
  return true;
}

void RollupStore::prune(Size& size) {
  const std::int64_t oldest = size.windows.rbegin()->first - settings_.keep_windows * size.size_ms;
  size.windows.erase(size.windows.begin(), size.windows.lower_bound(oldest));
}

void RollupStore::changed() {
  ++version_;
  cv_.notify_all();
}

void RollupStore::set_caught_up() {
  const std::lock_guard lock(mutex_);
  if (stats_.caught_up) return;
  stats_.caught_up = true;
  changed();
}

std::uint64_t RollupStore::wait_for_change(std::uint64_t seen, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, timeout, [&] { return version_ != seen; });
  return version_;
}

RollupStore::Stats RollupStore::stats() {
  const std::lock_guard lock(mutex_);
  Stats s = stats_;
  for (const auto& [label, size] : sizes_) {
    for (const auto& [start, rows] : size.windows) s.windows += rows.size();
  }
  return s;
}

std::pair<std::uint64_t, std::shared_ptr<const std::string>> RollupStore::view() {
  const std::lock_guard lock(mutex_);
  if (cached_version_ != version_ || !cached_) {
    cached_ = std::make_shared<const std::string>(build_view().dump());
    cached_version_ = version_;
  }
  return {version_, cached_};
}

ordered_json RollupStore::build_view() const {
  std::vector<const std::pair<const std::string, Size>*> by_size;
  for (const auto& entry : sizes_) {
    if (!entry.second.windows.empty()) by_size.push_back(&entry);
  }
  std::sort(by_size.begin(), by_size.end(),
            [](const auto* a, const auto* b) { return a->second.size_ms < b->second.size_ms; });
  auto windows = ordered_json::array();
  for (const auto* entry : by_size) {
    const Size& size = entry->second;
    const std::int64_t current = size.windows.rbegin()->first;
    windows.push_back({{"window", entry->first},
                       {"size_ms", size.size_ms},
                       {"current", window_json(entry->first, size, current)},
                       {"previous", window_json(entry->first, size, current - size.size_ms)}});
  }
  return {{"caught_up", stats_.caught_up},
          {"records", stats_.records},
          {"windows", std::move(windows)},
          {"chart", chart_json()}};
}

ordered_json RollupStore::window_json(const std::string& label, const Size& size,
                                      std::int64_t start) const {
  std::vector<std::pair<const Key*, const Row*>> rows;
  std::map<std::string, std::int64_t> per_process;
  std::int64_t total = 0;
  bool all_final = true;
  if (const auto it = size.windows.find(start); it != size.windows.end()) {
    for (const auto& [key, row] : it->second) {
      rows.emplace_back(&key, &row);
      per_process[key.first] += row.count;
      total += row.count;
      all_final = all_final && row.final;
    }
  }
  // Largest count first; ties by name so the order is stable between updates.
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return std::tie(b.second->count, a.first->first, a.first->second) <
           std::tie(a.second->count, b.first->first, b.first->second);
  });
  auto top = ordered_json::array();
  for (std::size_t i = 0; i < rows.size() && i < settings_.top; ++i) {
    top.push_back({{"process_name", rows[i].first->first},
                   {"process_activity", rows[i].first->second},
                   {"count", rows[i].second->count},
                   {"ticks", rows[i].second->ticks},
                   {"final", rows[i].second->final}});
  }
  std::vector<std::pair<std::string, std::int64_t>> processes(per_process.begin(),
                                                              per_process.end());
  std::stable_sort(processes.begin(), processes.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  auto top_processes = ordered_json::array();
  for (std::size_t i = 0; i < processes.size() && i < settings_.top; ++i) {
    top_processes.push_back({{"process_name", processes[i].first}, {"count", processes[i].second}});
  }
  return {{"window", label},
          {"window_start", format_rfc3339(EventTime{start})},
          {"window_end", format_rfc3339(EventTime{start + size.size_ms})},
          {"keys", rows.size()},
          {"total", total},
          {"final", !rows.empty() && all_final},
          {"top", std::move(top)},
          {"top_processes", std::move(top_processes)}};
}

ordered_json RollupStore::chart_json() const {
  const Size* smallest = nullptr;
  std::string label;
  for (const auto& [l, size] : sizes_) {
    if (!size.windows.empty() && (smallest == nullptr || size.size_ms < smallest->size_ms)) {
      smallest = &size;
      label = l;
    }
  }
  if (smallest == nullptr) return nullptr;
  const auto n = static_cast<std::int64_t>(settings_.chart_points);
  const std::int64_t last = smallest->windows.rbegin()->first;
  const std::int64_t first = last - (n - 1) * smallest->size_ms;
  std::map<Key, std::vector<std::int64_t>> series;
  std::map<Key, std::int64_t> sums;
  auto starts = ordered_json::array();
  auto finals = ordered_json::array();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t start = first + i * smallest->size_ms;
    starts.push_back(format_rfc3339(EventTime{start}));
    bool final = true;  // a window without rows has nothing still open
    if (const auto it = smallest->windows.find(start); it != smallest->windows.end()) {
      for (const auto& [key, row] : it->second) {
        auto& points = series[key];
        points.resize(static_cast<std::size_t>(n), 0);
        points[static_cast<std::size_t>(i)] = row.count;
        sums[key] += row.count;
        final = final && row.final;
      }
    }
    finals.push_back(final);
  }
  std::vector<std::pair<Key, std::int64_t>> ranked(sums.begin(), sums.end());
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  auto lines = ordered_json::array();
  for (std::size_t i = 0; i < ranked.size() && i < settings_.chart_keys; ++i) {
    lines.push_back({{"process_name", ranked[i].first.first},
                     {"process_activity", ranked[i].first.second},
                     {"counts", series[ranked[i].first]}});
  }
  return {{"window", label}, {"starts", starts}, {"final", finals}, {"series", lines}};
}

}  // namespace auditor::dashboard
