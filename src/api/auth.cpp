#include "api/auth.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <mutex>
#include <unordered_map>

#include "api/web_session.hpp"
#include "common/crypto.hpp"
#include "common/json.hpp"
#include "http/error_response.hpp"

namespace gpuopt::api {

Result<std::optional<std::string>> ExtractApiKey(const http::Request& req, const boost::json::object* body) {
    std::optional<std::string> key;
    const char* from = nullptr;
    auto offer = [&](std::string value, const char* where) -> Result<void> {
        if (key && *key != value) {
            return Error::Validation(
                "api_key", std::string("the key in ") + where + " differs from the one in " + from + "; send one key");
        }
        key = std::move(value);
        from = where;
        return {};
    };
    if (auto it = req.find(http::bhttp::field::authorization); it != req.end()) {
        std::string_view v = it->value();
        std::string value;  // another scheme: present but not a key
        if (v.size() > 7 && (v.substr(0, 7) == "Bearer " || v.substr(0, 7) == "bearer ")) {
            v.remove_prefix(7);
            while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
            value = std::string(v);
        }
        if (auto r = offer(std::move(value), "Authorization"); !r) return r.error();
    }
    if (auto it = req.find("X-API-Key"); it != req.end()) {
        if (auto r = offer(std::string(it->value()), "X-API-Key"); !r) return r.error();
    }
    if (body != nullptr) {
        if (const auto* v = body->if_contains("api_key"); v != nullptr && !v->is_null()) {
            if (auto r = offer(v->is_string() ? std::string(v->get_string()) : std::string(), "the body's api_key");
                !r) {
                return r.error();
            }
        }
    }
    return key;
}

namespace {

// Records a key's use at most once a minute: a busy agent's reports pay for no extra write.
bool KeyUseDue(const std::string& key_hash) {
    static std::mutex mu;
    static std::unordered_map<std::string, std::chrono::steady_clock::time_point> last;
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu);
    if (last.size() > 100000) last.clear();  // bounded; forgetting only means one more write
    auto [it, fresh] = last.try_emplace(key_hash, now);
    if (!fresh && now - it->second < std::chrono::minutes(1)) return false;
    it->second = now;
    return true;
}

void NoteKeyUse(Services& s, const std::string& key_hash) {
    if (!KeyUseDue(key_hash)) return;
    s.store.accounts().TouchApiKey(key_hash, UtcNow(), [](Result<void> r) {
        if (!r) spdlog::warn("API key use not recorded: {}", r.error().message);
    });
}

// The account of a key as ExtractApiKey found it. kInvalidApiKey for a missing, malformed or unknown key.
boost::asio::awaitable<Result<store::Account>> LookUpKey(Services& s, const Result<std::optional<std::string>>& key) {
    if (!key) co_return key.error();
    if (!*key) co_return Error{ErrorCode::kInvalidApiKey, "An API key is required", {}};
    if (!IsWellFormedApiKey(**key)) co_return Error{ErrorCode::kInvalidApiKey, "Invalid API key", {}};
    const std::string hash = HashApiKey(**key);
    if (auto cached = s.store.accounts().CachedAccountByKeyHash(hash)) {
        NoteKeyUse(s, hash);
        co_return std::move(*cached);
    }
    // Not looked up lately: the database is read on the read pool, not on this event loop.
    const std::function<Result<store::Account>()> find = [&s, &hash] {
        return s.store.accounts().FindAccountByKeyHash(hash);
    };
    auto account = co_await OffloadRead<store::Account>(s, find);
    if (!account && account.error().code == ErrorCode::kNotFound)
        co_return Error{ErrorCode::kInvalidApiKey, "Invalid API key", {}};
    if (account) NoteKeyUse(s, hash);
    co_return account;
}

}  // namespace

void RecordAuthFailure(Services& s, const http::RequestContext& ctx, std::string_view reason) {
    if (s.guard == nullptr || !s.guard->Fail(ctx.client_ip)) return;
    const auto& o = s.guard->options();
    std::string detail = std::to_string(o.max_failures) + " failed authentications within " +
                         std::to_string(o.window.count()) + " s (last: " + std::string(reason) + "); blocked for " +
                         std::to_string(o.block_for.count()) + " s";
    spdlog::warn("security: address {} blocked: {}", ctx.client_ip, detail);
    s.store.security().RecordSecurityEvent("address_blocked", ctx.client_ip, std::move(detail), UtcNow(),
                                           [](Result<void> r) {
                                               if (!r)
                                                   spdlog::error("security event not recorded: {}", r.error().message);
                                           });
}

boost::asio::awaitable<Result<store::Account>> AuthenticateRequest(Services& s, const http::RequestContext& ctx,
                                                                   const boost::json::object* body) {
    const auto key = ExtractApiKey(ctx.request, body);  // named: no temporary in the co_await (GCC 12)
    auto account = co_await LookUpKey(s, key);
    if (!account && account.error().code == ErrorCode::kInvalidApiKey)
        RecordAuthFailure(s, ctx, account.error().message);
    co_return account;
}

std::optional<http::RateDecision> CheckKeyLimit(Services& s, const store::Account& account) {
    const Plan* plan = s.config.FindPlan(account.tier);
    if (plan == nullptr || !plan->requests_per_hour) return std::nullopt;
    return s.key_limiter.Check("acct:" + std::to_string(account.id), *plan->requests_per_hour, std::chrono::hours(1));
}

