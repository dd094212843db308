#include "worker/engine/topic_provisioning.h"

#include <algorithm>
#include <stdexcept>
#include <thread>

#include "worker/common/log.h"
#include "worker/kafka/access.h"
#include "worker/kafka/admin.h"

namespace auditor {
namespace {

// How long a topic another replica just created may take to show in the metadata.
constexpr std::chrono::seconds kAlreadyExistsGrace{3};

}  // namespace

std::int32_t provision_topics(rd_kafka_t* client, const WorkerConfig& config,
                              std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const std::string repartition = config.topics.repartition();
  const std::string changelog = config.topics.changelog();
  std::int32_t partitions = 0;
  const auto& t = config.topics;
  const std::vector<std::string> names = {t.input, repartition, changelog, t.output, t.dlq};
  auto counts = kafka::partition_counts(client, names, timeout);
  std::vector<kafka::TopicSpec> missing;
  if (!counts.contains(t.input)) {
    log::get("worker")->info("input topic {} does not exist: creating it with {} partitions",
                             t.input, config.default_partitions);
    missing.push_back({t.input, config.default_partitions, {}});
  }
  partitions = counts.contains(t.input) ? counts.at(t.input) : config.default_partitions;
  for (const auto& internal : {repartition, changelog}) {
    if (counts.contains(internal) && counts.at(internal) != partitions) {
      throw std::runtime_error(
          "internal topic " + internal + " has " + std::to_string(counts.at(internal)) +
          " partitions but the input topic " + t.input + " has " + std::to_string(partitions) +
          ": delete the application's internal topics (auditor reset) "
          "or use the input's partition count");
    }
  }
  if (!counts.contains(repartition)) {
    // Unlimited retention: records are deleted once consumed (RepartitionPurger), never
    // before, however long the worker is down.
    missing.push_back({repartition, partitions, {{"retention.ms", "-1"}}});
  }
  if (!counts.contains(changelog)) {
    missing.push_back({changelog, partitions, {{"cleanup.policy", "compact"}}});
  }
  if (!counts.contains(t.output)) {
    missing.push_back({t.output,
                       partitions,
                       {{"cleanup.policy", "compact,delete"},
                        {"retention.ms", std::to_string(config.rollup_retention.value)}}});
  }
  if (!counts.contains(t.dlq)) missing.push_back({t.dlq, partitions, {}});
  for (const auto& spec : missing) {
    log::get("worker")->info("creating topic {} ({} partitions)", spec.name, spec.partitions);
  }
  const auto existed = kafka::create_topics(client, missing, timeout);
  // "Already exists": another replica starting at the same moment created it (it shows in
  // the metadata within moments), or the metadata leaves it out because we may not describe
  // it, i.e. an ACL is missing.
  for (auto described_by = Clock::now() + kAlreadyExistsGrace; !existed.empty();) {
    counts = kafka::partition_counts(client, names, timeout);
    if (std::all_of(existed.begin(), existed.end(),
                    [&](const auto& n) { return counts.contains(n); }) ||
        Clock::now() > described_by) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  for (const auto& spec : missing) {
    // Name the access the worker needs (it implies DESCRIBE).
    if (!existed.contains(spec.name) || counts.contains(spec.name)) continue;
    const bool internal = spec.name == repartition || spec.name == changelog;
    const bool input = spec.name == t.input;
    throw std::runtime_error(kafka::missing_acl(
        internal ? "read and write" : (input ? "read" : "write"), "Topic", spec.name,
        internal ? "READ and WRITE" : (input ? "READ" : "WRITE"), config.kafka.principal()));
  }
  // New topics take a moment to have leaders; wait so the first assignment finds them.
  const auto deadline = Clock::now() + timeout;
  while (!missing.empty()) {
    counts = kafka::partition_counts(client, names, timeout);
    if (std::all_of(names.begin(), names.end(),
                    [&](const auto& n) { return counts.contains(n); })) {
      break;
    }
    if (Clock::now() > deadline) throw std::runtime_error("created topics did not appear in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return partitions;
}

}  // namespace auditor
