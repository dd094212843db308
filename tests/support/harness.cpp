#include "tests/support/harness.h"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

#include "topology/repartition_record.h"

namespace auditor::it {
namespace {

struct Civil {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days).
Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned day = doy - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b < 0) ? q - 1 : q;
}

// "YYYY-MM-DDTHH:MM:SS" of `ms` (milliseconds ignored).
std::string date_time(std::int64_t ms) {
  const std::int64_t days = floor_div(ms, kDay);
  const std::int64_t in_day = (ms - days * kDay) / kSecond;
  const Civil c = civil_from_days(days);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld",
                static_cast<long long>(c.year), c.month, c.day,
                static_cast<long long>(in_day / 3600), static_cast<long long>(in_day / 60 % 60),
                static_cast<long long>(in_day % 60));
  return buf;
}

std::int64_t millis_of(std::int64_t ms) {
  return ms - floor_div(ms, kSecond) * kSecond;
}

}  // namespace

const std::filesystem::path& work_dir() {
  static const std::filesystem::path dir =
      std::filesystem::read_symlink("/proc/self/exe").parent_path() / "work";
  return dir;
}

std::string utc_text(std::int64_t ms) {
  std::string out = date_time(ms);
  if (std::int64_t frac = millis_of(ms); frac != 0) {
    char buf[8];
    std::snprintf(buf, sizeof buf, ".%03lld", static_cast<long long>(frac));
    out += buf;
  }
  return out + "Z";
}

std::string rfc3339_with_offset(std::int64_t ms, int offset_minutes, int fraction_digits,
                                char extra) {
  std::string out = date_time(ms + offset_minutes * kMinute);
  if (fraction_digits > 0) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%03lld", static_cast<long long>(millis_of(ms)));
    std::string frac = buf;
    frac.resize(static_cast<std::size_t>(fraction_digits), extra);
    out += "." + frac;
  }
  const int off = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", offset_minutes < 0 ? '-' : '+', off / 60, off % 60);
  return out + buf;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t utc_day_start(int days_back) {
  return (floor_div(now_ms(), kDay) - days_back) * kDay;
}

std::string rollup_key(const std::string& name, const std::string& activity,
                       const std::string& window, std::int64_t start_ms) {
  // nlohmann objects are std::map-ordered and dump() writes no spaces and keeps UTF-8.
  nlohmann::json key = {{"process_name", name},
                        {"process_activity", activity},
                        {"window", window},
                        {"window_start", utc_text(start_ms)}};
  return key.dump();
}

std::string tick_json(const std::string& name, const std::string& activity,
                      std::optional<std::int64_t> count,
                      const std::optional<std::string>& timestamp) {
  std::string out = "{\"process_name\":" + nlohmann::json(name).dump() +
                    ",\"process_activity\":" + nlohmann::json(activity).dump();
  if (count) out += ",\"count\":" + std::to_string(*count);
  if (timestamp) out += ",\"timestamp\":" + *timestamp;
  return out + "}";
}

void ExpectedRollups::add(const std::string& name, const std::string& activity,
                          std::int64_t event_ms, std::int64_t count, unsigned late_mask) {
  ++ticks_;
  for (std::size_t i = 0; i < std::size(kWindows); ++i) {
    if ((late_mask & (1u << i)) != 0) continue;
    const std::int64_t start = floor_div(event_ms, kWindows[i].ms) * kWindows[i].ms;
    const std::string key = rollup_key(name, activity, kWindows[i].name, start);
    ends_.emplace(key, utc_text(start + kWindows[i].ms));
    Counts& c = windows_[key];
    c.count += count;
    c.ticks += 1;
  }
}

int repartition_partition(const Key& key, int partitions) {
  return auditor::partition_for(auditor::encode_repartition_key(key.name, key.activity), partitions)
      .value;
}

bool is_sentinel(const std::string& process_name) {
  return process_name == "~sentinel";
}

std::vector<Key> tricky_keys() {
  const std::vector<std::string> names = {
      "auth",        "a|b",          "a",       "quote\"d",
      "back\\slash", "ünïcødé 服务", "emoji 😀", std::string("nul\0byte", 8)};
  const std::vector<std::string> activities = {"login", "c", "b|c", "tab\tact"};
  std::vector<Key> keys;
  for (const auto& n : names) {
    for (const auto& a : activities) keys.push_back({n, a});
  }
  std::string e_acute_128;
  for (int i = 0; i < 128; ++i) e_acute_128 += "é";
  keys.push_back({std::string(256, 'x'), "long name"});
  keys.push_back({"auth", e_acute_128});
  keys.push_back({e_acute_128, e_acute_128});
  return keys;
}

