#include "worker/stages/repartition_purger.h"

#include "worker/common/log.h"
#include "worker/kafka/partition_list.h"

namespace auditor {

RepartitionPurger::RepartitionPurger(rd_kafka_t* client, std::string topic,
                                     std::chrono::milliseconds interval)
    : client_(client),
      topic_(std::move(topic)),
      interval_(interval),
      next_purge_(std::chrono::steady_clock::now() + interval),
      results_(rd_kafka_queue_new(client)) {}

void RepartitionPurger::drain_results() {
  while (kafka::EventPtr event{rd_kafka_queue_poll(results_.get(), 0)}) {
    if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      log::get("worker")->warn("purging {}: {}", topic_, rd_kafka_event_error_string(event.get()));
      continue;
    }
    const auto* result = rd_kafka_event_DeleteRecords_result(event.get());
    const auto* offsets = rd_kafka_DeleteRecords_result_offsets(result);
    for (int i = 0; offsets != nullptr && i < offsets->cnt; ++i) {
      if (offsets->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log::get("worker")->warn("purging {} [{}]: {}", topic_, offsets->elems[i].partition,
                                 rd_kafka_err2str(offsets->elems[i].err));
      }
    }
  }
}

void RepartitionPurger::maybe_purge(const std::map<std::int32_t, Offset>& durable) {
  drain_results();
  const auto now = std::chrono::steady_clock::now();
  if (now < next_purge_) return;
  next_purge_ = now + interval_;

  kafka::TopicPartitionListPtr list = kafka::new_partition_list();
  for (const auto& [partition, offset] : durable) {
    if (purged_[partition] >= offset.value) continue;
    kafka::add_partition(*list, topic_, PartitionId{partition}, offset);
    purged_[partition] = offset.value;
  }
  if (list->cnt == 0) return;
  // rd_kafka_DeleteRecords_new copies the list.
  rd_kafka_DeleteRecords_t* request = rd_kafka_DeleteRecords_new(list.get());
  rd_kafka_DeleteRecords(client_, &request, 1, nullptr, results_.get());
  rd_kafka_DeleteRecords_destroy(request);
}

}  // namespace auditor
