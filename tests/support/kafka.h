// Small librdkafka (C API) helpers for tests against a real broker: RAII handles, topic
// admin, a producer with delivery checks and a group-less reader.
//
// Everything throws std::runtime_error with the broker's message on failure, so a test
// fails with the reason instead of hanging.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace auditor::test {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

inline Deadline deadline_in(std::chrono::milliseconds d) {
  return Clock::now() + d;
}

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const;  // closes consumers first
};
struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};

using KafkaPtr = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, EventDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;

using Config = std::map<std::string, std::string>;

// The broker to test against: $AUDITOR_IT_BOOTSTRAP_SERVERS or 127.0.0.1:9092.
[[nodiscard]] std::string bootstrap_servers();

// "<pid>-<unix ms>-<counter>": topic names and application ids built from it never
// collide between tests, processes or reruns on the same broker.
[[nodiscard]] std::string unique_suffix();

// A client of `type` with bootstrap.servers set and `config` applied on top.
[[nodiscard]] KafkaPtr make_client(rd_kafka_type_t type, const Config& config = {});

// Creates the topic (replication factor 1) and waits until every partition has a leader.
// Throws if it already exists: tests use unique names.
void create_topic(const std::string& name, int partitions, const Config& configs = {});

// Deletes the topics that exist (best effort: unknown topics and errors are ignored), so
// reruns do not pile partitions up on the shared broker.
void delete_topics(const std::vector<std::string>& names);

// Waits until the topic exists with a leader for every partition; returns its partition
// count. Throws at the deadline.
int wait_for_topic(const std::string& name, Deadline deadline);

// One entry per partition (index = partition): the high watermark.
[[nodiscard]] std::vector<std::int64_t> end_offsets(const std::string& topic, int partitions);

// One entry per partition: the group's committed offset, or -1 when it has none. Reads
// stable offsets only (pending transactional commits are waited for by the broker).
[[nodiscard]] std::vector<std::int64_t> committed_offsets(const std::string& group,
                                                          const std::string& topic, int partitions);

// A topic config value as the broker reports it (DescribeConfigs).
[[nodiscard]] std::optional<std::string> topic_config(const std::string& topic,
                                                      const std::string& name);

struct Header {
  std::string name;
  std::optional<std::string> value;  // nullopt: header with a null value
};

struct Record {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::int64_t timestamp_ms = 0;
  std::optional<std::string> key;    // nullopt: null key
  std::optional<std::string> value;  // nullopt: null value (tombstone)
  std::vector<Header> headers;

  // The first header with this name; nullopt when absent or null.
  [[nodiscard]] std::optional<std::string> header(const std::string& name) const;
  [[nodiscard]] std::size_t header_count(const std::string& name) const;
};

inline constexpr std::int32_t kAnyPartition = RD_KAFKA_PARTITION_UA;

struct OutRecord {
  std::int32_t partition = kAnyPartition;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::int64_t timestamp_ms = 0;  // 0: librdkafka stamps the current time
};

struct Delivery {
  std::int32_t partition = -1;
  std::int64_t offset = -1;
};

// An idempotent producer (acks=all, ordered per partition) that keeps every delivery
// report, so tests know exactly where each record landed.
class Producer {
 public:
  explicit Producer(const Config& config = {});
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Enqueues one record; returns its sequence number for delivery(). Waits while the
  // local queue is full.
  std::size_t send(const std::string& topic, const OutRecord& record);

  // Waits until everything sent was acknowledged. Throws on a timeout or if any record
  // failed (naming the first error).
  void flush(Deadline deadline);

  // Where record `seq` landed; valid after flush().
  [[nodiscard]] const Delivery& delivery(std::size_t seq) const;

  [[nodiscard]] std::size_t sent() const;

 private:
  struct State;
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);
  std::unique_ptr<State> state_;
  KafkaPtr rk_;
};

// Produces one record and waits for its acknowledgement.
Delivery produce(const std::string& topic, std::int32_t partition,
                 const std::optional<std::string>& key, const std::optional<std::string>& value,
                 std::int64_t timestamp_ms = 0);

// Reads every partition of a topic from the beginning, without a consumer group (assign,
// no commits), so it never disturbs the application's groups.
class TopicReader {
 public:
  // Waits for the topic to exist (it may be created by the worker under test).
  TopicReader(std::string topic, Deadline topic_deadline, bool read_committed = true);

  // Appends what arrives within `wait` (returns early once records flow and the local
  // queue is drained); returns how many records came.
  std::size_t poll(std::chrono::milliseconds wait);

  [[nodiscard]] const std::vector<Record>& records() const { return records_; }
  [[nodiscard]] const std::string& topic() const { return topic_; }
  [[nodiscard]] int partitions() const { return partitions_; }

 private:
  std::string topic_;
  int partitions_ = 0;
  KafkaPtr rk_;
  std::vector<Record> records_;
};

struct ConsumeOptions {
  // Without `until`: return once nothing new arrived for this long.
  std::chrono::milliseconds idle{2000};
  // With `until`: return as soon as it holds for the records read so far.
  std::function<bool(const std::vector<Record>&)> until = nullptr;
  Deadline deadline = deadline_in(std::chrono::seconds(30));
  bool read_committed = true;
};

// Reads a topic from the beginning until idle / `until` / the deadline (whichever comes
// first; the caller checks what it got).
[[nodiscard]] std::vector<Record> consume_all(const std::string& topic,
                                              const ConsumeOptions& options);

}  // namespace auditor::test
