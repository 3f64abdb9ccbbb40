// Entering the operator API: the admin session cookie or the read-only ADMIN_TOKEN (api/admin.hpp).
#include <spdlog/spdlog.h>

#include "api/admin.hpp"
#include "api/admin_internal.hpp"
#include "api/auth.hpp"
#include "api/web_session.hpp"
#include "common/crypto.hpp"
#include "http/await.hpp"
#include "http/error_response.hpp"

namespace gpuopt::api {

namespace {

constexpr auto kTouchEvery = std::chrono::seconds(60);

bool Https(const Config& config) { return config.base_url.starts_with("https://"); }

}  // namespace

std::string AdminCookieName(const Config& config) { return Https(config) ? "__Host-gpuopt_admin" : "gpuopt_admin"; }

std::string AdminSetCookie(const Config& config, const std::string& value) {
    // No Max-Age: the cookie goes with the browser; the server ends the session whatever the cookie says.
    std::string out = AdminCookieName(config) + "=" + value + "; Path=/; HttpOnly; SameSite=Strict";
    if (Https(config)) out += "; Secure";
    return out;
}

std::string AdminClearCookie(const Config& config) {
    std::string out = AdminCookieName(config) + "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict";
    if (Https(config)) out += "; Secure";
    return out;
}

bool OperatorRequestIsCrossSite(const Config& config, const http::Request& req) {
    // Stricter than the customer's rule: a sibling site (same-site) is not trusted with the panel either.
    if (auto site = req.find("Sec-Fetch-Site"); site != req.end())
        return site->value() != "same-origin" && site->value() != "none";
    return IsCrossSite(config, req);
}

boost::asio::awaitable<Result<std::optional<OperatorCaller>>> FindAdminSessionCaller(Services& s,
                                                                                     const http::RequestContext& ctx) {
    auto cookie = CookieValue(ctx.request, AdminCookieName(s.config), kAdminSessionChars);
    if (!cookie) co_return std::optional<OperatorCaller>();
    const std::string id_hash = HashApiKey(*cookie);
    const auto now = UtcNow();
    const std::function<Result<std::optional<OperatorCaller>>()> find =
        [&s, &id_hash, now]() -> Result<std::optional<OperatorCaller>> {
        auto session = s.store.admin().FindAdminSession(id_hash, now,
                                                        std::chrono::seconds(s.config.admin_session_timeout_seconds));
        if (!session) return session.error();
        if (!*session) return std::optional<OperatorCaller>();
        auto admin = s.store.admin().GetAdminUser((*session)->admin_id);
        if (!admin) return admin.error();
        if (!*admin || (*admin)->disabled) return std::optional<OperatorCaller>();
        OperatorCaller caller;
        caller.actor_type = "admin";
        caller.actor = (*admin)->email;
        caller.admin = std::move(**admin);
        caller.session = std::move(**session);
        return std::optional<OperatorCaller>(std::move(caller));
    };
    auto found = co_await OffloadRead<std::optional<OperatorCaller>>(s, find);
    if (found && *found && now - (*found)->session->last_seen_at >= kTouchEvery) {
        s.store.admin().TouchAdminSession(id_hash, now, [](Result<void> r) {
            if (!r) spdlog::warn("admin session activity not recorded: {}", r.error().message);
        });
    }
    co_return found;
}

boost::asio::awaitable<std::variant<OperatorCaller, http::Response>> AuthorizeOperator(Services& s,
                                                                                       http::RequestContext& ctx) {
    const unsigned version = ctx.request.version();
    if (auto auth = ctx.request.find(http::bhttp::field::authorization); auth != ctx.request.end()) {
        if (!HasOperatorToken(s, ctx.request)) {
            RecordAuthFailure(s, ctx, "wrong operator token");
            co_return http::ErrorResponse(
                {ErrorCode::kUnauthenticated, "Operator token wrong: sign in to /admin or send the ADMIN_TOKEN", {}},
                version);
        }
        if (ChangesState(ctx.request)) {
            co_return http::ErrorResponse(
                {ErrorCode::kForbidden, "ADMIN_TOKEN is read-only: sign in to /admin to change anything", {}}, version);
        }
        ctx.principal = "operator";
        co_return OperatorCaller{std::nullopt, std::nullopt, "token", "ADMIN_TOKEN"};
    }
    auto found = co_await FindAdminSessionCaller(s, ctx);
    if (!found) co_return http::ErrorResponse(found.error(), version);
    if (!*found) {
        co_return http::ErrorResponse(
            {ErrorCode::kUnauthenticated, "Sign in to /admin (or send the ADMIN_TOKEN to read)", {}}, version);
    }
    OperatorCaller caller = std::move(**found);
    ctx.principal = "admin:" + caller.actor;
    if (ChangesState(ctx.request)) {
        if (OperatorRequestIsCrossSite(s.config, ctx.request)) {
            spdlog::warn("security: cross-site operator request refused from {}", ctx.client_ip);
            co_return http::ErrorResponse(
                {ErrorCode::kForbidden, "Cross-site requests cannot change anything in the admin panel", {}}, version);
        }
        auto token = ctx.request.find("X-CSRF-Token");
        if (token == ctx.request.end() || !ConstantTimeEquals(token->value(), caller.session->csrf_token)) {
            co_return http::ErrorResponse(
                {ErrorCode::kForbidden,
                 "CSRF token missing or wrong: send X-CSRF-Token with the token from GET /api/admin/session",
                 {}},
                version);
        }
    }
    co_return caller;
}

store::AuditEntry AuditFor(const OperatorCaller& caller, const http::RequestContext& ctx, std::string action,
                           std::string target) {
    store::AuditEntry entry;
    entry.at = UtcNow();
    entry.actor_type = caller.actor_type;
    entry.actor = caller.actor;
    entry.action = std::move(action);
    entry.target = std::move(target);
    entry.ip = ctx.client_ip;
    if (caller.session) entry.session_ref = caller.session->id_hash.substr(0, 16);
    return entry;
}

}  // namespace gpuopt::api
