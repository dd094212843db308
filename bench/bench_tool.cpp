// The benchmark driver's helper (bench/run.sh): everything that talks to Kafka or crunches
// numbers, so the driver itself stays a readable shell script.
//
//   load        preload the input topic with synthetic ticks and write the expected rollups
//   wait        wait until a consumer group has consumed and committed all its input, and
//               the group of stage 2 (--repartition-group) all of the repartition topics,
//               then sample the contender's CPU time and RSS (per replica and summed)
//   dump        the latest value of every window in a rollup topic, in the normalized form
//               `load --truth` writes, so two runs compare with cmp(1)
//   dlq-stats   count late and invalid records in auditor's dead-letter topic
//   create      create a topic
//   delete      delete topics by prefix and consumer groups (cleanup between runs)
//   latency     steady-rate produce, p50/p99/max from a tick's produce to its rollup
//   report      medians, ratios, a table on stdout, results as JSON and Markdown
//
// Every subcommand ends with one `RESULT key=value ...` line on stdout when it has numbers.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench/bench_args.h"
#include "bench/bench_kafka.h"
#include "topology/duration.h"
#include "topology/event_time.h"
#include "topology/tick_parser.h"
#include "topology/windows.h"
#include "worker/tools/zipf_sampler.h"

namespace {

using bench::Args;
using bench::fail;
using Clock = std::chrono::steady_clock;

std::string json_string(std::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// One window's latest value in the normalized comparison form: tab-separated
// window, window_start, process_name and process_activity as JSON strings, count, ticks.
std::string normalized_line(std::string_view window, std::string_view start, std::string_view name,
                            std::string_view activity, std::int64_t count, std::int64_t ticks) {
  std::string line;
  line.append(window).append("\t").append(start).append("\t");
  line.append(json_string(name)).append("\t").append(json_string(activity)).append("\t");
  line.append(std::to_string(count)).append("\t").append(std::to_string(ticks));
  return line;
}

void write_sorted(std::vector<std::string>& lines, const std::string& path) {
  std::sort(lines.begin(), lines.end());
  std::ofstream out(path);
  if (!out) fail("cannot write " + path);
  for (const auto& l : lines) out << l << "\n";
  if (!out.flush()) fail("writing " + path + " failed");
}

// ---------------------------------------------------------------------------------------
// load

// Records every contender must drop. Each is checked against auditor's parser at start-up,
// so this list cannot silently drift from the contract.
const std::vector<std::string>& bad_records() {
  static const std::vector<std::string> records = {
      "not json",
      R"({"process_name":"","process_activity":"x","count":1})",
      R"({"process_name":"svc","process_activity":"x","count":0})",
      R"({"process_name":"svc","process_activity":"x","count":1000000001})",
      R"({"process_name":"svc","process_activity":"x","count":"5"})",
      R"({"process_name":"svc","process_activity":"x","count":1.5})",
      R"({"process_name":"svc","process_activity":"x","count":1e3})",
      R"(["process_name","svc"])",
      R"({"process_activity":"x"})",
      R"({"process_name":"svc","process_activity":"x","timestamp":"yesterday"})",
      R"({"process_name":"svc","process_activity":"x","timestamp":"2026-02-30T00:00:00Z"})",
      R"({"process_name":"svc","process_activity":"x","timestamp":1.5})",
      R"({"process_name":"svc","process_activity":"x"} trailing)",
      R"({"process_name":"svc","process_name":"svc","process_activity":"x"})",
      R"({"process_name":"svc","process_activity":"\ud800"})",
      R"({"process_name":"svc","process_activity":"x","other":[1,2,}})",
      "{\"process_name\":\"svc\xff\",\"process_activity\":\"x\"}",
      "{\"process_name\":\"" + std::string(257, 'n') + "\",\"process_activity\":\"x\"}",
      R"({"process_name":null,"process_activity":"x"})",
      "",
  };
  return records;
}

// Key k's names. Most are plain; every 101st carries characters that need escaping or are
// multi-byte, so the contenders' output encodings get compared too.
std::pair<std::string, std::string> key_names(std::size_t k) {
  std::string name = "process-" + std::to_string(k / 10);
  std::string activity = "activity-" + std::to_string(k % 10);
  if (k % 101 == 7) name += " \"quoted\" \\ | \xc3\xbc\xe6\x97\xa5\xe6\x9c\xac";  // ü日本
  if (k % 101 == 50) activity += "\t|tab";
  return {name, activity};
}

struct WindowKey {
  std::uint32_t key;
  std::uint32_t window;
  std::int64_t start;
  bool operator==(const WindowKey&) const = default;
};
struct WindowKeyHash {
  std::size_t operator()(const WindowKey& k) const {
    std::uint64_t h = (std::uint64_t{k.key} << 32) ^ k.window;
    h ^= static_cast<std::uint64_t>(k.start) * 0x9e3779b97f4a7c15ULL;
    return std::hash<std::uint64_t>{}(h ^ (h >> 29));
  }
};
struct Counts {
  std::int64_t count = 0;
  std::int64_t ticks = 0;
};

std::atomic<std::uint64_t> g_delivery_errors{0};
std::string g_first_delivery_error;

void on_delivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* m, void* /*opaque*/) {
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (g_delivery_errors.fetch_add(1) == 0) g_first_delivery_error = rd_kafka_err2str(m->err);
  }
}

void create_topic(rd_kafka_t* rk, const std::string& topic, int partitions,
                  const bench::Properties& configs) {
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, nullptr, 0);
  for (const auto& [k, v] : configs) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
  bench::QueuePtr queue(rd_kafka_queue_new(rk));
  rd_kafka_CreateTopics(rk, &nt, 1, nullptr, queue.get());
  bench::EventPtr ev(rd_kafka_queue_poll(queue.get(), 30'000));
  rd_kafka_NewTopic_destroy(nt);
  if (!ev) fail("create topic " + topic + ": no answer");
  const auto* result = rd_kafka_event_CreateTopics_result(ev.get());
  if (result == nullptr)
    fail("create topic " + topic + ": " + rd_kafka_event_error_string(ev.get()));
  std::size_t n = 0;
  const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(result, &n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto err = rd_kafka_topic_result_error(topics[i]);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      fail("create topic " + topic + ": " + rd_kafka_err2str(err));
    }
  }
}

