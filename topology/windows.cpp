#include "topology/windows.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "topology/duration.h"

namespace auditor {
namespace {

// A tick's windows are found by one division per size; more than 32 would also overflow
// the late mask returned by WindowAggregator::add.
constexpr std::size_t kMaxWindows = 32;
constexpr std::int64_t kMaxWindowMs = 366LL * 86'400'000;

// The item as typed, for an error message that must stay on one line.
std::string quoted(std::string_view item) {
  std::string out = "\"";
  for (const char c : item) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  out += '"';
  return out;
}

}  // namespace

WindowSet WindowSet::parse(std::string_view spec) {
  if (spec.empty()) throw std::invalid_argument("windows: the list is empty (e.g. \"1m,1h,1d\")");
  std::vector<DurationMs> sizes;
  std::size_t begin = 0;
  while (true) {
    const std::size_t comma = spec.find(',', begin);
    const std::string_view item = spec.substr(
        begin, comma == std::string_view::npos ? std::string_view::npos : comma - begin);
    const std::optional<DurationMs> size = parse_duration(item);
    if (!size) {
      throw std::invalid_argument("windows: " + quoted(item) +
                                  " is not a duration (e.g. 1m, 1h, 1d)");
    }
    sizes.push_back(*size);
    if (comma == std::string_view::npos) break;
    begin = comma + 1;
  }
  return WindowSet(std::move(sizes));
}

WindowSet::WindowSet(std::vector<DurationMs> sizes) {
  if (sizes.empty()) throw std::invalid_argument("windows: the list is empty");
  if (sizes.size() > kMaxWindows) {
    throw std::invalid_argument("windows: " + std::to_string(sizes.size()) +
                                " sizes, at most 32 are supported");
  }
  std::sort(sizes.begin(), sizes.end());
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const DurationMs size = sizes[i];
    if (size.value <= 0) throw std::invalid_argument("windows: a window size must be positive");
    if (size.value > kMaxWindowMs) {
      throw std::invalid_argument("windows: " + format_duration(size) +
                                  " is longer than the maximum of 366d");
    }
    if (i > 0 && sizes[i - 1] == size) {
      throw std::invalid_argument("windows: " + format_duration(size) + " is listed twice");
    }
  }
  std::int64_t gcd = 0;
  windows_.reserve(sizes.size());
  for (const DurationMs size : sizes) {
    windows_.push_back(WindowSpec{size, format_duration(size)});
    gcd = std::gcd(gcd, size.value);
  }
  bucket_ = DurationMs{gcd};
}

std::string WindowSet::names(std::uint32_t mask) const {
  std::string out;
  for (std::size_t i = 0; i < windows_.size(); ++i) {
    if ((mask & (std::uint32_t{1} << i)) == 0) continue;
    if (!out.empty()) out += ',';
    out += windows_[i].name;
  }
  return out;
}

}  // namespace auditor
