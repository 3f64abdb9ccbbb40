// The one place that turns an Error into an HTTP status and the JSON envelope of SPEC §4:
//   {"status":"error","message":"...","code":"VALIDATION_ERROR","details":{...}}
#pragma once

#include <boost/beast/http/status.hpp>
#include <boost/json/object.hpp>

#include <string_view>

#include "common/result.hpp"
#include "http/types.hpp"

namespace gpuopt::http {

// The Retry-After of a 503 UNAVAILABLE answer (the store is full or down; nothing was changed).
inline constexpr int kUnavailableRetryAfterSeconds = 30;

bhttp::status StatusFor(ErrorCode code);
std::string_view WireCode(ErrorCode code);

Response ErrorResponse(const Error& error, unsigned version = 11);

// A JSON response; `body` is serialised compactly with doubles in plain notation.
Response JsonResponse(bhttp::status status, const boost::json::object& body, unsigned version = 11);

}  // namespace gpuopt::http