int cmd_load(const Args& a) {
  const std::string bootstrap = a.str("bootstrap-servers", "127.0.0.1:9092");
  const std::string topic = a.str("topic");
  const auto ticks = static_cast<std::uint64_t>(a.integer("ticks"));
  const auto keys = static_cast<std::size_t>(a.integer("keys", 10'000));
  const double skew = a.number("skew", 1.0);
  const int partitions = static_cast<int>(a.integer("partitions", 6));
  const std::int64_t span_ms = a.duration_ms("span", "3h");
  const double bad_share = a.number("bad-share", 0.0);
  const auto seed = static_cast<std::uint64_t>(a.integer("seed", 1));
  const std::string truth_path = a.str("truth");
  const std::string compression = a.str("compression", "none");
  const auditor::WindowSet windows = auditor::WindowSet::parse(a.str("windows", "1m,1h,1d"));
  // The truth follows the per-partition lateness rule (docs/event-time.md) at this grace,
  // computed here on its own, not with auditor's code.
  const std::int64_t grace_ms = a.duration_ms("grace", "30s");
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  // Event times end now by default (so retention never deletes the data) and spread
  // evenly over the span in produce order: each partition is in event-time order, as a
  // real time-stamped stream would be.
  const std::int64_t end_ms = a.integer("end-ms", now_ms);
  a.check_all_used();
  if (ticks == 0 || keys == 0 || keys > 10'000'000 || partitions < 1) fail("load: bad sizes");

  auditor::TickParser parser;
  for (const auto& bad : bad_records()) {
    if (parser.parse(bad.data(), bad.size()).tick)
      fail("load: auditor accepts the bad record " + bad);
  }

  auto producer = bench::make_handle(
      RD_KAFKA_PRODUCER, bootstrap,
      {{"client.id", "auditor-bench-load"},
       {"acks", "all"},
       {"enable.idempotence", "true"},
       {"linger.ms", "20"},
       {"batch.size", "1000000"},
       {"queue.buffering.max.messages", "1000000"},
       {"compression.type", compression}},
      [](rd_kafka_conf_t* conf) { rd_kafka_conf_set_dr_msg_cb(conf, on_delivery); });
  create_topic(producer.get(), topic, partitions, {});

  std::vector<std::pair<std::string, std::string>> names(keys);
  std::vector<std::string> prefix(keys);  // `"process_name":..,"process_activity":..`
  for (std::size_t k = 0; k < keys; ++k) {
    names[k] = key_names(k);
    prefix[k] = "\"process_name\":" + json_string(names[k].first) +
                ",\"process_activity\":" + json_string(names[k].second);
  }
  std::unordered_map<std::string, std::uint32_t> key_index;
  for (std::size_t k = 0; k < keys; ++k) {
    key_index.emplace(names[k].first + '\0' + names[k].second, static_cast<std::uint32_t>(k));
  }

  std::mt19937_64 rng(seed);
  const auditor::ZipfSampler zipf(keys, skew);
  std::uniform_real_distribution<double> unit(0, 1);
  std::uniform_int_distribution<int> count_dist(1, 10);
  std::unordered_map<WindowKey, Counts, WindowKeyHash> truth;
  std::uint64_t valid = 0, invalid = 0, late = 0;
  std::int64_t count_sum = 0;
  std::vector<std::optional<std::int64_t>> partition_time(static_cast<std::size_t>(partitions));

  const auto started = Clock::now();
  auto last_log = started;
  std::string value;
  for (std::uint64_t i = 0; i < ticks; ++i) {
    const std::int64_t t =
        end_ms - span_ms + static_cast<std::int64_t>(static_cast<long double>(i) * span_ms / ticks);
    if (bad_share > 0 && unit(rng) < bad_share) {
      value = bad_records()[i % bad_records().size()];
    } else {
      const std::size_t k = zipf(rng);
      const int count = count_dist(rng);
      value = "{";
      // A mix of the shapes the contract allows: epoch ms or RFC 3339 timestamps, absent
      // count (= 1), other field orders, extra fields, offsets, no timestamp at all.
      switch (i % 50) {
        case 7:  // no payload timestamp: the record timestamp (set below) is the event time
          value += prefix[k] + ",\"count\":" + std::to_string(count);
          break;
        case 13:  // other order, an offset, extra fields
          value += "\"source\":{\"host\":\"h1\",\"tags\":[1,2.5,null,true]},\"timestamp\":\"" +
                   auditor::format_rfc3339(auditor::EventTime{t + 3'600'000}).substr(0, 19) +
                   "+01:00\"," + prefix[k] + ",\"count\":" + std::to_string(count);
          break;
        default:
          value += prefix[k];
          if (i % 10 != 3) value += ",\"count\":" + std::to_string(count);
          if (i % 2 == 0) {
            value += ",\"timestamp\":" + std::to_string(t);
          } else {
            // Always with milliseconds, as most producers format it.
            std::string ts = auditor::format_rfc3339(auditor::EventTime{t});
            if (t % 1000 == 0) ts.insert(ts.size() - 1, ".000");
            value += ",\"timestamp\":\"" + ts + "\"";
          }
      }
      value += "}";
    }

    // Unkeyed, round-robin: every key shows up in every partition (the repartition
    // stage's reason to exist), and each partition stays in event-time order.
    const auto partition = static_cast<std::int32_t>(i % static_cast<std::uint64_t>(partitions));

    // The expected result, from auditor's parser (the contract's reference reader).
    const auto parsed = parser.parse(value.data(), value.size());
    if (parsed.tick) {
      ++valid;
      const auto& tick = *parsed.tick;
      const std::int64_t event_time = tick.timestamp ? tick.timestamp->value : t;
      const auto it = key_index.find(std::string(tick.process_name) + '\0' +
                                     std::string(tick.process_activity));
      if (it == key_index.end()) fail("load: parsed an unknown key from " + value);
      count_sum += tick.count;
      std::optional<std::int64_t>& time_before =
          partition_time[static_cast<std::size_t>(partition)];
      bool late_somewhere = false;
      for (std::size_t w = 0; w < windows.size(); ++w) {
        const std::int64_t size = windows.windows()[w].size.value;
        const auto start =
            auditor::window_start(auditor::EventTime{event_time}, windows.windows()[w].size);
        if (time_before && *time_before >= start.value + size + grace_ms) {
          late_somewhere = true;
          continue;
        }
        Counts& c = truth[WindowKey{it->second, static_cast<std::uint32_t>(w), start.value}];
        c.count += tick.count;
        c.ticks += 1;
      }
      if (late_somewhere) ++late;
      time_before = std::max(time_before.value_or(event_time), event_time);
    } else {
      ++invalid;
    }
    while (true) {
      const auto err = rd_kafka_producev(
          producer.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
          RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_TIMESTAMP(t), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
        fail(std::string("load: produce: ") + rd_kafka_err2str(err));
      rd_kafka_poll(producer.get(), 50);
    }
    if ((i & 4095U) == 0) {
      rd_kafka_poll(producer.get(), 0);
      if (Clock::now() - last_log > std::chrono::seconds(10)) {
        std::cerr << "load: " << i << " of " << ticks << " produced\n";
        last_log = Clock::now();
      }
    }
  }
  if (const auto err = rd_kafka_flush(producer.get(), 300'000)) {
    fail(std::string("load: flush: ") + rd_kafka_err2str(err));
  }
  if (rd_kafka_outq_len(producer.get()) > 0) fail("load: records left undelivered");
  if (g_delivery_errors.load() > 0) {
    fail("load: " + std::to_string(g_delivery_errors.load()) +
         " records not delivered: " + g_first_delivery_error);
  }
  const double seconds = bench::seconds_since(started);

  std::vector<std::string> lines;
  lines.reserve(truth.size());
  for (const auto& [wk, c] : truth) {
    const auto& spec = windows.windows()[wk.window];
    lines.push_back(normalized_line(spec.name,
                                    auditor::format_rfc3339(auditor::EventTime{wk.start}),
                                    names[wk.key].first, names[wk.key].second, c.count, c.ticks));
  }
  write_sorted(lines, truth_path);
  std::cout << "RESULT ticks=" << ticks << " valid=" << valid << " invalid=" << invalid
            << " late=" << late << " count_sum=" << count_sum << " windows=" << lines.size()
            << " first_event_ms=" << end_ms - span_ms << " last_event_ms=" << end_ms
            << " seconds=" << seconds << "\n";
  return 0;
}

// ---------------------------------------------------------------------------------------
// wait

struct ProcSample {
  bool alive = false;
  double cpu_s = 0;
  double jit_cpu_s = 0;  // of which in JIT compiler threads (JVM only)
  long rss_peak_kb = 0;
  long rss_kb = 0;
};

// CPU time (user + system, all threads) and peak RSS of a running process. A zombie (exited,
// not yet reaped by the driver) counts as dead.
ProcSample sample_process(pid_t pid) {
  ProcSample s;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = content.rfind(')');
  if (close == std::string::npos) return s;
  std::istringstream fields(content.substr(close + 2));
  std::vector<std::string> f;
  for (std::string x; fields >> x;) f.push_back(x);
  // f[0] is field 3 (state); utime and stime are fields 14 and 15.
  if (f.size() < 13 || f[0] == "Z" || f[0] == "X") return s;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  s.cpu_s = (std::stod(f[11]) + std::stod(f[12])) / tick;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) s.rss_peak_kb = std::stol(line.substr(6));
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kb = std::stol(line.substr(6));
  }
  // The JVM's JIT compiler threads, to tell warm-up from steady-state work.
  std::error_code ec;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name.rfind("C1 Compiler", 0) != 0 && name.rfind("C2 Compiler", 0) != 0) continue;
    std::ifstream tstat(task.path() / "stat");
    std::string t((std::istreambuf_iterator<char>(tstat)), std::istreambuf_iterator<char>());
    const auto tclose = t.rfind(')');
    if (tclose == std::string::npos) continue;
    std::istringstream tf(t.substr(tclose + 2));
    std::vector<std::string> v;
    for (std::string x; tf >> x;) v.push_back(x);
    if (v.size() >= 13) s.jit_cpu_s += (std::stod(v[11]) + std::stod(v[12])) / tick;
  }
  s.alive = true;
  return s;
}

