#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

#include "topology/tick_parser.h"

namespace auditor {
namespace {

using R = InvalidReason;

class TickParserTest : public ::testing::Test {
 protected:
  TickParseResult parse(std::string_view json) { return parser_.parse(json.data(), json.size()); }

  Tick expect_tick(std::string_view json) {
    TickParseResult r = parse(json);
    EXPECT_TRUE(r.tick.has_value()) << json << " -> " << (r.error ? r.error->message : "");
    EXPECT_FALSE(r.error.has_value());
    return r.tick.value_or(Tick{});
  }

  // Checks the reason and that the message starts with `prefix` and is one line.
  void expect_error(std::string_view json, InvalidReason reason, std::string_view prefix) {
    TickParseResult r = parse(json);
    ASSERT_FALSE(r.tick.has_value()) << json;
    ASSERT_TRUE(r.error.has_value()) << json;
    EXPECT_EQ(reason_label(r.error->reason), reason_label(reason))
        << json << " -> " << r.error->message;
    EXPECT_EQ(r.error->message.substr(0, prefix.size()), prefix) << json;
    EXPECT_EQ(r.error->message.find_first_of("\r\n"), std::string::npos) << r.error->message;
  }

  TickParser parser_;
};

// A valid tick with `extra` spliced in as further fields.
std::string tick_with(std::string_view extra) {
  return R"({"process_name":"auth","process_activity":"login")" + std::string(extra) + "}";
}

TEST_F(TickParserTest, ParsesTheSeedContract) {
  const Tick t = expect_tick(R"({"process_name":"auth","process_activity":"login","count":5})");
  EXPECT_EQ(t.process_name, "auth");
  EXPECT_EQ(t.process_activity, "login");
  EXPECT_EQ(t.count, 5);
  EXPECT_FALSE(t.timestamp.has_value());
}

TEST_F(TickParserTest, AbsentCountIsOne) {
  EXPECT_EQ(expect_tick(tick_with("")).count, 1);
}

TEST_F(TickParserTest, CountBounds) {
  EXPECT_EQ(expect_tick(tick_with(R"(,"count":1)")).count, 1);
  EXPECT_EQ(expect_tick(tick_with(R"(,"count":1000000000)")).count, 1'000'000'000);
}

TEST_F(TickParserTest, AnyFieldOrderAndWhitespace) {
  const Tick t = expect_tick(
      " \n\t{ \"count\" : 7 ,\r\n \"process_activity\":\"b\" , \"process_name\" : \"a\" } \n ");
  EXPECT_EQ(t.process_name, "a");
  EXPECT_EQ(t.process_activity, "b");
  EXPECT_EQ(t.count, 7);
}

TEST_F(TickParserTest, Timestamps) {
  EXPECT_EQ(expect_tick(tick_with(R"(,"timestamp":"2026-11-22T09:47:00Z")")).timestamp,
            EventTime{1'795'340'820'000});
  EXPECT_EQ(expect_tick(tick_with(R"(,"timestamp":"2026-11-22T10:47:00.5+01:00")")).timestamp,
            EventTime{1'795'340'820'500});
  EXPECT_EQ(expect_tick(tick_with(R"(,"timestamp":1795340820000)")).timestamp,
            EventTime{1'795'340'820'000});
  EXPECT_EQ(expect_tick(tick_with(R"(,"timestamp":0)")).timestamp, EventTime{0});
  EXPECT_EQ(expect_tick(tick_with(R"(,"timestamp":-1)")).timestamp, EventTime{-1});
  EXPECT_EQ(expect_tick(tick_with(R"(,"timestamp":-62167219200000)")).timestamp, kMinEventTime);
  EXPECT_EQ(expect_tick(tick_with(R"(,"timestamp":253402300799999)")).timestamp, kMaxEventTime);
}

TEST_F(TickParserTest, EscapedNamesAreUnescaped) {
  const Tick t = expect_tick(R"({"process_name":"a\"|b","process_activity":"\u00e9\\\/\n"})");
  EXPECT_EQ(t.process_name, "a\"|b");
  EXPECT_EQ(t.process_activity, "\xc3\xa9\\/\n");
  // A surrogate pair becomes one 4-byte character.
  EXPECT_EQ(expect_tick(R"({"process_name":"\ud83d\ude00","process_activity":"x"})").process_name,
            "\xf0\x9f\x98\x80");
  // Raw UTF-8 and the NUL character are names like any other.
  EXPECT_EQ(expect_tick(R"({"process_name":"日本","process_activity":"\u0000"})").process_activity,
            std::string_view("\0", 1));
}

TEST_F(TickParserTest, EscapedKeysAreRecognised) {
  const Tick t =
      expect_tick(R"({"process\u005fname":"a","\u0070rocess_activity":"b","c\u006funt":3})");
  EXPECT_EQ(t.process_name, "a");
  EXPECT_EQ(t.process_activity, "b");
  EXPECT_EQ(t.count, 3);
}

TEST_F(TickParserTest, OtherFieldsAreIgnored) {
  const Tick t = expect_tick(
      R"({"x":{"process_name":7,"count":"no"},"process_name":"a","y":[1,{"a":[]},"s",null],)"
      R"("process_activity":"b","z":null,"w":true,"f":false,"v":-1.5e-3,"big":123456789012345678901234567890,)"
      R"("x":"duplicate unknown fields are ignored too","Count":"case matters","":0})");
  EXPECT_EQ(t.process_name, "a");
  EXPECT_EQ(t.process_activity, "b");
  EXPECT_EQ(t.count, 1);
}

TEST_F(TickParserTest, NameLengthIsCountedInBytesAfterUnescaping) {
  const auto tick_named = [](const std::string& name) {
    return R"({"process_name":")" + name + R"(","process_activity":"x"})";
  };
  EXPECT_EQ(expect_tick(tick_named(std::string(256, 'n'))).process_name.size(), 256U);
  expect_error(tick_named(std::string(257, 'n')), R::kNameTooLong, "process_name: 257 bytes");

  std::string e_acute;  // 128 x U+00E9 = 256 bytes
  for (int i = 0; i < 128; ++i) e_acute += "\xc3\xa9";
  EXPECT_EQ(expect_tick(tick_named(e_acute)).process_name.size(), 256U);
  expect_error(tick_named(e_acute + "a"), R::kNameTooLong, "process_name:");

  std::string euro;  // 86 characters, 258 bytes
  for (int i = 0; i < 86; ++i) euro += "\xe2\x82\xac";
  expect_error(tick_named(euro), R::kNameTooLong, "process_name: 258 bytes");

  std::string escaped;  // 768 bytes of JSON, 256 bytes of name
  for (int i = 0; i < 128; ++i) escaped += "\\u00e9";
  EXPECT_EQ(expect_tick(tick_named(escaped)).process_name, e_acute);

  expect_error(R"({"process_name":"a","process_activity":")" + std::string(257, 'x') + "\"}",
               R::kNameTooLong, "process_activity: 257 bytes");
}

TEST_F(TickParserTest, EmptyNames) {
  expect_error(R"({"process_name":"","process_activity":"x"})", R::kEmptyName,
               "process_name: must not be empty");
  expect_error(R"({"process_name":"x","process_activity":""})", R::kEmptyName,
               "process_activity: must not be empty");
}

TEST_F(TickParserTest, MissingFields) {
  expect_error(R"({"process_activity":"x"})", R::kMissingField, "process_name: missing");
  expect_error(R"({"process_name":"x"})", R::kMissingField, "process_activity: missing");
  expect_error("{}", R::kMissingField, "process_name: missing");
  expect_error(R"({"x":{"process_name":"a","process_activity":"b"}})", R::kMissingField,
               "process_name: missing");
}

TEST_F(TickParserTest, NullValue) {
  TickParseResult r = parser_.parse(nullptr, 0);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->reason, R::kNullValue);
  EXPECT_FALSE(r.tick);
  r = parser_.parse(nullptr, 17);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->reason, R::kNullValue);
}

