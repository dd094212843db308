// Where the stages put what they produce: the worker routes each record into the open
// transaction, or defers it while a commit is in flight (engine/commit_cycle.h).
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstddef>
#include <string_view>

#include "worker/kafka/producer.h"

namespace auditor {

class RecordSink {
 public:
  virtual ~RecordSink() = default;

  // Produces `record` as part of the current commit.
  virtual void produce(const kafka::OutgoingRecord& record) = 0;

  // Writes a dead letter for `source` (a consumed record): `value` (the original bytes or
  // a description of what was dropped) with the headers `error`, `source.topic`,
  // `source.partition` and `source.offset`.
  virtual void dead_letter(const rd_kafka_message_t& source, std::string_view error,
                           const void* value, std::size_t value_size) = 0;
};

}  // namespace auditor