std::optional<http::RateDecision> CheckIpLimit(Services& s, std::string_view bucket, const std::string& ip,
                                               int per_minute) {
    if (per_minute <= 0) return std::nullopt;
    return s.ip_limiter.Check(std::string(bucket) + ":" + ip, per_minute, std::chrono::minutes(1));
}

void ApplyRateHeaders(http::Response& res, const std::optional<http::RateDecision>& decision) {
    if (!decision) return;
    const auto& d = *decision;
    res.set("RateLimit-Limit", std::to_string(d.limit));
    res.set("RateLimit-Remaining", std::to_string(d.remaining));
    res.set("RateLimit-Reset", std::to_string(d.reset_seconds));
    if (!d.allowed) res.set(http::bhttp::field::retry_after, std::to_string(d.retry_after_seconds));
}

http::Response OkJson(const boost::json::object& body, unsigned version,
                      const std::optional<http::RateDecision>& decision) {
    return OkJsonText(ToJson(body), version, decision);
}

http::Response OkJsonText(std::string body, unsigned version, const std::optional<http::RateDecision>& decision) {
    http::Response res{http::bhttp::status::ok, version};
    res.set(http::bhttp::field::content_type, "application/json");
    res.body() = std::move(body);
    res.prepare_payload();
    ApplyRateHeaders(res, decision);
    return res;
}

http::Response RateLimitedResponse(const http::RateDecision& decision, unsigned version) {
    auto res =
        http::ErrorResponse({ErrorCode::kRateLimited,
                             "Rate limit exceeded; retry after " + std::to_string(decision.retry_after_seconds) + " s",
                             {}},
                            version);
    ApplyRateHeaders(res, decision);
    return res;
}

boost::asio::awaitable<std::variant<Caller, http::Response>> AuthorizeCustomer(Services& s, http::RequestContext& ctx,
                                                                               const boost::json::object* body) {
    const unsigned version = ctx.request.version();
    Result<store::Account> account = Error{ErrorCode::kInternal, "Internal server error", {}};
    const auto key = ExtractApiKey(ctx.request, body);  // named: no temporary in the co_await (GCC 12)
    if (key && !*key && SessionCookieValue(s.config, ctx.request)) {
        // No key, a session cookie: the web app. A state-changing request also needs the CSRF token.
        auto session = co_await FindWebSession(s, ctx);
        if (!session) co_return http::ErrorResponse(session.error(), version);
        if (!*session) {
            co_return http::ErrorResponse({ErrorCode::kInvalidApiKey, "Your session has ended: sign in again", {}},
                                          version);
        }
        if (ChangesState(ctx.request)) {
            if (auto csrf = CheckCsrf(s.config, ctx.request, (*session)->session); !csrf) {
                spdlog::warn("security: {} {} from {} refused: {}", ctx.request.method_string(), ctx.path,
                             ctx.client_ip, csrf.error().message);
                co_return http::ErrorResponse(csrf.error(), version);
            }
        }
        account = std::move((*session)->account);
        ctx.principal = "web:" + account->key_prefix;
    } else {
        account = co_await LookUpKey(s, key);
        if (!account && account.error().code == ErrorCode::kInvalidApiKey)
            RecordAuthFailure(s, ctx, account.error().message);
        if (!account) co_return http::ErrorResponse(account.error(), version);
        ctx.principal = account->key_prefix;
    }
    Caller caller;
    caller.plan = s.config.FindPlan(account->tier);
    if (caller.plan == nullptr)
        co_return http::ErrorResponse(Error{ErrorCode::kInternal, "Internal server error", {}}, version);
    caller.limit = CheckKeyLimit(s, *account);
    if (caller.limit && !caller.limit->allowed) co_return RateLimitedResponse(*caller.limit, version);
    caller.account = std::move(*account);
    co_return caller;
}

http::Response CallerError(const Error& error, const Caller& caller, unsigned version) {
    auto res = http::ErrorResponse(error, version);
    ApplyRateHeaders(res, caller.limit);
    return res;
}

std::optional<int64_t> IdParam(const http::RequestContext& ctx) {
    auto it = ctx.params.find("id");
    if (it == ctx.params.end()) return std::nullopt;
    int64_t id = 0;
    const auto* end = it->second.data() + it->second.size();
    auto [ptr, ec] = std::from_chars(it->second.data(), end, id);
    if (ec != std::errc() || ptr != end || id <= 0) return std::nullopt;
    return id;
}

bool HasOperatorToken(const Services& s, const http::Request& req) {
    if (s.config.admin_token.empty()) return false;
    auto it = req.find(http::bhttp::field::authorization);
    if (it == req.end()) return false;
    std::string_view v = it->value();
    if (v.size() <= 7 || (v.substr(0, 7) != "Bearer " && v.substr(0, 7) != "bearer ")) return false;
    return ConstantTimeEquals(v.substr(7), s.config.admin_token);
}

boost::asio::awaitable<std::variant<JsonCaller, http::Response>> AuthorizeWithBody(Services& s,
                                                                                   http::RequestContext& ctx) {
    const unsigned version = ctx.request.version();
    auto parsed = ParseJson(ctx.request.body());
    if (!parsed) co_return http::ErrorResponse(parsed.error(), version);
    if (!parsed->is_object())
        co_return http::ErrorResponse(Error::Validation("body", "must be a JSON object"), version);
    JsonCaller out;
    out.body = std::move(parsed->get_object());
    auto auth = co_await AuthorizeCustomer(s, ctx, &out.body);
    if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
    out.caller = std::move(std::get<Caller>(auth));
    co_return out;
}

}  // namespace gpuopt::api
