// auditor's own processing path without Kafka: what one tick costs in parsing,
// pre-aggregation, the repartition encoding, window aggregation, the store and the output
// encodings, with librdkafka and the broker left out. Deterministic (fixed seed, no
// threads, no clock in the data), so `valgrind --tool=callgrind` instruction counts compare
// one build with another on a busy machine, where timings do not (bench/README.md).
//
//   auditor_bench_pipeline [--ticks 300000] [--keys 10000] [--skew 1.0] [--partitions 6]
//                          [--commit-ticks 100000] [--span-minutes 30] [--state-dir DIR]
//
// Ticks are JSON like bench_tool load's, in event-time order per input partition; every
// --commit-ticks ticks a "commit" runs both stages' commit work: pre-aggregates encoded
// and decoded as repartition records, watermarks, each task's window commit (store reads,
// rollup and changelog encodings, the store write). Prints one RESULT line.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "state/changelog.h"
#include "state/task_store.h"
#include "topology/pre_aggregator.h"
#include "topology/repartition_record.h"
#include "topology/rollup_format.h"
#include "topology/tick_parser.h"
#include "topology/window_aggregator.h"
#include "topology/windows.h"
#include "worker/tools/zipf_sampler.h"

namespace {

using namespace auditor;  // NOLINT(google-build-using-namespace): a benchmark's main file

struct Options {
  std::int64_t ticks = 300'000;
  std::int64_t keys = 10'000;
  double skew = 1.0;
  std::int32_t partitions = 6;
  std::int64_t commit_ticks = 100'000;
  std::int64_t span_minutes = 30;
  std::filesystem::path state_dir = std::filesystem::temp_directory_path() / "auditor-pipeline";
};

Options parse_options(int argc, char** argv) {
  const bench::Args a(argc, argv, 1);
  Options o;
  o.ticks = a.integer("ticks", o.ticks);
  o.keys = a.integer("keys", o.keys);
  o.skew = a.number("skew", o.skew);
  o.partitions = static_cast<std::int32_t>(a.integer("partitions", o.partitions));
  o.commit_ticks = a.integer("commit-ticks", o.commit_ticks);
  o.span_minutes = a.integer("span-minutes", o.span_minutes);
  o.state_dir = a.str("state-dir", o.state_dir.string());
  a.check_all_used();
  if (o.ticks <= 0 || o.keys <= 0 || o.partitions <= 0 || o.commit_ticks <= 0 ||
      o.span_minutes <= 0) {
    bench::fail("auditor_bench_pipeline: every number must be positive");
  }
  return o;
}

// The ticks of bench_tool load (same names), event time spread evenly over the span.
std::vector<std::string> make_ticks(const Options& o) {
  const ZipfSampler zipf(static_cast<std::size_t>(o.keys), o.skew);
  std::mt19937_64 rng(42);
  const std::int64_t start_ms = 1'796'000'000'000;
  const std::int64_t span_ms = o.span_minutes * 60'000;
  std::vector<std::string> ticks;
  ticks.reserve(static_cast<std::size_t>(o.ticks));
  for (std::int64_t i = 0; i < o.ticks; ++i) {
    const std::size_t k = zipf(rng);
    const std::int64_t t = start_ms + span_ms * i / o.ticks;
    ticks.push_back(R"({"process_name":"process-)" + std::to_string(k / 10) +
                    R"(","process_activity":"activity-)" + std::to_string(k % 10) +
                    R"(","count":)" + std::to_string(1 + (i % 9)) + R"(,"timestamp":)" +
                    std::to_string(t) + "}");
  }
  return ticks;
}

struct Task {
  std::unique_ptr<state::TaskStore> store;
  std::unique_ptr<WindowAggregator> aggregator;
  std::int64_t next_input = 0;
};

struct Totals {
  std::uint64_t repartition_records = 0;
  std::uint64_t rollups = 0;
  std::uint64_t changelog_records = 0;
  std::uint64_t output_bytes = 0;
};

