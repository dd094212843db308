#include "worker/tick_api/producer.h"

#include <algorithm>
#include <condition_variable>

#include "worker/common/log.h"
#include "worker/kafka/callback_invoker.h"
#include "worker/kafka/client.h"
#include "worker/kafka/error.h"

namespace auditor::tick_api {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<std::int64_t>(0, left.count()));
}

// Enqueues one record; on a full local queue waits (the poller or a transaction call drains
// it) until the deadline.
rd_kafka_resp_err_t enqueue(rd_kafka_t* rk, const std::string& topic, const Record& record,
                            void* opaque, Clock::time_point deadline) {
  for (;;) {
    const auto err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(record.key.data(), record.key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(record.value.data()), record.value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || remaining_ms(deadline) == 0) return err;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

// What one send() waits for. Each record's delivery report holds a reference (its opaque
// is a heap-allocated shared_ptr), so a report that comes after send() gave up is harmless.
struct AckedProducer::Pending {
  std::mutex mutex;
  std::condition_variable done;
  std::size_t left = 0;
  std::string first_error;
  bool any_written = false;  // some record acknowledged, or possibly persisted
};

AckedProducer::AckedProducer(const KafkaSettings& settings, std::string topic,
                             std::chrono::milliseconds timeout)
    : topic_(std::move(topic)), timeout_(timeout) {
  kafka::ConfPtr conf = kafka::make_conf(
      settings, {{"client.id", "auditor-tick-api"},
                 {"acks", "all"},
                 {"enable.idempotence", "true"},
                 // Short: every request waits for its acknowledgement, so latency matters
                 // more than batch size; concurrent requests still share batches.
                 {"linger.ms", "1"},
                 {"compression.type", "lz4"},
                 {"message.timeout.ms", std::to_string(timeout.count())}});
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &AckedProducer::on_delivery);
  handle_ = kafka::make_client(RD_KAFKA_PRODUCER, std::move(conf));
  poller_ = std::thread([this] { serve_reports(); });
}

AckedProducer::~AckedProducer() {
  // Requests are finished by now (the HTTP server stopped first); anything still queued
  // gets a short chance to be delivered before the handle goes; what is left is purged next,
  // so the flush's own result does not matter.
  (void)rd_kafka_flush(handle_.get(), 2000);
  stop_.store(true);
  poller_.join();
  (void)rd_kafka_purge(handle_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(handle_.get(), 0);  // purged records' reports release their Pending
}

void AckedProducer::serve_reports() {
  while (!stop_.load()) rd_kafka_poll(handle_.get(), 100);
}

void AckedProducer::on_delivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* message,
                                void* /*opaque*/) {
  kafka::invoke_callback("tick-api delivery report", [&] {
    std::unique_ptr<std::shared_ptr<Pending>> token(
        static_cast<std::shared_ptr<Pending>*>(message->_private));
    if (!token) return;
    Pending& pending = **token;
    const std::lock_guard lock(pending.mutex);
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      pending.any_written = true;
    } else {
      if (pending.first_error.empty()) pending.first_error = rd_kafka_err2str(message->err);
      // A record that timed out after it was sent may still have been written.
      if (rd_kafka_message_status(message) != RD_KAFKA_MSG_STATUS_NOT_PERSISTED) {
        pending.any_written = true;
      }
    }
    if (--pending.left == 0) pending.done.notify_all();
  });
}

SendResult AckedProducer::send(const std::vector<Record>& records) {
  // The delivery report of every record comes within message.timeout.ms; the extra second
  // only guards against a report that never comes.
  const auto deadline = Clock::now() + timeout_ + std::chrono::seconds(1);
  auto pending = std::make_shared<Pending>();
  pending->left = records.size();
  for (std::size_t i = 0; i < records.size(); ++i) {
    auto token = std::make_unique<std::shared_ptr<Pending>>(pending);
    const auto err = enqueue(handle_.get(), topic_, records[i], token.get(), deadline);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const std::lock_guard lock(pending->mutex);
      pending->left -= records.size() - i;  // this one and the rest never went out
      if (pending->first_error.empty()) pending->first_error = kafka::error_text(err);
      break;
    }
    (void)token.release();  // the delivery report owns it now
  }
  std::unique_lock lock(pending->mutex);
  if (!pending->done.wait_until(lock, deadline, [&] { return pending->left == 0; })) {
    return {SendOutcome::kUnknown, "no acknowledgement from Kafka in time"};
  }
  if (pending->first_error.empty()) return {SendOutcome::kWritten, {}};
  return {pending->any_written ? SendOutcome::kUnknown : SendOutcome::kNotWritten,
          pending->first_error};
}

