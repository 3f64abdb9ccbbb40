// Customer authentication by API key, and the per-key and per-IP rate limits.
#pragma once

#include <boost/json/object.hpp>

#include <optional>
#include <string>

#include "api/api.hpp"
#include "http/rate_limiter.hpp"
#include "http/types.hpp"

namespace gpuopt::api {

// The key from "Authorization: Bearer <key>", "X-API-Key: <key>", or the body's "api_key" field, in
// that order. nullopt when none is present.
std::optional<std::string> ExtractApiKey(const http::Request& req, const boost::json::object* body);

// Looks the key up by its hash. kInvalidApiKey for a missing, malformed or unknown key.
Result<store::Account> Authenticate(store::Store& store, const std::optional<std::string>& key);

// The account's plan limit: a decision (allowed or not), or nullopt when the plan is unlimited.
std::optional<http::RateDecision> CheckKeyLimit(Services& s, const store::Account& account);

// Per-IP limit for a public endpoint: `per_minute` requests per minute (0: unlimited -> nullopt).
std::optional<http::RateDecision> CheckIpLimit(Services& s, std::string_view bucket, const std::string& ip,
                                               int per_minute);

// Adds RateLimit-Limit/Remaining/Reset, and Retry-After when refused.
void ApplyRateHeaders(http::Response& res, const std::optional<http::RateDecision>& decision);

// A 200 JSON answer carrying the rate-limit headers of `decision`.
http::Response OkJson(const boost::json::object& body, unsigned version,
                      const std::optional<http::RateDecision>& decision);

// The 429 answer for a refused decision, with its headers.
http::Response RateLimitedResponse(const http::RateDecision& decision, unsigned version);

}  // namespace gpuopt::api
