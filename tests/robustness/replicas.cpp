#include "tests/robustness/replicas.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>

#include "tests/support/prometheus_text.h"

namespace auditor::rb {
namespace {

using namespace std::chrono_literals;

// <build>/tests/robustness/work (the harness's work dir of robustness_tests).
const std::filesystem::path& work_dir() {
  return it::work_dir();
}

std::filesystem::path binary() {
  return it::auditor_binary();
}

// "2026-11-22T09:47:00.123Z info  [restore] ..." -> seconds since midnight of that day.
std::optional<double> log_time(const std::string& line) {
  if (line.size() < 24 || line[10] != 'T' || line[23] != 'Z') return std::nullopt;
  try {
    const double h = std::stod(line.substr(11, 2));
    const double m = std::stod(line.substr(14, 2));
    const double s = std::stod(line.substr(17, 6));
    return h * 3600 + m * 60 + s;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

WorkerConfig robustness_config(const std::string& test_name) {
  const std::string suffix = test::unique_suffix();
  WorkerConfig c;
  c.app_id = "rb-" + test_name + "-" + suffix;
  c.input_topic = "rb." + test_name + ".events." + suffix;
  c.output_topic = "rb." + test_name + ".rollups." + suffix;
  c.dlq_topic = "rb." + test_name + ".dlq." + suffix;
  c.state_dir = work_dir() / "state" / c.app_id;
  // Each input partition gets ticks in random event-time order over at most 30 minutes, and
  // grace is 1h: no tick is late in its own partition (DESIGN.md, "Event time"), so the
  // brute-force model counts every tick.
  c.grace = "1h";
  // For checking that the tests can fail: AUDITOR_RB_GUARANTEE=at-least-once must make the
  // crash storm count some ticks twice.
  if (const char* g = std::getenv("AUDITOR_RB_GUARANTEE"); g != nullptr && *g != '\0') {
    c.guarantee = g;
  }
  std::filesystem::create_directories(c.state_dir);
  return c;
}

std::vector<Key> make_keys(int n) {
  std::vector<Key> keys;
  keys.reserve(static_cast<std::size_t>(n));
  const std::vector<Key> tricky = it::tricky_keys();
  for (int i = 0; i < n; ++i) {
    if (i % 97 == 0 && static_cast<std::size_t>(i / 97) < tricky.size()) {
      keys.push_back(tricky[static_cast<std::size_t>(i / 97)]);
    } else {
      keys.push_back({"proc-" + std::to_string(i / 10), "act-" + std::to_string(i % 10)});
    }
  }
  return keys;
}

TickSource::TickSource(std::vector<Key> keys, std::int64_t from, std::int64_t span,
                       std::uint64_t seed)
    : keys_(std::move(keys)), from_(from), span_(span), rng_(seed), now_(it::now_ms()) {}

test::OutRecord TickSource::next(ExpectedRollups& expected) {
  const Key& key = keys_[rng_() % keys_.size()];
  const std::int64_t event =
      from_ + static_cast<std::int64_t>(rng_() % static_cast<std::uint64_t>(span_));
  std::optional<std::int64_t> count;
  if (rng_() % 10 != 0) count = 1 + static_cast<std::int64_t>(rng_() % 1000);
  test::OutRecord r;
  r.partition = static_cast<std::int32_t>(n_++ % kPartitions);
  r.timestamp_ms = now_;  // a payload time must win over the record time
  switch (rng_() % 3) {
    case 0:
      r.timestamp_ms = event;
      r.value = it::tick_json(key.name, key.activity, count);
      break;
    case 1:
      r.value = it::tick_json(key.name, key.activity, count, "\"" + it::utc_text(event) + "\"");
      break;
    default:
      r.value = it::tick_json(key.name, key.activity, count, std::to_string(event));
      break;
  }
  expected.add(key.name, key.activity, event, count.value_or(1));
  return r;
}

PacedProducer::PacedProducer(std::string topic, TickSource source, int chunk,
                             std::chrono::milliseconds pause, std::int64_t max_ticks,
                             ExpectedRollups expected)
    : topic_(std::move(topic)),
      source_(std::move(source)),
      chunk_(chunk),
      pause_(pause),
      max_ticks_(max_ticks),
      expected_(std::move(expected)) {}

PacedProducer::~PacedProducer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void PacedProducer::start() {
  thread_ = std::thread([this] { run(); });
}

void PacedProducer::join() {
  if (thread_.joinable()) thread_.join();
  if (error_) std::rethrow_exception(error_);
}

void PacedProducer::run() {
  try {
    test::Producer producer;
    std::int64_t sent = 0;
    std::int64_t bursts = 0;
    while (sent < max_ticks_ && !stop_) {
      for (int i = 0; i < chunk_ && sent < max_ticks_; ++i, ++sent) {
        producer.send(topic_, source_.next(expected_));
      }
      const std::int64_t extra = burst_.exchange(0);
      for (std::int64_t i = 0; i < extra; ++i) producer.send(topic_, source_.next(expected_));
      bursts += extra;
      producer.flush(deadline_in(60s));
      acknowledged_ = sent + bursts;
      if (sent < max_ticks_ && !stop_) std::this_thread::sleep_for(pause_);
    }
  } catch (...) {
    error_ = std::current_exception();
  }
  done_ = true;
}

Replica::Replica(const WorkerConfig& config, std::string name,
                 std::optional<std::string> instance_id,
                 std::optional<std::filesystem::path> state_dir)
    : config_(config),
      name_(std::move(name)),
      instance_id_(std::move(instance_id)),
      state_dir_(state_dir.value_or(config.state_dir / name_)) {
  std::filesystem::create_directories(state_dir_);
}

void Replica::start() {
  ++runs_;
  std::vector<std::string> args = it::worker_args(config_, state_dir_, instance_id_);
  if (launcher_) {
    args.insert(args.begin(), binary().string());
    args.insert(args.begin(), launcher_args_.begin(), launcher_args_.end());
    process_ = std::make_unique<ChildProcess>(*launcher_, args, log());
    return;
  }
  process_ = std::make_unique<ChildProcess>(binary(), args, log());
}

std::filesystem::path Replica::log(int run) const {
  return work_dir() / "logs" /
         (config_.app_id + "-" + name_ + "-run" + std::to_string(run) + ".log");
}

bool Replica::running() {
  return process_ && process_->running();
}

void Replica::send(int sig) {
  if (process_) process_->signal(sig);
}

void Replica::kill_and_reap() {
  if (!process_) return;
  process_->signal(SIGKILL);
  (void)process_->wait(deadline_in(10s));
}

std::string Replica::stop(std::chrono::milliseconds limit) {
  if (!process_) return name_ + " was never started";
  const std::string failure = it::stop_worker(*process_, limit);
  return failure.empty() ? "" : name_ + ": " + failure;
}

std::string Replica::report() {
  if (!process_) return name_ + ": never started";
  return name_ + " (run " + std::to_string(runs_) + "): " + it::worker_report(*process_);
}

std::vector<std::string> log_lines(const std::filesystem::path& log) {
  std::ifstream in(log);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(std::move(line));
  return out;
}

std::size_t count_lines(const std::filesystem::path& log, const std::string& text) {
  std::size_t n = 0;
  for (const auto& line : log_lines(log)) n += line.find(text) != std::string::npos ? 1 : 0;
  return n;
}

namespace {

// The task number after "task " in `line` if the line contains `marker` right after it
// ("task 3 assigned:", "task 3 revoked"), else nullopt.
std::optional<int> task_with(const std::string& line, const std::string& marker) {
  static const std::regex re(R"(\btask (\d+)(.*))");
  std::smatch m;
  if (!std::regex_search(line, m, re)) return std::nullopt;
  if (m[2].str().rfind(marker, 0) != 0) return std::nullopt;
  return std::stoi(m[1].str());
}

}  // namespace

std::set<int> all_tasks(int partitions) {
  std::set<int> s;
  for (int i = 0; i < partitions; ++i) s.insert(i);
  return s;
}

std::string show(const std::set<int>& tasks) {
  std::string out = "{";
  for (int t : tasks) out += (out.size() > 1 ? "," : "") + std::to_string(t);
  return out + "}";
}

std::set<int> assigned_tasks(const std::filesystem::path& log) {
  std::set<int> tasks;
  for (const auto& line : log_lines(log)) {
    if (auto t = task_with(line, " assigned:")) tasks.insert(*t);
    if (auto t = task_with(line, " revoked")) tasks.erase(*t);
  }
  return tasks;
}

std::set<int> running_tasks(const std::filesystem::path& log) {
  std::set<int> tasks;
  for (const auto& line : log_lines(log)) {
    if (auto t = task_with(line, " assigned:")) tasks.erase(*t);
    if (auto t = task_with(line, " running from repartition offset")) tasks.insert(*t);
    if (auto t = task_with(line, " revoked")) tasks.erase(*t);
  }
  return tasks;
}

std::optional<Assignment> latest_assignment(const std::filesystem::path& log) {
  static const std::regex re(R"(now (\d+) input partitions and (\d+) tasks)");
  std::optional<Assignment> out;
  for (const auto& line : log_lines(log)) {
    std::smatch m;
    if (std::regex_search(line, m, re)) out = Assignment{std::stoi(m[1]), std::stoi(m[2])};
  }
  return out;
}

std::vector<RestoreEvent> restore_events(const std::filesystem::path& log) {
  static const std::regex restoring(
      R"(task (\d+): restoring from changelog offset (\d+) \((local store kept|no local store)\))");
  static const std::regex restored(
      R"(task (\d+): restored (\d+) changelog records in ([0-9.]+) s)");
  std::vector<RestoreEvent> events;
  std::map<int, std::size_t> open;  // task -> index of its unfinished restore
  for (const auto& line : log_lines(log)) {
    std::smatch m;
    if (std::regex_search(line, m, restoring)) {
      RestoreEvent e;
      e.task = std::stoi(m[1].str());
      e.from_offset = std::stoll(m[2].str());
      e.local_store_kept = m[3].str() == "local store kept";
      e.started_at = log_time(line).value_or(0);
      open[e.task] = events.size();
      events.push_back(e);
    } else if (std::regex_search(line, m, restored)) {
      const int task = std::stoi(m[1].str());
      auto it = open.find(task);
      if (it == open.end()) continue;
      RestoreEvent& e = events[it->second];
      e.records = std::stoll(m[2].str());
      e.seconds = std::stod(m[3].str());
      e.finished_at = log_time(line).value_or(0);
      open.erase(it);
    }
  }
  return events;
}

RestoreSummary summarize(const std::vector<RestoreEvent>& events) {
  RestoreSummary s;
  double first = 0;
  double last = 0;
  for (const auto& e : events) {
    ++s.tasks;
    s.kept += e.local_store_kept ? 1 : 0;
    if (e.records < 0) {
      s.all_finished = false;
      continue;
    }
    s.records += e.records;
    s.max_task_seconds = std::max(s.max_task_seconds, e.seconds);
    if (s.tasks == 1 || e.started_at < first) first = e.started_at;
    last = std::max(last, e.finished_at);
  }
  s.wall_seconds = last >= first ? last - first : last + 86400 - first;
  return s;
}

std::string describe(const RestoreSummary& s) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "%d task restores (%d with the local store kept), %lld changelog records, "
                "%.2f s wall (slowest task %.2f s)%s",
                s.tasks, s.kept, static_cast<long long>(s.records), s.wall_seconds,
                s.max_task_seconds, s.all_finished ? "" : ", some unfinished");
  return buf;
}

std::optional<int> http_port(const std::filesystem::path& log) {
  static const std::regex listening(R"(listening on port (\d+))");
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, listening)) return std::stoi(m[1].str());
  }
  return std::nullopt;
}