TEST_F(TickParserTest, TooLarge) {
  // Exactly 64 KiB is fine; one byte more is rejected before any other check.
  std::string json = tick_with(R"(,"pad":")");
  json += std::string(kMaxTickBytes - json.size() - 2, 'p') + "\"}";
  ASSERT_EQ(json.size(), kMaxTickBytes);
  EXPECT_EQ(expect_tick(json).process_name, "auth");

  json.insert(json.size() - 2, "p");
  expect_error(json, R::kTooLarge, "too large: 65537 bytes");
  expect_error(std::string(100'000, '\xff'), R::kTooLarge, "too large:");
}

TEST_F(TickParserTest, InvalidUtf8) {
  for (const std::string& bad : {
           std::string("\xff"),
           std::string("\xc0\xaf"),          // overlong '/'
           std::string("\xe0\x80\xaf"),      // overlong, 3 bytes
           std::string("\xed\xa0\x80"),      // UTF-16 surrogate encoded in UTF-8
           std::string("\xf4\x90\x80\x80"),  // above U+10FFFF
           std::string("\xe2\x82"),          // truncated sequence
           std::string("\x80"),              // lone continuation byte
       }) {
    expect_error(R"({"process_name":")" + bad + R"(","process_activity":"x"})", R::kInvalidUtf8,
                 "invalid UTF-8");
    // In an ignored field, or outside any string, it is still invalid UTF-8 (checked
    // before JSON, so the reason does not depend on where the byte is).
    expect_error(tick_with(R"(,"other":")" + bad + "\""), R::kInvalidUtf8, "invalid UTF-8");
    expect_error(tick_with("") + bad, R::kInvalidUtf8, "invalid UTF-8");
  }
}

TEST_F(TickParserTest, UnpairedSurrogateEscapesAreInvalidUtf8) {
  expect_error(R"({"process_name":"\ud800","process_activity":"x"})", R::kInvalidUtf8,
               "process_name:");
  expect_error(R"({"process_name":"a","process_activity":"\udc00x"})", R::kInvalidUtf8,
               "process_activity:");
  expect_error(tick_with(R"(,"other":"\ud83d")"), R::kInvalidUtf8, "invalid UTF-8");
  expect_error(tick_with(R"(,"\ud800":1)"), R::kInvalidUtf8, "invalid UTF-8");
  expect_error(R"("\ud800")", R::kInvalidUtf8, "invalid UTF-8");
  expect_error(R"(["\udfff"])", R::kInvalidUtf8, "invalid UTF-8");
}

TEST_F(TickParserTest, NotJson) {
  for (const std::string& json : {
           std::string(""),
           std::string("   "),
           std::string("{"),
           std::string("}"),
           std::string(R"({"process_name":)"),
           std::string(R"({"process_name":"auth","process_activity":"login")"),
           std::string(R"({'process_name':'a','process_activity':'b'})"),
           std::string(R"({process_name:"a",process_activity:"b"})"),
           std::string("{\"process_name\":\"a\nb\",\"process_activity\":\"x\"}"),  // raw newline
           std::string(R"({"process_name":"a\x","process_activity":"b"})"),        // bad escape
           std::string(R"({"process_name":"a\u12","process_activity":"b"})"),      //
           std::string("not json at all"),
           std::string("NaN"),
           std::string("[1,"),
           std::string("tru"),
           std::string("01"),
           tick_with(",}"),
           tick_with(R"(,"x":tru)"),
           tick_with(R"(,"x":nul)"),
           tick_with(R"(,"x":truex)"),
           tick_with(R"(,"x":01)"),
           tick_with(R"(,"x":1.)"),
           tick_with(R"(,"x":.5)"),
           tick_with(R"(,"x":-)"),
           tick_with(R"(,"x":1e)"),
           tick_with(R"(,"x":+1)"),
           tick_with(R"(,"x":NaN)"),
           tick_with(R"(,"x":[1 2])"),
           tick_with(R"(,"x":[1,,2])"),
           tick_with(R"(,"x":[1,])"),
           tick_with(R"(,"x":{"a" 1})"),
           tick_with(R"(,"x":{"a":1,})"),
           tick_with(R"(,"x":{"a":"\q"})"),
           tick_with(R"(,"count":1.2.3)"),
           tick_with(R"(,"count":tru)"),
           tick_with(R"(,"timestamp":1x)"),
           tick_with(R"(,"count" 1)"),
           tick_with(R"(,,"count":1)"),
           tick_with(" x"),
           tick_with("") + " x",  // trailing garbage
           tick_with("") + "}",   //
           tick_with("") + "{}",  // two documents
           tick_with("") + tick_with(""),
           tick_with("") + ",",
           std::string(R"("a" "b")"),
           std::string("5 x"),
           std::string("[] []"),
       }) {
    expect_error(json, R::kNotJson, "not JSON: ");
  }
}

TEST_F(TickParserTest, NotJsonWinsOverAnEarlierFieldError) {
  // The field error comes first in the text, but the record is not JSON at all.
  expect_error(R"({"count":"5","process_name":"a","process_activity":"b","x":tru})", R::kNotJson,
               "not JSON: ");
  expect_error(R"({"process_name":"","process_activity":"b"} x)", R::kNotJson, "not JSON: ");
  expect_error(R"({"count":0,"count":1,"process_name":"a","process_activity":"b","x":[1 2]})",
               R::kNotJson, "not JSON: ");
}

TEST_F(TickParserTest, DeepNestingInAnIgnoredField) {
  expect_error(tick_with(",\"x\":" + std::string(5'000, '[') + std::string(5'000, ']')),
               R::kNotJson, "not JSON: ");
  EXPECT_EQ(expect_tick(tick_with(",\"x\":" + std::string(20, '[') + std::string(20, ']'))).count,
            1);
}

TEST_F(TickParserTest, NotAnObject) {
  expect_error("[]", R::kNotObject, "not a JSON object: got an array");
  expect_error(R"([{"process_name":"a","process_activity":"b"}])", R::kNotObject,
               "not a JSON object: got an array");
  expect_error(R"("auth")", R::kNotObject, "not a JSON object: got a string");
  expect_error("5", R::kNotObject, "not a JSON object: got a number");
  expect_error("-1.5e3 ", R::kNotObject, "not a JSON object: got a number");
  expect_error("null", R::kNotObject, "not a JSON object: got null");
  expect_error(" true ", R::kNotObject, "not a JSON object: got a boolean");
}

TEST_F(TickParserTest, WrongTypesOfNames) {
  for (const char* value : {"7", "null", "true", "[]", R"(["a"])", R"({"a":"b"})", "1.5"}) {
    expect_error(R"({"process_name":)" + std::string(value) + R"(,"process_activity":"x"})",
                 R::kWrongType, "process_name: must be a string");
    expect_error(R"({"process_name":"x","process_activity":)" + std::string(value) + "}",
                 R::kWrongType, "process_activity: must be a string");
  }
}

TEST_F(TickParserTest, WrongTypesOfCount) {
  for (const char* value : {"1.5", "1.0", "1e3", "1E3", "1e+0", "-0.0", "10e-1", R"("5")", "true",
                            "false", "null", "[]", "[5]", R"({"n":5})"}) {
    expect_error(tick_with(R"(,"count":)" + std::string(value)), R::kWrongType,
                 "count: must be an integer between 1 and 1000000000");
  }
}

TEST_F(TickParserTest, CountOutOfRange) {
  for (const char* value :
       {"0", "-0", "-1", "1000000001", "9223372036854775807", "9223372036854775808",
        "18446744073709551616", "123456789012345678901234567890", "-9223372036854775809"}) {
    expect_error(tick_with(R"(,"count":)" + std::string(value)), R::kCountOutOfRange,
                 "count: must be an integer between 1 and 1000000000, got ");
  }
  TickParseResult r = parse(tick_with(R"(,"count":1000000001)"));
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->message, "count: must be an integer between 1 and 1000000000, got 1000000001");
}

TEST_F(TickParserTest, BadTimestamps) {
  for (const char* value : {R"("yesterday")", R"("2026-11-22")", R"("2026-02-30T00:00:00Z")",
                            R"("")", R"("2026-11-22T09:47:00Z\n")", R"("-0001-01-01T00:00:00Z")"}) {
    expect_error(tick_with(R"(,"timestamp":)" + std::string(value)), R::kBadTimestamp,
                 "timestamp: ");
  }
  for (const char* value :
       {"-62167219200001", "253402300800000", "9223372036854775808", "-99999999999999999999999"}) {
    expect_error(tick_with(R"(,"timestamp":)" + std::string(value)), R::kBadTimestamp,
                 "timestamp: ");
  }
  for (const char* value : {"1.5", "1e12", "true", "null", "[]", "{}"}) {
    expect_error(tick_with(R"(,"timestamp":)" + std::string(value)), R::kWrongType,
                 "timestamp: must be an RFC 3339 string or integer epoch milliseconds");
  }
}

TEST_F(TickParserTest, DuplicateKnownFields) {
  expect_error(R"({"process_name":"a","process_name":"a","process_activity":"b"})",
               R::kDuplicateField, "process_name: ");
  expect_error(tick_with(R"(,"process_activity":"c")"), R::kDuplicateField, "process_activity: ");
  expect_error(tick_with(R"(,"count":1,"count":1)"), R::kDuplicateField, "count: ");
  expect_error(tick_with(R"(,"timestamp":0,"timestamp":0)"), R::kDuplicateField, "timestamp: ");
  // The same key spelled with an escape is the same key.
  expect_error(tick_with(R"(,"process\u005fname":"a")"), R::kDuplicateField, "process_name: ");
}

TEST_F(TickParserTest, FirstFieldErrorWins) {
  expect_error(R"({"count":0,"process_name":"","process_activity":"b"})", R::kCountOutOfRange,
               "count: ");
  expect_error(R"({"process_name":"","count":0,"process_activity":"b"})", R::kEmptyName,
               "process_name: ");
}

TEST_F(TickParserTest, ReasonLabels) {
  const std::pair<R, std::string_view> expected[] = {
      {R::kNullValue, "null_value"},
      {R::kTooLarge, "too_large"},
      {R::kInvalidUtf8, "invalid_utf8"},
      {R::kNotJson, "not_json"},
      {R::kNotObject, "not_object"},
      {R::kMissingField, "missing_field"},
      {R::kWrongType, "wrong_type"},
      {R::kDuplicateField, "duplicate_field"},
      {R::kEmptyName, "empty_name"},
      {R::kNameTooLong, "name_too_long"},
      {R::kCountOutOfRange, "count_out_of_range"},
      {R::kBadTimestamp, "bad_timestamp"},
  };
  static_assert(std::size(expected) == kInvalidReasonCount);
  for (const auto& [reason, label] : expected) EXPECT_EQ(reason_label(reason), label);
}

TEST_F(TickParserTest, ViewsSurviveTheRestOfTheObjectAndTheInput) {
  // Names first, then plenty of other strings (unescaped into the same parser buffer),
  // and the caller's bytes are overwritten before the views are read.
  std::string json = R"({"process_name":"first\"name","process_activity":"second\u00e9")";
  for (int i = 0; i < 50; ++i)
    json += ",\"k" + std::to_string(i) + "\":\"v\\u0041" + std::to_string(i) + "\"";
  json += R"(,"timestamp":"2026-11-22T09:47:00Z"})";
  const TickParseResult r = parser_.parse(json.data(), json.size());
  std::memset(json.data(), 'X', json.size());
  ASSERT_TRUE(r.tick);
  EXPECT_EQ(r.tick->process_name, "first\"name");
  EXPECT_EQ(r.tick->process_activity, "second\xc3\xa9");
}

