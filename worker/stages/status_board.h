// What the worker thread tells the HTTP threads about itself: liveness, readiness and
// gauges that only the worker thread can compute (lag, store sizes). The worker publishes
// a snapshot about once a second; readers copy it under a mutex.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace auditor {

struct StatusSnapshot {
  struct Lag {
    std::string topic;
    std::int32_t partition;
    std::int64_t records;
  };
  struct Watermark {
    std::int32_t task;
    std::int64_t event_time_ms;
  };
  bool in_group = false;  // received an assignment since the last revocation of all
  std::size_t input_partitions = 0;
  std::size_t idle_input_partitions = 0;
  std::vector<Watermark> task_watermarks;  // tasks that have one (docs/event-time.md)
  // Aggregate tasks by state: assigned here and restoring or running, or a standby copy.
  std::vector<std::int32_t> restoring_tasks;
  std::vector<std::int32_t> running_tasks;
  std::vector<std::int32_t> standby_tasks;
  std::vector<Lag> consumer_lag;
  std::uint64_t store_estimated_keys = 0;
  std::uint64_t store_memory_bytes = 0;
  std::int64_t restore_remaining_records = 0;
};

class StatusBoard {
 public:
  using Clock = std::chrono::steady_clock;

  void publish(StatusSnapshot snapshot) {
    std::lock_guard lock(mutex_);
    snapshot_ = std::move(snapshot);
  }
  [[nodiscard]] StatusSnapshot snapshot() const {
    std::lock_guard lock(mutex_);
    return snapshot_;
  }

  // The processing loop is alive (called every iteration).
  void heartbeat() { heartbeat_.store(now_ms(), std::memory_order_relaxed); }
  void commit_succeeded() { failing_since_.store(0, std::memory_order_relaxed); }
  void commit_failed() {
    std::int64_t expected = 0;
    failing_since_.compare_exchange_strong(expected, now_ms(), std::memory_order_relaxed);
  }

  // A task store could not be written (full disk, I/O error): the worker is unhealthy for
  // good and /healthz says why. The first reason is kept.
  void store_failed(const std::string& reason) {
    std::lock_guard lock(mutex_);
    if (store_failure_.empty()) store_failure_ = reason;
  }
  [[nodiscard]] std::string store_failure() const {
    std::lock_guard lock(mutex_);
    return store_failure_;
  }

  // Healthy: the loop turned within `stuck_after`, and commits have not been failing
  // (broker unreachable, fenced...) for longer than `failing_after`.
  [[nodiscard]] bool healthy(std::chrono::milliseconds stuck_after,
                             std::chrono::milliseconds failing_after) const {
    const auto now = now_ms();
    const auto failing = failing_since_.load(std::memory_order_relaxed);
    return now - heartbeat_.load(std::memory_order_relaxed) < stuck_after.count() &&
           (failing == 0 || now - failing < failing_after.count());
  }

 private:
  static std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
        .count();
  }

  mutable std::mutex mutex_;
  StatusSnapshot snapshot_;    // guarded by mutex_
  std::string store_failure_;  // guarded by mutex_
  std::atomic<std::int64_t> heartbeat_{now_ms()};
  std::atomic<std::int64_t> failing_since_{0};
};

}  // namespace auditor
