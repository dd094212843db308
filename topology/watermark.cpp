#include "topology/watermark.h"

#include <algorithm>

namespace auditor {

void merge_watermark(PartitionWatermarks& known, PartitionId input, const PartitionWatermark& wm) {
  PartitionWatermark& entry = known[input.value];
  if (wm.time && (!entry.time || *entry.time < *wm.time)) entry.time = wm.time;
  entry.idle = wm.idle;
}

std::optional<EventTime> combined_watermark(const PartitionWatermarks& known,
                                            std::int32_t input_partitions) {
  std::optional<EventTime> min_active;
  std::optional<EventTime> max_idle;
  bool any_active = false;
  for (std::int32_t p = 0; p < input_partitions; ++p) {
    const auto it = known.find(p);
    if (it == known.end()) return std::nullopt;  // not heard from yet
    const PartitionWatermark& wm = it->second;
    if (wm.idle) {
      if (wm.time && (!max_idle || *max_idle < *wm.time)) max_idle = wm.time;
      continue;
    }
    if (!wm.time) return std::nullopt;  // active, but no valid tick yet
    any_active = true;
    if (!min_active || *wm.time < *min_active) min_active = wm.time;
  }
  return any_active ? min_active : max_idle;
}

std::optional<EventTime> latest_time(const PartitionWatermarks& known) {
  std::optional<EventTime> latest;
  for (const auto& [partition, wm] : known) {
    if (wm.time && (!latest || *latest < *wm.time)) latest = wm.time;
  }
  return latest;
}

}  // namespace auditor