TEST_F(TickParserTest, ReusableAcrossSizesAndErrors) {
  // Growing the buffers, failing, then going back to small records must not disturb
  // anything (a stale byte past the end would turn into trailing content).
  std::string big = tick_with(R"(,"pad":")" + std::string(40'000, 'p') + "\"");
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(expect_tick(tick_with(R"(,"count":2)")).count, 2);
    EXPECT_EQ(expect_tick(big).process_name, "auth");
    expect_error("{", R::kNotJson, "not JSON: ");
    EXPECT_EQ(expect_tick(R"({"process_name":"a","process_activity":"b"})").process_name, "a");
    expect_error("[]", R::kNotObject, "not a JSON object");
  }
}

TEST_F(TickParserTest, RandomMutationsAlwaysGiveExactlyOneAnswer) {
  // Every result is either a tick that honours the contract or a one-line error; run
  // under the sanitizers this also checks that no input reads outside the buffers.
  const std::string seed = R"({"process_name":"a\"b","process_activity":"\u00e9","count":12,)"
                           R"("timestamp":"2026-11-22T09:47:00Z","x":[true,null,{"y":-1.5e3}]})";
  std::mt19937_64 rng(42);
  const std::string alphabet = "{}[]\",:0123456789.-+eEtrufalsn \\u\xc3\xa9\xff";
  for (int i = 0; i < 20'000; ++i) {
    std::string json = seed;
    const int edits = std::uniform_int_distribution<int>(1, 4)(rng);
    for (int e = 0; e < edits && !json.empty(); ++e) {
      const std::size_t pos = std::uniform_int_distribution<std::size_t>(0, json.size() - 1)(rng);
      const char c =
          alphabet[std::uniform_int_distribution<std::size_t>(0, alphabet.size() - 1)(rng)];
      switch (std::uniform_int_distribution<int>(0, 2)(rng)) {
        case 0:
          json[pos] = c;
          break;
        case 1:
          json.insert(pos, 1, c);
          break;
        default:
          json.erase(pos, 1);
          break;
      }
    }
    const TickParseResult r = parse(json);
    ASSERT_NE(r.tick.has_value(), r.error.has_value()) << json;
    if (r.tick) {
      EXPECT_FALSE(r.tick->process_name.empty()) << json;
      EXPECT_FALSE(r.tick->process_activity.empty()) << json;
      EXPECT_LE(r.tick->process_name.size(), kMaxNameBytes);
      EXPECT_GE(r.tick->count, 1);
      EXPECT_LE(r.tick->count, kMaxTickCount);
    } else {
      EXPECT_FALSE(r.error->message.empty());
      EXPECT_EQ(r.error->message.find_first_of("\r\n"), std::string::npos) << json;
    }
  }
}

}  // namespace
}  // namespace auditor
