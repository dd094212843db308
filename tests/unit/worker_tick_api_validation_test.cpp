// Tick API validation without a broker: FastAPI-style errors, and the contract that every
// tick the API accepts is accepted by the worker's parser (topology/tick_parser.h), byte
// for byte as it is produced.
#include <gtest/gtest.h>

#include "topology/tick_parser.h"
#include "worker/tick_api/validation.h"

namespace auditor::tick_api {
namespace {

using nlohmann::json;
using Params = std::multimap<std::string, std::string>;

Errors errors_of(const Validated<TickInput>& v) {
  const auto* e = std::get_if<Errors>(&v);
  return e != nullptr ? *e : Errors{};
}

TEST(TickApiValidation, QueryParametersLastOneWins) {
  const auto v = tick_from_query(
      {{"process_name", "a"}, {"process_name", "b"}, {"process_activity", "x"}, {"count", "+4"}});
  ASSERT_TRUE(std::holds_alternative<TickInput>(v));
  EXPECT_EQ(std::get<TickInput>(v).process_name, "b");
  EXPECT_EQ(std::get<TickInput>(v).count, 4);
}

TEST(TickApiValidation, ReportsEveryBadFieldAtOnce) {
  const auto errors = errors_of(tick_from_query({{"process_name", ""}, {"count", "x"}}));
  ASSERT_EQ(errors.size(), 3U);
  EXPECT_EQ(errors[0].loc, json({"query", "process_name"}));
  EXPECT_EQ(errors[0].type, "string_too_short");
  EXPECT_EQ(errors[1].loc, json({"query", "process_activity"}));
  EXPECT_EQ(errors[1].type, "missing");
  EXPECT_EQ(errors[2].loc, json({"query", "count"}));
  EXPECT_EQ(errors[2].type, "int_parsing");
  const auto body = error_body(errors);
  EXPECT_EQ(body.at("detail").size(), 3U);
  EXPECT_EQ(body.dump().rfind(R"({"detail":[{"type":"string_too_short","loc":["query",)", 0), 0U);
}

TEST(TickApiValidation, NamesAreLimitedInBytesNotCharacters) {
  // 128 two-byte characters = 256 bytes: allowed; one more character is not.
  std::string name;
  for (int i = 0; i < 128; ++i) name += "\xc3\xa9";
  EXPECT_TRUE(std::holds_alternative<TickInput>(
      tick_from_query({{"process_name", name}, {"process_activity", "a"}})));
  EXPECT_EQ(errors_of(tick_from_query({{"process_name", name + "e"}, {"process_activity", "a"}}))
                .at(0)
                .type,
            "string_too_long");
}

TEST(TickApiValidation, RejectsMalformedUtf8InQueries) {
  for (const char* bad : {"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\xe2\x82"}) {
    EXPECT_EQ(
        errors_of(tick_from_query({{"process_name", bad}, {"process_activity", "a"}})).at(0).type,
        "string_unicode")
        << bad;
  }
}

TEST(TickApiValidation, JsonCountBounds) {
  const auto count_error = [](const std::string& count) {
    const auto errors = errors_of(
        tick_from_json(R"({"process_name":"p","process_activity":"a","count":)" + count + "}"));
    return errors.empty() ? std::string("ok") : errors.at(0).type;
  };
  EXPECT_EQ(count_error("0"), "greater_than_equal");
  EXPECT_EQ(count_error("-1"), "greater_than_equal");
  EXPECT_EQ(count_error("1"), "ok");
  EXPECT_EQ(count_error("1000000000"), "ok");
  EXPECT_EQ(count_error("1000000001"), "less_than_equal");
  EXPECT_EQ(count_error("18446744073709551615"), "less_than_equal");
  // A number without a fraction is an integer to JSON Schema and to the seed's pydantic
  // (schemathesis found `"count": 549568574.0` refused, which the document allows).
  EXPECT_EQ(count_error("1e3"), "ok");
  EXPECT_EQ(count_error("2.0"), "ok");
  EXPECT_EQ(count_error("1000000000.0"), "ok");
  EXPECT_EQ(count_error("1.5"), "int_from_float");
  EXPECT_EQ(count_error("0.0"), "greater_than_equal");
  EXPECT_EQ(count_error("-2.0"), "greater_than_equal");
  EXPECT_EQ(count_error("1e10"), "less_than_equal");
  EXPECT_EQ(count_error("1e300"), "less_than_equal");
  EXPECT_EQ(count_error("\"5\""), "int_type");
  EXPECT_EQ(count_error("true"), "int_type");
  const auto two = tick_from_json(R"({"process_name":"p","process_activity":"a","count":2.0})");
  ASSERT_TRUE(std::holds_alternative<TickInput>(two));
  EXPECT_EQ(record_value(std::get<TickInput>(two)),
            R"({"process_name":"p","process_activity":"a","count":2})");
}

TEST(TickApiValidation, BatchErrorsNameTheElement) {
  const auto v = ticks_from_json(R"([{"process_name":"a","process_activity":"b"},{"count":2}])");
  const auto* errors = std::get_if<Errors>(&v);
  ASSERT_NE(errors, nullptr);
  ASSERT_EQ(errors->size(), 2U);
  EXPECT_EQ((*errors)[0].loc, json({"body", 1, "process_name"}));
  EXPECT_EQ((*errors)[1].loc, json({"body", 1, "process_activity"}));
}

// Found by fuzz/tick_api_validation_fuzz: nlohmann throws out_of_range, not parse_error,
// for a number beyond double's range, and it escaped validation (a 500, not a 422).
TEST(TickApiValidation, NumberBeyondDoubleIsJsonInvalid) {
  const std::string body = R"({"process_name":"a","process_activity":"b","x":1e400})";
  const auto single = errors_of(tick_from_json(body));
  ASSERT_EQ(single.size(), 1U);
  EXPECT_EQ(single[0].type, "json_invalid");
  EXPECT_EQ(single[0].loc, json({"body", 52}));
  const auto batch = ticks_from_json("[" + body + "]");
  const auto* errors = std::get_if<Errors>(&batch);
  ASSERT_NE(errors, nullptr);
  EXPECT_EQ(errors->at(0).type, "json_invalid");
}

TEST(TickApiValidation, KeyIsCanonicalAndUnambiguous) {
  const TickInput a{"a|b", "c", 1};
  const TickInput b{"a", "b|c", 1};
  EXPECT_NE(record_key(a), record_key(b));
  EXPECT_EQ(record_key(a), R"({"process_activity":"c","process_name":"a|b"})");
}

TEST(TickApiValidation, WhatTheApiAcceptsTheWorkerAccepts) {
  std::string long_name;
  for (int i = 0; i < 64; ++i) long_name += "\xf0\x9f\x98\x80";  // 256 bytes of emoji
  const std::vector<std::string> bodies = {
      R"({"process_name":"auth","process_activity":"login"})",
      R"({"process_name":"a\"b\\c","process_activity":"\u0000\n","count":1000000000})",
      json{{"process_name", long_name}, {"process_activity", "</script>"}, {"count", 1}}.dump(),
      R"({"process_name":"x","process_activity":"y","count":1,"extra":{"deep":[1,2]}})",
  };
  TickParser parser;
  for (const auto& body : bodies) {
    const auto v = tick_from_json(body);
    ASSERT_TRUE(std::holds_alternative<TickInput>(v)) << body;
    const auto& tick = std::get<TickInput>(v);
    const std::string record = record_value(tick);
    const auto parsed = parser.parse(record.data(), record.size());
    ASSERT_TRUE(parsed.tick) << record << ": " << parsed.error->message;
    EXPECT_EQ(parsed.tick->process_name, tick.process_name);
    EXPECT_EQ(parsed.tick->process_activity, tick.process_activity);
    EXPECT_EQ(parsed.tick->count, tick.count);
  }
}

