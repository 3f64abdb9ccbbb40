// UTC time helpers. Every timestamp the server stores or sends is UTC, written as
// "YYYY-MM-DDTHH:MM:SSZ" so that text order is time order on every store backend.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace gpuopt {

using SysSeconds = std::chrono::sys_seconds;
using SysMillis = std::chrono::sys_time<std::chrono::milliseconds>;

SysSeconds UtcNow();
std::string FormatUtc(SysSeconds t);

// Parses RFC 3339 date-times: "2026-11-25T10:00:00Z", with optional fractional seconds and a
// numeric offset ("+02:00"); the result is converted to UTC. Returns nullopt for anything else,
// including impossible dates (2026-02-30) and years outside 1970..9999.
std::optional<SysSeconds> ParseUtc(std::string_view text);
// The same, to the millisecond (digits past the third are dropped).
std::optional<SysMillis> ParseUtcMillis(std::string_view text);
// "2026-11-25T10:00:00.250Z"; whole seconds as FormatUtc writes them.
std::string FormatUtcMillis(SysMillis t);

// The same time of day `months` calendar months later; the 31st of a shorter month becomes its last day.
SysSeconds AddMonths(SysSeconds t, int months);

// RFC 5322 date for mail headers: "Thu, 26 Nov 2026 10:00:00 +0000".
std::string FormatRfc5322(SysSeconds t);

}  // namespace gpuopt
