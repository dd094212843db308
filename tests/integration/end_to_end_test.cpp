// Test A: the whole pipeline against a real broker.
//
// ~20,000 valid unkeyed ticks over tricky keys, spread round-robin over all 6 input
// partitions (so every key is split across partitions and only the repartition step can
// make its counts right), interleaved with every kind of bad record; then ticks made late
// on purpose; then one sentinel per input partition, which closes every window. The final
// rollups must equal a brute-force count exactly, and the dead-letter topic must hold each
// bad and late record.
//
// Lateness is decided per tick against its own input partition (DESIGN.md, "Event time").
// Grace is 1h, longer than the 30 minutes the data spans: each partition's ticks come in
// random event-time order, but none of them can be late in its own partition, so exact
// equality is deterministic. Lateness is provoked explicitly: "advancer" ticks push some
// partitions' times an hour or two ahead, and ticks produced after them into the same
// partitions are late for 1m (or 1m and 1h).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <iostream>

#include "tests/support/harness.h"

namespace auditor::it {
namespace {

using namespace std::chrono_literals;

constexpr int kPartitions = 6;

// How a bad record's `error` header must look: the contract fixes the field or category
// it names, not the wording.
struct Reason {
  enum Kind { kStartsWith, kContains } kind;
  std::string text;  // kContains compares case-insensitively
};

struct BadCase {
  std::string label;
  std::optional<std::string> value;  // nullopt: a record with a null value
  Reason reason;
};

Reason starts(std::string t) {
  return {Reason::kStartsWith, std::move(t)};
}
Reason contains(std::string t) {
  return {Reason::kContains, std::move(t)};
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool matches(const Reason& r, const std::string& error) {
  if (r.kind == Reason::kStartsWith) return error.starts_with(r.text);
  return lower(error).find(lower(r.text)) != std::string::npos;
}

std::string describe(const Reason& r) {
  return (r.kind == Reason::kStartsWith ? "starting with \"" : "containing \"") + r.text + "\"";
}

// `{"process_name":"a","process_activity":"b", <extra>}`
std::string obj(const std::string& extra) {
  return R"({"process_name":"a","process_activity":"b",)" + extra + "}";
}

// A JSON object of exactly `size` bytes that is otherwise a valid tick.
std::string padded_tick(std::size_t size, std::int64_t event_ms) {
  std::string head = R"({"process_name":"auth","process_activity":"login","count":3,"timestamp":)" +
                     std::to_string(event_ms) + R"(,"pad":")";
  return head + std::string(size - head.size() - 2, 'p') + "\"}";
}

std::vector<BadCase> bad_cases(std::int64_t event_ms) {
  const std::string ts = std::to_string(event_ms);
  std::string e_acute_129;
  for (int i = 0; i < 129; ++i) e_acute_129 += "é";  // 129 characters, 258 bytes
  return {
      // Not parseable as JSON at all.
      {"not JSON", std::string("{not json"), contains("json")},
      {"empty value", std::string(), contains("json")},
      {"truncated object", std::string(R"({"process_name":"a","process_activity":"b")"),
       contains("json")},
      {"trailing garbage", R"({"process_name":"a","process_activity":"b"} x)", contains("json")},
      // JSON, not an object.
      {"array", std::string("[1,2,3]"), contains("object")},
      {"string", std::string(R"("tick")"), contains("object")},
      {"number", std::string("42"), contains("object")},
      {"JSON null", std::string("null"), contains("object")},
      // Names: missing, wrong type, empty, too long (bytes, not characters), duplicated.
      {"process_name missing", std::string(R"({"process_activity":"b","count":2})"),
       contains("process_name")},
      {"process_activity missing", std::string(R"({"process_name":"a"})"),
       contains("process_activity")},
      {"process_name number", std::string(R"({"process_name":7,"process_activity":"b"})"),
       starts("process_name")},
      {"process_name object", std::string(R"({"process_name":{"x":1},"process_activity":"b"})"),
       starts("process_name")},
      {"process_activity null", std::string(R"({"process_name":"a","process_activity":null})"),
       starts("process_activity")},
      {"process_name empty", std::string(R"({"process_name":"","process_activity":"b"})"),
       starts("process_name")},
      {"process_activity empty", std::string(R"({"process_name":"a","process_activity":""})"),
       starts("process_activity")},
      {"process_name 257 bytes", tick_json(std::string(257, 'n'), "b", 1), starts("process_name")},
      {"process_activity 258 bytes", tick_json("a", e_acute_129, 1), starts("process_activity")},
      {"process_name duplicated",
       std::string(R"({"process_name":"a","process_name":"z","process_activity":"b"})"),
       contains("process_name")},
      // count: out of range, not an integer.
      {"count 0", obj(R"("count":0)"), starts("count")},
      {"count negative", obj(R"("count":-5)"), starts("count")},
      {"count 1e9+1", obj(R"("count":1000000001)"), starts("count")},
      {"count 2^63", obj(R"("count":9223372036854775808)"), starts("count")},
      {"count 1.5", obj(R"("count":1.5)"), starts("count")},
      {"count string", obj(R"("count":"5")"), starts("count")},
      {"count bool", obj(R"("count":true)"), starts("count")},
      // timestamp: not RFC 3339 / epoch ms, impossible date, out of range, wrong type.
      {"timestamp text", obj(R"("timestamp":"yesterday")"), starts("timestamp")},
      {"timestamp Feb 30", obj(R"("timestamp":"2026-02-30T10:00:00Z")"), starts("timestamp")},
      {"timestamp without offset", obj(R"("timestamp":"2026-01-10T10:00:00")"),
       starts("timestamp")},
      {"timestamp bool", obj(R"("timestamp":true)"), starts("timestamp")},
      {"timestamp fraction", obj(R"("timestamp":1.5)"), starts("timestamp")},
      {"timestamp year 10000+", obj(R"("timestamp":999999999999999999)"), starts("timestamp")},
      // Bytes: invalid UTF-8 in a name and in an ignored field, overlong and surrogate
      // encodings, a truncated sequence; a null value; over 64 KiB.
      {"invalid UTF-8 0xff", std::string("{\"process_name\":\"\xff\",\"process_activity\":\"b\"}"),
       contains("utf-8")},
      {"invalid UTF-8 in ignored field", obj("\"note\":\"\xfe\xff\""), contains("utf-8")},
      {"overlong UTF-8", std::string("{\"process_name\":\"\xc0\xaf\",\"process_activity\":\"b\"}"),
       contains("utf-8")},
      {"UTF-8 surrogate",
       std::string("{\"process_name\":\"\xed\xa0\x80\",\"process_activity\":\"b\"}"),
       contains("utf-8")},
      {"truncated UTF-8", std::string("{\"process_name\":\"\xe2\x82\",\"process_activity\":\"b\"}"),
       contains("utf-8")},
      {"null value", std::nullopt, contains("null")},
      {"65537 bytes", padded_tick(65537, event_ms), contains("65536")},
  };
}

std::optional<std::int64_t> to_int(const std::optional<std::string>& s) {
  if (!s || s->empty()) return std::nullopt;
  std::size_t used = 0;
  try {
    long long v = std::stoll(*s, &used);
    if (used != s->size()) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Where a bad record landed, from the producer's delivery report.
struct SentBad {
  const BadCase* bad_case;
  test::Delivery at;
};

// The dead-letter contract: each bad record exactly once, found by its source headers,
// with the original bytes and a one-line reason of the right category; each late tick
// exactly once, as its original bytes with the sizes it missed; nothing else (a valid tick
// there is a bug).
std::vector<std::string> check_dead_letters(const std::vector<Record>& records,
                                            const std::string& input_topic,
                                            const std::vector<SentBad>& bad,
                                            const LateTicks& late) {
  std::vector<std::string> problems = late_dead_letter_problems(records, input_topic, late);
  std::vector<int> seen(bad.size(), 0);
  for (const Record& r : records) {
    const std::string where =
        "dlq p" + std::to_string(r.partition) + "@" + std::to_string(r.offset);
    const auto error = r.header("error");
    if (!error) {
      problems.push_back(where + ": no error header");
      continue;
    }
    if (error->find('\n') != std::string::npos) {
      problems.push_back(where + ": error header spans lines: " + *error);
    }
    if (error->starts_with("late:")) continue;  // late_dead_letter_problems checked it
    const auto source_partition = to_int(r.header("source.partition"));
    const auto source_offset = to_int(r.header("source.offset"));
    if (r.header("source.topic") != input_topic || !source_partition || !source_offset) {
      problems.push_back(where + ": bad source headers (topic " +
                         r.header("source.topic").value_or("<none>") + ", partition " +
                         r.header("source.partition").value_or("<none>") + ", offset " +
                         r.header("source.offset").value_or("<none>") + "), error " + *error);
      continue;
    }
    std::size_t b = 0;
    while (b < bad.size() &&
           (bad[b].at.partition != *source_partition || bad[b].at.offset != *source_offset)) {
      ++b;
    }
    if (b == bad.size()) {
      problems.push_back(where + ": a record that is not bad was dead-lettered (source p" +
                         std::to_string(*source_partition) + "@" + std::to_string(*source_offset) +
                         ", error \"" + *error +
                         "\"): " + r.value.value_or("<null>").substr(0, 200));
      continue;
    }
    ++seen[b];
    const BadCase& c = *bad[b].bad_case;
    if (!matches(c.reason, *error)) {
      problems.push_back("[" + c.label + "] error \"" + *error + "\", expected one " +
                         describe(c.reason));
    }
    // A null value may come back null or empty; anything else byte for byte.
    const bool same_bytes = c.value ? r.value == c.value : (!r.value || r.value->empty());
    if (!same_bytes) problems.push_back("[" + c.label + "] value is not the original");
  }
  for (std::size_t b = 0; b < bad.size(); ++b) {
    if (seen[b] != 1) {
      problems.push_back("[" + bad[b].bad_case->label + "] dead-lettered " +
                         std::to_string(seen[b]) + " times, expected once");
    }
  }
  return problems;
}

TEST(EndToEnd, FinalRollupsEqualBruteForceAndEveryBadRecordIsDeadLettered) {
  const WorkerConfig cfg = unique_worker_config("e2e");
  std::cerr << "app id " << cfg.app_id << "\n";
  test::create_topic(cfg.input_topic, kPartitions);

  // Data lies in [10:00, 10:30) of a UTC day three days back; sentinels two days later
  // close even the 1d windows (day end + 1h grace) and are still in the past.
  const std::int64_t day = utc_day_start(3);
  const std::int64_t base = day + 10 * kHour;
  const std::uint64_t seed = static_cast<std::uint64_t>(now_ms());
  std::cerr << "seed " << seed << "\n";

  ExpectedRollups expected;
  const std::vector<Key> keys = tricky_keys();
  std::vector<test::OutRecord> valid =
      random_ticks(keys, 20'000, kPartitions, base, 30 * kMinute, seed, expected);

  // K and K2: keys in different tasks, made late below. K gets a tick in W = [10:05, 10:06)
  // so W exists; boundary ticks: count 1e9, exactly 64 KiB, an event at W's last ms given
  // with sub-ms digits (truncation keeps it in W; rounding would move it).
  const Key k = keys[0];
  const Key k2 = *std::find_if(keys.begin(), keys.end(), [&](const Key& c) {
    return repartition_partition(c, kPartitions) != repartition_partition(k, kPartitions);
  });
  const std::int64_t w = base + 5 * kMinute;
  valid.push_back({1, std::nullopt, tick_json(k.name, k.activity, 2, std::to_string(w + 5000)), 0});
  expected.add(k.name, k.activity, w + 5000, 2);
  valid.push_back({2, std::nullopt,
                   tick_json(k.name, k.activity, 1'000'000'000,
                             "\"" + rfc3339_with_offset(w + kMinute - 1, 0, 9, '9') + "\""),
                   0});
  expected.add(k.name, k.activity, w + kMinute - 1, 1'000'000'000);
  valid.push_back({3, std::nullopt, padded_tick(65536, base + 17 * kMinute), 0});
  expected.add("auth", "login", base + 17 * kMinute, 3);

  // Bad records are interleaved with the valid ones, one partition after another.
  const std::vector<BadCase> bad = bad_cases(base + kMinute);
  std::vector<std::size_t> bad_seq(bad.size());
  test::Producer producer;
  const std::size_t every = valid.size() / bad.size();
  auto send_range = [&](std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
      producer.send(cfg.input_topic, valid[i]);
      if (i % every == 0 && i / every < bad.size()) {
        const std::size_t b = i / every;
        bad_seq[b] = producer.send(cfg.input_topic, {static_cast<std::int32_t>(b % kPartitions),
                                                     std::nullopt, bad[b].value, 0});
      }
    }
    producer.flush(deadline_in(60s));
  };

  // Half before the worker starts (a backlog read from the earliest offset), half while
  // it runs.
  const auto started = Clock::now();
  send_range(0, valid.size() / 2);
  auto worker = start_worker(cfg, 1);
  send_range(valid.size() / 2, valid.size());

  const int repartitions =
      test::wait_for_topic(cfg.app_id + "-ticks-repartition", deadline_in(60s));
  EXPECT_EQ(repartitions, kPartitions) << "repartition topic must have the input's partitions";

  ASSERT_TRUE(wait_for([&] { return input_consumed(cfg, kPartitions); }, deadline_in(90s), *worker))
      << "stage 1 did not commit all input offsets\n"
      << worker_report(*worker);
  std::cerr << "input consumed after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()
            << " ms\n";

  // Phase 2, late ticks, each one late in its own input partition. Advancers first: K at
  // 11:10 into partitions 0-2 (1m windows ending by 10:10 are then behind those partitions
  // by more than the 1h grace; the 10:00 hour is not, until 12:00) and K2 at 12:10 into
  // partitions 3 and 4 (its 10:00 hour too). Then the late ticks into the same partitions,
  // after their advancer: late for W only (counted in 1h and 1d), and for 1m and 1h
  // (counted in 1d). Then one sentinel per input partition, after everything else in it:
  // order within each partition is all that decides; no waiting in between.
  RollupView view(cfg.output_topic, deadline_in(30s));
  LatenessModel lateness(kPartitions, kHour);  // grace 1h
  // Every partition's data lies before 10:30: as far as lateness goes, it stands for it all.
  for (int p = 0; p < kPartitions; ++p) (void)lateness.next(p, base + 30 * kMinute);
  auto send_advancer = [&](const Key& key, std::int32_t partition, std::int64_t event_ms,
                           std::int64_t count) {
    producer.send(cfg.input_topic,
                  {partition, std::nullopt,
                   tick_json(key.name, key.activity, count, std::to_string(event_ms)), 0});
    EXPECT_EQ(lateness.next(partition, event_ms), 0u);
    expected.add(key.name, key.activity, event_ms, count);
  };
  for (std::int32_t p = 0; p < 3; ++p) send_advancer(k, p, base + 70 * kMinute, 4);
  for (std::int32_t p = 3; p < 5; ++p) send_advancer(k2, p, base + 130 * kMinute, 6);

  struct SentLate {
    std::size_t seq;
    std::string value;
    unsigned mask;
  };
  std::vector<SentLate> sent_late;
  auto send_late = [&](const Key& key, std::int32_t partition, std::int64_t event_ms,
                       std::int64_t count, unsigned mask) {
    const std::string value = tick_json(key.name, key.activity, count, std::to_string(event_ms));
    sent_late.push_back(
        {producer.send(cfg.input_topic, {partition, std::nullopt, value, 0}), value, mask});
    EXPECT_EQ(lateness.next(partition, event_ms), mask)
        << "the test's own late mask disagrees with the lateness model";
    expected.add(key.name, key.activity, event_ms, count, mask);
  };
  send_late(k, 0, w + 10'000, 7, kLate1m);
  send_late(k, 1, w + 20'500, 11, kLate1m);
  send_late(k, 2, w + 59'999, 13, kLate1m);
  send_late(k2, 3, base + 20 * kMinute + 1000, 5, kLate1m | kLate1h);
  send_late(k2, 4, base + 20 * kMinute + 2000, 9, kLate1m | kLate1h);
  send_sentinels(producer, cfg.input_topic, kPartitions, day + 2 * kDay + kHour);
  producer.flush(deadline_in(30s));
  LateTicks late;
  for (const auto& l : sent_late) {
    const test::Delivery& at = producer.delivery(l.seq);
    late[{at.partition, at.offset}] = {late_error(l.mask), l.value};
  }

  const bool all_final = wait_for(
      [&] {
        view.poll(300ms);
        return view.missing_finals(expected) == 0;
      },
      deadline_in(90s), *worker);
  // Anything published after the last final (duplicates, stray windows) shows up here.
  view.poll(1500ms);
  test::TopicReader dlq(cfg.dlq_topic, deadline_in(30s));
  (void)wait_for(
      [&] {
        dlq.poll(300ms);
        return count_late_dead_letters(dlq.records()) >= late.size() &&
               dlq.records().size() >= late.size() + bad.size();
      },
      deadline_in(30s), *worker);
  dlq.poll(500ms);
  std::cerr << "all final after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()
            << " ms; " << view.records() << " rollup records, " << expected.windows().size()
            << " expected windows, " << expected.ticks() << " valid ticks\n";
  EXPECT_TRUE(all_final) << view.missing_finals(expected) << " windows without a final value\n"
                         << worker_report(*worker);

  EXPECT_TRUE(view.violations().empty()) << "output contract violations:\n"
                                         << first_lines(view.violations());
  const auto differences = view.diff(expected);
  EXPECT_TRUE(differences.empty()) << differences.size() << " differences from brute force:\n"
                                   << first_lines(differences);

  std::vector<SentBad> sent_bad;
  for (std::size_t b = 0; b < bad.size(); ++b) {
    sent_bad.push_back({&bad[b], producer.delivery(bad_seq[b])});
  }
  const auto dlq_problems = check_dead_letters(dlq.records(), cfg.input_topic, sent_bad, late);
  EXPECT_TRUE(dlq_problems.empty()) << dlq_problems.size() << " dead-letter problems:\n"
                                    << first_lines(dlq_problems, 60);

  const auto policy = test::topic_config(cfg.output_topic, "cleanup.policy");
  EXPECT_TRUE(policy && policy->find("compact") != std::string::npos)
      << "output topic cleanup.policy is " << policy.value_or("<unset>");

  const std::string stopped = stop_worker(*worker, 10s);
  EXPECT_EQ(stopped, "");
  if (HasFailure()) {
    std::cerr << worker_report(*worker);
  } else {
    clean_up(cfg);
  }
}

}  // namespace
}  // namespace auditor::it
