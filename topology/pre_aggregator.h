// Stage 1: pre-aggregation of valid ticks within one commit, per
// (process_name, process_activity, bucket), before they go to the repartition topic.
//
// Summing here is what makes the repartition topic small: a commit with a million ticks
// over a thousand keys writes about a thousand records.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "topology/types.h"

namespace auditor {

// One summed record. `event_time` is the largest event time of the ticks it carries; all
// of them share the same windows (see WindowSet::bucket) and were late for the same sizes
// (`late_mask`, bit i = WindowSet::windows()[i]): the record counts in the other sizes only.
struct PreAggregate {
  std::string process_name;
  std::string process_activity;
  EventTime event_time;
  std::int64_t count = 0;
  std::int64_t ticks = 0;
  std::uint32_t late_mask = 0;
};

class PreAggregator {
 public:
  explicit PreAggregator(DurationMs bucket);  // requires bucket > 0

  // Adds one tick, which counts in the window sizes not in `late_mask`. Allocates only for
  // a key/bucket/mask not yet seen in this commit.
  void add(std::string_view process_name, std::string_view process_activity, EventTime event_time,
           std::int64_t count, std::uint32_t late_mask = 0);

  // Returns everything added since the last take() and empties the aggregator, sorted by
  // (event time, name, activity, late mask): the repartition topic's content should not
  // depend on the hash table's order.
  [[nodiscard]] std::vector<PreAggregate> take();

  [[nodiscard]] std::size_t pending_records() const { return entries_.size(); }
  [[nodiscard]] std::int64_t pending_ticks() const { return pending_ticks_; }

  // Drops everything (used when a commit is aborted and the input is re-read).
  void clear();

 private:
  struct Key {
    std::string process_name;
    std::string process_activity;
    std::int64_t bucket;
    std::uint32_t late_mask;
    bool operator==(const Key&) const = default;
  };
  struct KeyView {
    std::string_view process_name;
    std::string_view process_activity;
    std::int64_t bucket;
    std::uint32_t late_mask;
  };
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(const Key& k) const;
    std::size_t operator()(const KeyView& k) const;
  };
  struct KeyEqual {
    using is_transparent = void;
    bool operator()(const Key& a, const Key& b) const { return a == b; }
    bool operator()(const KeyView& a, const Key& b) const;
    bool operator()(const Key& a, const KeyView& b) const { return (*this)(b, a); }
  };
  struct Sum {
    std::int64_t max_event_time;
    std::int64_t count;
    std::int64_t ticks;
  };

  DurationMs bucket_;
  std::unordered_map<Key, Sum, KeyHash, KeyEqual> entries_;
  std::int64_t pending_ticks_ = 0;
};

}  // namespace auditor
