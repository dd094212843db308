#include "worker/reset/plan.h"

#include <algorithm>

#include "topology/event_time.h"

namespace auditor {
namespace {

std::string offset_text(std::optional<std::int64_t> offset) {
  return offset ? std::to_string(*offset) : std::string("none");
}

}  // namespace

std::vector<OffsetMove> plan_input_offsets(const ResetTarget& target,
                                           const std::vector<InputPartition>& input,
                                           std::vector<std::string>& warnings) {
  using Kind = ResetTarget::Kind;
  if (target.kind == Kind::kOffsets) {
    std::string missing;
    for (const auto& p : input) {
      if (!target.offsets.contains(p.partition)) missing += " " + std::to_string(p.partition);
    }
    // A partition left out would keep its old position while the state is rebuilt from
    // zero: its earlier ticks would vanish from the rollups.
    if (!missing.empty()) {
      throw ConfigError("--to-offsets: every input partition needs an offset; missing:" + missing);
    }
    for (const auto& [partition, offset] : target.offsets) {
      const bool known = std::any_of(input.begin(), input.end(),
                                     [&](const auto& p) { return p.partition == partition; });
      if (!known) {
        throw ConfigError("--to-offsets: the input topic has no partition " +
                          std::to_string(partition) + " (it has " + std::to_string(input.size()) +
                          ")");
      }
    }
  }
  std::vector<OffsetMove> moves;
  for (const auto& p : input) {
    std::int64_t to = p.low;
    if (target.kind == Kind::kDatetime) {
      to = p.at_time.value_or(p.high);  // no record at or after the time: start at the end
    } else if (target.kind == Kind::kOffsets) {
      to = target.offsets.at(p.partition);
    }
    const std::int64_t clamped = std::clamp(to, p.low, std::max(p.low, p.high));
    if (clamped != to) {
      warnings.push_back("partition " + std::to_string(p.partition) + ": offset " +
                         std::to_string(to) + " is outside the records it holds [" +
                         std::to_string(p.low) + ", " + std::to_string(p.high) + "]: using " +
                         std::to_string(clamped));
    }
    if (target.kind == Kind::kEarliest && p.low > 0) {
      warnings.push_back("partition " + std::to_string(p.partition) + " starts at offset " +
                         std::to_string(p.low) +
                         ": older ticks are gone (retention), windows that held them are "
                         "rebuilt without them");
    }
    moves.push_back({p.partition, p.committed, clamped});
  }
  if (target.kind != Kind::kEarliest) {
    warnings.push_back(
        "windows that began before the new start offsets are republished with only the ticks "
        "from there on; start at a boundary of the largest window to avoid partial windows");
  }
  return moves;
}

InternalTopicPlan plan_internal_topic(const std::string& name,
                                      std::optional<std::int32_t> partitions,
                                      std::int32_t input_partitions, bool compacted) {
  InternalTopicPlan plan{name, InternalTopicAction::kAbsent, partitions.value_or(0), ""};
  if (!partitions) {
    plan.reason = "does not exist; the worker creates it";
  } else if (*partitions != input_partitions) {
    plan.action = InternalTopicAction::kDeleteTopic;
    plan.reason = "has " + std::to_string(*partitions) + " partitions but the input has " +
                  std::to_string(input_partitions) + "; the worker recreates it to match";
  } else if (compacted) {
    plan.action = InternalTopicAction::kDeleteTopic;
    plan.reason = "compacted, so Kafka refuses DeleteRecords; the worker recreates it empty";
  } else {
    plan.action = InternalTopicAction::kDeleteRecords;
    plan.reason = "every record, up to the end of each partition";
  }
  return plan;
}

std::vector<std::string> describe(const ResetPlan& plan, const ResetConfig& config) {
  std::vector<std::string> lines;
  const std::string state = plan.state_dir.string();
  if (!plan.state_exists) {
    lines.push_back("local state: " + state + " does not exist on this host: nothing to delete");
  } else if (plan.local_state == LocalState::kDelete) {
    lines.push_back("local state: delete " + state);
  } else {
    lines.push_back("local state: keep " + state +
                    " (--keep-state): wipe it before a worker starts here");
  }
  for (const auto* topic : {&plan.repartition, &plan.changelog}) {
    switch (topic->action) {
      case InternalTopicAction::kAbsent:
        lines.push_back("topic " + topic->name + ": nothing to delete (" + topic->reason + ")");
        break;
      case InternalTopicAction::kDeleteRecords:
        lines.push_back("topic " + topic->name + ": delete records of all " +
                        std::to_string(topic->partitions) + " partitions (" + topic->reason +
                        "); commit group " + config.topics.aggregate_group() +
                        " there at the new start");
        break;
      case InternalTopicAction::kDeleteTopic:
        lines.push_back("topic " + topic->name + ": delete group " +
                        config.topics.aggregate_group() + "'s offsets and the topic (" +
                        topic->reason + ")");
        break;
    }
  }
  std::string target = "the earliest offsets";
  if (config.target.kind == ResetTarget::Kind::kDatetime) {
    target = "the first offsets at or after " + format_rfc3339(config.target.time);
  } else if (config.target.kind == ResetTarget::Kind::kOffsets) {
    target = "the given offsets";
  }
  for (const auto& move : plan.input) {
    lines.push_back("group " + config.topics.ingest_group() + ": move " + config.topics.input +
                    "[" + std::to_string(move.partition) + "] from " + offset_text(move.from) +
                    " to " + std::to_string(move.to) + " (" + target + ")");
  }
  return lines;
}

}  // namespace auditor