// How many committed data records of `topics` group `group` has not consumed and
// committed yet. Control records (transaction markers) do not count: a group that
// committed offset N for a partition whose last stable offset is N+1 is done when N holds
// a marker, which only a read_committed read can tell.
class LagProbe {
 public:
  LagProbe(const std::string& bootstrap, const std::string& group)
      : group_handle_(bench::make_handle(RD_KAFKA_CONSUMER, bootstrap,
                                         {{"group.id", group}, {"enable.auto.commit", "false"}})),
        reader_(bench::make_handle(RD_KAFKA_CONSUMER, bootstrap,
                                   {{"group.id", "auditor-bench-lag-reader"},
                                    {"enable.auto.commit", "false"},
                                    {"enable.partition.eof", "true"},
                                    // query_watermark_offsets then returns the last
                                    // stable offset, which is what read_committed
                                    // consumers (both contenders under EOS) read up to.
                                    {"isolation.level", "read_committed"}})) {
    rd_kafka_poll_set_consumer(reader_.get());
  }

  std::int64_t remaining(const std::vector<std::pair<std::string, int>>& topics) {
    auto committed = bench::new_list();
    for (const auto& [topic, n] : topics) {
      for (int p = 0; p < n; ++p)
        rd_kafka_topic_partition_list_add(committed.get(), topic.c_str(), p);
    }
    if (const auto err = rd_kafka_committed(group_handle_.get(), committed.get(), 10'000)) {
      std::cerr << "wait: committed offsets: " << rd_kafka_err2str(err) << "\n";
      return -1;
    }
    std::int64_t total = 0;
    auto to_read = bench::new_list();
    for (int i = 0; i < committed->cnt; ++i) {
      auto& tp = committed->elems[i];
      std::int64_t low = 0, stable = 0;
      if (const auto err = rd_kafka_query_watermark_offsets(reader_.get(), tp.topic, tp.partition,
                                                            &low, &stable, 10'000)) {
        std::cerr << "wait: offsets of " << tp.topic << ": " << rd_kafka_err2str(err) << "\n";
        return -1;
      }
      const std::int64_t from = std::max(tp.offset, low);  // no commit yet: offset < 0
      if (from >= stable) continue;
      if (stable - from > 16) {
        total += stable - from;  // certainly data left; no need to look
      } else {
        rd_kafka_topic_partition_list_add(to_read.get(), tp.topic, tp.partition)->offset = from;
      }
    }
    if (to_read->cnt > 0) total += data_records_in(to_read.get());
    return total;
  }

 private:
  // Reads each partition from the given offset to its end (read_committed).
  std::int64_t data_records_in(rd_kafka_topic_partition_list_t* from) {
    if (const auto err = rd_kafka_assign(reader_.get(), from)) {
      std::cerr << "wait: assign: " << rd_kafka_err2str(err) << "\n";
      return 1;
    }
    std::int64_t data = 0;
    std::set<std::pair<std::string, int>> done;
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (static_cast<int>(done.size()) < from->cnt && Clock::now() < deadline) {
      bench::MessagePtr m(rd_kafka_consumer_poll(reader_.get(), 100));
      if (!m) continue;
      const std::pair<std::string, int> tp{rd_kafka_topic_name(m->rkt), m->partition};
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        done.insert(tp);
      } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++data;
        done.insert(tp);  // one record is enough to know it is not done
      }
    }
    rd_kafka_assign(reader_.get(), nullptr);
    if (static_cast<int>(done.size()) < from->cnt) return 1;  // could not tell: not done
    return data;
  }

  bench::HandlePtr group_handle_;
  bench::HandlePtr reader_;
};

