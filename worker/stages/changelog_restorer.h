// Brings task stores up to date from their changelog partitions before they process.
//
//   assigned ─► checked: the store's offsets exist in the changelog and repartition topic
//               (state/store_damage.h); if not, the caller sets the store aside
//            ─► restoring: read changelog [store's changelog offset, end) read_committed,
//               applied in batches (state::ChangelogRestore); repartition partition paused
//            ─► running: resume the repartition partition at the committed offset
//
// A store that survived a crash replays only the changelog tail it missed; a new one
// replays the whole (compacted) partition. One group-less consumer serves every restoring
// task. Not thread-safe: the worker loop drives it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "state/changelog.h"
#include "state/store_damage.h"
#include "topology/types.h"
#include "worker/common/config.h"
#include "worker/kafka/client.h"
#include "worker/kafka/handles.h"
#include "worker/stages/aggregate_task.h"

namespace auditor {

// A read_committed consumer of changelog partitions (assign only, never joins `group`), for
// the restorer and the standby copies. librdkafka still looks up the group's coordinator,
// so the group is the application's (TopicNames::restore_group): its ACLs cover it.
// `prefetch_kbytes`: its queued.max.messages.kbytes (kafka::add_prefetch_properties).
[[nodiscard]] kafka::Properties changelog_reader_properties(const std::string& group,
                                                            std::uint64_t prefetch_kbytes);

// Applies one consumed changelog record to `restore`. Throws std::runtime_error naming
// `role` ("task", "standby task"), the partition and the offset when the record is
// malformed or cannot be written. Called per record: builds no string unless it throws.
void apply_changelog_record(state::ChangelogRestore& restore, const rd_kafka_message_t& record,
                            std::string_view role);

class ChangelogRestorer {
 public:
  ChangelogRestorer(const KafkaSettings& settings, std::string changelog_topic,
                    std::string repartition_topic, const std::string& group,
                    std::uint64_t prefetch_kbytes);

  // Starts restoring `task` (which must stay alive until finished or cancelled). Asks the
  // broker for the changelog's and the repartition topic's offsets first (at most 2 s
  // each) and returns, without starting, why the store's checkpoint cannot be trusted
  // when those offsets contradict it (state::checkpoint_inconsistency).
  [[nodiscard]] std::optional<std::string> start(AggregateTask& task);
  void cancel(PartitionId partition);

  // Tasks whose changelog turned out, while reading it, to end before the store's offset
  // (found when the offsets could not be asked for up front), with the reason; no longer
  // restoring. Cleared by the call.
  struct Inconsistent {
    PartitionId partition;
    std::string reason;
  };
  [[nodiscard]] std::vector<Inconsistent> take_inconsistent();

  // Reads and applies what arrives within `budget`. Returns the tasks that reached the end
  // of their changelog. Throws std::runtime_error when a store cannot be written or the
  // changelog is corrupt (the worker cannot go on with that task).
  [[nodiscard]] std::vector<PartitionId> poll(std::chrono::milliseconds budget);

  [[nodiscard]] bool idle() const { return active_.empty() && up_to_date_.empty(); }
  [[nodiscard]] std::uint64_t records_restored() const { return records_restored_; }
  // Records still to read over all restoring tasks (from the last fetched end offsets).
  [[nodiscard]] std::int64_t remaining() const;

 private:
  struct Active {
    AggregateTask* task = nullptr;
    std::unique_ptr<state::ChangelogRestore> restore;
    std::chrono::steady_clock::time_point started;
    std::int64_t from = 0;
    std::int64_t position = 0;  // next offset to read
  };

  void stop_reading(std::int32_t partition);
  [[nodiscard]] std::optional<state::PartitionBounds> bounds(const std::string& topic,
                                                             std::int32_t partition);

  kafka::HandlePtr consumer_;
  std::string topic_;
  std::string repartition_topic_;
  std::vector<Inconsistent> inconsistent_;
  std::map<std::int32_t, Active> active_;
  std::vector<PartitionId> up_to_date_;  // nothing to replay: finished at the next poll()
  std::uint64_t records_restored_ = 0;
};

}  // namespace auditor
