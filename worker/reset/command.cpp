// `auditor reset`: prepares a replay, like kafka-streams-application-reset.
//
//   1. refuse while the consumer group has members (a running worker would keep
//      committing over the reset, and the broker refuses to alter a live group's offsets)
//   2. read the input's offsets and the internal topics, decide the plan (reset_plan)
//   3. --dry-run: print the plan and stop
//   4. delete the local task stores (--delete-state)
//   5. delete the data of <app>-ticks-repartition (DeleteRecords) and delete
//      <app>-rollups-changelog (compacted: Kafka refuses DeleteRecords there); the worker
//      recreates it
//   6. commit the group's new input offsets, and the repartition offsets at its new start
//
// Local stores record the changelog and repartition offsets they reflect: a store that
// survived the reset would be counted again on top of the replay. So the tool refuses to
// run when <state-dir>/<app-id> exists unless --delete-state (delete it) or --keep-state
// (the operator wipes it, e.g. on other hosts) is given. Step 4 comes first: if a later
// step fails, a worker started meanwhile restores the old stores from the changelog and
// stays consistent; running the same reset again finishes the job.
#include <iostream>

#include "worker/commands.h"
#include "worker/common/cli_options.h"
#include "worker/common/effective_config.h"
#include "worker/common/log.h"
#include "worker/kafka/access.h"
#include "worker/kafka/admin.h"
#include "worker/kafka/client.h"
#include "worker/reset/options.h"
#include "worker/reset/plan.h"

