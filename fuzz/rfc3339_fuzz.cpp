// Fuzzes the RFC 3339 parser and formatter (topology/event_time.h).
//
// The input is parsed as text. An accepted date-time must lie within the event-time
// bounds, agree with an independent computation by std::chrono's calendar from the fixed
// field positions, and survive format -> parse. Then the same bytes, read as numbers,
// give an in-range local time and an offset: that time written with the offset (and
// extra fraction digits, which truncate) must parse to local - offset, or be rejected
// exactly when that lies outside the bounds.
#include <fuzzer/FuzzedDataProvider.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "fuzz/check.h"
#include "topology/event_time.h"

namespace {

using auditor::EventTime;
using auditor::kMaxEventTime;
using auditor::kMinEventTime;
using namespace std::chrono;

int digits(std::string_view text, std::size_t pos, std::size_t n) {
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = text[pos + i];
    FUZZ_CHECK(c >= '0' && c <= '9');
    v = v * 10 + (c - '0');
  }
  return v;
}

// "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM)" read by position, computed with std::chrono.
std::int64_t reference_ms(std::string_view text) {
  FUZZ_CHECK(text.size() >= 20);
  FUZZ_CHECK(text[4] == '-' && text[7] == '-' && text[13] == ':' && text[16] == ':');
  FUZZ_CHECK(text[10] == 'T' || text[10] == 't' || text[10] == ' ');
  const year_month_day date{year{digits(text, 0, 4)},
                            month{static_cast<unsigned>(digits(text, 5, 2))},
                            day{static_cast<unsigned>(digits(text, 8, 2))}};
  FUZZ_CHECK(date.ok());
  milliseconds t = sys_days{date}.time_since_epoch() + hours{digits(text, 11, 2)} +
                   minutes{digits(text, 14, 2)} + seconds{digits(text, 17, 2)};
  std::size_t pos = 19;
  if (text[pos] == '.') {
    ++pos;
    int scale = 100;
    for (; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos, scale /= 10) {
      t += milliseconds{(text[pos] - '0') * scale};
    }
  }
  const std::string_view zone = text.substr(pos);
  if (zone != "Z" && zone != "z") {
    FUZZ_CHECK(zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':');
    const minutes offset = hours{digits(zone, 1, 2)} + minutes{digits(zone, 4, 2)};
    t += zone[0] == '+' ? -offset : offset;
  }
  return t.count();
}

void check_text(std::string_view text) {
  const std::optional<EventTime> t = auditor::parse_rfc3339(text);
  if (!t) return;
  FUZZ_CHECK(kMinEventTime <= *t && *t <= kMaxEventTime);
  FUZZ_CHECK(t->value == reference_ms(text));
  FUZZ_CHECK(auditor::parse_rfc3339(auditor::format_rfc3339(*t)) == t);
}

// A local time with an offset, built from fuzz bytes: parses to the UTC instant it names.
void check_offset(FuzzedDataProvider& in) {
  const EventTime local{in.ConsumeIntegralInRange(kMinEventTime.value, kMaxEventTime.value)};
  const int offset_minutes = in.ConsumeIntegralInRange(-(23 * 60 + 59), 23 * 60 + 59);
  const std::string extra_digits(in.ConsumeIntegralInRange(0, 12), '7');

  std::string text = auditor::format_rfc3339(local);  // "...:SS[.mmm]Z"
  text.pop_back();
  if (!extra_digits.empty()) {
    if (text.find('.') == std::string::npos) text += ".000";
    text += extra_digits;
  }
  const int magnitude = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  char zone[8];
  std::snprintf(zone, sizeof zone, "%c%02d:%02d", offset_minutes < 0 ? '-' : '+', magnitude / 60,
                magnitude % 60);
  text += zone;

  const EventTime utc = local.minus(auditor::DurationMs{std::int64_t{offset_minutes} * 60'000});
  const bool in_range = kMinEventTime <= utc && utc <= kMaxEventTime;
  const std::optional<EventTime> parsed = auditor::parse_rfc3339(text);
  FUZZ_CHECK(parsed.has_value() == in_range);
  if (parsed) FUZZ_CHECK(*parsed == utc);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_text(std::string_view(reinterpret_cast<const char*>(data), size));
  FuzzedDataProvider in(data, size);
  check_offset(in);
  return 0;
}
