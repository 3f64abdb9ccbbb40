// Customer authentication by API key, and the per-key and per-IP rate limits.
#pragma once

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <variant>

#include "api/api.hpp"
#include "http/await.hpp"
#include "http/rate_limiter.hpp"
#include "http/types.hpp"

namespace gpuopt::api {

// The key from "Authorization: Bearer <key>", "X-API-Key: <key>", or the body's "api_key" field. nullopt
// when none is present; "" when one is present but not a key (another Authorization scheme, a non-string
// api_key). kValidation when two of them carry different values: no silent pick.
Result<std::optional<std::string>> ExtractApiKey(const http::Request& req, const boost::json::object* body);

// A failed authentication from the request's address (a wrong key or token, a forged signature): counted
// by the address guard; the failure that starts a block records one security event.
void RecordAuthFailure(Services& s, const http::RequestContext& ctx, std::string_view reason);

// Authenticates the request's key: kInvalidApiKey for a missing, malformed or unknown key, and on that
// failure records it (RecordAuthFailure). An account looked up lately comes from the store's cache on the
// event loop; any other lookup reads the database on the read pool (OffloadRead).
boost::asio::awaitable<Result<store::Account>> AuthenticateRequest(Services& s, const http::RequestContext& ctx,
                                                                   const boost::json::object* body);

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

// The same for a body already written as JSON text (JsonWriter), for answers too large for a document.
http::Response OkJsonText(std::string body, unsigned version, const std::optional<http::RateDecision>& decision);

// The 429 answer for a refused decision, with its headers.
http::Response RateLimitedResponse(const http::RateDecision& decision, unsigned version);

// A customer whose key was accepted and who is within the plan's request limit.
struct Caller {
    store::Account account;
    const Plan* plan = nullptr;  // never null for an account the store returned
    std::optional<http::RateDecision> limit;
};

// Authenticates the request's key and applies the plan's rate limit. On refusal, the answer to send
// (401 or 429) instead. Sets ctx.principal for the access log.
boost::asio::awaitable<std::variant<Caller, http::Response>> AuthorizeCustomer(
    Services& s, http::RequestContext& ctx, const boost::json::object* body = nullptr);

// A caller and the JSON object its request carried (PUT and POST handlers).
struct JsonCaller {
    boost::json::object body;
    Caller caller;
};

// The body parsed (400 unless it is a JSON object), then the caller authenticated with it (a key in the
// body counts, as in AuthorizeCustomer). On refusal, the answer to send instead.
boost::asio::awaitable<std::variant<JsonCaller, http::Response>> AuthorizeWithBody(Services& s,
                                                                                   http::RequestContext& ctx);

// An error answer that carries the caller's rate-limit headers.
http::Response CallerError(const Error& error, const Caller& caller, unsigned version);

// Runs `work` on `run` (a pool of threads; right here when unset) and resumes with its result. `work` is a
// named object in the caller's frame: GCC 12 mishandles temporaries with destructors inside a co_await
// expression, so callers must not pass a lambda directly.
template <class T>
boost::asio::awaitable<Result<T>> OffloadTo(const std::function<void(std::function<void()>)>& run,
                                            const std::function<Result<T>()>& work) {
    if (!run) co_return work();
    auto start = [&run, &work](std::function<void(Result<T>)> done) {
        run([work, done = std::move(done)]() mutable { done(work()); });
    };
    co_return co_await http::AwaitCallback<T>(start);
}

// Blocking work (it may call a payment gateway), on Services::run_blocking.
template <class T>
boost::asio::awaitable<Result<T>> Offload(Services& s, const std::function<Result<T>()>& work) {
    co_return co_await OffloadTo<T>(s.run_blocking, work);
}

// A long store read (a year of history), on Services::run_read.
template <class T>
boost::asio::awaitable<Result<T>> OffloadRead(Services& s, const std::function<Result<T>()>& work) {
    co_return co_await OffloadTo<T>(s.run_read, work);
}

// The positive integer a route's `{id}` names, or nullopt when it is not one.
std::optional<int64_t> IdParam(const http::RequestContext& ctx);

// True when the request carries the operator token (Authorization: Bearer, compared in constant time).
bool HasOperatorToken(const Services& s, const http::Request& req);

}  // namespace gpuopt::api
