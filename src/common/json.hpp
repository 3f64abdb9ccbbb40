// JSON parsing with the limits untrusted input needs.
#pragma once

#include <boost/json/value.hpp>

#include <string_view>

#include "common/result.hpp"

namespace gpuopt {

inline constexpr size_t kMaxJsonDepth = 16;

// Parses `text` as one JSON document. Rejects, with a validation error that says why: syntax errors,
// trailing data, nesting deeper than `max_depth`, NaN/Infinity literals, numbers that overflow a
// double, and invalid UTF-8. Never throws.
Result<boost::json::value> ParseJson(std::string_view text, size_t max_depth = kMaxJsonDepth);

// Serialises to compact JSON.
std::string ToJson(const boost::json::value& v);

}  // namespace gpuopt