std::vector<test::OutRecord> random_ticks(const std::vector<Key>& keys, int n, int partitions,
                                          std::int64_t from, std::int64_t span, std::uint64_t seed,
                                          ExpectedRollups& expected) {
  std::mt19937_64 rng(seed);
  const std::int64_t now = now_ms();
  std::vector<test::OutRecord> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const Key& key = keys[static_cast<std::size_t>(i / partitions) % keys.size()];
    const auto event = from + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(span));
    std::optional<std::int64_t> count;
    if (rng() % 20 != 0) count = 1 + static_cast<std::int64_t>(rng() % 1000);
    test::OutRecord r;
    r.partition = i % partitions;
    r.timestamp_ms = now;
    switch (rng() % 4) {
      case 0:
        r.timestamp_ms = event;
        r.value = tick_json(key.name, key.activity, count);
        break;
      case 1:
        r.value = tick_json(key.name, key.activity, count, "\"" + utc_text(event) + "\"");
        break;
      case 2: {
        const int offset = rng() % 2 == 0 ? 330 : -480;  // +05:30, -08:00
        r.value = tick_json(key.name, key.activity, count,
                            "\"" + rfc3339_with_offset(event, offset, 6) + "\"");
        break;
      }
      default:
        r.value = tick_json(key.name, key.activity, count, std::to_string(event));
        break;
    }
    expected.add(key.name, key.activity, event, count.value_or(1));
    out.push_back(std::move(r));
  }
  return out;
}

void send_sentinels(test::Producer& producer, const std::string& topic, int input_partitions,
                    std::int64_t event_ms) {
  for (int p = 0; p < input_partitions; ++p) {
    producer.send(
        topic,
        {p, std::nullopt,
         tick_json("~sentinel", "input-" + std::to_string(p), 1, std::to_string(event_ms)), 0});
  }
}

LatenessModel::LatenessModel(int input_partitions, std::int64_t grace_ms)
    : times_(static_cast<std::size_t>(input_partitions)), grace_ms_(grace_ms) {}

unsigned LatenessModel::next(int partition, std::int64_t event_ms) {
  std::optional<std::int64_t>& time = times_.at(static_cast<std::size_t>(partition));
  unsigned mask = 0;
  if (time) {
    for (std::size_t i = 0; i < std::size(kWindows); ++i) {
      const std::int64_t end = (floor_div(event_ms, kWindows[i].ms) + 1) * kWindows[i].ms;
      if (*time >= end + grace_ms_) mask |= 1u << i;
    }
  }
  if (!time || event_ms > *time) time = event_ms;
  if (mask != 0) ++late_ticks_;
  return mask;
}

std::optional<std::int64_t> LatenessModel::partition_time(int partition) const {
  return times_.at(static_cast<std::size_t>(partition));
}

std::string late_error(unsigned late_mask) {
  std::string out = "late: ";
  bool first = true;
  for (std::size_t i = 0; i < std::size(kWindows); ++i) {
    if ((late_mask & (1u << i)) == 0) continue;
    if (!first) out += ",";
    out += kWindows[i].name;
    first = false;
  }
  return out;
}