// Stage 2 of one commit for every task: what AggregateStage::build and apply do, with the
// records encoded but not sent.
void commit_tasks(std::vector<Task>& tasks, RollupFormatter& formatter, Totals& totals) {
  for (Task& task : tasks) {
    CommitResult result = task.aggregator->commit(*task.store);
    for (const Rollup& rollup : result.rollups) {
      formatter.format(rollup);
      totals.output_bytes += formatter.key().size() + formatter.value().size();
    }
    totals.rollups += result.rollups.size();
    const std::vector<state::ChangelogRecord> changelog = state::changelog_records(result);
    for (const auto& record : changelog) {
      totals.output_bytes += record.key.size() + (record.value ? record.value->size() : 0);
      ++totals.changelog_records;
    }
    state::TaskCheckpoint checkpoint = task.store->checkpoint();
    checkpoint.input_offset = Offset{task.next_input};
    checkpoint.progress = result.progress;
    if (const auto status = task.store->apply(result, changelog, checkpoint); !status.ok()) {
      std::cerr << "auditor_bench_pipeline: store write failed: " << status.ToString() << "\n";
      std::exit(1);
    }
    task.aggregator->committed(result.progress);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  const WindowSet windows = WindowSet::parse("1m,1h,1d");
  const DurationMs grace{30'000};
  std::filesystem::remove_all(o.state_dir);

  const std::vector<std::string> ticks = make_ticks(o);
  std::vector<Task> tasks(static_cast<std::size_t>(o.partitions));
  for (std::int32_t p = 0; p < o.partitions; ++p) {
    Task& task = tasks[static_cast<std::size_t>(p)];
    task.store = state::TaskStore::open(o.state_dir / std::to_string(p));
    task.aggregator = std::make_unique<WindowAggregator>(
        windows, grace, DurationMs{86'400'000}, EmitMode::kUpdates, o.partitions, TaskProgress{});
  }
  TickParser parser;
  PreAggregator pre_aggregator(windows.windows().front().size);
  RollupFormatter formatter;
  Totals totals;
  std::vector<std::int64_t> partition_time(static_cast<std::size_t>(o.partitions), 0);

  const auto started = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < ticks.size(); ++i) {
    const auto input = static_cast<std::size_t>(i % static_cast<std::size_t>(o.partitions));
    const TickParseResult parsed = parser.parse(ticks[i].data(), ticks[i].size());
    if (parsed.error) {
      std::cerr << "auditor_bench_pipeline: generated an invalid tick: " << ticks[i] << "\n";
      return 1;
    }
    const EventTime event_time = *parsed.tick->timestamp;
    partition_time[input] = std::max(partition_time[input], event_time.value);
    pre_aggregator.add(parsed.tick->process_name, parsed.tick->process_activity, event_time,
                       parsed.tick->count);
    const bool last = i + 1 == ticks.size();
    if (!last && (i + 1) % static_cast<std::size_t>(o.commit_ticks) != 0) continue;

    // Stage 1's commit, then stage 2 reading the repartition records and committing.
    for (const PreAggregate& pa : pre_aggregator.take()) {
      const std::string key = encode_repartition_key(pa.process_name, pa.process_activity);
      const std::string value =
          encode_repartition_value(pa.event_time, pa.count, pa.ticks, pa.late_mask, windows);
      const RepartitionMessage message = decode_repartition_message(key, value, windows);
      Task& task = tasks[static_cast<std::size_t>(partition_for(key, o.partitions).value)];
      (void)task.aggregator->add(
          message.delta.process_name, message.delta.process_activity, message.delta.event_time,
          WindowCounts{message.delta.count, message.delta.ticks}, message.delta.late_mask);
      ++task.next_input;
      ++totals.repartition_records;
    }
    for (Task& task : tasks) {
      for (std::int32_t p = 0; p < o.partitions; ++p) {
        task.aggregator->observe_watermark(
            PartitionId{p},
            PartitionWatermark{EventTime{partition_time[static_cast<std::size_t>(p)]}, false});
      }
    }
    commit_tasks(tasks, formatter, totals);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  for (Task& task : tasks) {
    if (const auto status = task.store->close(); !status.ok()) {
      std::cerr << "auditor_bench_pipeline: closing a store: " << status.ToString() << "\n";
      return 1;
    }
  }
  std::filesystem::remove_all(o.state_dir);
  std::cout << "RESULT ticks=" << ticks.size()
            << " repartition_records=" << totals.repartition_records
            << " rollups=" << totals.rollups << " changelog_records=" << totals.changelog_records
            << " output_bytes=" << totals.output_bytes << " seconds=" << seconds
            << " ticks_per_s=" << static_cast<double>(ticks.size()) / seconds << "\n";
  return 0;
}
