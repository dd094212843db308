// The tick API's producers: each send() returns only once the broker acknowledged every
// record (acks=all), or failed, within a bounded time. Safe to call from many HTTP threads.
//
// Two kinds, because they promise different things:
// - AckedProducer (POST /tick): idempotent, concurrent. Each call waits for the delivery
//   reports of its own records (per-message opaque), so one slow request does not wait for
//   everybody else's records the way a flush would.
// - TransactionalProducer (POST /ticks): one Kafka transaction per batch, so a batch is
//   all or nothing for read_committed consumers (the worker) even when the broker fails
//   half-way. A producer runs one transaction at a time: batches are serialised.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "worker/common/config.h"
#include "worker/kafka/error.h"
#include "worker/kafka/handles.h"

namespace auditor::tick_api {

struct Record {
  std::string key;
  std::string value;
};

// What became of a send's records, as far as the producer can know.
enum class SendOutcome {
  kWritten,     // every record acknowledged
  kNotWritten,  // none of them will ever be visible: safe to retry
  // The broker did not say in time (a commit or delivery without an answer): they may be
  // visible or not (a batch all or nothing); a retry may count them twice.
  kUnknown,
};

struct SendResult {
  SendOutcome outcome = SendOutcome::kNotWritten;
  std::string error;  // why not, for the answer and the log

  [[nodiscard]] bool written() const { return outcome == SendOutcome::kWritten; }
};

class AckedProducer {
 public:
  // `timeout` bounds each send(): it is librdkafka's message.timeout.ms, so every record
  // gets its delivery report (success or failure) within it, and send() waits a little
  // longer than that at most.
  AckedProducer(const KafkaSettings& settings, std::string topic,
                std::chrono::milliseconds timeout);
  ~AckedProducer();
  AckedProducer(const AckedProducer&) = delete;
  AckedProducer& operator=(const AckedProducer&) = delete;

  [[nodiscard]] SendResult send(const std::vector<Record>& records);

  [[nodiscard]] rd_kafka_t* handle() const { return handle_.get(); }

 private:
  struct Pending;
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);
  void serve_reports();

  std::string topic_;
  std::chrono::milliseconds timeout_;
  kafka::HandlePtr handle_;
  std::atomic<bool> stop_{false};
  std::thread poller_;  // serves delivery reports
};

class TransactionalProducer {
 public:
  TransactionalProducer(const KafkaSettings& settings, std::string topic,
                        std::string transactional_id, std::chrono::milliseconds timeout);
  ~TransactionalProducer();
  TransactionalProducer(const TransactionalProducer&) = delete;
  TransactionalProducer& operator=(const TransactionalProducer&) = delete;

  // ok: the whole batch is committed. Not ok: the transaction was aborted, or (rarely, when
  // the broker vanished during the commit) its outcome is unknown; see tick_api_producer.cpp.
  [[nodiscard]] SendResult send(const std::vector<Record>& records);

 private:
  void reset();  // a fresh producer, after a fatal error or an unknown outcome
  // Aborts the open transaction by `deadline`, or replaces the producer when it cannot.
  void abort_within(std::chrono::steady_clock::time_point deadline);
  // A failed transactional call: a fatal error replaces the producer.
  [[nodiscard]] SendResult fail(const kafka::Error& error);

  KafkaSettings settings_;
  std::string topic_;
  std::string transactional_id_;
  std::chrono::milliseconds timeout_;
  std::mutex mutex_;  // one transaction at a time
  kafka::HandlePtr handle_;
  bool initialized_ = false;
};

}  // namespace auditor::tick_api
