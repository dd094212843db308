#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "topology/rollup_format.h"

namespace auditor {
namespace {

const EventTime k0947{1'795'340'820'000};  // 2026-11-22T09:47:00Z

WindowKey key(std::string name, std::string activity, DurationMs size = DurationMs{60'000},
              EventTime start = k0947) {
  return WindowKey{size, start, std::move(name), std::move(activity)};
}

TEST(RollupFormat, DesignExampleKey) {
  EXPECT_EQ(rollup_key_json(key("auth", "login")),
            R"({"process_activity":"login","process_name":"auth","window":"1m",)"
            R"("window_start":"2026-11-22T09:47:00Z"})");
}

TEST(RollupFormat, DesignExampleValue) {
  EXPECT_EQ(rollup_value_json(Rollup{key("auth", "login"), WindowCounts{1234, 57}, false}),
            R"({"process_name":"auth","process_activity":"login","window":"1m",)"
            R"("window_start":"2026-11-22T09:47:00Z","window_end":"2026-11-22T09:48:00Z",)"
            R"("count":1234,"ticks":57,"final":false})");
  EXPECT_EQ(rollup_value_json(Rollup{key("a", "b", DurationMs{86'400'000}, EventTime{0}),
                                     WindowCounts{9'000'000'000'000, 9'000}, true}),
            R"({"process_name":"a","process_activity":"b","window":"1d",)"
            R"("window_start":"1970-01-01T00:00:00Z","window_end":"1970-01-02T00:00:00Z",)"
            R"("count":9000000000000,"ticks":9000,"final":true})");
}

TEST(RollupFormat, CanonicalEscaping) {
  // Quotes, backslashes and control characters are escaped (short forms where JSON has
  // them); other UTF-8 and '|' stay as they are, so byte-identical names give
  // byte-identical keys and different names different keys.
  const std::string name = std::string("a\"b\\c|\x01\x1f\n\t\r\b\f/\x7f") + "\xc3\xa9\xe2\x82\xac";
  EXPECT_EQ(rollup_key_json(key(name, std::string("\0", 1))),
            "{\"process_activity\":\"\\u0000\",\"process_name\":"
            "\"a\\\"b\\\\c|\\u0001\\u001f\\n\\t\\r\\b\\f/\x7f\xc3\xa9\xe2\x82\xac\","
            "\"window\":\"1m\",\"window_start\":\"2026-11-22T09:47:00Z\"}");
  EXPECT_NE(rollup_key_json(key("a|b", "c")), rollup_key_json(key("a", "b|c")));
}

TEST(RollupFormat, SubMinuteWindowsAndMilliseconds) {
  EXPECT_EQ(rollup_key_json(key("a", "b", DurationMs{1'500}, EventTime{1'500})),
            R"({"process_activity":"b","process_name":"a","window":"1500ms",)"
            R"("window_start":"1970-01-01T00:00:01.500Z"})");
}

TEST(RollupFormat, InvalidUtf8NeverThrows) {
  // Cannot come from a validated tick; a corrupt record must not stop the worker.
  EXPECT_NO_THROW((void)rollup_key_json(key("\xff", "b")));
  EXPECT_NO_THROW((void)rollup_value_json(Rollup{key("\xff", "b"), WindowCounts{1, 1}, false}));
}

// The reference the hand-written formatter must match byte for byte: what the worker
// published when it built rollups with nlohmann::json.
std::string reference_value_json(const Rollup& r) {
  nlohmann::ordered_json j;
  j["process_name"] = r.key.process_name;
  j["process_activity"] = r.key.process_activity;
  j["window"] = r.key.size.value == 60'000 ? "1m" : "1h";
  j["window_start"] = "2026-11-22T09:47:00Z";
  j["window_end"] = r.key.size.value == 60'000 ? "2026-11-22T09:48:00Z" : "2026-11-22T10:47:00Z";
  j["count"] = r.counts.count;
  j["ticks"] = r.counts.ticks;
  j["final"] = r.final;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

TEST(RollupFormat, MatchesNlohmannForEveryByte) {
  // Every single byte, inside ASCII text and at the edges, plus UTF-8 sequences valid
  // and broken: the fast path and the escaping path must agree with the reference.
  std::vector<std::string> names = {"",
                                    "auth",
                                    "\xc3\xa9t\xc3\xa9",
                                    "\xe2\x82",
                                    "a\xf0\x9f\x98\x80"
                                    "b",
                                    "\xed\xa0\x80",
                                    "\xc0\xaf"};
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    names.push_back(std::string(1, c));
    names.push_back(std::string("ab") + c + "cd");
  }
  RollupFormatter formatter;
  for (const std::string& name : names) {
    for (const DurationMs size : {DurationMs{60'000}, DurationMs{3'600'000}}) {
      const Rollup rollup{key(name, "act" + name, size), WindowCounts{-5, 1}, size.value > 60'000};
      formatter.format(rollup);
      EXPECT_EQ(formatter.value(), reference_value_json(rollup)) << "name bytes: " << name;
      EXPECT_EQ(formatter.key(), rollup_key_json(rollup.key));
    }
  }
}

TEST(RollupFormat, FormatterReusesWindowTextOnlyForTheSameWindow) {
  RollupFormatter formatter;
  formatter.format(Rollup{key("a", "b"), WindowCounts{1, 1}, false});
  formatter.format(
      Rollup{key("a", "b", DurationMs{60'000}, EventTime{0}), WindowCounts{1, 1}, false});
  EXPECT_EQ(formatter.key(), R"({"process_activity":"b","process_name":"a","window":"1m",)"
                             R"("window_start":"1970-01-01T00:00:00Z"})");
  formatter.format(
      Rollup{key("a", "b", DurationMs{3'600'000}, EventTime{0}), WindowCounts{1, 1}, false});
  EXPECT_EQ(formatter.value(),
            R"({"process_name":"a","process_activity":"b","window":"1h",)"
            R"("window_start":"1970-01-01T00:00:00Z","window_end":"1970-01-01T01:00:00Z",)"
            R"("count":1,"ticks":1,"final":false})");
}

TEST(RollupFormat, LateRecord) {
  EXPECT_EQ(late_record_json("auth", "log\"in", EventTime{1'795'340'820'250}, 12, 3),
            R"({"process_name":"auth","process_activity":"log\"in",)"
            R"("event_time":"2026-11-22T09:47:00.250Z","count":12,"ticks":3})");
}

}  // namespace
}  // namespace auditor
