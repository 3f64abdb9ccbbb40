// Signing in to the web app (SPEC §4, §11):
//   POST /api/login {"email"}        mails a one-time sign-in link; the same answer whether or not the address
//                                    has an account
//   GET  /login/link?token=T         a page with one button; opening the link (as mail scanners do) uses nothing
//   POST /api/login/link?token=T     uses the link once and starts a session (a browser is sent to /dashboard)
//   POST /api/login/key {"api_key"}  starts a session with an API key
//   GET  /api/session                the session's account and its CSRF token
//   POST /api/logout                 ends this session; POST /api/logout-all ends every session of the account
#include <spdlog/spdlog.h>
#include <boost/json/object.hpp>

#include <algorithm>
#include <cctype>

#include "api/api.hpp"
#include "api/auth.hpp"
#include "api/html_page.hpp"
#include "api/web_session.hpp"
#include "common/crypto.hpp"
#include "common/email.hpp"
#include "common/json.hpp"
#include "http/error_response.hpp"
#include "http/query.hpp"
#include "mail/templates.hpp"

namespace gpuopt::api {

namespace {

constexpr size_t kLinkTokenChars = 43;  // base62: about 256 bits
constexpr auto kLinkValid = std::chrono::minutes(15);
constexpr int64_t kLinksPerHour = 5;  // per account: nobody's inbox gets flooded
constexpr int kLoginPerMinutePerIp = 10;
constexpr const char* kLinkSent =
    "If an account uses this address, a sign-in link is on its way. It works once, for 15 minutes.";

// The token a sign-in link carries, or nullopt when the query holds nothing worth looking up.
std::optional<std::string> LinkToken(const http::RequestContext& ctx) {
    auto query = http::ParseQuery(ctx.query);
    if (!query) return std::nullopt;
    auto it = query->find("token");
    if (it == query->end() || it->second.size() != kLinkTokenChars) return std::nullopt;
    if (!std::all_of(it->second.begin(), it->second.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; })) {
        return std::nullopt;
    }
    return it->second;
}

// What every sign-in door checks first: its limit per address, and that no other site's page sent the
// request (login CSRF). The answer to send instead, if any.
std::optional<http::Response> SignInRefused(Services& s, http::RequestContext& ctx, std::string_view door) {
    const unsigned version = ctx.request.version();
    ctx.principal = "login";
    auto limit = CheckIpLimit(s, door, ctx.client_ip, kLoginPerMinutePerIp);
    if (limit && !limit->allowed) return RateLimitedResponse(*limit, version);
    if (IsCrossSite(s.config, ctx.request)) {
        return http::ErrorResponse({ErrorCode::kForbidden, "Sign-in is refused from another site's page", {}}, version);
    }
    return std::nullopt;
}

bool FileMailTransport(const Config& c) { return c.mail.sendgrid_api_key.empty() && c.mail.smtp_server.empty(); }

// What the pages need of the plan to show its limits where they bite.
boost::json::object PlanJson(const Plan* plan) {
    if (plan == nullptr) return {};
    boost::json::object out{{"name", plan->display_name},         {"history_days", plan->history_days},
                            {"idle_alerts", plan->idle_alerts},   {"all_recommendations", plan->all_recommendations},
                            {"idle_actions", plan->idle_actions}, {"outgoing_webhooks", plan->outgoing_webhooks}};
    if (plan->gpu_limit) {
        out["gpu_limit"] = *plan->gpu_limit;
    } else {
        out["gpu_limit"] = nullptr;
    }
    return out;
}

boost::json::object SessionJson(const store::Account& account, const std::string& csrf, SysSeconds expires_at,
                                const Config& config) {
    return boost::json::object{{"status", "success"},
                               {"signed_in", true},
                               {"email", account.email},
                               {"tier", NameOf(account.tier)},
                               {"key_prefix", account.key_prefix},
                               {"csrf_token", csrf},
                               {"expires_at", FormatUtc(expires_at)},
                               {"idle_timeout_seconds", config.session_timeout_seconds},
                               {"plan", PlanJson(config.FindPlan(account.tier))}};
}

// The answer that starts a session: a browser's form post goes on to the dashboard, a script gets JSON.
boost::asio::awaitable<http::Response> SignedIn(Services& s, const http::RequestContext& ctx, int64_t account_id) {
    const unsigned version = ctx.request.version();
    auto started = co_await StartWebSession(s, account_id);
    if (!started) co_return http::ErrorResponse(started.error(), version);
    if (WantsHtml(ctx.request)) {
        http::Response res{http::bhttp::status::see_other, version};
        res.set(http::bhttp::field::location, "/dashboard");
        res.set(http::bhttp::field::set_cookie, started->set_cookie);
        co_return res;
    }
    const std::function<Result<store::Account>()> read = [&s, account_id] {
        return s.store.accounts().GetAccount(account_id);
    };
    auto account = co_await OffloadRead<store::Account>(s, read);
    if (!account) co_return http::ErrorResponse(account.error(), version);
    auto res = OkJson(SessionJson(*account, started->csrf_token, started->expires_at, s.config), version, std::nullopt);
    res.set(http::bhttp::field::set_cookie, started->set_cookie);
    co_return res;
}

}  // namespace