std::string describe(const Shares& s) {
  std::string out = std::to_string(s.input_partitions) + "+" + std::to_string(s.tasks);
  std::vector<std::string> extra;
  if (s.restoring != 0) extra.push_back(std::to_string(s.restoring) + " restoring");
  if (s.running != s.tasks - s.restoring) extra.push_back(std::to_string(s.running) + " running");
  if (s.standby != 0) extra.push_back(std::to_string(s.standby) + " standby");
  for (std::size_t i = 0; i < extra.size(); ++i) out += (i == 0 ? " (" : ", ") + extra[i];
  return extra.empty() ? out : out + ")";
}

std::optional<Shares> read_shares(Replica& replica, std::string* why) {
  auto fail = [&](const std::string& reason) -> std::optional<Shares> {
    if (why != nullptr) *why = replica.name() + ": " + reason;
    return std::nullopt;
  };
  const auto port = http_port(replica.log());
  if (!port) return fail("no \"listening on port\" in " + replica.log().string() + " yet");
  httplib::Client client("127.0.0.1", *port);
  client.set_connection_timeout(1, 0);
  client.set_read_timeout(2, 0);
  const auto res = client.Get("/metrics");
  if (!res) {
    return fail("GET /metrics on port " + std::to_string(*port) + ": " +
                httplib::to_string(res.error()));
  }
  if (res->status != 200) return fail("GET /metrics answered " + std::to_string(res->status));
  const test::Exposition e = test::parse_exposition(res->body);
  Shares s;
  struct Gauge {
    const char* name;
    const char* state;  // the `state` label, or nullptr for none
    int* field;
  };
  for (const Gauge& g : {Gauge{"auditor_assigned_input_partitions", nullptr, &s.input_partitions},
                         Gauge{"auditor_assigned_tasks", nullptr, &s.tasks},
                         Gauge{"auditor_tasks", "restoring", &s.restoring},
                         Gauge{"auditor_tasks", "running", &s.running},
                         Gauge{"auditor_tasks", "standby", &s.standby}}) {
    test::Labels labels;
    if (g.state != nullptr) labels["state"] = g.state;
    const auto v = e.value(g.name, labels);
    if (!v) {
      return fail(std::string("no ") + g.name +
                  (g.state != nullptr ? std::string("{state=\"") + g.state + "\"}" : "") +
                  " in /metrics");
    }
    *g.field = static_cast<int>(*v);
  }
  return s;
}

