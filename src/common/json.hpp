// JSON parsing with the limits untrusted input needs.
#pragma once

#include <boost/json/value.hpp>

#include <string_view>

#include "common/result.hpp"

namespace gpuopt {

inline constexpr size_t kMaxJsonDepth = 16;

// Parses `text` as one JSON document. Rejects, with a validation error that says why: syntax errors,
// trailing data, nesting deeper than `max_depth`, NaN/Infinity literals, numbers that overflow a
// double, and invalid UTF-8. Never throws. The value allocates from `storage` (a request-scoped
// monotonic resource saves the allocator most of its work), which must outlive it.
Result<boost::json::value> ParseJson(std::string_view text, size_t max_depth = kMaxJsonDepth,
                                     boost::json::storage_ptr storage = {});

// Serialises to compact JSON, doubles in their shortest plain form ("1101.6", not "1.1016E3").
std::string ToJson(const boost::json::value& v);

}  // namespace gpuopt
