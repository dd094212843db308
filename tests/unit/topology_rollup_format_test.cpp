#include <gtest/gtest.h>

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

TEST(RollupFormat, LateRecord) {
  EXPECT_EQ(late_record_json("auth", "log\"in", EventTime{1'795'340'820'250}, 12, 3),
            R"({"process_name":"auth","process_activity":"log\"in",)"
            R"("event_time":"2026-11-22T09:47:00.250Z","count":12,"ticks":3})");
}

}  // namespace
}  // namespace auditor