std::string wait_until(const std::function<bool()>& done, Deadline deadline,
                       const std::vector<Replica*>& must_live, const std::string& what) {
  const auto started = Clock::now();
  for (;;) {
    try {
      if (done()) return "";
    } catch (const std::exception& e) {
      std::cerr << "  (" << what << ": " << e.what() << "; retrying)\n";
    }
    for (Replica* r : must_live) {
      if (!r->running()) return what + ": replica exited meanwhile\n" + r->report();
    }
    if (Clock::now() >= deadline) {
      std::string out = what + ": timed out after " +
                        std::to_string(static_cast<int>(seconds_since(started))) + " s\n";
      for (Replica* r : must_live) out += r->report() + "\n";
      return out;
    }
    std::this_thread::sleep_for(250ms);
  }
}

std::vector<std::string> stop_all(const std::vector<Replica*>& replicas,
                                  std::chrono::milliseconds limit) {
  std::vector<std::string> failures;
  std::vector<Replica*> signalled;
  for (Replica* r : replicas) {
    if (!r->running()) {
      failures.push_back(r->name() + " had already exited: " + r->report());
      continue;
    }
    r->send(SIGTERM);
    signalled.push_back(r);
  }
  const Deadline deadline = deadline_in(limit);
  for (Replica* r : signalled) {
    const auto status = r->process().wait(deadline);
    if (!status) {
      failures.push_back(r->name() + " still running " + std::to_string(limit.count()) +
                         " ms after SIGTERM: " + r->report());
    } else if (!status->clean()) {
      failures.push_back(r->name() + " ended with " + status->describe() +
                         " after SIGTERM: " + r->report());
    }
  }
  return failures;
}