namespace auditor::commands {
namespace {

constexpr const char* kSummary =
    "Prepares a replay: moves the application's input offsets, deletes its internal topics'\n"
    "data and (--delete-state) its local state. Stop every worker of the application first.\n"
    "Workers on other hosts keep their own --state-dir: wipe <state-dir>/<application-id>\n"
    "there too before they start.";

// Both stages' groups (config.h): a member of either could commit over the reset.
void require_empty_groups(rd_kafka_t* admin, const ResetConfig& config) {
  for (const std::string& group : {config.topics.ingest_group(), config.topics.aggregate_group()}) {
    const auto description = kafka::describe_group(admin, group, config.timeout);
    log::get("reset")->info("group {}: {}, {} members", group, description.state,
                            description.members.size());
    if (description.members.empty()) continue;
    std::string members;
    for (const auto& m : description.members) {
      members += "\n  " + m.client_id + " on " + m.host +
                 (m.instance_id.empty() ? "" : " (instance " + m.instance_id + ")");
    }
    std::string message = "the consumer group " + group + " has " +
                          std::to_string(description.members.size()) +
                          " active members: stop every worker of the application first (a "
                          "killed worker leaves the group after its session timeout, 10 s).";
    message += members;
    throw std::runtime_error(message);
  }
}

ResetPlan make_plan(rd_kafka_t* admin, const ResetConfig& config) {
  const auto& t = config.topics;
  const auto counts =
      kafka::partition_counts(admin, {t.input, t.repartition(), t.changelog()}, config.timeout);
  if (!counts.contains(t.input)) {
    throw std::runtime_error("input topic " + t.input + " does not exist: nothing to replay");
  }
  const std::int32_t partitions = counts.at(t.input);
  const auto marks = kafka::watermarks(admin, t.input, partitions, config.timeout);
  const auto committed =
      kafka::committed_offsets(admin, t.ingest_group(), t.input, partitions, config.timeout);
  std::map<std::int32_t, std::optional<std::int64_t>> at_time;
  if (config.target.kind == ResetTarget::Kind::kDatetime) {
    at_time = kafka::offsets_at(admin, t.input, partitions, config.target.time, config.timeout);
  }
  std::vector<InputPartition> input;
  for (const auto& [partition, mark] : marks) {
    const auto c = committed.find(partition);
    const auto a = at_time.find(partition);
    input.push_back({partition, mark.first, mark.second,
                     c != committed.end() ? std::optional(c->second) : std::nullopt,
                     a != at_time.end() ? a->second : std::nullopt});
  }
  const auto count_of = [&](const std::string& topic) {
    return counts.contains(topic) ? std::optional(counts.at(topic)) : std::nullopt;
  };
  ResetPlan plan;
  plan.input = plan_input_offsets(config.target, input, plan.warnings);
  plan.repartition = plan_internal_topic(t.repartition(), count_of(t.repartition()), partitions,
                                         /*compacted=*/false);
  plan.changelog = plan_internal_topic(t.changelog(), count_of(t.changelog()), partitions,
                                       /*compacted=*/true);
  plan.local_state = config.local_state;
  plan.state_dir = config.application_state_dir();
  plan.state_exists = std::filesystem::exists(plan.state_dir);
  return plan;
}

// Returns the repartition topic's new start offsets when its records were deleted.
std::map<std::int32_t, std::int64_t> clear_internal_topic(rd_kafka_t* admin,
                                                          const ResetConfig& config,
                                                          const InternalTopicPlan& topic) {
  auto logger = log::get("reset");
  const std::string group = config.topics.aggregate_group();  // stage 2 reads it
  if (topic.action == InternalTopicAction::kDeleteRecords) {
    auto starts = kafka::delete_all_records(admin, topic.name, topic.partitions, config.timeout);
    for (const auto& [partition, start] : starts) {
      logger->info("deleted the records of {}[{}]: it now starts at offset {}", topic.name,
                   partition, start);
    }
    return starts;
  }
  if (topic.action == InternalTopicAction::kDeleteTopic) {
    // Offsets left behind would apply to the recreated topic, whose offsets start over.
    kafka::delete_group_offsets(admin, group, topic.name, topic.partitions, config.timeout);
    logger->info("deleted the offsets of group {} on {}", group, topic.name);
    kafka::delete_topic(admin, topic.name, config.timeout);
    logger->info("deleted topic {}", topic.name);
  }
  return {};
}

void execute(rd_kafka_t* admin, const ResetConfig& config, const ResetPlan& plan) {
  auto logger = log::get("reset");
  std::string step = "deleting the local state";
  try {
    if (plan.state_exists && plan.local_state == LocalState::kDelete) {
      const auto removed = std::filesystem::remove_all(plan.state_dir);
      logger->info("deleted local state {} ({} files and directories)", plan.state_dir.string(),
                   removed);
    } else if (plan.state_exists) {
      logger->warn("kept local state {} (--keep-state): wipe it before a worker starts here",
                   plan.state_dir.string());
    }
    step = "clearing " + plan.repartition.name;
    const auto starts = clear_internal_topic(admin, config, plan.repartition);
    step = "clearing " + plan.changelog.name;
    (void)clear_internal_topic(admin, config, plan.changelog);

    step = "committing the new offsets";
    std::vector<kafka::GroupOffset> inputs;
    inputs.reserve(plan.input.size());
    for (const auto& move : plan.input) {
      inputs.push_back({config.topics.input, move.partition, move.to});
    }
    std::vector<kafka::GroupOffset> tasks;
    tasks.reserve(starts.size());
    for (const auto& [partition, start] : starts) {
      tasks.push_back({plan.repartition.name, partition, start});
    }
    if (!tasks.empty()) {
      kafka::alter_group_offsets(admin, config.topics.aggregate_group(), tasks, config.timeout);
    }
    kafka::alter_group_offsets(admin, config.topics.ingest_group(), inputs, config.timeout);
    for (const auto& move : plan.input) {
      logger->info("group {}: {}[{}] moved from {} to {}", config.topics.ingest_group(),
                   config.topics.input, move.partition,
                   move.from ? std::to_string(*move.from) : std::string("none"), move.to);
    }
  } catch (const std::exception& e) {
    throw std::runtime_error("reset incomplete, failed while " + step + ": " + e.what() +
                             "; run the same reset again once the cause is fixed");
  }
}

int run_reset(int argc, char** argv) {
  cli::po::options_description options("reset options");
  add_reset_options(options);
  cli::po::variables_map values;
  cli::Origins origins;
  if (!cli::parse(argc, argv, "reset", kSummary, options, values, &origins)) return 0;
  const ResetConfig config = reset_config(values, origins);
  cli::log_configuration("reset", values, origins);
  check_local_state(config);

  auto logger = log::get("reset");
  kafka::check_credentials(config.kafka, kafka::kCredentialsCheckTimeout);
  auto admin = kafka::make_client(
      RD_KAFKA_PRODUCER,
      kafka::make_conf(config.kafka, {{"client.id", config.topics.application_id + "-reset"}}));
  require_empty_groups(admin.get(), config);
  const ResetPlan plan = make_plan(admin.get(), config);
  for (const auto& warning : plan.warnings) logger->warn("{}", warning);
  const auto actions = describe(plan, config);
  if (config.dry_run) {
    std::cout << "dry run: nothing is changed. A reset would do:\n";
    for (const auto& action : actions) std::cout << "  " << action << "\n";
    std::cout << std::flush;
    return 0;
  }
  for (const auto& action : actions) logger->info("plan: {}", action);
  execute(admin.get(), config, plan);
  logger->info(
      "reset done: start the workers to rebuild the rollups from {} (the rollup topic gets "
      "the recomputed values; the dead-letter topic gets the invalid and late ticks again)",
      config.topics.input);
  return 0;
}

}  // namespace

int reset(int argc, char** argv) {
  return cli::run_guarded("reset", run_reset, argc, argv);
}

}  // namespace auditor::commands
