// Writes the seed corpus of every fuzz target into <dir>/<target>/ (fuzz/corpus/ in the
// repository): realistic inputs and the edge cases around each documented limit. Binary
// seeds are made by the real encoders, so they stay in step with the formats:
//   build-fuzz/fuzz/make_corpus fuzz/corpus
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "state/key_encoding.h"
#include "topology/event_time.h"
#include "topology/repartition_record.h"

namespace {

using namespace std::string_literals;
using auditor::DurationMs;
using auditor::EventTime;
using Seeds = std::vector<std::pair<std::string, std::string>>;  // file name, contents

// JSON record values: what producers send to the input topic, and what clients POST.
Seeds tick_json() {
  std::string name_256;
  for (int i = 0; i < 128; ++i) name_256 += "\xc3\xa9";  // 128 x U+00E9 = 256 bytes
  std::string deep = R"({"process_name":"a","process_activity":"b","x":)";
  for (int i = 0; i < 70; ++i) deep += '[';
  for (int i = 0; i < 70; ++i) deep += ']';
  deep += '}';
  return {
      {"valid_minimal.json", R"({"process_name":"billing","process_activity":"login"})"},
      {"valid_full.json", R"({"process_name":"billing","process_activity":"login","count":3,)"
                          R"("timestamp":"2026-11-22T09:47:00.250+01:00","host":"web-1"})"},
      {"valid_epoch_ms.json",
       R"({"timestamp":1795340820000,"count":1000000000,"process_activity":"login",)"
       R"("process_name":"billing"})"},
      {"valid_whitespace.json",
       " \t{ \"process_name\" : \"a\" ,\r\n \"process_activity\" : \"b\" , \"count\" : 7 }\n"},
      {"unicode.json",
       "{\"process_name\":\"caf\\u00e9 \xe2\x98\x95\",\"process_activity\":"
       "\"\xe6\x97\xa5\xe6\x9c\xac\\u0000\\\"\\\\\\n\"}"},
      {"surrogate_pair.json", R"({"process_name":"\ud83d\ude00","process_activity":"b"})"},
      {"unpaired_surrogate.json", R"({"process_name":"\ud800","process_activity":"b"})"},
      {"name_256_bytes.json", R"({"process_name":")" + name_256 + R"(","process_activity":"b"})"},
      {"name_257_bytes.json", R"({"process_name":")" + name_256 + R"(e","process_activity":"b"})"},
      {"empty_name.json", R"({"process_name":"","process_activity":"b"})"},
      {"count_huge.json",
       R"({"process_name":"a","process_activity":"b","count":18446744073709551616})"},
      {"count_negative.json", R"({"process_name":"a","process_activity":"b","count":-5})"},
      {"count_zero.json", R"({"process_name":"a","process_activity":"b","count":0})"},
      {"count_over_max.json", R"({"process_name":"a","process_activity":"b","count":1000000001})"},
      {"count_float.json", R"({"process_name":"a","process_activity":"b","count":1.0})"},
      {"count_exponent.json", R"({"process_name":"a","process_activity":"b","count":1e3})"},
      {"count_string.json", R"({"process_name":"a","process_activity":"b","count":"5"})"},
      {"wrong_type.json", R"({"process_name":7,"process_activity":null})"},
      {"missing_field.json", R"({"process_name":"a"})"},
      {"duplicate_field.json", R"({"process_name":"a","process_activity":"b","process_name":"c"})"},
      {"huge_number_ignored.json",
       R"({"process_name":"a","process_activity":"b","x":1e400,"y":-123456789012345678901234567890})"},
      {"deep_nesting.json", deep},
      {"bad_timestamp.json",
       R"({"process_name":"a","process_activity":"b","timestamp":"2026-02-30T00:00:00Z"})"},
      {"leap_second.json",
       R"({"process_name":"a","process_activity":"b","timestamp":"2016-12-31T23:59:60Z"})"},
      {"timestamp_out_of_range.json",
       R"({"process_name":"a","process_activity":"b","timestamp":253402300800000})"},
      {"bad_json_trailing.json", R"({"process_name":"a","process_activity":"b"} x)"},
      {"bad_json_truncated.json", R"({"process_name":"a","process_activ)"},
      {"bad_json_literal.json", R"({"process_name":"a","process_activity":"b","x":tru})"},
      {"bad_escape.json", R"({"process_name":"a\q","process_activity":"b"})"},
      {"not_object.json", R"([1,2,{"process_name":"a"}])"},
      {"invalid_utf8.json", "{\"process_name\":\"\xff\",\"process_activity\":\"b\"}"},
      {"empty.json", ""},
  };
}

// POST /ticks bodies and query strings (GET-style POST /tick), for the tick API only.
Seeds tick_api_only() {
  return {
      {"batch.json",
       R"([{"process_name":"a","process_activity":"b"},{"process_name":"c","process_activity":"d","count":2}])"},
      {"batch_bad_element.json", R"([{"process_name":"a","process_activity":"b"},{"count":2},7])"},
      {"batch_empty.json", "[]"},
      // Reproducer: nlohmann throws out_of_range for 1e400, which escaped validation.
      {"number_beyond_double.json", R"({"process_name":"a","process_activity":"b","x":1e400})"},
      {"batch_number_beyond_double.json",
       R"([{"process_name":"a","process_activity":"b"},-1e999])"},
      {"query_valid.txt", "process_name=billing&process_activity=login&count=+4"},
      {"query_repeated.txt", "process_name=a&process_name=b&process_activity=x&count=2&count=3"},
      {"query_count_huge.txt", "process_name=a&process_activity=b&count=99999999999999999999"},
      {"query_count_negative.txt", "process_name=a&process_activity=b&count=-3"},
      {"query_count_bad.txt", "process_name=a&process_activity=b&count=1.5"},
      {"query_invalid_utf8.txt", "process_name=\xc0\xaf&process_activity=\xed\xa0\x80&count=\xff"},
      {"query_unicode.txt", "process_name=caf\xc3\xa9&process_activity=\xf0\x9f\x98\x80"},
  };
}

Seeds rfc3339() {
  return {
      {"utc.txt", "2026-11-22T09:47:00Z"},
      {"lowercase_fraction.txt", "2026-11-22t09:47:00.5z"},
      {"space_nanos_offset.txt", "2026-11-22 09:47:00.123456789+05:30"},
      {"negative_offset.txt", "2026-01-01T00:15:00.999-05:30"},
      {"min.txt", "0000-01-01T00:00:00Z"},
      {"max.txt", "9999-12-31T23:59:59.999Z"},
      {"below_min.txt", "0000-01-01T00:00:00+00:01"},
      {"above_max.txt", "9999-12-31T23:59:59.999-00:01"},
      {"leap_day.txt", "2024-02-29T12:00:00Z"},
      {"not_leap_day.txt", "2100-02-29T12:00:00Z"},
      {"leap_second.txt", "2016-12-31T23:59:60Z"},
      {"hour_24.txt", "2026-11-22T24:00:00Z"},
      {"no_zone.txt", "2026-11-22T09:47:00"},
      {"empty_fraction.txt", "2026-11-22T09:47:00.Z"},
      {"offset_no_colon.txt", "2026-11-22T09:47:00+0100"},
      {"signed_year.txt", "+2026-11-22T09:47:00Z"},
      {"fullwidth_digits.txt", "\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x96-11-22T09:47:00Z"},
      {"trailing.txt", "2026-11-22T09:47:00Z "},
      {"empty.txt", ""},
  };
}

// u16 big-endian key length, key, value: the layout repartition_record_fuzz reads.
std::string record(const std::string& key, const std::string& value) {
  std::string out;
  out.push_back(static_cast<char>(key.size() >> 8));
  out.push_back(static_cast<char>(key.size() & 0xFF));
  return out + key + value;
}

Seeds repartition_records() {
  const auto windows = auditor::WindowSet::parse("1m,5m,1h,1d");  // as in the fuzz target
  const auto other_windows = auditor::WindowSet::parse("30s,1m,2h");
  const EventTime t = *auditor::parse_rfc3339("2026-11-22T09:47:00Z");
  const std::string key = auditor::encode_repartition_key("billing", "login");
  const auto value = [&](EventTime at, std::int64_t count, std::int64_t ticks, std::uint32_t late) {
    return auditor::encode_repartition_value(at, count, ticks, late, windows);
  };
  const auto watermark = [](std::int32_t input, std::optional<EventTime> time, bool idle) {
    return auditor::encode_watermark_value(auditor::PartitionId{input},
                                           auditor::PartitionWatermark{time, idle});
  };
  std::string v1 = value(t, 3, 2, 0);
  v1[0] = '\x01';
  v1.pop_back();  // format 1: no late sizes
  return {
      {"delta.bin", record(key, value(t, 3, 2, 0))},
      {"delta_late.bin", record(key, value(t, 10, 4, 0b0101))},
      {"delta_all_late.bin", record(key, value(t, 1, 1, 0b1111))},
      {"delta_late_unknown_size.bin",
       record(key, auditor::encode_repartition_value(t, 5, 5, 0b101, other_windows))},
      {"delta_unicode.bin",
       record(auditor::encode_repartition_key("caf\xc3\xa9", "\xe6\x97\xa5\x00x"s),
              value(t, 1000000000, 1, 0))},
      {"delta_min_time.bin", record(key, value(auditor::kMinEventTime, 1, 1, 0))},
      {"delta_max_time.bin", record(key, value(auditor::kMaxEventTime, 1, 1, 0))},
      {"delta_count_below_ticks.bin", record(key, value(t, 1, 2, 0))},
      {"delta_empty_activity.bin",
       record(auditor::encode_repartition_key("billing", ""), value(t, 1, 1, 0))},
      {"delta_truncated.bin", record(key, value(t, 3, 2, 0b1).substr(0, 30))},
      {"delta_v1.bin", record(key, v1)},
      {"watermark.bin", record("", watermark(3, t, false))},
      {"watermark_idle.bin", record("", watermark(0, t, true))},
      {"watermark_no_time.bin", record("", watermark(7, std::nullopt, true))},
      {"watermark_with_key.bin", record(key, watermark(1, t, false))},
      {"empty.bin", ""},
  };
}

Seeds store_bytes() {
  namespace state = auditor::state;
  const EventTime t = *auditor::parse_rfc3339("2026-11-22T09:00:00Z");
  const auto key = [](std::int64_t size, EventTime start, const std::string& name,
                      const std::string& activity) {
    return state::encode_window_key(auditor::WindowKey{DurationMs{size}, start, name, activity});
  };
  state::TaskCheckpoint full;
  full.input_offset = auditor::Offset{1234};
  full.changelog_offset = auditor::Offset{99};
  full.progress.watermark = t;
  full.progress.closed_before = {{60'000, t}, {3'600'000, t.minus(DurationMs{3'600'000})}};
  full.progress.expired_before = {{60'000, t.minus(DurationMs{86'400'000})}};
  full.progress.watermarks = {{0, {t, false}}, {1, {std::nullopt, true}}, {5, {t, true}}};
  std::string v1 = state::encode_checkpoint(full);
  v1[0] = '\x01';
  std::string bad_escape = key(60'000, t, "a", "b");
  bad_escape[bad_escape.size() - 2] = '\x02';  // 0x00 0x02: neither escape nor terminator
  return {
      {"window_key.bin", key(60'000, t, "billing", "login")},
      {"window_key_nul_name.bin", key(3'600'000, t, "a\0b\0"s, "\0"s)},
      {"window_key_pre_1970.bin", key(86'400'000, auditor::kMinEventTime, "caf\xc3\xa9", "")},
      {"window_key_bad_escape.bin", bad_escape},
      {"window_key_zero_size.bin", key(0, t, "a", "b")},
      {"counts.bin", state::encode_counts({1000000000, 3})},
      {"checkpoint_empty.bin", state::encode_checkpoint({})},
      {"checkpoint_full.bin", state::encode_checkpoint(full)},
      {"checkpoint_v1.bin", v1},
      {"checkpoint_key.txt", std::string(state::kCheckpointKey)},
  };
}

void write(const std::filesystem::path& dir, const Seeds& seeds) {
  std::filesystem::create_directories(dir);
  for (const auto& [name, bytes] : seeds) {
    std::ofstream(dir / name, std::ios::binary) << bytes;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_corpus <corpus dir>\n";
    return 2;
  }
  const std::filesystem::path root = argv[1];
  write(root / "tick_parser_fuzz", tick_json());
  write(root / "tick_api_validation_fuzz", tick_json());
  write(root / "tick_api_validation_fuzz", tick_api_only());
  write(root / "rfc3339_fuzz", rfc3339());
  write(root / "repartition_record_fuzz", repartition_records());
  write(root / "key_encoding_fuzz", store_bytes());
  return 0;
}
