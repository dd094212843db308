#include "topology/pre_aggregator.h"

#include <algorithm>
#include <functional>
#include <stdexcept>
#include <tuple>

#include "topology/windows.h"

namespace auditor {
namespace {

// boost::hash_combine's mixing step: cheap and good enough for a per-commit table.
std::size_t combine(std::size_t seed, std::size_t h) {
  return seed ^ (h + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2));
}

std::size_t hash_parts(std::string_view name, std::string_view activity, std::int64_t bucket,
                       std::uint32_t late_mask) {
  std::size_t h = std::hash<std::string_view>{}(name);
  h = combine(h, std::hash<std::string_view>{}(activity));
  h = combine(h, std::hash<std::int64_t>{}(bucket));
  return late_mask == 0 ? h : combine(h, late_mask);
}

}  // namespace

PreAggregator::PreAggregator(DurationMs bucket) : bucket_(bucket) {
  if (bucket.value <= 0) throw std::invalid_argument("pre-aggregation bucket must be positive");
}

// Both overloads hash the same parts the same way, which heterogeneous lookup requires.
std::size_t PreAggregator::KeyHash::operator()(const Key& k) const {
  return hash_parts(k.process_name, k.process_activity, k.bucket, k.late_mask);
}

std::size_t PreAggregator::KeyHash::operator()(const KeyView& k) const {
  return hash_parts(k.process_name, k.process_activity, k.bucket, k.late_mask);
}

bool PreAggregator::KeyEqual::operator()(const KeyView& a, const Key& b) const {
  return a.bucket == b.bucket && a.late_mask == b.late_mask && a.process_name == b.process_name &&
         a.process_activity == b.process_activity;
}

void PreAggregator::add(std::string_view process_name, std::string_view process_activity,
                        EventTime event_time, std::int64_t count, std::uint32_t late_mask) {
  const std::int64_t bucket = window_start(event_time, bucket_).value;
  ++pending_ticks_;
  // find() with a view: a hit (the common case within a commit) copies no strings.
  const auto it = entries_.find(KeyView{process_name, process_activity, bucket, late_mask});
  if (it != entries_.end()) {
    Sum& sum = it->second;
    sum.max_event_time = std::max(sum.max_event_time, event_time.value);
    sum.count += count;
    sum.ticks += 1;
    return;
  }
  entries_.emplace(Key{std::string(process_name), std::string(process_activity), bucket, late_mask},
                   Sum{event_time.value, count, 1});
}

std::vector<PreAggregate> PreAggregator::take() {
  std::vector<PreAggregate> out;
  out.reserve(entries_.size());
  while (!entries_.empty()) {
    // extract() hands out the node with a mutable key, so the names move, not copy.
    auto node = entries_.extract(entries_.begin());
    Key& key = node.key();
    const Sum& sum = node.mapped();
    out.push_back(PreAggregate{std::move(key.process_name), std::move(key.process_activity),
                               EventTime{sum.max_event_time}, sum.count, sum.ticks, key.late_mask});
  }
  std::sort(out.begin(), out.end(), [](const PreAggregate& a, const PreAggregate& b) {
    return std::tie(a.event_time, a.process_name, a.process_activity, a.late_mask) <
           std::tie(b.event_time, b.process_name, b.process_activity, b.late_mask);
  });
  clear();
  return out;
}

void PreAggregator::clear() {
  entries_.clear();
  pending_ticks_ = 0;
}

}  // namespace auditor
