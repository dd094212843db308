// Durations as users write them on the command line: 500ms, 30s, 5m, 1h, 1d.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "topology/types.h"

namespace auditor {

// Parses "<digits><unit>" with unit ms|s|m|h|d. Rejects signs, spaces, fractions,
// missing units and values above 100 years. Zero is allowed ("0s").
[[nodiscard]] std::optional<DurationMs> parse_duration(std::string_view text);

// The shortest exact spelling: 60000 -> "1m", 1500 -> "1500ms", 86400000 -> "1d".
[[nodiscard]] std::string format_duration(DurationMs d);

}  // namespace auditor