int cmd_wait(const Args& a) {
  const std::string bootstrap = a.str("bootstrap-servers", "127.0.0.1:9092");
  const std::string group = a.str("group");
  // The group that consumes the repartition topics: Kafka Streams' one group (the
  // default), auditor's stage-2 group <app>-aggregate (stage 1 is <app>, each balanced on
  // its own).
  const std::string repartition_group = a.str("repartition-group", group);
  const std::string input = a.str("input");
  std::vector<pid_t> pids;  // one per replica
  for (const auto& p : a.all("pid")) pids.push_back(static_cast<pid_t>(std::stol(p)));
  if (pids.empty()) fail("wait: --pid is required");
  const std::int64_t started_ns = a.integer("started-ns");
  const std::int64_t timeout_ms = a.duration_ms("timeout", "30m");
  const std::int64_t interval_ms = a.duration_ms("interval", "100ms");
  // With --input-left N: done as soon as at most N input records are uncommitted (the
  // restore benchmark kills the contender mid-stream at that point).
  const std::int64_t input_left = a.integer("input-left", -1);
  a.check_all_used();

  LagProbe input_probe(bootstrap, group);
  std::optional<LagProbe> own_repartition_probe;
  if (repartition_group != group) own_repartition_probe.emplace(bootstrap, repartition_group);
  LagProbe& repartition_probe = own_repartition_probe ? *own_repartition_probe : input_probe;
  auto metadata = bench::make_handle(RD_KAFKA_PRODUCER, bootstrap, {});
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto last_log = Clock::now();
  std::optional<Clock::time_point> input_done_since;  // input committed, repartition not
  bool hinted = false;
  std::int64_t left = -1;
  std::int64_t input_partitions = 0, repartition_partitions = 0;
  while (Clock::now() < deadline) {
    for (const pid_t pid : pids) {
      if (!sample_process(pid).alive) {
        std::cerr << "wait: the contender (pid " << pid << ") exited before it finished\n";
        return 3;
      }
    }
    // The input topic and the app's repartition topics (auditor's
    // <app>-ticks-repartition, Kafka Streams' <app>-...-repartition). Checked in this
    // order: input offsets are committed together with (or after) the repartition records
    // they produced, so input done (in --group) + repartition done (in
    // --repartition-group) means everything is through.
    std::vector<std::pair<std::string, int>> topics;
    const auto all = bench::topic_partitions(metadata.get());
    if (!all.contains(input)) fail("wait: no input topic " + input);
    topics.emplace_back(input, all.at(input));
    input_partitions = all.at(input);
    repartition_partitions = 0;
    for (const auto& [name, n] : all) {
      if (name.rfind(group + "-", 0) == 0 && name.size() > 12 &&
          name.compare(name.size() - 12, 12, "-repartition") == 0) {
        topics.emplace_back(name, n);
        repartition_partitions += n;
      }
    }
    const std::vector<std::pair<std::string, int>> repartition(topics.begin() + 1, topics.end());
    left = input_probe.remaining({topics.front()});
    if (input_left >= 0) {
      if (left <= input_left) {
        std::cout << "RESULT input_left=" << left << "\n";
        return 0;
      }
    } else if (left == 0 && !repartition.empty()) {
      left = repartition_probe.remaining(repartition);
      if (left != 0 && !input_done_since) input_done_since = Clock::now();
      // A worker that still consumes the repartition topic in the input's group would
      // never finish here: say so instead of waiting out the timeout in silence.
      if (left != 0 && !hinted && &repartition_probe != &input_probe &&
          Clock::now() - *input_done_since > std::chrono::seconds(20) &&
          input_probe.remaining(repartition) == 0) {
        std::cerr << "wait: group " << group << " has committed the repartition topic to its "
                  << "end but " << repartition_group << " has not: does this worker consume "
                  << "both stages in one group?\n";
        hinted = true;
      }
    } else if (left == 0) {
      left = 1;  // the repartition topic does not exist yet: not started
    }
    if (left == 0) {
      // Each replica's CPU time and peak RSS at this moment, and their sums.
      double cpu = 0, jit = 0;
      long rss = 0;
      std::string cpu_each, rss_each;
      for (const pid_t pid : pids) {
        const ProcSample s = sample_process(pid);
        cpu += s.cpu_s;
        jit += s.jit_cpu_s;
        rss += s.rss_peak_kb;
        std::ostringstream c;
        c << s.cpu_s;
        cpu_each += (cpu_each.empty() ? "" : ",") + c.str();
        rss_each += (rss_each.empty() ? "" : ",") + std::to_string(s.rss_peak_kb);
      }
      const auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
      std::cout << "RESULT wall_s=" << static_cast<double>(now_ns - started_ns) / 1e9
                << " cpu_s=" << cpu << " jit_cpu_s=" << jit << " rss_kb=" << rss
                << " cpu_s_each=" << cpu_each << " rss_kb_each=" << rss_each
                << " input_partitions=" << input_partitions
                << " repartition_partitions=" << repartition_partitions << "\n";
      return 0;
    }
    if (Clock::now() - last_log > std::chrono::seconds(15)) {
      if (input_done_since) {
        std::cerr << "wait: " << group << ": input done; " << repartition_group << ": " << left
                  << " repartition records to go\n";
      } else {
        std::cerr << "wait: " << group << ": " << left << " input records to go\n";
      }
      last_log = Clock::now();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
  std::cerr << "wait: " << group << " did not finish within the timeout (" << left
            << " records left" << (input_done_since ? " in the repartition topic, group " : "")
            << (input_done_since ? repartition_group : "") << ")\n";
  return 2;
}

// ---------------------------------------------------------------------------------------
// dump, dlq-stats

// Reads every partition of `topic` from the beginning to its end (read_committed) and calls
// `on` for each record.
std::uint64_t read_topic(const std::string& bootstrap, const std::string& topic,
                         const std::function<void(const rd_kafka_message_t&)>& on) {
  auto consumer = bench::make_handle(RD_KAFKA_CONSUMER, bootstrap,
                                     {{"group.id", "auditor-bench-dump"},
                                      {"enable.auto.commit", "false"},
                                      {"enable.partition.eof", "true"},
                                      {"isolation.level", "read_committed"}});
  rd_kafka_poll_set_consumer(consumer.get());
  const auto partitions = bench::topic_partitions(consumer.get());
  if (!partitions.contains(topic)) fail("no topic " + topic);
  auto list = bench::new_list();
  for (int p = 0; p < partitions.at(topic); ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  if (const auto err = rd_kafka_assign(consumer.get(), list.get())) {
    fail(std::string("assign: ") + rd_kafka_err2str(err));
  }
  std::set<int> at_end;
  std::uint64_t records = 0;
  const auto deadline = Clock::now() + std::chrono::minutes(10);
  while (static_cast<int>(at_end.size()) < partitions.at(topic)) {
    if (Clock::now() > deadline) fail("reading " + topic + " did not reach its end in 10 min");
    bench::MessagePtr m(rd_kafka_consumer_poll(consumer.get(), 200));
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_end.insert(m->partition);
    } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::cerr << "read " << topic << ": " << rd_kafka_message_errstr(m.get()) << "\n";
    } else {
      ++records;
      on(*m);
    }
  }
  return records;
}

int cmd_dump(const Args& a) {
  const std::string bootstrap = a.str("bootstrap-servers", "127.0.0.1:9092");
  const std::string topic = a.str("topic");
  const std::string out = a.str("out");
  a.check_all_used();
  // Latest raw value per key (compaction semantics); parsed once at the end.
  std::unordered_map<std::string, std::string> latest;
  const auto records = read_topic(bootstrap, topic, [&](const rd_kafka_message_t& m) {
    std::string key(static_cast<const char*>(m.key), m.key_len);
    if (m.payload == nullptr) {
      latest.erase(key);
    } else {
      latest[std::move(key)].assign(static_cast<const char*>(m.payload), m.len);
    }
  });
  std::vector<std::string> lines;
  lines.reserve(latest.size());
  std::uint64_t malformed = 0, finals = 0;
  for (const auto& [key, value] : latest) {
    const auto j = nlohmann::json::parse(value, nullptr, false);
    try {
      lines.push_back(normalized_line(
          j.at("window").get<std::string>(), j.at("window_start").get<std::string>(),
          j.at("process_name").get<std::string>(), j.at("process_activity").get<std::string>(),
          j.at("count").get<std::int64_t>(), j.at("ticks").get<std::int64_t>()));
      if (j.value("final", false)) ++finals;
    } catch (const nlohmann::json::exception&) {
      ++malformed;
    }
  }
  write_sorted(lines, out);
  std::cout << "RESULT records=" << records << " windows=" << lines.size() << " final=" << finals
            << " malformed=" << malformed << "\n";
  return 0;
}

int cmd_dlq_stats(const Args& a) {
  const std::string bootstrap = a.str("bootstrap-servers", "127.0.0.1:9092");
  const std::string topic = a.str("topic");
  a.check_all_used();
  std::uint64_t late = 0, invalid = 0;
  read_topic(bootstrap, topic, [&](const rd_kafka_message_t& m) {
    rd_kafka_headers_t* headers = nullptr;
    const void* value = nullptr;
    std::size_t size = 0;
    if (rd_kafka_message_headers(&m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(headers, "error", &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        std::string_view(static_cast<const char*>(value), size).rfind("late", 0) == 0) {
      ++late;
    } else {
      ++invalid;
    }
  });
  std::cout << "RESULT late=" << late << " invalid=" << invalid << "\n";
  return 0;
}

// ---------------------------------------------------------------------------------------
// delete

template <typename Result>
void expect_admin_result(rd_kafka_queue_t* queue, const char* what, Result get) {
  bench::EventPtr ev(rd_kafka_queue_poll(queue, 60'000));
  if (!ev) fail(std::string(what) + ": no answer");
  if (rd_kafka_event_error(ev.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fail(std::string(what) + ": " + rd_kafka_event_error_string(ev.get()));
  }
  get(ev.get());
}

int cmd_delete(const Args& a) {
  const std::string bootstrap = a.str("bootstrap-servers", "127.0.0.1:9092");
  const auto prefixes = a.all("topic-prefix");
  const auto groups = a.all("group");
  a.check_all_used();
  auto admin = bench::make_handle(RD_KAFKA_PRODUCER, bootstrap, {});
  bench::QueuePtr queue(rd_kafka_queue_new(admin.get()));
  std::vector<rd_kafka_DeleteTopic_t*> topics;
  for (const auto& [name, n] : bench::topic_partitions(admin.get())) {
    for (const auto& prefix : prefixes) {
      // Only the benchmark's own topics: a short or empty prefix would be a driver bug.
      if (prefix.rfind("bench-", 0) != 0 || prefix.size() < 10)
        fail("delete: refusing prefix " + prefix);
      if (name.rfind(prefix, 0) == 0) {
        topics.push_back(rd_kafka_DeleteTopic_new(name.c_str()));
        break;
      }
    }
  }
  if (!topics.empty()) {
    rd_kafka_DeleteTopics(admin.get(), topics.data(), topics.size(), nullptr, queue.get());
    expect_admin_result(queue.get(), "delete topics", [](rd_kafka_event_t*) {});
    rd_kafka_DeleteTopic_destroy_array(topics.data(), topics.size());
  }
  std::vector<rd_kafka_DeleteGroup_t*> dg;
  for (const auto& g : groups) dg.push_back(rd_kafka_DeleteGroup_new(g.c_str()));
  if (!dg.empty()) {
    rd_kafka_DeleteGroups(admin.get(), dg.data(), dg.size(), nullptr, queue.get());
    // Per-group errors (e.g. a group that never committed) do not matter for cleanup.
    bench::EventPtr ev(rd_kafka_queue_poll(queue.get(), 60'000));
    rd_kafka_DeleteGroup_destroy_array(dg.data(), dg.size());
  }
  std::cout << "RESULT topics_deleted=" << topics.size() << "\n";
  return 0;
}

int cmd_create(const Args& a) {
  const std::string bootstrap = a.str("bootstrap-servers", "127.0.0.1:9092");
  const std::string topic = a.str("topic");
  const int partitions = static_cast<int>(a.integer("partitions", 6));
  a.check_all_used();
  auto admin = bench::make_handle(RD_KAFKA_PRODUCER, bootstrap, {});
  create_topic(admin.get(), topic, partitions, {});
  return 0;
}

// ---------------------------------------------------------------------------------------
// latency

// Produces ticks at a steady rate with event time = now, plus "probe" ticks each under a
// key of its own (process_name latency-probe, activity probe-<n>), and reads the
// contender's rollup topic (read_committed): a probe's latency is the time from producing
// it to the first rollup of its key becoming readable, which is exactly "a tick's produce
// to the rollup that includes it being visible". Probes sent during the warm-up (JVM JIT,
// group join) do not count.
int cmd_latency(const Args& a) {
  const std::string bootstrap = a.str("bootstrap-servers", "127.0.0.1:9092");
  const std::string input = a.str("input");
  const std::string output = a.str("output");
  const double rate = a.number("rate", 50'000);
  const std::int64_t duration_ms = a.duration_ms("duration", "60s");
  const std::int64_t warmup_ms = a.duration_ms("warmup", "20s");
  const double probe_rate = a.number("probe-rate", 20);
  const auto keys = static_cast<std::size_t>(a.integer("keys", 10'000));
  const double skew = a.number("skew", 1.0);
  const int partitions = static_cast<int>(a.integer("partitions", 6));
  a.check_all_used();
  if (rate <= 0 || probe_rate <= 0 || keys == 0) fail("latency: rates and keys must be positive");

  auto producer = bench::make_handle(
      RD_KAFKA_PRODUCER, bootstrap,
      {{"client.id", "auditor-bench-latency"},
       {"linger.ms", "5"},
       {"acks", "all"},
       {"queue.buffering.max.messages", "1000000"}},
      [](rd_kafka_conf_t* conf) { rd_kafka_conf_set_dr_msg_cb(conf, on_delivery); });
  if (!bench::topic_partitions(producer.get()).contains(input)) {
    create_topic(producer.get(), input, partitions, {});
  }

  // The contender creates its rollup topic when it starts.
  const auto topic_deadline = Clock::now() + std::chrono::minutes(2);
  while (!bench::topic_partitions(producer.get()).contains(output)) {
    if (Clock::now() > topic_deadline)
      fail("latency: " + output + " did not appear (contender not running?)");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }

  std::mutex mutex;
  std::vector<std::optional<Clock::time_point>> sent;  // by probe number
  std::vector<std::optional<double>> latency_ms;
  std::atomic<bool> stop_reading{false};
  std::atomic<std::uint64_t> probes_seen{0};

  std::thread reader([&] {
    auto consumer = bench::make_handle(RD_KAFKA_CONSUMER, bootstrap,
                                       {{"group.id", "auditor-bench-latency-reader"},
                                        {"enable.auto.commit", "false"},
                                        {"isolation.level", "read_committed"},
                                        {"fetch.wait.max.ms", "10"}});
    rd_kafka_poll_set_consumer(consumer.get());
    const int n = bench::topic_partitions(consumer.get()).at(output);
    auto list = bench::new_list();
    for (int p = 0; p < n; ++p) {
      rd_kafka_topic_partition_list_add(list.get(), output.c_str(), p)->offset =
          RD_KAFKA_OFFSET_END;
    }
    rd_kafka_assign(consumer.get(), list.get());
    constexpr std::string_view kMarker = "\"process_activity\":\"probe-";
    while (!stop_reading.load()) {
      bench::MessagePtr m(rd_kafka_consumer_poll(consumer.get(), 50));
      if (!m || m->err != RD_KAFKA_RESP_ERR_NO_ERROR || m->key == nullptr) continue;
      const auto now = Clock::now();
      const std::string_view key(static_cast<const char*>(m->key), m->key_len);
      const auto at = key.find(kMarker);
      if (at == std::string_view::npos || key.find("latency-probe") == std::string_view::npos)
        continue;
      const std::size_t probe = std::strtoull(key.data() + at + kMarker.size(), nullptr, 10);
      std::lock_guard lock(mutex);
      if (probe < sent.size() && sent[probe] && !latency_ms[probe]) {
        latency_ms[probe] = std::chrono::duration<double, std::milli>(now - *sent[probe]).count();
        probes_seen.fetch_add(1);
      }
    }
  });

  std::vector<std::string> prefix(keys);
  for (std::size_t k = 0; k < keys; ++k) {
    const auto [name, activity] = key_names(k);
    prefix[k] =
        "\"process_name\":" + json_string(name) + ",\"process_activity\":" + json_string(activity);
  }
  std::mt19937_64 rng(7);
  const auditor::ZipfSampler zipf(keys, skew);
  const auto produce = [&](const std::string& value, std::int32_t partition) {
    while (true) {
      const auto err = rd_kafka_producev(
          producer.get(), RD_KAFKA_V_TOPIC(input.c_str()), RD_KAFKA_V_PARTITION(partition),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
        fail(std::string("latency: produce: ") + rd_kafka_err2str(err));
      rd_kafka_poll(producer.get(), 10);
    }
  };

  const auto started = Clock::now();
  const auto measure_from = started + std::chrono::milliseconds(warmup_ms);
  const auto stop_at = measure_from + std::chrono::milliseconds(duration_ms);
  std::uint64_t produced = 0, probes = 0, measured_probes_start = 0;
  bool measuring = false;
  std::string value;
  while (true) {
    const auto now = Clock::now();
    if (now >= stop_at) break;
    if (!measuring && now >= measure_from) {
      measuring = true;
      std::lock_guard lock(mutex);
      measured_probes_start = sent.size();
    }
    // Paced by the schedule of the whole run, so short stalls are caught up.
    const auto elapsed = std::chrono::duration<double>(now - started).count();
    const auto due = static_cast<std::uint64_t>(elapsed * rate);
    const auto epoch_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    for (; produced < due; ++produced) {
      value =
          "{" + prefix[zipf(rng)] + ",\"count\":1,\"timestamp\":" + std::to_string(epoch_ms) + "}";
      produce(value, static_cast<std::int32_t>(produced % static_cast<std::uint64_t>(partitions)));
    }
    if (static_cast<double>(probes) < elapsed * probe_rate) {
      value = "{\"process_name\":\"latency-probe\",\"process_activity\":\"probe-" +
              std::to_string(probes) + "\",\"count\":1,\"timestamp\":" + std::to_string(epoch_ms) +
              "}";
      {
        std::lock_guard lock(mutex);
        sent.emplace_back(Clock::now());
        latency_ms.emplace_back();
      }
      produce(value, static_cast<std::int32_t>(probes % static_cast<std::uint64_t>(partitions)));
      ++probes;
    }
    rd_kafka_poll(producer.get(), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const double produce_seconds = bench::seconds_since(started);
  rd_kafka_flush(producer.get(), 30'000);
  // Give the last probes time to come through (a few commit intervals), then stop.
  const auto drain_deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < drain_deadline) {
    {
      std::lock_guard lock(mutex);
      bool all = true;
      for (std::size_t i = measured_probes_start; i < sent.size() && all; ++i)
        all = latency_ms[i].has_value();
      if (all) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop_reading.store(true);
  reader.join();

  std::vector<double> values;
  std::uint64_t missing = 0;
  for (std::size_t i = measured_probes_start; i < sent.size(); ++i) {
    if (latency_ms[i]) {
      values.push_back(*latency_ms[i]);
    } else {
      ++missing;
    }
  }
  std::sort(values.begin(), values.end());
  const auto pct = [&](double q) {
    if (values.empty()) return std::nan("");
    const auto idx =
        static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size()))) - 1;
    return values[std::min(idx, values.size() - 1)];
  };
  std::cout << "RESULT produced=" << produced
            << " rate=" << static_cast<double>(produced) / produce_seconds
            << " probes=" << values.size() << " missing=" << missing << " p50_ms=" << pct(0.50)
            << " p99_ms=" << pct(0.99)
            << " max_ms=" << (values.empty() ? std::nan("") : values.back())
            << " delivery_errors=" << g_delivery_errors.load() << "\n";
  return 0;
}

// ---------------------------------------------------------------------------------------
// report

double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string fixed(double v, int digits) {
  if (std::isnan(v)) return "-";
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

int cmd_report(const Args& a) {
  const std::string runs_path = a.str("runs");
  const std::string meta_path = a.str("meta");
  const std::string out_json = a.str("out-json");
  const std::string out_md = a.str("out-md");
  const std::string latency_path = a.str("latency", "");
  a.check_all_used();

  std::ifstream meta_in(meta_path);
  if (!meta_in) fail("cannot read " + meta_path);
  const nlohmann::ordered_json meta = nlohmann::ordered_json::parse(meta_in);
  std::vector<nlohmann::ordered_json> runs;
  std::ifstream runs_in(runs_path);
  for (std::string line; std::getline(runs_in, line);) {
    if (!line.empty()) runs.push_back(nlohmann::ordered_json::parse(line));
  }
  const auto ticks = meta.at("ticks").get<double>();

  // Contenders in the order they first appear.
  std::vector<std::string> order;
  for (const auto& r : runs) {
    const auto c = r.at("contender").get<std::string>();
    if (std::find(order.begin(), order.end(), c) == order.end()) order.push_back(c);
  }
  struct Summary {
    double wall_s, rate, cpu_s, jit_s, per_cpu_s, rss_mb;
    int rounds;
    std::string check;
  };
  std::map<std::string, Summary> summary;
  nlohmann::ordered_json summary_json = nlohmann::ordered_json::object();
  for (const auto& c : order) {
    std::vector<double> wall, rate, cpu, jit, per_cpu, rss;
    std::string check = "n/a";
    bool all_ok = true, any_checked = false;
    for (const auto& r : runs) {
      if (r.at("contender") != c) continue;
      const double w = r.at("wall_s").get<double>();
      const double u = r.at("cpu_s").get<double>();
      wall.push_back(w);
      rate.push_back(ticks / w);
      cpu.push_back(u);
      jit.push_back(r.value("jit_cpu_s", 0.0));
      per_cpu.push_back(ticks / u);
      rss.push_back(r.at("rss_kb").get<double>() / 1024.0);
      const auto ch = r.value("check", std::string("n/a"));
      if (ch != "n/a") {
        any_checked = true;
        all_ok = all_ok && ch == "ok";
      }
    }
    if (any_checked) check = all_ok ? "ok" : "MISMATCH";
    summary[c] = Summary{median(wall),
                         median(rate),
                         median(cpu),
                         median(jit),
                         median(per_cpu),
                         median(rss),
                         static_cast<int>(wall.size()),
                         check};
    const auto& s = summary[c];
    summary_json[c] = {{"rounds", s.rounds},      {"wall_s", s.wall_s},
                       {"ticks_per_s", s.rate},   {"cpu_s", s.cpu_s},
                       {"jit_cpu_s", s.jit_s},    {"ticks_per_cpu_s", s.per_cpu_s},
                       {"peak_rss_mb", s.rss_mb}, {"check", s.check}};
  }

  // Ratios of auditor (each guarantee) against Kafka Streams and Flink of the same
  // guarantee and against the raw consumer.
  nlohmann::ordered_json ratios = nlohmann::ordered_json::object();
  std::vector<std::string> ratio_lines;
  const auto add_ratio = [&](const std::string& a_name, const std::string& b_name) {
    if (!summary.contains(a_name) || !summary.contains(b_name)) return;
    const auto& x = summary[a_name];
    const auto& y = summary[b_name];
    const std::string name = a_name + " / " + b_name;
    ratios[name] = {{"ticks_per_s", x.rate / y.rate},
                    {"ticks_per_cpu_s", x.per_cpu_s / y.per_cpu_s},
                    {"peak_rss", x.rss_mb / y.rss_mb}};
    ratio_lines.push_back("| " + name + " | " + fixed(x.rate / y.rate, 2) + "x | " +
                          fixed(x.per_cpu_s / y.per_cpu_s, 2) + "x | " +
                          fixed(x.rss_mb / y.rss_mb, 3) + "x |");
  };
  for (const auto& c : order) {
    if (c.rfind("auditor", 0) != 0) continue;
    const std::string suffix = c.substr(7);  // "" or "-alos"
    add_ratio(c, "kstreams" + suffix);
    add_ratio(c, "flink" + suffix);
    add_ratio(c, "quix" + suffix);
    add_ratio(c, "raw");
  }

  // Scale (bench/run.sh --replicas): each contender's ticks per CPU-second (total ticks /
  // CPU seconds summed over its replicas) against its own 1-replica figure of this run, and
  // what each replica held at the end: auditor's input partitions (stage 1, group <app>)
  // and aggregate tasks (stage 2, group <app>-aggregate), from its gauges.
  const auto replicas_of = [](const std::string& c) {
    const auto at = c.find('@');
    return at == std::string::npos ? 1 : std::stoi(c.substr(at + 1));
  };
  const auto one_replica = [](const std::string& c) { return c.substr(0, c.find('@')); };
  const bool scale_mode = std::any_of(order.begin(), order.end(), [](const std::string& c) {
    return c.find('@') != std::string::npos;
  });
  nlohmann::ordered_json scale = nlohmann::ordered_json::object();
  std::vector<std::string> scale_lines;
  for (const auto& c : order) {
    if (!scale_mode || c == "raw") continue;
    const std::string base = one_replica(c);
    const double vs_one =
        summary.contains(base) ? summary[c].per_cpu_s / summary[base].per_cpu_s : std::nan("");
    // A gauge or CPU figure that is missing (an older worker, a failed scrape) is null.
    const auto count = [](const nlohmann::ordered_json& v) {
      return v.is_number() ? std::to_string(v.get<std::int64_t>()) : std::string("?");
    };
    std::string held, cpu_each;
    nlohmann::ordered_json rounds_json = nlohmann::ordered_json::array();
    int runs_of_c = 0;
    for (const auto& r : runs) runs_of_c += r.at("contender") == c ? 1 : 0;
    for (const auto& r : runs) {
      if (r.at("contender") != c || !r.contains("replicas") || !r.at("replicas").is_array())
        continue;
      const auto& reps = r.at("replicas");
      std::string h, u;
      constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
      std::int64_t inputs = 0, tasks = 0, lo_in = kMax, hi_in = 0, lo_t = kMax, hi_t = 0;
      bool complete = true, any_gauge = false;
      for (const auto& rep : reps) {
        const std::string i = std::to_string(rep.value("replica", 0));
        h += (h.empty() ? "" : ", ") + std::string("r") + i + " " +
             count(rep.value("input_partitions", nlohmann::ordered_json())) + "+" +
             count(rep.value("tasks", nlohmann::ordered_json()));
        const auto cpu = rep.value("cpu_s", nlohmann::ordered_json());
        u += (u.empty() ? "" : ", ") + std::string("r") + i + " " +
             (cpu.is_number() ? fixed(cpu.get<double>(), 2) : "?");
        const auto in = rep.value("input_partitions", nlohmann::ordered_json());
        const auto t = rep.value("tasks", nlohmann::ordered_json());
        any_gauge = any_gauge || in.is_number() || t.is_number();
        if (!in.is_number() || !t.is_number()) {
          complete = false;
          continue;
        }
        inputs += in.get<std::int64_t>();
        tasks += t.get<std::int64_t>();
        lo_in = std::min(lo_in, in.get<std::int64_t>());
        hi_in = std::max(hi_in, in.get<std::int64_t>());
        lo_t = std::min(lo_t, t.get<std::int64_t>());
        hi_t = std::max(hi_t, t.get<std::int64_t>());
      }
      // Each stage is balanced on its own: together the replicas hold every input
      // partition and every task, and no replica holds more than one more than another.
      std::string note;
      if (complete && !reps.empty()) {
        const auto want_in = r.value("input_partitions", std::int64_t{-1});
        const auto want_t = r.value("repartition_partitions", std::int64_t{-1});
        if (want_in >= 0 && inputs != want_in)
          note += std::to_string(inputs) + " of " + std::to_string(want_in) +
                  " input partitions held; ";
        if (want_t >= 0 && tasks != want_t)
          note += std::to_string(tasks) + " of " + std::to_string(want_t) + " tasks held; ";
        if (hi_in - lo_in > 1) note += "input partitions unbalanced; ";
        if (hi_t - lo_t > 1) note += "tasks unbalanced; ";
        if (!note.empty()) note = "CHECK: " + note.substr(0, note.size() - 2);
      }
      const std::string round =
          runs_of_c > 1 ? "round " + std::to_string(r.value("round", 0)) + ": " : std::string();
      // Kafka Streams has no such gauges: nothing to show.
      if (any_gauge)
        held += (held.empty() ? "" : "; ") + round + h + (note.empty() ? "" : " (" + note + ")");
      cpu_each += (cpu_each.empty() ? "" : "; ") + round + u;
      rounds_json.push_back({{"round", r.value("round", 0)},
                             {"replicas", reps},
                             {"check", note.empty() ? (complete ? "ok" : "n/a") : note}});
    }
    scale[c] = {{"replicas", replicas_of(c)},
                {"ticks_per_cpu_s", summary[c].per_cpu_s},
                {"ticks_per_cpu_s_vs_1_replica", vs_one},
                {"rounds", rounds_json}};
    scale_lines.push_back(
        "| " + c + " | " + std::to_string(replicas_of(c)) + " | " + fixed(summary[c].per_cpu_s, 0) +
        " | " + (std::isnan(vs_one) ? "-" : fixed(vs_one, 2) + "x") + " | " +
        (cpu_each.empty() ? "-" : cpu_each) + " | " + (held.empty() ? "-" : held) + " |");
  }

  std::ostringstream md;
  if (!runs.empty()) {
    md << "| contender | rounds | wall s | ticks/s | CPU s | of which JIT | ticks per CPU-s | "
          "peak RSS MB | rollups check |\n"
       << "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n";
    for (const auto& c : order) {
      const auto& s = summary[c];
      md << "| " << c << " | " << s.rounds << " | " << fixed(s.wall_s, 2) << " | "
         << fixed(s.rate, 0) << " | " << fixed(s.cpu_s, 2) << " | " << fixed(s.jit_s, 2) << " | "
         << fixed(s.per_cpu_s, 0) << " | " << fixed(s.rss_mb, 1) << " | " << s.check << " |\n";
    }
    if (!ratio_lines.empty()) {
      md << "\n| ratio (medians) | ticks/s | ticks per CPU-s | peak RSS |\n| --- | ---: | ---: | "
            "---: |\n";
      for (const auto& l : ratio_lines) md << l << "\n";
    }
    if (!scale_lines.empty()) {
      md << "\n| scale (one application) | replicas | ticks per CPU-s | vs 1 replica | CPU s per "
            "replica | held at the end: input partitions + aggregate tasks |\n"
         << "| --- | ---: | ---: | ---: | --- | --- |\n";
      for (const auto& l : scale_lines) md << l << "\n";
    }
  }

  // Latency runs (bench/run.sh --mode latency|all), one line per contender.
  nlohmann::ordered_json latency = nlohmann::ordered_json::array();
  if (!latency_path.empty()) {
    std::ifstream in(latency_path);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) latency.push_back(nlohmann::ordered_json::parse(line));
    }
  }
  if (!latency.empty()) {
    md << "\n| latency: produce to rollup readable | produced ticks/s | probes | missing | p50 ms "
          "| p99 ms | max ms |\n"
       << "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n";
    // null (no probe came through) prints as "-".
    const auto num = [](const nlohmann::ordered_json& v) {
      return v.is_number() ? v.get<double>() : std::nan("");
    };
    for (const auto& l : latency) {
      md << "| " << l.at("contender").get<std::string>() << " | " << fixed(num(l.at("rate")), 0)
         << " | " << l.at("probes") << " | " << l.at("missing") << " | "
         << fixed(num(l.at("p50_ms")), 0) << " | " << fixed(num(l.at("p99_ms")), 0) << " | "
         << fixed(num(l.at("max_ms")), 0) << " |\n";
    }
  }

  std::ofstream md_out(out_md);
  md_out << "# auditor benchmark, " << meta.value("date", std::string("?")) << "\n\n";
  md_out << "Command: `" << meta.value("command", std::string("?")) << "`\n\n";
  if (!runs.empty()) {
    md_out << "Input: " << meta.at("ticks") << " ticks, " << meta.value("keys", 0) << " keys (Zipf "
           << meta.value("skew", 0.0) << "), " << meta.value("partitions", 0) << " partitions, "
           << meta.value("bad_share", 0.0) << " share of invalid records, event times over "
           << meta.value("span", std::string("?")) << "; windows "
           << meta.value("windows", std::string("?")) << ", grace "
           << meta.value("grace", std::string("?")) << ", commit interval 1s. "
           << "Medians of " << meta.value("rounds", 0)
           << " rounds, contenders alternating order.\n\n";
  }
  if (!latency.empty() && meta.contains("latency")) {
    const auto& l = meta.at("latency");
    md_out << "Latency: " << l.value("rate", 0) << " ticks/s over " << meta.value("keys", 0)
           << " keys (event time = now) for " << l.value("duration", std::string("?"))
           << " after a " << l.value("warmup", std::string("?")) << " warm-up, grace "
           << l.value("grace", std::string("?"))
           << ", 20 probe ticks/s each under its own key; latency = produce to the first "
              "rollup of the probe's key readable with read_committed.\n\n";
  }
  md_out << md.str() << "\n";
  md_out << "Machine: " << meta.value("machine", nlohmann::ordered_json::object()).dump() << "\n\n";
  md_out << "Versions: " << meta.value("versions", nlohmann::ordered_json::object()).dump()
         << "\n\n";
  if (!runs.empty()) {
    md_out << "Rollups check \"ok\": every window's latest value (count, ticks) in the "
              "contender's rollup topic equals the brute-force count of the generated input (so "
              "auditor and Kafka Streams also equal each other).\n";
    if (meta.contains("notes")) md_out << "\n" << meta.at("notes").get<std::string>() << "\n";
  }

  nlohmann::ordered_json out = {{"meta", meta},     {"summary", summary_json},
                                {"ratios", ratios}, {"scale", scale},
                                {"runs", runs},     {"latency", latency}};
  std::ofstream json_out(out_json);
  json_out << out.dump(2) << "\n";
  if (!json_out.flush() || !md_out.flush()) fail("cannot write the results");
  std::cout << md.str();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: auditor_bench_tool load|create|wait|dump|dlq-stats|delete|latency|report "
                 "--option value ...\n";
    return 2;
  }
  const std::string cmd = argv[1];
  const Args args(argc, argv, 2);
  try {
    if (cmd == "load") return cmd_load(args);
    if (cmd == "wait") return cmd_wait(args);
    if (cmd == "dump") return cmd_dump(args);
    if (cmd == "dlq-stats") return cmd_dlq_stats(args);
    if (cmd == "delete") return cmd_delete(args);
    if (cmd == "report") return cmd_report(args);
    if (cmd == "latency") return cmd_latency(args);
    if (cmd == "create") return cmd_create(args);
  } catch (const std::exception& e) {
    fail(cmd + ": " + e.what());
  }
  std::cerr << "unknown subcommand " << cmd << "\n";
  return 2;
}
