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
  // Set while a stage's group coordinator has not been reachable for a while (the worker
  // decides how long): what /healthz reports, e.g. "Kafka unreachable: no group
  // coordinator for group app-aggregate for 12 s". Empty when Kafka answers.
  std::string kafka_unreachable;
};

// /healthz's verdict: healthy, or the first reason why not.
struct Health {
  bool ok = true;
  std::string reason;
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

  // While the worker recreates its Kafka clients after a fatal client error (fenced after
  // an outage; engine/restart_policy.h): why, or "" once the new clients run.
  void set_restarting(std::string reason) {
    std::lock_guard lock(mutex_);
    restarting_ = std::move(reason);
  }

  // Healthy: no store failed, not restarting, the loop turned within `stuck_after`, commits have not been
  // failing (broker unreachable, fenced...) for longer than `failing_after`, and Kafka is
  // reachable (StatusSnapshot::kafka_unreachable).
  [[nodiscard]] Health health(std::chrono::milliseconds stuck_after,
                              std::chrono::milliseconds failing_after) const {
    const auto now = now_ms();
    const auto stuck_for = now - heartbeat_.load(std::memory_order_relaxed);
    const auto failing = failing_since_.load(std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    if (!store_failure_.empty()) return {false, store_failure_};
    if (!restarting_.empty()) return {false, "restarting the Kafka clients after: " + restarting_};
    if (stuck_for >= stuck_after.count()) {
      return {false,
              "the processing loop has not turned for " + std::to_string(stuck_for / 1000) + " s"};
    }
    if (failing != 0 && now - failing >= failing_after.count()) {
      return {false,
              "commits have been failing for " + std::to_string((now - failing) / 1000) + " s"};
    }
    if (!snapshot_.kafka_unreachable.empty()) return {false, snapshot_.kafka_unreachable};
    return {};
  }

 private:
  static std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
        .count();
  }

  mutable std::mutex mutex_;
  StatusSnapshot snapshot_;    // guarded by mutex_
  std::string restarting_;     // guarded by mutex_
  std::string store_failure_;  // guarded by mutex_
  std::atomic<std::int64_t> heartbeat_{now_ms()};
  std::atomic<std::int64_t> failing_since_{0};
};

}  // namespace auditor
