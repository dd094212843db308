// Stage 1 of the topology: the assigned input partitions of this worker, from consumed
// ticks to pre-aggregates and watermarks on the repartition topic (docs/event-time.md).
//
//   tick ─► parse ─bad─► dead letter
//           partition clock ─late─► dead letter (original bytes, `late: 1m`)
//           pre-aggregate (counts only where not late)
//   commit ─► pre-aggregates, then each changed watermark to every task, then the input
//             offsets with their partition times as metadata
//
// Thread-safety: none; the worker's loop thread owns it (rebalance callbacks run there).
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "topology/partition_time.h"
#include "topology/pre_aggregator.h"
#include "topology/tick_parser.h"
#include "worker/common/config.h"
#include "worker/kafka/error.h"
#include "worker/stages/metrics.h"
#include "worker/stages/record_sink.h"
#include "worker/stages/status_board.h"

namespace auditor {

class IngestStage {
 public:
  // `config`, `metrics` and `sink` must outlive the stage. `partitions`: of the input and
  // the repartition topic.
  IngestStage(const WorkerConfig& config, std::int32_t partitions, WorkerMetrics& metrics,
              RecordSink& sink);

  // The input partitions of a new assignment (other topics in `partitions` are left
  // alone): reads their committed offsets and partition times (blocking, `timeout`) and
  // sets the assignment's offsets to exactly those. Returns the error that prevented it.
  [[nodiscard]] kafka::Error assign(rd_kafka_t* consumer,
                                    rd_kafka_topic_partition_list_t* partitions, ClockMs now,
                                    std::chrono::milliseconds timeout);
  void revoke(PartitionId partition) { inputs_.erase(partition.value); }

  // A consumed input record (stage 1 only).
  void process(const rd_kafka_message_t& message, ClockMs now);
  // The consumer reached the end of an input partition. Returns true when the position
  // moved (a commit has work).
  bool reached_end(PartitionId partition, Offset end);

  // A watermark differs from the one last written: a commit has work.
  [[nodiscard]] bool watermarks_changed(ClockMs now) const;

  // Commit: produces the pre-aggregates, then the changed watermarks. Returns how many
  // pre-aggregates it produced.
  std::size_t produce_commit(ClockMs now);
  // Adds the input positions and their partition times (as metadata) to `offsets`.
  void add_offsets(rd_kafka_topic_partition_list_t& offsets) const;

  // After an aborted commit: drops what is pending and resets positions and partition
  // times to the committed ones, which `committed` holds (input partitions only).
  void rewind(const rd_kafka_topic_partition_list_t& committed, ClockMs now);
  // The assigned input partitions, for a committed-offsets query before rewind().
  void list_partitions(rd_kafka_topic_partition_list_t& list) const;

  [[nodiscard]] std::size_t pending_entries() const { return pre_aggregator_.pending_records(); }
  [[nodiscard]] std::size_t partition_count() const { return inputs_.size(); }
  // Lag and idleness for the status board.
  void report(rd_kafka_t* consumer, ClockMs now, StatusSnapshot& status) const;

 private:
  struct InputPartition {
    std::optional<Offset> next;  // next offset to commit (absent until a record was read)
    PartitionClock clock;        // partition time, lateness, idleness
    // The watermark last written since the assignment or the last rewind; none: not yet.
    std::optional<PartitionWatermark> sent;
  };

  void resume(std::int32_t partition, const rd_kafka_topic_partition_t& committed, ClockMs now);
  [[nodiscard]] std::optional<PartitionWatermark> watermark_to_send(const InputPartition& input,
                                                                    ClockMs now) const;

  const WorkerConfig& config_;
  std::int32_t partitions_;
  std::string repartition_topic_;
  WorkerMetrics& metrics_;
  RecordSink& sink_;
  std::uint32_t all_windows_mask_;  // a tick late for all of these counts nowhere
  TickParser parser_;
  PreAggregator pre_aggregator_;
  std::map<std::int32_t, InputPartition> inputs_;
};

}  // namespace auditor
