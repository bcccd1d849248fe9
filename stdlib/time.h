// stdlib/time.h: RFC 3339 date-times as milliseconds since 1970-01-01T00:00:00Z.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cdr::stdlib {

/// Parses `2019-01-01T05:00:00Z`, `2019-01-01T05:00:00.250+02:00`, `2019-01-01` (midnight
/// UTC). Years 1 to 9999. Returns nothing on any malformation (month 13, day 31 of
/// April, a missing zone on a time...).
std::optional<int64_t> ParseTime(std::string_view text);

/// `2019-01-01T05:00:00Z`, with `.mmm` when the milliseconds are not zero.
std::string FormatTime(int64_t ms);

}  // namespace cdr::stdlib
