// How one commit of the worker becomes durable in Kafka.
//
//   exactly-once:   begin ─► produce… ─► send_offsets_to_transaction ─► commit_transaction
//                   (records and consumer offsets atomically; read_committed consumers see
//                   all of it or nothing)
//   at-least-once:  produce… ─► flush (all acknowledged) ─► [store written] ─► commit offsets
//
// In both, the local store is written only after the records are durable, and the
// consumer offsets never run ahead of the store. Every blocking call has a deadline.
#pragma once

#include <chrono>
#include <string>

#include "worker/common/config.h"
#include "worker/kafka/producer.h"
#include "worker/kafka/handles.h"

namespace auditor {

enum class CommitStatus {
  kOk,
  kAborted,  // nothing of this commit is durable: rewind the input and drop pending state
  kFatal,    // the producer is fenced or broken: leave the group and exit non-zero
};

struct CommitOutcome {
  CommitStatus status = CommitStatus::kOk;
  std::string error;  // set unless kOk
};

class OutputTransaction {
 public:
  // `consumer` supplies the group metadata for transactional offset commits.
  OutputTransaction(kafka::Producer& producer, rd_kafka_t* consumer, Guarantee guarantee,
                    std::chrono::milliseconds timeout);

  // Exactly-once: init_transactions (fences older instances with the same transactional.id).
  // Throws std::runtime_error when the broker does not answer in time.
  void init();

  // Opens the transaction if none is open; call before producing. kOk or kFatal/kAborted.
  [[nodiscard]] CommitOutcome begin();

  // Makes everything produced since begin() durable, with `offsets` (next offsets to read)
  // in the transaction under exactly-once.
  [[nodiscard]] CommitOutcome finish(const rd_kafka_topic_partition_list_t* offsets);

  // At-least-once only: commits the consumer offsets after the store is written.
  [[nodiscard]] CommitOutcome commit_offsets(const rd_kafka_topic_partition_list_t* offsets);

  // Drops what was produced since begin() (aborts the transaction; at-least-once cannot
  // take records back and only waits for them).
  void abort();

 private:
  [[nodiscard]] CommitOutcome from_error(kafka::ErrorPtr error, const char* step);
  [[nodiscard]] int timeout_ms() const { return static_cast<int>(timeout_.count()); }

  kafka::Producer& producer_;
  rd_kafka_t* consumer_;
  Guarantee guarantee_;
  std::chrono::milliseconds timeout_;
  bool open_ = false;
};

}  // namespace auditor
