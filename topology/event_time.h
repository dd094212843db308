// Event-time text formats: RFC 3339 in, canonical UTC "Z" strings out.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "topology/types.h"

namespace auditor {

// Parses an RFC 3339 date-time: "2026-11-22T09:47:00Z", with optional fraction
// (".5", ".123456789", truncated to milliseconds), offset "Z"/"z"/"+01:00"/"-05:30",
// and "T", "t" or a space between date and time. Validates days per month (leap years)
// and ranges; the result must lie within [kMinEventTime, kMaxEventTime].
[[nodiscard]] std::optional<EventTime> parse_rfc3339(std::string_view text);

// Canonical UTC form: "2026-11-22T09:47:00Z", or "2026-11-22T09:47:00.250Z" when the
// milliseconds are not zero. Meant for kMinEventTime <= t <= kMaxEventTime; the end of a
// window can lie just past kMaxEventTime and comes out as "10000-01-01T00:00:00Z".
[[nodiscard]] std::string format_rfc3339(EventTime t);

}  // namespace auditor
