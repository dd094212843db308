// The worker's producer: enqueue records, flush with a deadline, count failed deliveries.
//
// Registered as librdkafka's opaque pointer for delivery reports, so it is neither
// copyable nor movable. Thread-safety: one thread at a time produces, polls and flushes
// (the worker hands it to its commit thread and back); delivery reports run on the thread
// inside poll/flush. register_topics() only before any produce().
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "worker/common/config.h"
#include "worker/kafka/client.h"
#include "worker/kafka/handles.h"

namespace auditor::kafka {

struct Header {
  std::string_view name;
  std::string_view value;
};

struct OutgoingRecord {
  std::string_view topic;
  std::int32_t partition = RD_KAFKA_PARTITION_UA;  // UA: librdkafka's partitioner picks
  std::string_view key;
  const void* value = nullptr;  // nullptr: a record with a null value (tombstone)
  std::size_t value_size = 0;
  std::vector<Header> headers;
};

// Outcome of a flush: every record enqueued since the previous flush was acknowledged
// (ok), or some failed / did not finish before the deadline.
struct FlushResult {
  bool ok = true;
  std::uint64_t failed = 0;
  std::string first_error;
};

class Producer {
 public:
  // `extra` adds to the defaults (acks=all, idempotence, lz4, linger 5 ms).
  Producer(const KafkaSettings& settings, const Properties& extra);
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;
  Producer(Producer&&) = delete;
  Producer& operator=(Producer&&) = delete;
  ~Producer() = default;

  // Topics produced to often: their handles are looked up once here instead of by name for
  // every record.
  void register_topics(const std::vector<std::string>& topics);

  // Copies the record into librdkafka's queue. When the queue is full it serves delivery
  // reports and retries for up to `max_block`. Returns the librdkafka error (NO_ERROR on
  // success).
  [[nodiscard]] rd_kafka_resp_err_t produce(const OutgoingRecord& record,
                                            std::chrono::milliseconds max_block);

  // Waits until everything enqueued was acknowledged or failed, at most until `deadline`.
  [[nodiscard]] FlushResult flush(std::chrono::steady_clock::time_point deadline);

  // Serves delivery reports without blocking.
  void poll() { rd_kafka_poll(handle_.get(), 0); }

  // Remembers the offsets of delivered records of `topic` (the changelog), so a store
  // can record which changelog position it reflects.
  void track_offsets_of(std::string topic) { tracked_topic_ = std::move(topic); }
  // The highest delivered offset of the tracked topic in `partition`, if any.
  [[nodiscard]] std::optional<std::int64_t> last_offset(std::int32_t partition) const;

  [[nodiscard]] rd_kafka_t* handle() const { return handle_.get(); }

  // Set once a delivery failed for lack of an ACL: the message naming it (access.h). Any
  // thread.
  [[nodiscard]] std::optional<std::string> denied() const;

 private:
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);

  HandlePtr handle_;
  std::vector<std::pair<std::string, TopicPtr>> topics_;  // registered; read-only afterwards
  std::uint64_t failed_since_flush_ = 0;
  std::string first_error_;
  std::string tracked_topic_;
  std::map<std::int32_t, std::int64_t> tracked_offsets_;
  mutable std::mutex denied_mutex_;
  std::optional<std::string> denied_;  // under denied_mutex_
};

}  // namespace auditor::kafka
