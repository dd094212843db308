// The benchmark's ceiling: a librdkafka consumer in a consumer group that reads the input
// topic to its end and parses every value with auditor's own TickParser (simdjson
// on-demand), and does nothing else. No aggregation, no output, no transactions: whatever
// auditor does on top of this costs throughput.
//
//   auditor_bench_raw_consumer --topic T --group G [--bootstrap-servers 127.0.0.1:9092]
//
// Exits when every partition of T has reached its end (as of the assignment), after
// committing its offsets (it is a group member like the others), and prints one line:
//   RESULT records=N valid=N invalid=N seconds=S cpu_s=S rss_kb=K
// with its own CPU time and peak RSS.
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <set>
#include <string>

#include "bench/bench_kafka.h"
#include "topology/tick_parser.h"

namespace {

struct Options {
  std::string bootstrap = "127.0.0.1:9092";
  std::string topic;
  std::string group;
};

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) bench::fail("raw_consumer: " + arg + " needs a value");
    const std::string value = argv[++i];
    if (arg == "--bootstrap-servers") {
      o.bootstrap = value;
    } else if (arg == "--topic") {
      o.topic = value;
    } else if (arg == "--group") {
      o.group = value;
    } else {
      bench::fail("raw_consumer: unknown option " + arg);
    }
  }
  if (o.topic.empty() || o.group.empty()) {
    bench::fail("usage: auditor_bench_raw_consumer --topic T --group G [--bootstrap-servers B]");
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  const auto started = std::chrono::steady_clock::now();
  // The consumer settings auditor's worker uses where they matter for reading speed
  // (read_committed, cooperative-sticky, manual commits, the same fetch and prefetch
  // settings), so the ceiling is measured with the same client tuning.
  auto consumer = bench::make_handle(RD_KAFKA_CONSUMER, o.bootstrap,
                                     {{"group.id", o.group},
                                      {"client.id", o.group},
                                      {"enable.auto.commit", "false"},
                                      {"auto.offset.reset", "earliest"},
                                      {"isolation.level", "read_committed"},
                                      {"partition.assignment.strategy", "cooperative-sticky"},
                                      {"enable.partition.eof", "true"},
                                      {"fetch.wait.max.ms", "20"},
                                      {"queued.min.messages", "10000000"},
                                      {"queued.max.messages.kbytes", "32768"}});
  rd_kafka_poll_set_consumer(consumer.get());
  const auto partitions = bench::topic_partitions(consumer.get());
  if (!partitions.contains(o.topic)) bench::fail("raw_consumer: no topic " + o.topic);
  const int partition_count = partitions.at(o.topic);

  auto subscription = bench::new_list(1);
  rd_kafka_topic_partition_list_add(subscription.get(), o.topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (const auto err = rd_kafka_subscribe(consumer.get(), subscription.get())) {
    bench::fail(std::string("raw_consumer: subscribe: ") + rd_kafka_err2str(err));
  }

  auditor::TickParser parser;
  std::uint64_t records = 0, valid = 0, invalid = 0;
  std::int64_t count_sum = 0;  // used, so the parse cannot be optimized away
  std::set<std::int32_t> at_end;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(30);
  // A partition reports EOF once per time it catches up; the input is preloaded and no
  // longer written, so once every partition has reported it the topic has been read.
  while (static_cast<int>(at_end.size()) < partition_count) {
    if (std::chrono::steady_clock::now() > deadline)
      bench::fail("raw_consumer: gave up after 30 min");
    bench::MessagePtr m(rd_kafka_consumer_poll(consumer.get(), 100));
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_end.insert(m->partition);
      continue;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::cerr << "raw_consumer: " << rd_kafka_message_errstr(m.get()) << "\n";
      continue;
    }
    ++records;
    const auto parsed = parser.parse(m->payload, m->len);
    if (parsed.tick) {
      ++valid;
      count_sum += parsed.tick->count;
    } else {
      ++invalid;
    }
  }
  // Commit the consumed positions (auto-stored per message) so the group ends fully caught
  // up, like the other contenders.
  const auto commit_err = rd_kafka_commit(consumer.get(), nullptr, 0);
  if (commit_err != RD_KAFKA_RESP_ERR_NO_ERROR && commit_err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
    std::cerr << "raw_consumer: commit: " << rd_kafka_err2str(commit_err) << "\n";
  }
  const double seconds = bench::seconds_since(started);
  rd_kafka_consumer_close(consumer.get());
  const auto [cpu, rss] = bench::self_usage();
  std::cout << "RESULT records=" << records << " valid=" << valid << " invalid=" << invalid
            << " count_sum=" << count_sum << " seconds=" << seconds << " cpu_s=" << cpu
            << " rss_kb=" << rss << "\n";
  return 0;
}
