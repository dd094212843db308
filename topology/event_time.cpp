#include "topology/event_time.h"

#include <cstdint>
#include <cstdio>

namespace auditor {
namespace {

constexpr std::int64_t kMsPerSecond = 1'000;
constexpr std::int64_t kMsPerMinute = 60 * kMsPerSecond;
constexpr std::int64_t kMsPerHour = 60 * kMsPerMinute;
constexpr std::int64_t kMsPerDay = 24 * kMsPerHour;

// Howard Hinnant's days_from_civil (proleptic Gregorian calendar): days since
// 1970-01-01 for y-m-d. Exact for every year we accept; see
// https://howardhinnant.github.io/date_algorithms.html.
constexpr std::int64_t days_from_civil(std::int64_t y, std::int64_t m, std::int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;                                   // [0, 399]
  const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;  // [0, 365]
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           // [0, 146096]
  return era * 146097 + doe - 719468;
}

struct Civil {
  std::int64_t year;
  int month;
  int day;
};

// Howard Hinnant's civil_from_days: the inverse of days_from_civil.
constexpr Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;                                       // [0, 146096]
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const std::int64_t mp = (5 * doy + 2) / 153;                                     // [0, 11]
  const auto day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);                 // [1, 31]
  const auto month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);                  // [1, 12]
  return Civil{yoe + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(0, 1, 1) * kMsPerDay == kMinEventTime.value);
static_assert((days_from_civil(9999, 12, 31) + 1) * kMsPerDay - 1 == kMaxEventTime.value);
static_assert(civil_from_days(-719528).year == 0);

constexpr bool is_leap(std::int64_t y) {
  return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

constexpr int days_in_month(std::int64_t y, int m) {
  constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` ASCII digits at `pos`; no sign, no spaces.
bool read_digits(std::string_view text, std::size_t& pos, std::size_t n, int& out) {
  if (text.size() - pos < n) return false;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  pos += n;
  out = v;
  return true;
}

bool expect(std::string_view text, std::size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

std::optional<EventTime> parse_rfc3339(std::string_view text) {
  std::size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_digits(text, pos, 4, year) || !expect(text, pos, '-') ||
      !read_digits(text, pos, 2, month) || !expect(text, pos, '-') ||
      !read_digits(text, pos, 2, day)) {
    return std::nullopt;
  }
  if (pos >= text.size() || (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ')) {
    return std::nullopt;
  }
  ++pos;
  if (!read_digits(text, pos, 2, hour) || !expect(text, pos, ':') ||
      !read_digits(text, pos, 2, minute) || !expect(text, pos, ':') ||
      !read_digits(text, pos, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return std::nullopt;
  // RFC 3339 allows second 60 for leap seconds; epoch milliseconds cannot represent one
  // and mapping it to :59 would silently reorder ticks, so it is rejected.
  if (hour > 23 || minute > 59 || second > 59) return std::nullopt;

  std::int64_t millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const std::size_t first = pos;
    // Any number of digits; only the first three matter (truncation, not rounding, so a
    // time never moves into the next millisecond, window or day).
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (pos - first < 3) millis = millis * 10 + (text[pos] - '0');
      ++pos;
    }
    if (pos == first) return std::nullopt;
    for (std::size_t n = pos - first; n < 3; ++n) millis *= 10;
  }

  std::int64_t offset_ms = 0;
  if (pos >= text.size()) return std::nullopt;
  if (text[pos] == 'Z' || text[pos] == 'z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    const bool negative = text[pos] == '-';
    ++pos;
    int off_hour = 0, off_minute = 0;
    if (!read_digits(text, pos, 2, off_hour) || !expect(text, pos, ':') ||
        !read_digits(text, pos, 2, off_minute) || off_hour > 23 || off_minute > 59) {
      return std::nullopt;
    }
    offset_ms = off_hour * kMsPerHour + off_minute * kMsPerMinute;
    if (negative) offset_ms = -offset_ms;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;

  // Local time minus its offset is UTC.
  const std::int64_t t = days_from_civil(year, month, day) * kMsPerDay + hour * kMsPerHour +
                         minute * kMsPerMinute + second * kMsPerSecond + millis - offset_ms;
  if (t < kMinEventTime.value || t > kMaxEventTime.value) return std::nullopt;
  return EventTime{t};
}

std::string format_rfc3339(EventTime t) {
  // Floor division, so times before 1970 get the right day and a positive time of day.
  std::int64_t days = t.value / kMsPerDay;
  std::int64_t ms_of_day = t.value % kMsPerDay;
  if (ms_of_day < 0) {
    ms_of_day += kMsPerDay;
    --days;
  }
  const Civil c = civil_from_days(days);
  const auto hour = static_cast<int>(ms_of_day / kMsPerHour);
  const auto minute = static_cast<int>(ms_of_day / kMsPerMinute % 60);
  const auto second = static_cast<int>(ms_of_day / kMsPerSecond % 60);
  const auto millis = static_cast<int>(ms_of_day % kMsPerSecond);

  char buf[64];
  int n = 0;
  if (millis == 0) {
    n = std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02d:%02d:%02dZ",
                      static_cast<long long>(c.year), c.month, c.day, hour, minute, second);
  } else {
    n = std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ",
                      static_cast<long long>(c.year), c.month, c.day, hour, minute, second, millis);
  }
  return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace auditor
