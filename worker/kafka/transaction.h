// How one commit of the worker becomes durable in Kafka.
//
//   exactly-once:   begin ─► produce… ─► send_offsets_to_transaction (once per consumer
//                   group) ─► commit_transaction (records and the offsets of every group
//                   atomically; read_committed consumers see all of it or nothing; a
//                   member fenced in any group aborts the whole transaction)
//   at-least-once:  produce… ─► flush (all acknowledged) ─► [store written] ─► commit offsets
//
// In both, the local store is written only after the records are durable, and the
// consumer offsets never run ahead of the store. Every blocking call has a deadline.
// Errors are kafka::Error: fatal (stop) or abort-required (abort, rewind, go on).
//
// Thread-safety: one thread at a time. The worker calls begin() and abort() on its loop
// thread and finish() on its commit thread, never concurrently (one commit in flight, and
// the loop produces nothing meanwhile). The producer, and the consumers named in the
// offsets passed to it, must outlive it.
#pragma once

#include <chrono>
#include <span>
#include <string>

#include "worker/common/config.h"
#include "worker/kafka/error.h"
#include "worker/kafka/handles.h"
#include "worker/kafka/producer.h"

namespace auditor {

// The next offsets to read of one consumer's partitions; the consumer (not owned) supplies
// its group's metadata (group, generation, member: the fencing of KIP-447).
struct GroupOffsets {
  rd_kafka_t* consumer = nullptr;
  kafka::TopicPartitionListPtr offsets;
};

class OutputTransaction {
 public:
  OutputTransaction(kafka::Producer& producer, Guarantee guarantee,
                    std::chrono::milliseconds timeout);

  // Exactly-once: init_transactions (fences older instances with the same transactional.id).
  // Throws std::runtime_error when the broker does not answer in time.
  void init();

  // Opens the transaction if none is open; call before producing.
  [[nodiscard]] kafka::Error begin();

  // Makes everything produced since begin() durable, with every group's `offsets` in the
  // transaction under exactly-once.
  [[nodiscard]] kafka::Error finish(std::span<const GroupOffsets> offsets);

  // At-least-once only: commits each group's offsets after the store is written.
  [[nodiscard]] kafka::Error commit_offsets(std::span<const GroupOffsets> offsets);

  // Drops what was produced since begin() (aborts the transaction; at-least-once cannot
  // take records back and only waits for them). A fatal error here means the producer is
  // unusable.
  [[nodiscard]] kafka::Error abort();

 private:
  [[nodiscard]] int timeout_ms() const { return static_cast<int>(timeout_.count()); }

  kafka::Producer& producer_;
  Guarantee guarantee_;
  std::chrono::milliseconds timeout_;
  bool open_ = false;
};

}  // namespace auditor
