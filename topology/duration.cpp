#include "topology/duration.h"

#include <array>
#include <cstdint>

namespace auditor {
namespace {

struct Unit {
  std::string_view suffix;
  std::int64_t ms;
};

// Largest unit first: format_duration picks the first one that divides exactly.
constexpr std::array<Unit, 5> kUnits{{
    {"d", 86'400'000},
    {"h", 3'600'000},
    {"m", 60'000},
    {"s", 1'000},
    {"ms", 1},
}};

// 100 Julian years. Nothing configurable needs more, and the bound keeps every sum of
// durations and event times far from int64 overflow.
constexpr std::int64_t kMaxDurationMs = 36'525LL * 86'400'000;

}  // namespace

std::optional<DurationMs> parse_duration(std::string_view text) {
  std::size_t digits = 0;
  std::int64_t value = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    value = value * 10 + (text[digits] - '0');
    // Checked per digit, so a long digit string cannot overflow before we notice.
    if (value > kMaxDurationMs) return std::nullopt;
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  const std::string_view suffix = text.substr(digits);
  for (const Unit& unit : kUnits) {
    if (suffix != unit.suffix) continue;
    if (value > kMaxDurationMs / unit.ms) return std::nullopt;
    return DurationMs{value * unit.ms};
  }
  return std::nullopt;
}

std::string format_duration(DurationMs d) {
  // Zero is exact in every unit; seconds read best ("--grace 0s").
  if (d.value == 0) return "0s";
  for (const Unit& unit : kUnits) {
    if (d.value % unit.ms == 0) {
      std::string out = std::to_string(d.value / unit.ms);
      out += unit.suffix;
      return out;
    }
  }
  return {};  // unreachable: every value is a multiple of 1 ms
}

}  // namespace auditor