TransactionalProducer::TransactionalProducer(const KafkaSettings& settings, std::string topic,
                                             std::string transactional_id,
                                             std::chrono::milliseconds timeout)
    : settings_(settings),
      topic_(std::move(topic)),
      transactional_id_(std::move(transactional_id)),
      timeout_(timeout) {
  reset();
}

TransactionalProducer::~TransactionalProducer() {
  const std::lock_guard lock(mutex_);
  handle_.reset();
}

void TransactionalProducer::reset() {
  handle_.reset();
  initialized_ = false;
  // A stable transactional.id (per host and port) lets a restarted tick-api fence its
  // predecessor and abort what it left open at once; the transaction timeout bounds how
  // long a crashed one can hold back read_committed consumers otherwise.
  const auto txn_timeout = std::max<std::int64_t>(10'000, timeout_.count() + 5'000);
  handle_ = kafka::make_client(
      RD_KAFKA_PRODUCER,
      kafka::make_conf(settings_, {{"client.id", "auditor-tick-api-batch"},
                                   {"transactional.id", transactional_id_},
                                   {"transaction.timeout.ms", std::to_string(txn_timeout)},
                                   {"linger.ms", "1"},
                                   {"compression.type", "lz4"},
                                   {"message.timeout.ms", std::to_string(timeout_.count())}}));
}

SendResult TransactionalProducer::fail(const kafka::Error& error) {
  SendResult result{SendOutcome::kNotWritten, error.message()};
  if (error.fatal()) {
    log::get("tick-api")->error("{}; starting a new transactional producer", result.error);
    reset();
  }
  return result;
}

void TransactionalProducer::abort_within(Clock::time_point deadline) {
  // The answer is due at the deadline, the abort included (README: 503 within
  // --produce-timeout). An abort that does not finish in what is left (the broker is away)
  // is not waited for: a new producer fences this one, and the coordinator aborts the
  // transaction then, or on its own at transaction.timeout.ms.
  if (kafka::ErrorPtr(
          rd_kafka_abort_transaction(handle_.get(), std::max(1, remaining_ms(deadline))))) {
    reset();
  }
}

SendResult TransactionalProducer::send(const std::vector<Record>& records) {
  const std::lock_guard lock(mutex_);
  const auto deadline = Clock::now() + timeout_;
  rd_kafka_t* rk = handle_.get();
  // Serves the error callbacks queued since the last batch (nothing else polls this one).
  rd_kafka_poll(rk, 0);
  if (!initialized_) {
    // Lazily, so the API starts (and answers 503) while the broker is away.
    if (auto error = kafka::Error::from(
            kafka::ErrorPtr(rd_kafka_init_transactions(rk, remaining_ms(deadline))),
            "init_transactions")) {
      return fail(error);
    }
    initialized_ = true;
  }
  if (auto error = kafka::Error::from(kafka::ErrorPtr(rd_kafka_begin_transaction(rk)),
                                      "begin_transaction")) {
    return fail(error);
  }
  for (const auto& record : records) {
    if (const auto err = enqueue(rk, topic_, record, nullptr, deadline)) {
      abort_within(deadline);
      return {SendOutcome::kNotWritten, "produce: " + kafka::error_text(err)};
    }
  }
  kafka::ErrorPtr error(rd_kafka_commit_transaction(rk, std::max(1, remaining_ms(deadline))));
  if (!error) return {SendOutcome::kWritten, {}};
  const std::string text = std::string("commit_transaction: ") + rd_kafka_error_string(error.get());
  if (rd_kafka_error_txn_requires_abort(error.get())) {
    // Some record failed, so the transaction cannot commit: abort it (or, when the abort
    // fails, let the next producer's fencing abort it). None of the batch becomes visible.
    abort_within(deadline);
    return {SendOutcome::kNotWritten, text};
  }
  // Fatal, or the commit timed out with its outcome unknown (the broker went away between
  // the commit request and its answer, or answered late). A new producer with the same
  // transactional.id fences this one: the coordinator aborts the transaction unless it had
  // already decided to commit it. The batch is all or nothing still, but which of the two
  // nobody here can tell.
  log::get("tick-api")->warn("{}; starting a new transactional producer", text);
  reset();
  return {SendOutcome::kUnknown, text};
}

}  // namespace auditor::tick_api