http::Handler MakeLoginHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        if (auto refused = SignInRefused(s, ctx, "login")) co_return std::move(*refused);
        auto parsed = ParseJson(ctx.request.body());
        if (!parsed) co_return http::ErrorResponse(parsed.error(), version);
        const auto* obj = parsed->if_object();
        const auto* email = obj == nullptr ? nullptr : obj->if_contains("email");
        if (email == nullptr || !email->is_string() || email->get_string().size() > 254) {
            co_return http::ErrorResponse(Error::Validation("email", "is required: the address you signed up with"),
                                          version);
        }
        const std::string normalized = NormalizeEmail(std::string_view(email->get_string()));
        if (!IsValidEmail(normalized)) {
            co_return http::ErrorResponse(Error::Validation("email", "is not a valid e-mail address"), version);
        }
        const auto now = UtcNow();
        const std::function<Result<std::optional<int64_t>>()> find = [&s, &normalized,
                                                                      now]() -> Result<std::optional<int64_t>> {
            auto id = s.store.sessions().AccountIdForEmail(normalized);
            if (!id || !*id) return id;
            auto recent = s.store.sessions().CountSignInLinks(**id, now - std::chrono::hours(1));
            if (!recent) return recent.error();
            if (*recent >= kLinksPerHour) {
                spdlog::warn("security: sign-in link for account {} not sent: {} asked within the hour", **id, *recent);
                return std::optional<int64_t>();
            }
            return id;
        };
        auto account_id = co_await OffloadRead<std::optional<int64_t>>(s, find);
        if (!account_id) co_return http::ErrorResponse(account_id.error(), version);
        if (*account_id) {
            const std::string token = RandomBase62(kLinkTokenChars);
            const std::string url = s.config.base_url + "/login/link?token=" + token;
            store::NewSignInLink link{**account_id, HashApiKey(token), ctx.client_ip, now, now + kLinkValid, {}};
            link.mail = mail::SignInLink(mail::Brand{"GPUOptimizer", s.config.base_url}, **account_id, normalized, url,
                                         link.token_hash.substr(0, 16), static_cast<int>(kLinkValid.count()));
            auto write = [&](store::Callback<void> done) {
                s.store.sessions().CreateSignInLink(std::move(link), std::move(done));
            };
            auto created = co_await http::AwaitCallback<void>(std::move(write));
            if (!created) co_return http::ErrorResponse(created.error(), version);
            if (FileMailTransport(s.config)) {
                // Mail goes to .eml files (no SMTP or SendGrid configured: a developer's machine): the link is
                // printed too, so that `make run` signs in from the console.
                spdlog::warn("sign-in link (mail is written to files; set SMTP_SERVER to send it): {}", url);
            }
        }
        co_return OkJson(boost::json::object{{"status", "success"}, {"message", kLinkSent}}, version, std::nullopt);
    };
}

http::Handler MakeSignInLinkPageHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        ctx.principal = "login";
        (void)s;
        auto token = LinkToken(ctx);
        if (!token) {
            co_return HtmlPage(http::bhttp::status::bad_request, "Sign in - GPUOptimizer", "This link is not complete",
                               "Copy the whole link from the mail, or ask for a new one on the sign-in page.", nullptr,
                               version);
        }
        // Opening the link uses nothing (mail scanners open every link, some run scripts): the button does.
        const PageButton button{"/api/login/link?token=" + *token, "Sign in to GPUOptimizer"};
        co_return HtmlPage(http::bhttp::status::ok, "Sign in - GPUOptimizer", "Sign in to GPUOptimizer",
                           "Press the button to sign in on this device. The link works once.", &button, version);
    };
}

http::Handler MakeRedeemSignInLinkHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        if (auto refused = SignInRefused(s, ctx, "login-link")) co_return std::move(*refused);
        auto token = LinkToken(ctx);
        std::optional<int64_t> account_id;
        if (token) {
            auto redeem = [&](store::Callback<std::optional<int64_t>> done) {
                s.store.sessions().RedeemSignInLink(HashApiKey(*token), UtcNow(), std::move(done));
            };
            auto redeemed = co_await http::AwaitCallback<std::optional<int64_t>>(std::move(redeem));
            if (!redeemed) co_return http::ErrorResponse(redeemed.error(), version);
            account_id = *redeemed;
        }
        if (!account_id) {
            RecordAuthFailure(s, ctx, "sign-in link used, expired or unknown");
            const char* what = "This sign-in link was used already, has expired, or a newer one was sent";
            if (WantsHtml(ctx.request)) {
                co_return HtmlPage(http::bhttp::status::bad_request, "Sign in - GPUOptimizer",
                                   "This link no longer works", std::string(what) + ". Ask for a new one at /login.",
                                   nullptr, version);
            }
            co_return http::ErrorResponse(Error::Validation("token", what), version);
        }
        co_return co_await SignedIn(s, ctx, *account_id);
    };
}

http::Handler MakeKeySignInHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        if (auto refused = SignInRefused(s, ctx, "login")) co_return std::move(*refused);
        auto parsed = ParseJson(ctx.request.body());
        if (!parsed) co_return http::ErrorResponse(parsed.error(), version);
        if (!parsed->is_object()) {
            co_return http::ErrorResponse(Error::Validation("body", "must be a JSON object"), version);
        }
        // The key only from the body: a browser's form sends nothing else.
        const auto* key = parsed->get_object().if_contains("api_key");
        if (key == nullptr || !key->is_string()) {
            co_return http::ErrorResponse(Error::Validation("api_key", "is required"), version);
        }
        const boost::json::object body{{"api_key", key->get_string()}};
        auto account = co_await AuthenticateRequest(s, ctx, &body);
        if (!account) co_return http::ErrorResponse(account.error(), version);
        ctx.principal = "login:" + account->key_prefix;
        co_return co_await SignedIn(s, ctx, account->id);
    };
}

http::Handler MakeSessionHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto session = co_await FindWebSession(s, ctx);
        if (!session) co_return http::ErrorResponse(session.error(), version);
        if (!*session) {
            // Not an error: the sign-in page asks whether to send the visitor on.
            co_return OkJson(boost::json::object{{"status", "success"}, {"signed_in", false}}, version, std::nullopt);
        }
        ctx.principal = "web:" + (*session)->account.key_prefix;
        co_return OkJson(
            SessionJson((*session)->account, (*session)->session.csrf_token, (*session)->session.expires_at, s.config),
            version, std::nullopt);
    };
}

http::Handler MakeLogoutHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        int64_t ended = 0;
        if (SessionCookieValue(s.config, ctx.request)) {
            auto session = co_await FindWebSession(s, ctx);
            if (!session) co_return http::ErrorResponse(session.error(), version);
            if (*session) {
                if (auto csrf = CheckCsrf(s.config, ctx.request, (*session)->session); !csrf)
                    co_return http::ErrorResponse(csrf.error(), version);
                ctx.principal = "web:" + (*session)->account.key_prefix;
                auto revoke = [&](store::Callback<int64_t> done) {
                    s.store.sessions().RevokeSession((*session)->session.id_hash, UtcNow(), std::move(done));
                };
                auto revoked = co_await http::AwaitCallback<int64_t>(std::move(revoke));
                if (!revoked) co_return http::ErrorResponse(revoked.error(), version);
                ended = *revoked;
            }
        }
        auto res =
            OkJson(boost::json::object{{"status", "success"}, {"sessions_revoked", ended}}, version, std::nullopt);
        res.set(http::bhttp::field::set_cookie, SessionClearCookie(s.config));
        co_return res;
    };
}

http::Handler MakeLogoutAllHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeCustomer(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const Caller& caller = std::get<Caller>(auth);
        auto revoke = [&](store::Callback<int64_t> done) {
            s.store.sessions().RevokeAccountSessions(caller.account.id, UtcNow(), std::move(done));
        };
        auto revoked = co_await http::AwaitCallback<int64_t>(std::move(revoke));
        if (!revoked) co_return CallerError(revoked.error(), caller, version);
        auto res =
            OkJson(boost::json::object{{"status", "success"}, {"sessions_revoked", *revoked}}, version, caller.limit);
        if (SessionCookieValue(s.config, ctx.request))
            res.set(http::bhttp::field::set_cookie, SessionClearCookie(s.config));
        co_return res;
    };
}

}  // namespace gpuopt::api
