// Deletes the consumed part of the repartition topic (admin DeleteRecords), as Kafka
// Streams purges its repartition topics, so the topic does not grow without bound.
// Requests are asynchronous; results are read on the next call and errors logged.
// Not thread-safe: the worker loop owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "topology/types.h"
#include "worker/kafka/handles.h"

namespace auditor {

class RepartitionPurger {
 public:
  // `client` must outlive the purger.
  RepartitionPurger(rd_kafka_t* client, std::string topic, std::chrono::milliseconds interval);

  // Deletes records before `durable` (next offset to read, per partition) once per interval.
  void maybe_purge(const std::map<std::int32_t, Offset>& durable);

 private:
  void drain_results();

  rd_kafka_t* client_;
  std::string topic_;
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point next_purge_;
  kafka::QueuePtr results_;
  std::map<std::int32_t, std::int64_t> purged_;  // last requested bound per partition
};

}  // namespace auditor
