// Fuzzes stage 1's tick parser (topology/tick_parser.h) with arbitrary record values.
//
// Properties: exactly one of tick / error; an accepted tick meets the header's contract
// (non-empty UTF-8 names of at most 256 bytes, count in [1, 1e9], timestamp within the
// event-time bounds); an error is one line with a known label; and an accepted tick,
// written back as JSON (timestamp as epoch ms, then as RFC 3339), parses to the same tick,
// so what the parser reads does not depend on how the producer formatted it.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz/check.h"
#include "topology/event_time.h"
#include "topology/tick_parser.h"

namespace {

using auditor::EventTime;
using auditor::Tick;
using auditor::TickParseResult;

// A tick whose names outlive the parser's next call.
struct OwnedTick {
  std::string process_name;
  std::string process_activity;
  std::int64_t count;
  std::optional<EventTime> timestamp;
  bool operator==(const OwnedTick&) const = default;
};

OwnedTick own(const Tick& t) {
  return {std::string(t.process_name), std::string(t.process_activity), t.count, t.timestamp};
}

bool valid_name(std::string_view name) {
  return !name.empty() && name.size() <= auditor::kMaxNameBytes &&
         simdjson::validate_utf8(name.data(), name.size());
}

void check_result(const TickParseResult& r) {
  FUZZ_CHECK(r.tick.has_value() != r.error.has_value());
  if (r.error) {
    FUZZ_CHECK(auditor::reason_label(r.error->reason) != "unknown");
    FUZZ_CHECK(!r.error->message.empty());
    for (const char c : r.error->message) {
      FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
    }
    return;
  }
  const Tick& t = *r.tick;
  FUZZ_CHECK(valid_name(t.process_name));
  FUZZ_CHECK(valid_name(t.process_activity));
  FUZZ_CHECK(t.count >= 1 && t.count <= auditor::kMaxTickCount);
  if (t.timestamp) {
    FUZZ_CHECK(auditor::kMinEventTime <= *t.timestamp && *t.timestamp <= auditor::kMaxEventTime);
  }
}

// Parses `json` and requires it to give back `expected`.
void check_reparse(auditor::TickParser& parser, const std::string& json,
                   const OwnedTick& expected) {
  const TickParseResult again = parser.parse(json.data(), json.size());
  check_result(again);
  FUZZ_CHECK(again.tick.has_value());
  FUZZ_CHECK(own(*again.tick) == expected);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // One parser for every input, as stage 1 keeps one per consumer: its reused buffers are
  // part of what is fuzzed.
  static auditor::TickParser parser;
  const TickParseResult r = parser.parse(data, size);
  check_result(r);
  if (!r.tick) return 0;

  const OwnedTick tick = own(*r.tick);
  nlohmann::json json{{"process_name", tick.process_name},
                      {"process_activity", tick.process_activity},
                      {"count", tick.count}};
  if (tick.timestamp) json["timestamp"] = tick.timestamp->value;
  check_reparse(parser, json.dump(), tick);
  if (tick.timestamp) {
    json["timestamp"] = auditor::format_rfc3339(*tick.timestamp);
    check_reparse(parser, json.dump(), tick);
  }
  return 0;
}