bool input_consumed(const WorkerConfig& config) {
  return it::input_consumed(config, kPartitions);
}

std::string changelog_topic(const WorkerConfig& config) {
  return config.app_id + "-rollups-changelog";
}

std::vector<std::int64_t> changelog_ends(const WorkerConfig& config) {
  return test::end_offsets(changelog_topic(config), kPartitions);
}

bool QuietChangelog::operator()() {
  if (!input_consumed(config_)) {
    last_.clear();
    return false;
  }
  auto ends = changelog_ends(config_);
  if (ends != last_) {
    last_ = std::move(ends);
    since_ = Clock::now();
    return false;
  }
  return Clock::now() - since_ >= quiet_;
}

std::string Verdict::describe() const {
  std::ostringstream out;
  if (!wait_failure.empty()) out << wait_failure << "\n";
  if (missing_finals != 0) out << missing_finals << " windows without a final value\n";
  if (!violations.empty()) {
    out << violations.size() << " output contract violations:\n" << it::first_lines(violations);
  }
  if (!differences.empty()) {
    out << differences.size() << " differences from the brute-force count:\n"
        << it::first_lines(differences);
  }
  if (dead_letters != 0) {
    out << dead_letters << " dead letters (none expected), first: " << first_dead_letter << "\n";
  }
  return out.str();
}

