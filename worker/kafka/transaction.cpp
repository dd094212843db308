#include "worker/kafka/transaction.h"

#include <array>
#include <stdexcept>
#include <thread>

#include "worker/kafka/access.h"

namespace auditor {

OutputTransaction::OutputTransaction(kafka::Producer& producer, Guarantee guarantee,
                                     std::chrono::milliseconds timeout)
    : producer_(producer), guarantee_(guarantee), timeout_(timeout) {}

void OutputTransaction::init() {
  if (guarantee_ != Guarantee::kExactlyOnce) return;
  kafka::ErrorPtr error(rd_kafka_init_transactions(producer_.handle(), timeout_ms()));
  if (error &&
      rd_kafka_error_code(error.get()) == RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED) {
    std::array<char, 256> id{};
    std::size_t size = id.size();
    (void)rd_kafka_conf_get(rd_kafka_conf(producer_.handle()), "transactional.id", id.data(),
                            &size);
    throw std::runtime_error(kafka::missing_acl("use", "TransactionalId", id.data(), "WRITE",
                                                kafka::principal_of(producer_.handle())) +
                             " (or a prefix of it)");
  }
  if (error) {
    throw std::runtime_error(std::string("cannot initialise transactions (does the broker "
                                         "support them? else use --guarantee at-least-once): ") +
                             rd_kafka_error_string(error.get()));
  }
}

kafka::Error OutputTransaction::begin() {
  if (guarantee_ != Guarantee::kExactlyOnce || open_) return {};
  kafka::ErrorPtr error(rd_kafka_begin_transaction(producer_.handle()));
  if (error) return kafka::Error::from(std::move(error), "begin transaction");
  open_ = true;
  return {};
}

kafka::Error OutputTransaction::finish(std::span<const GroupOffsets> offsets) {
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  if (guarantee_ == Guarantee::kAtLeastOnce) {
    const auto flushed = producer_.flush(deadline);
    if (flushed.ok) return {};
    return kafka::Error::failed("flush: " + flushed.first_error);
  }
  if (!open_) {
    auto begun = begin();
    if (begun) return begun;
  }
  for (const auto& [consumer, list] : offsets) {
    if (!list || list->cnt == 0) continue;
    kafka::GroupMetadataPtr group(rd_kafka_consumer_group_metadata(consumer));
    kafka::ErrorPtr error(rd_kafka_send_offsets_to_transaction(producer_.handle(), list.get(),
                                                               group.get(), timeout_ms()));
    if (error) return kafka::Error::from(std::move(error), "send offsets to transaction");
  }
  // A retriable error means the outcome is not known yet: calling commit again is the
  // documented way to learn it (librdkafka INTRODUCTION.md, transactions).
  for (;;) {
    auto error = kafka::Error::from(
        kafka::ErrorPtr(rd_kafka_commit_transaction(producer_.handle(), timeout_ms())),
        "commit transaction");
    if (!error) break;
    if (error.retriable() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    return error;
  }
  open_ = false;
  return {};
}

kafka::Error OutputTransaction::commit_offsets(std::span<const GroupOffsets> offsets) {
  if (guarantee_ != Guarantee::kAtLeastOnce) return {};
  for (const auto& [consumer, list] : offsets) {
    if (!list || list->cnt == 0) continue;
    // Asynchronous commit on a private queue so the wait has our deadline.
    kafka::QueuePtr queue(rd_kafka_queue_new(consumer));
    const auto err = rd_kafka_commit_queue(consumer, list.get(), queue.get(), nullptr, nullptr);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafka::Error::from(err, "commit offsets");
    kafka::EventPtr event(rd_kafka_queue_poll(queue.get(), timeout_ms()));
    if (!event) return kafka::Error::failed("commit offsets: no answer in time");
    if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return kafka::Error::failed(std::string("commit offsets: ") +
                                  rd_kafka_event_error_string(event.get()));
    }
  }
  return {};
}

kafka::Error OutputTransaction::abort() {
  if (guarantee_ == Guarantee::kAtLeastOnce) {
    // Records already enqueued cannot be taken back; wait for them so the next commit's
    // delivery reports are its own. Their failures belong to the commit being dropped.
    (void)producer_.flush(std::chrono::steady_clock::now() + timeout_);
    return {};
  }
  if (!open_) return {};
  kafka::ErrorPtr error(rd_kafka_abort_transaction(producer_.handle(), timeout_ms()));
  open_ = false;
  return kafka::Error::from(std::move(error), "abort transaction");
}

}  // namespace auditor
