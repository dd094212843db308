// One stage's consumer: its own consumer group over one topic, so that each stage is
// balanced over the replicas on its own (docs/architecture.md, "Scaling"), with
// cooperative rebalancing handed to a listener, and a wake-up of the worker loop whenever
// its queue gets a record or an event (the loop waits on both stages' consumers at once).
//
//   constructed ─subscribe()─► in the group ─► assigned(...) / revoked(...) inside poll()
//               ─close()──► revoked(...) for everything, left the group
//
// Thread-safety: the worker's loop thread only (librdkafka runs the rebalance callback
// inside poll() and close()). Neither copyable nor movable: librdkafka keeps its address
// as the callback's opaque.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "worker/common/config.h"
#include "worker/engine/clients.h"
#include "worker/kafka/client.h"
#include "worker/kafka/handles.h"

namespace auditor {

// An eventfd the consumers' queues write to when they go from empty to not empty.
class LoopWakeup {
 public:
  LoopWakeup();  // throws std::runtime_error
  ~LoopWakeup();
  LoopWakeup(const LoopWakeup&) = delete;
  LoopWakeup& operator=(const LoopWakeup&) = delete;

  [[nodiscard]] int fd() const { return fd_; }
  // Returns once a queue signalled (at once if one did since the last wait) or after
  // `timeout`, and clears the signal. Call only after polling every queue empty.
  void wait(std::chrono::milliseconds timeout) const;

 private:
  int fd_ = -1;
};

class StageConsumer {
 public:
  class Listener {
   public:
    // Called inside poll()/close(). The listener hands the partitions to its stage and
    // then calls incremental_assign() / incremental_unassign().
    virtual void assigned(StageConsumer& consumer, rd_kafka_topic_partition_list_t& partitions) = 0;
    virtual void revoked(StageConsumer& consumer, rd_kafka_topic_partition_list_t& partitions,
                         bool lost) = 0;

   protected:
    ~Listener() = default;
  };

  // Creates the consumer with `properties`. `listener` and `wakeup` must outlive it.
  // Throws std::runtime_error.
  StageConsumer(WorkerStage stage, const KafkaSettings& settings,
                const kafka::Properties& properties, Listener& listener, const LoopWakeup& wakeup);
  ~StageConsumer();
  StageConsumer(const StageConsumer&) = delete;
  StageConsumer& operator=(const StageConsumer&) = delete;
  StageConsumer(StageConsumer&&) = delete;
  StageConsumer& operator=(StageConsumer&&) = delete;

  [[nodiscard]] WorkerStage stage() const { return stage_; }
  [[nodiscard]] const char* name() const { return stage_name(stage_); }
  // For calls on the consumer (committed offsets, seek, pause, group metadata).
  [[nodiscard]] rd_kafka_t* handle() const { return handle_.get(); }

  // The records and consumer errors waiting in the queue, at most `out.size()`, without
  // waiting; rebalance callbacks run inside. Returns how many it stored at the front of
  // `out` (the caller owns them). One call takes the queue's lock and reads the clock
  // once for the whole batch, where a poll per record did both per record.
  [[nodiscard]] std::size_t poll_batch(std::span<kafka::MessagePtr> out);

  // Joins the group, reading `topic`. Throws std::runtime_error.
  void subscribe(const std::string& topic);
  [[nodiscard]] bool subscribed() const { return subscribed_; }

  // Inside assigned()/revoked(): completes the incremental rebalance. Returns the error.
  [[nodiscard]] std::string incremental_assign(const rd_kafka_topic_partition_list_t& partitions);
  [[nodiscard]] std::string incremental_unassign(const rd_kafka_topic_partition_list_t& partitions);

  // Holds an assignment of the group's current generation (set by an assignment, cleared
  // when the assignment is lost).
  [[nodiscard]] bool joined() const { return joined_; }

  // Leaves the group: revokes everything through the listener, waiting at most `timeout`.
  void close(std::chrono::milliseconds timeout);

  // How long the group coordinator has been out of reach (librdkafka's statistics, served
  // inside poll() every statistics.interval.ms): zero while it answers, before the first
  // report and before subscribe().
  [[nodiscard]] std::chrono::milliseconds coordinator_unreachable_for(
      std::chrono::steady_clock::time_point now) const;

 private:
  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque);
  static int on_statistics(rd_kafka_t* rk, char* json, std::size_t json_len, void* opaque);

  WorkerStage stage_;
  Listener& listener_;
  kafka::HandlePtr handle_;
  kafka::QueuePtr queue_;                     // the consumer queue, while it wakes the loop
  std::vector<rd_kafka_message_t*> scratch_;  // poll_batch()'s array for librdkafka
  bool subscribed_ = false;
  bool joined_ = false;
  bool ever_assigned_ = false;
  // Since when the statistics say the coordinator is not "up"; nullopt while it is.
  std::optional<std::chrono::steady_clock::time_point> coordinator_lost_at_;
};

}  // namespace auditor