// POST /tick with a body and query parameters (schemathesis found the API answering 200 to
// `?count=0` with a valid body: the document declares both, so both are validated).
TEST(TickApiValidation, QueryParametersBesideABodyAreValidatedToo) {
  const std::string body = R"({"process_name":"p","process_activity":"a","count":2})";
  const auto ok = tick_from_request({{"count", "3"}}, body);
  ASSERT_TRUE(std::holds_alternative<TickInput>(ok));
  EXPECT_EQ(std::get<TickInput>(ok).count, 2);  // the body's tick, not the query's
  const auto bad = errors_of(tick_from_request({{"count", "0"}, {"process_name", ""}}, "{}"));
  ASSERT_EQ(bad.size(), 4U);  // the present query parameters first, then the body's
  EXPECT_EQ(bad[0].loc, json({"query", "process_name"}));
  EXPECT_EQ(bad[1].loc, json({"query", "count"}));
  EXPECT_EQ(bad[1].type, "greater_than_equal");
  EXPECT_EQ(bad[2].loc, json({"body", "process_name"}));
  EXPECT_EQ(bad[2].type, "missing");
  // Without a body the query is the tick: missing parameters are errors there.
  EXPECT_EQ(errors_of(tick_from_request({}, "")).size(), 2U);
}

}  // namespace
}  // namespace auditor::tick_api
