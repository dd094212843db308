#include "worker/stages/ingest_stage.h"

#include <algorithm>

#include "topology/repartition_record.h"
#include "worker/common/log.h"
#include "worker/kafka/partition_list.h"

namespace auditor {

IngestStage::IngestStage(const WorkerConfig& config, std::int32_t partitions,
                         WorkerMetrics& metrics, RecordSink& sink)
    : config_(config),
      partitions_(partitions),
      repartition_topic_(config.topics.repartition()),
      metrics_(metrics),
      sink_(sink),
      all_windows_mask_(config.windows.size() >= 32
                            ? ~std::uint32_t{0}
                            : (std::uint32_t{1} << config.windows.size()) - 1),
      pre_aggregator_(config.windows.bucket()) {}

kafka::Error IngestStage::assign(rd_kafka_t* consumer, rd_kafka_topic_partition_list_t* partitions,
                                 ClockMs now, std::chrono::milliseconds timeout) {
  // The partition time is committed as the offset's metadata, in the same transaction.
  // Reading both here and assigning at exactly that offset keeps the two together.
  kafka::TopicPartitionListPtr committed = kafka::new_partition_list(partitions->cnt);
  for (int i = 0; i < partitions->cnt; ++i) {
    if (config_.topics.input == partitions->elems[i].topic) {
      kafka::add_partition(*committed, config_.topics.input,
                           PartitionId{partitions->elems[i].partition});
    }
  }
  if (committed->cnt == 0) return {};
  const auto err = rd_kafka_committed(consumer, committed.get(), static_cast<int>(timeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return kafka::Error::from(err, "reading the committed input offsets");
  }
  for (int i = 0; i < committed->cnt; ++i) {
    const rd_kafka_topic_partition_t& tp = committed->elems[i];
    resume(tp.partition, tp, now);
    auto* assigned =
        rd_kafka_topic_partition_list_find(partitions, config_.topics.input.c_str(), tp.partition);
    if (assigned != nullptr && tp.offset >= 0) assigned->offset = tp.offset;
  }
  return {};
}

void IngestStage::resume(std::int32_t partition, const rd_kafka_topic_partition_t& committed,
                         ClockMs now) {
  const CommittedPartitionTime restored =
      decode_partition_time_metadata(kafka::metadata_of(committed));
  if (committed.offset >= 0 && !restored.recognised) {
    log::get("worker")->info(
        "input partition {}: the committed offset {} carries no partition time (moved by a "
        "tool or committed by an earlier version): its partition time starts afresh",
        partition, committed.offset);
  }
  inputs_.insert_or_assign(
      partition, InputPartition{std::nullopt, PartitionClock(restored.time, now), std::nullopt});
}

void IngestStage::process(const rd_kafka_message_t& message, ClockMs now) {
  auto it = inputs_.find(message.partition);
  if (it == inputs_.end()) return;  // revoked meanwhile
  InputPartition& input = it->second;
  input.next = Offset{message.offset + 1};
  input.clock.record_read(now);
  WorkerMetrics::inc(metrics_.input_records);

  const auto parsed = parser_.parse(message.payload, message.len);
  if (parsed.error) {
    WorkerMetrics::inc(metrics_.invalid[static_cast<std::size_t>(parsed.error->reason)]);
    sink_.dead_letter(message, parsed.error->message, message.payload, message.len);
    return;
  }
  const Tick& tick = *parsed.tick;
  EventTime event_time{0};
  if (tick.timestamp) {
    event_time = *tick.timestamp;
  } else {
    rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    const std::int64_t record_time = rd_kafka_message_timestamp(&message, &type);
    if (type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || record_time < kMinEventTime.value ||
        record_time > kMaxEventTime.value) {
      WorkerMetrics::inc(metrics_.invalid[static_cast<std::size_t>(InvalidReason::kBadTimestamp)]);
      sink_.dead_letter(message, "timestamp: absent and the record has no usable timestamp",
                        message.payload, message.len);
      return;
    }
    event_time = EventTime{record_time};
  }
  WorkerMetrics::inc(metrics_.valid_ticks);
  // Lateness against the tick's own partition (docs/event-time.md): it counts in every
  // size it is not late for, and goes to the dead-letter topic if late for any.
  const std::uint32_t late_mask = input.clock.add_tick(event_time, config_.windows, config_.grace);
  if (late_mask != 0) {
    metrics_.count_late(late_mask);
    sink_.dead_letter(message, "late: " + config_.windows.names(late_mask), message.payload,
                      message.len);
  }
  if (late_mask != all_windows_mask_) {
    pre_aggregator_.add(tick.process_name, tick.process_activity, event_time, tick.count,
                        late_mask);
  }
}

bool IngestStage::reached_end(PartitionId partition, Offset end) {
  // Everything before `end` was delivered (and processed) in order: the position may skip
  // to it, past the marker a transactional producer leaves at the end, so committed
  // offsets and lag reach the end of the partition.
  auto it = inputs_.find(partition.value);
  if (it == inputs_.end()) return false;
  InputPartition& input = it->second;
  input.clock.reached_end();
  if (input.next && !(*input.next < end)) return false;
  input.next = end;
  return true;
}

std::optional<PartitionWatermark> IngestStage::watermark_to_send(const InputPartition& input,
                                                                 ClockMs now) const {
  const PartitionWatermark watermark = input.clock.watermark(now, config_.idle_timeout);
  // A partition with no valid tick that is not idle has nothing to say yet.
  if (input.sent == watermark || (!watermark.time && !watermark.idle)) return std::nullopt;
  return watermark;
}

bool IngestStage::watermarks_changed(ClockMs now) const {
  return std::any_of(inputs_.begin(), inputs_.end(), [&](const auto& entry) {
    return watermark_to_send(entry.second, now).has_value();
  });
}

std::size_t IngestStage::produce_commit(ClockMs now) {
  const auto pre_aggregates = pre_aggregator_.take();
  for (const PreAggregate& pa : pre_aggregates) {
    const std::string key = encode_repartition_key(pa.process_name, pa.process_activity);
    const std::string value =
        encode_repartition_value(pa.event_time, pa.count, pa.ticks, pa.late_mask, config_.windows);
    sink_.produce({repartition_topic_,
                   partition_for(key, partitions_).value,
                   key,
                   value.data(),
                   value.size(),
                   {}});
  }
  WorkerMetrics::inc(metrics_.repartition_records_out, pre_aggregates.size());

  // After this commit's data, in the same transaction: every task reads a partition's
  // watermark after the ticks it covers (docs/event-time.md).
  for (auto& [partition, input] : inputs_) {
    const std::optional<PartitionWatermark> to_send = watermark_to_send(input, now);
    if (!to_send) continue;
    if (to_send->idle != input.sent.value_or(PartitionWatermark{}).idle) {
      if (to_send->idle) {
        log::get("worker")->info(
            "input partition {} is idle (at its end, no record for {} ms): it no longer holds "
            "windows open",
            partition, config_.idle_timeout.value);
      } else {
        log::get("worker")->info("input partition {} has records again", partition);
      }
    }
    const std::string value = encode_watermark_value(PartitionId{partition}, *to_send);
    for (std::int32_t task = 0; task < partitions_; ++task) {
      sink_.produce({repartition_topic_, task, {}, value.data(), value.size(), {}});
    }
    // Records on the repartition topic like the pre-aggregates, and also counted apart.
    WorkerMetrics::inc(metrics_.repartition_records_out, static_cast<std::uint64_t>(partitions_));
    WorkerMetrics::inc(metrics_.watermarks_out, static_cast<std::uint64_t>(partitions_));
    input.sent = to_send;
  }
  return pre_aggregates.size();
}

void IngestStage::add_offsets(rd_kafka_topic_partition_list_t& offsets) const {
  for (const auto& [partition, input] : inputs_) {
    if (!input.next) continue;
    // The partition time at exactly this offset: everything before it is in this commit.
    kafka::set_metadata(
        kafka::add_partition(offsets, config_.topics.input, PartitionId{partition}, *input.next),
        encode_partition_time_metadata(input.clock.time()));
  }
}

void IngestStage::list_partitions(rd_kafka_topic_partition_list_t& list) const {
  for (const auto& [partition, input] : inputs_) {
    kafka::add_partition(list, config_.topics.input, PartitionId{partition});
  }
}

void IngestStage::rewind(const rd_kafka_topic_partition_list_t& committed, ClockMs now) {
  pre_aggregator_.clear();
  // Partition times go back with the offsets they were committed with.
  for (int i = 0; i < committed.cnt; ++i) {
    const rd_kafka_topic_partition_t& tp = committed.elems[i];
    if (config_.topics.input == tp.topic && inputs_.contains(tp.partition)) {
      resume(tp.partition, tp, now);
    }
  }
}

void IngestStage::report(rd_kafka_t* consumer, ClockMs now, StatusSnapshot& status) const {
  status.input_partitions = inputs_.size();
  for (const auto& [partition, input] : inputs_) {
    if (input.clock.idle(now, config_.idle_timeout)) ++status.idle_input_partitions;
    std::int64_t low = 0;
    std::int64_t high = 0;
    // Cached from the last fetch: no broker round trip.
    if (!input.next ||
        rd_kafka_get_watermark_offsets(consumer, config_.topics.input.c_str(), partition, &low,
                                       &high) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      continue;
    }
    status.consumer_lag.push_back(
        {config_.topics.input, partition, std::max<std::int64_t>(0, high - input.next->value)});
  }
}

}  // namespace auditor