std::vector<std::string> decreasing_updates(const std::string& output_topic,
                                            std::size_t* records_read) {
  const auto records =
      test::consume_all(output_topic, {.idle = 1500ms, .deadline = deadline_in(60s)});
  if (records_read != nullptr) *records_read = records.size();
  std::map<std::string, std::pair<Counts, std::int64_t>> last;  // key -> counts, offset
  std::vector<std::string> out;
  for (const auto& r : records) {
    if (!r.key || !r.value) continue;  // RollupView reports those
    Counts c;
    try {
      const auto v = nlohmann::json::parse(*r.value);
      c = {v.at("count").get<std::int64_t>(), v.at("ticks").get<std::int64_t>()};
    } catch (const std::exception&) {
      continue;
    }
    auto [it, inserted] = last.try_emplace(*r.key, c, r.offset);
    if (!inserted) {
      const Counts& before = it->second.first;
      if (c.count < before.count || c.ticks < before.ticks) {
        out.push_back("p" + std::to_string(r.partition) + "@" + std::to_string(r.offset) + " " +
                      *r.key + ": count " + std::to_string(c.count) + " ticks " +
                      std::to_string(c.ticks) + " after count " + std::to_string(before.count) +
                      " ticks " + std::to_string(before.ticks) + " at @" +
                      std::to_string(it->second.second));
      }
      it->second = {c, r.offset};
    }
  }
  return out;
}

CleanUpOnSuccess::~CleanUpOnSuccess() {
  if (::testing::Test::HasFailure()) return;
  try {
    it::clean_up(config_);
  } catch (const std::exception& e) {
    std::cerr << "clean-up: " << e.what() << "\n";
  }
}

Scenario::Scenario(const std::string& test_name, const std::string& emit)
    : cfg(robustness_config(test_name)) {
  cfg.emit = emit;
  std::cerr << "app id " << cfg.app_id << "\n";
  test::create_topic(cfg.input_topic, kPartitions);
  day = it::utc_day_start(3);
  seed = static_cast<std::uint64_t>(it::now_ms());
  std::cerr << "seed " << seed << "\n";
}

Verdict close_windows_and_compare(const WorkerConfig& config, RollupView& view,
                                  const ExpectedRollups& expected, std::int64_t data_day,
                                  const std::vector<Replica*>& must_live,
                                  std::chrono::seconds limit, int input_partitions) {
  Verdict v;
  {
    test::Producer producer;
    it::send_sentinels(producer, config.input_topic, input_partitions,
                       data_day + 2 * it::kDay + it::kHour);
    producer.flush(deadline_in(30s));
  }
  v.wait_failure = wait_until(
      [&] {
        // Counting the missing finals takes seconds with millions of windows: only once a
        // poll brought nothing new.
        const std::size_t before = view.records();
        view.poll(300ms);
        return view.records() == before && view.missing_finals(expected) == 0;
      },
      deadline_in(limit), must_live, "waiting for every window's final value");
  view.poll(1000ms);  // anything published after the finals (would be a violation)
  v.missing_finals = view.missing_finals(expected);
  v.violations = view.violations();
  v.differences = view.diff(expected);
  const auto dead =
      test::consume_all(config.dlq_topic, {.idle = 500ms, .deadline = deadline_in(5s)});
  v.dead_letters = dead.size();
  if (!dead.empty()) v.first_dead_letter = dead.front().header("error").value_or("<no error>");
  return v;
}

}  // namespace auditor::rb