namespace {

std::optional<std::int64_t> header_int(const Record& r, const std::string& name) {
  const auto text = r.header(name);
  if (!text || text->empty()) return std::nullopt;
  std::size_t used = 0;
  try {
    const long long v = std::stoll(*text, &used);
    if (used != text->size()) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool is_late_letter(const Record& r) {
  const auto error = r.header("error");
  return error && error->starts_with("late:");
}

}  // namespace

std::size_t count_late_dead_letters(const std::vector<Record>& records) {
  std::size_t n = 0;
  for (const Record& r : records) n += is_late_letter(r) ? 1 : 0;
  return n;
}

std::vector<std::string> late_dead_letter_problems(const std::vector<Record>& records,
                                                   const std::string& input_topic,
                                                   const LateTicks& expected,
                                                   std::size_t* counted) {
  std::vector<std::string> problems;
  std::map<SourceOffset, int> seen;
  std::size_t n = 0;
  for (const Record& r : records) {
    if (!is_late_letter(r)) continue;
    ++n;
    const std::string error = *r.header("error");
    const std::string where = "dlq p" + std::to_string(r.partition) + "@" +
                              std::to_string(r.offset) + " (\"" + error + "\")";
    const auto partition = header_int(r, "source.partition");
    const auto offset = header_int(r, "source.offset");
    if (r.header("source.topic") != input_topic || !partition || !offset ||
        r.header_count("source.topic") != 1 || r.header_count("source.partition") != 1 ||
        r.header_count("source.offset") != 1 || r.header_count("error") != 1) {
      problems.push_back(where + ": source headers missing, repeated or wrong (topic " +
                         r.header("source.topic").value_or("<none>") + ", partition " +
                         r.header("source.partition").value_or("<none>") + ", offset " +
                         r.header("source.offset").value_or("<none>") +
                         "); value: " + r.value.value_or("<null>").substr(0, 200));
      continue;
    }
    const SourceOffset at{static_cast<std::int32_t>(*partition), *offset};
    const std::string source =
        "input p" + std::to_string(at.first) + "@" + std::to_string(at.second);
    const auto it = expected.find(at);
    if (it == expected.end()) {
      problems.push_back(where + ": " + source + " was not late in its own partition; value: " +
                         r.value.value_or("<null>").substr(0, 200));
      continue;
    }
    if (++seen[at] > 1) problems.push_back(where + ": " + source + " dead-lettered again");
    if (error != it->second.error) {
      problems.push_back(where + ": " + source + " expected error \"" + it->second.error + "\"");
    }
    if (r.value != it->second.value) {
      problems.push_back(where + ": " + source + " value is not the original tick: got " +
                         r.value.value_or("<null>").substr(0, 200) + ", sent " +
                         it->second.value.substr(0, 200));
    }
  }
  std::size_t missing = 0;
  for (const auto& [at, tick] : expected) {
    if (seen.contains(at)) continue;
    if (++missing <= 10) {
      problems.push_back("late tick input p" + std::to_string(at.first) + "@" +
                         std::to_string(at.second) + " (\"" + tick.error +
                         "\") not dead-lettered: " + tick.value.substr(0, 200));
    }
  }
  if (missing > 10) {
    problems.push_back("... " + std::to_string(missing) + " late ticks not dead-lettered in all");
  }
  if (counted != nullptr) *counted = n;
  return problems;
}

RollupView::RollupView(const std::string& topic, Deadline topic_deadline)
    : reader_(topic, topic_deadline, /*read_committed=*/true) {}

void RollupView::poll(std::chrono::milliseconds wait) {
  reader_.poll(wait);
  for (; folded_ < reader_.records().size(); ++folded_) fold(reader_.records()[folded_]);
}

void RollupView::fold(const Record& r) {
  const std::string where =
      "output p" + std::to_string(r.partition) + "@" + std::to_string(r.offset) + ": ";
  if (!r.key) {
    violations_.push_back(where + "null key");
    return;
  }
  const std::string& key = *r.key;
  if (auto [it, inserted] = partition_of_.emplace(key, r.partition);
      !inserted && it->second != r.partition) {
    violations_.push_back(where + "key also in partition " + std::to_string(it->second) + ": " +
                          key);
  }
  if (!r.value) {
    violations_.push_back(where + "tombstone for " + key);
    return;
  }
  nlohmann::json k;
  nlohmann::json v;
  try {
    k = nlohmann::json::parse(key);
    v = nlohmann::json::parse(*r.value);
  } catch (const std::exception& e) {
    violations_.push_back(where + "unparsable JSON (" + e.what() + "): " + key + " = " + *r.value);
    return;
  }
  // The key must be canonical, and the value must describe the same window.
  if (k.dump() != key) violations_.push_back(where + "key not canonical: " + key);
  for (const char* field : {"process_name", "process_activity", "window", "window_start"}) {
    if (!k.contains(field) || !v.contains(field) || k[field] != v[field]) {
      violations_.push_back(where + "field " + field + " differs between key and value: " + key +
                            " = " + *r.value);
      return;
    }
  }
  if (!v.contains("count") || !v["count"].is_number_integer() || !v.contains("ticks") ||
      !v["ticks"].is_number_integer() || !v.contains("final") || !v["final"].is_boolean() ||
      !v.contains("window_end") || !v["window_end"].is_string()) {
    violations_.push_back(where + "value lacks count/ticks/final/window_end: " + *r.value);
    return;
  }
  Latest& latest = latest_[key];
  if (latest.final) {
    violations_.push_back(where + "record after the final one: " + key + " = " + *r.value);
  }
  latest.counts = {v["count"].get<std::int64_t>(), v["ticks"].get<std::int64_t>()};
  latest.final = v["final"].get<bool>();
  latest.window_end = v["window_end"].get<std::string>();
  if (latest.final && ++latest.finals > 1) {
    violations_.push_back(where + "second final for " + key);
  }
}

std::size_t RollupView::missing_finals(const ExpectedRollups& expected) const {
  std::size_t missing = 0;
  for (const auto& [key, counts] : expected.windows()) missing += is_final(key) ? 0 : 1;
  return missing;
}

bool RollupView::is_final(const std::string& key) const {
  auto it = latest_.find(key);
  return it != latest_.end() && it->second.final;
}

std::vector<std::string> RollupView::diff(const ExpectedRollups& expected) const {
  auto show = [](const Counts& c) {
    return "count " + std::to_string(c.count) + " ticks " + std::to_string(c.ticks);
  };
  std::vector<std::string> out;
  for (const auto& [key, want] : expected.windows()) {
    auto it = latest_.find(key);
    if (it == latest_.end()) {
      out.push_back("missing " + key + " (expected " + show(want) + ")");
    } else if (!it->second.final) {
      out.push_back("not final " + key + " (latest " + show(it->second.counts) + ", expected " +
                    show(want) + ")");
    } else if (it->second.counts != want) {
      out.push_back("wrong " + key + ": got " + show(it->second.counts) + ", expected " +
                    show(want));
    } else if (it->second.window_end != expected.window_end(key)) {
      out.push_back("wrong window_end " + it->second.window_end + " for " + key + ", expected " +
                    expected.window_end(key));
    }
  }
  for (const auto& [key, got] : latest_) {
    if (expected.windows().contains(key)) continue;
    std::string name;
    try {
      name = nlohmann::json::parse(key).value("process_name", "");
    } catch (const std::exception&) {
    }
    if (!is_sentinel(name)) out.push_back("unexpected window " + key + ": " + show(got.counts));
  }
  return out;
}

WorkerConfig unique_worker_config(const std::string& test_name) {
  const std::string suffix = test::unique_suffix();
  WorkerConfig c;
  c.app_id = "it-" + test_name + "-" + suffix;
  c.input_topic = "it." + test_name + ".events." + suffix;
  c.output_topic = "it." + test_name + ".rollups." + suffix;
  c.dlq_topic = "it." + test_name + ".dlq." + suffix;
  c.state_dir = work_dir() / "state" / c.app_id;
  std::filesystem::create_directories(c.state_dir);
  return c;
}

std::filesystem::path auditor_binary() {
  const char* env = std::getenv("AUDITOR_BINARY");
  return env != nullptr && *env != '\0' ? env : AUDITOR_BINARY;
}

std::vector<std::string> worker_args(const WorkerConfig& c, const std::filesystem::path& state_dir,
                                     const std::optional<std::string>& instance_id) {
  std::vector<std::string> args = {"worker",
                                   "--bootstrap-servers",
                                   test::bootstrap_servers(),
                                   "--application-id",
                                   c.app_id,
                                   "--input-topic",
                                   c.input_topic,
                                   "--output-topic",
                                   c.output_topic,
                                   "--dlq-topic",
                                   c.dlq_topic,
                                   "--windows",
                                   "1m,1h,1d",
                                   "--state-dir",
                                   state_dir.string(),
                                   "--emit",
                                   c.emit,
                                   "--guarantee",
                                   c.guarantee,
                                   "--http-port",
                                   "0",
                                   "--log-level",
                                   "info"};
  auto optional = [&](const char* flag, const std::string& value) {
    if (value.empty()) return;
    args.emplace_back(flag);
    args.push_back(value);
  };
  optional("--grace", c.grace);
  optional("--commit-interval", c.commit_interval);
  optional("--idle-timeout", c.idle_timeout);
  if (instance_id) optional("--instance-id", *instance_id);
  args.insert(args.end(), c.extra_args.begin(), c.extra_args.end());
  return args;
}

std::unique_ptr<ChildProcess> start_worker(const WorkerConfig& c, int run) {
  return std::make_unique<ChildProcess>(
      auditor_binary(), worker_args(c, c.state_dir),
      work_dir() / "logs" / (c.app_id + "-run" + std::to_string(run) + ".log"));
}

ResetRun run_reset(const WorkerConfig& c, const std::string& tag, bool dry_run) {
  std::vector<std::string> args = {"reset",
                                   "--bootstrap-servers",
                                   test::bootstrap_servers(),
                                   "--application-id",
                                   c.app_id,
                                   "--input-topic",
                                   c.input_topic,
                                   "--state-dir",
                                   c.state_dir.string(),
                                   "--to-earliest",
                                   "--delete-state"};
  if (dry_run) args.push_back("--dry-run");
  const auto log = work_dir() / "logs" / (c.app_id + "-reset-" + tag + ".log");
  ChildProcess p(auditor_binary(), args, log);
  ResetRun out;
  const auto status = p.wait(Clock::now() + std::chrono::seconds(90));
  if (status && status->exited) out.code = status->code;
  out.report = "reset " + tag + ": " +
               (status ? status->describe() : std::string("still running after 90 s")) + "; log " +
               log.string() + ":\n" + p.log_tail(30);
  return out;
}

bool wait_for(const std::function<bool()>& done, Deadline deadline, ChildProcess& worker) {
  for (;;) {
    if (done()) return true;
    if (!worker.running() || Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

bool input_consumed(const WorkerConfig& config, int input_partitions) {
  const auto ends = test::end_offsets(config.input_topic, input_partitions);
  const auto committed =
      test::committed_offsets(config.app_id, config.input_topic, input_partitions);
  return committed == ends;
}

std::string stop_worker(ChildProcess& worker, std::chrono::milliseconds limit) {
  if (!worker.running()) return "worker had already exited: " + worker_report(worker);
  const auto start = Clock::now();
  worker.signal(SIGTERM);
  auto status = worker.wait(start + limit);
  if (!status) {
    return "worker still running " + std::to_string(limit.count()) + " ms after SIGTERM\n" +
           worker_report(worker);
  }
  if (!status->clean()) return "worker ended with " + status->describe() + " after SIGTERM";
  return "";
}

namespace {

// Topics of passed tests, deleted once the test has ended and every reader of them is
// gone: librdkafka 2.0's destroy of a reader still assigned to a deleted topic can hang
// (seen here; librdkafka #3007). Developers' long-lived brokers thus lose the topics;
// under CI (CI=true) the broker is thrown away with the machine and nothing is deleted.
class DeferredTopicDeletion : public ::testing::Environment {
 public:
  void add(std::vector<std::string> topics) {
    topics_.insert(topics_.end(), topics.begin(), topics.end());
  }
  void TearDown() override {
    if (!topics_.empty()) test::delete_topics(topics_);
    topics_.clear();
  }

 private:
  std::vector<std::string> topics_;
};

DeferredTopicDeletion& deferred_deletion() {
  // Owned by GoogleTest once registered.
  static auto* const deletion = static_cast<DeferredTopicDeletion*>(
      ::testing::AddGlobalTestEnvironment(new DeferredTopicDeletion));
  return *deletion;
}

}  // namespace

void clean_up(const WorkerConfig& config) {
  const char* ci = std::getenv("CI");
  if (ci == nullptr || std::string_view(ci) != "true") {
    deferred_deletion().add({config.input_topic, config.output_topic, config.dlq_topic,
                             config.app_id + "-ticks-repartition",
                             config.app_id + "-rollups-changelog"});
  }
  std::error_code ignored;
  std::filesystem::remove_all(config.state_dir, ignored);
}

std::string worker_report(ChildProcess& worker) {
  std::string fate = worker.running() ? "still running" : worker.exit_status()->describe();
  return "worker pid " + std::to_string(worker.pid()) + " " + fate + "; log " +
         worker.log_file().string() + ", last lines:\n" + worker.log_tail(40);
}

std::string first_lines(const std::vector<std::string>& lines, std::size_t max) {
  std::string out;
  for (std::size_t i = 0; i < lines.size() && i < max; ++i) out += "  " + lines[i] + "\n";
  if (lines.size() > max) out += "  ... and " + std::to_string(lines.size() - max) + " more\n";
  return out;
}

}  // namespace auditor::it
