// Signing operators in and out, and their second factor (api/admin.hpp, decision 0027):
//   POST   /api/admin/login {"email", "password", "code"?}   starts an admin session
//   GET    /api/admin/session                              the session's operator and CSRF token
//   POST   /api/admin/logout                               ends it
//   GET    /api/admin/totp/new                             a fresh TOTP secret to enrol (nothing is stored)
//   PUT    /api/admin/totp {"password", "secret", "code"}  turns the second factor on with that secret
//   DELETE /api/admin/totp {"password", "code"}            turns it off
// Changing the factor ends every session of the operator: they sign in again with the new setting.
#include <spdlog/spdlog.h>
#include <boost/json/object.hpp>

#include "api/admin.hpp"
#include "api/admin_internal.hpp"
#include "api/auth.hpp"
#include "api/web_session.hpp"
#include "common/crypto.hpp"
#include "common/email.hpp"
#include "common/json.hpp"
#include "common/password.hpp"
#include "common/totp.hpp"
#include "http/error_response.hpp"

namespace gpuopt::api {

namespace {

constexpr size_t kCsrfChars = 32;
constexpr int kLoginPerMinutePerIp = 10;
constexpr size_t kUserAgentChars = 200;
// One answer for every failure: nothing tells a guesser whether the address has an account, which factor
// was wrong, or that the account is locked (the operator sees that in `gpuopt admin list-users` and the log).
constexpr const char* kSignInFailed =
    "Sign-in failed: the email, password or code is wrong, or the account is locked for a while";

store::AdminLockPolicy LockPolicy(const Config& config) {
    store::AdminLockPolicy policy;
    policy.max_attempts = config.max_login_attempts;
    return policy;
}

// A string field of at most `max` bytes; nullopt when absent or not a string.
std::optional<std::string> StringField(const boost::json::object& body, std::string_view name, size_t max) {
    const auto* v = body.if_contains(name);
    if (v == nullptr || !v->is_string() || v->get_string().size() > max) return std::nullopt;
    return std::string(v->get_string());
}

http::Response NoStore(http::Response res) {
    res.set(http::bhttp::field::cache_control, "no-store");
    return res;
}

boost::json::object SessionJson(const store::AdminUser& admin, const store::AdminSession& session,
                                const Config& config) {
    return boost::json::object{{"status", "success"},
                               {"signed_in", true},
                               {"email", admin.email},
                               {"csrf_token", session.csrf_token},
                               {"expires_at", FormatUtc(session.expires_at)},
                               {"idle_timeout_seconds", config.admin_session_timeout_seconds},
                               {"second_factor", !admin.totp_secret.empty()}};
}

void LogWrite(std::string_view what, const Result<void>& r) {
    if (!r) spdlog::error("{} not recorded: {}", what, r.error().message);
}

// Verifies a password off the I/O threads (argon2id takes a core for ~60 ms and 64 MiB).
boost::asio::awaitable<Result<bool>> VerifyPassword(Services& s, const std::string& hash, const std::string& password) {
    const std::function<Result<bool>()> verify = [&hash, &password]() -> Result<bool> {
        return password::Verify(hash, password);
    };
    co_return co_await Offload<bool>(s, verify);
}

// The TOTP step `code` matches for the admin's secret (the store has opened it), or nullopt.
Result<std::optional<int64_t>> MatchStoredCode(const store::AdminUser& admin, const std::string& code, SysSeconds now) {
    return totp::Match(admin.totp_secret, code, now);
}

// Re-authentication for a change to the operator's own factors: password and, when enrolled, a code.
boost::asio::awaitable<Result<void>> ReAuthenticate(Services& s, const store::AdminUser& admin,
                                                    const boost::json::object& body) {
    auto pw = StringField(body, "password", password::kMaxLength);
    if (!pw) co_return Error::Validation("password", "is required: your current password");
    auto ok = co_await VerifyPassword(s, admin.password_hash, *pw);
    if (!ok) co_return ok.error();
    bool code_ok = true;
    if (!admin.totp_secret.empty()) {
        auto code = StringField(body, "code", 16);
        auto step = code ? MatchStoredCode(admin, *code, UtcNow()) : Result<std::optional<int64_t>>(std::nullopt);
        if (!step) co_return step.error();
        code_ok = step->has_value();
    }
    if (!*ok || !code_ok) co_return Error{ErrorCode::kForbidden, "The password or code is wrong", {}};
    co_return Result<void>{};
}

}  // namespace

http::Handler MakeAdminLoginHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        ctx.principal = "admin-login";
        auto limit = CheckIpLimit(s, "admin-login", ctx.client_ip, kLoginPerMinutePerIp);
        if (limit && !limit->allowed) co_return RateLimitedResponse(*limit, version);
        if (OperatorRequestIsCrossSite(s.config, ctx.request)) {
            co_return http::ErrorResponse({ErrorCode::kForbidden, "Sign-in is refused from another site's page", {}},
                                          version);
        }
        auto parsed = ParseJson(ctx.request.body());
        if (!parsed) co_return http::ErrorResponse(parsed.error(), version);
        if (!parsed->is_object())
            co_return http::ErrorResponse(Error::Validation("body", "must be a JSON object"), version);
        const auto& body = parsed->get_object();
        auto email = StringField(body, "email", 254);
        if (!email) co_return http::ErrorResponse(Error::Validation("email", "is required"), version);
        auto pw = StringField(body, "password", password::kMaxLength);
        if (!pw || pw->empty()) co_return http::ErrorResponse(Error::Validation("password", "is required"), version);
        std::optional<std::string> code;
        if (const auto* c = body.if_contains("code"); c != nullptr && !c->is_null()) {
            code = StringField(body, "code", 16);
            if (!code) co_return http::ErrorResponse(Error::Validation("code", "must be the 6 digits"), version);
        }
        const std::string normalized = NormalizeEmail(*email);
        const std::function<Result<std::optional<store::AdminUser>>()> find = [&s, &normalized] {
            return s.store.admin().FindAdminUser(normalized);
        };
        auto admin = co_await OffloadRead<std::optional<store::AdminUser>>(s, find);
        if (!admin) co_return http::ErrorResponse(admin.error(), version);
        const auto now = UtcNow();
        // The password is checked even for an unknown address (against a hash nobody knows), so that the
        // time taken does not tell whether the address has an account.
        const std::string hash = *admin ? (*admin)->password_hash : password::DummyHash();
        auto password_ok = co_await VerifyPassword(s, hash, *pw);
        if (!password_ok) co_return http::ErrorResponse(password_ok.error(), version);

        std::string reason;
        bool counts = false;  // a failure that counts towards the lock (not one the lock or state caused)
        if (!*admin) {
            reason = "unknown address";
        } else if ((*admin)->disabled) {
            reason = "account disabled";
        } else if ((*admin)->locked_until && *(*admin)->locked_until > now) {
            reason = "account locked";
        } else if (!*password_ok) {
            reason = "wrong password";
            counts = true;
        } else if (!(*admin)->totp_secret.empty()) {
            if (!code || code->empty()) {
                reason = "code missing";
                counts = true;
            } else {
                auto step = MatchStoredCode(**admin, *code, now);
                if (!step) co_return http::ErrorResponse(step.error(), version);
                if (!*step) {
                    reason = "wrong code";
                    counts = true;
                } else {
                    auto accept = [&](store::Callback<bool> done) {
                        s.store.admin().AcceptTotpStep((*admin)->id, **step, std::move(done));
                    };
                    auto accepted = co_await http::AwaitCallback<bool>(std::move(accept));
                    if (!accepted) co_return http::ErrorResponse(accepted.error(), version);
                    if (!*accepted) {
                        reason = "code used before";
                        counts = true;
                    }
                }
            }
            if (!reason.empty())
                spdlog::warn("security: operator {} gave the right password but not the code", (*admin)->id);
        }

        if (!reason.empty()) {
            RecordAuthFailure(s, ctx, "operator sign-in failed");
            if (!*admin) {
                s.store.security().RecordSecurityEvent("admin_sign_in_failed", ctx.client_ip, "unknown address", now,
                                                       [](Result<void> r) { LogWrite("security event", r); });
            } else {
                OperatorCaller who{*admin, std::nullopt, "admin", (*admin)->email};
                auto audit = AuditFor(who, ctx, "admin.sign_in", "admin:" + std::to_string((*admin)->id));
                audit.result = counts ? "failure" : "denied";
                audit.after = ToJson(boost::json::object{{"reason", reason}});
                if (counts) {
                    auto fail = [&](store::Callback<store::AdminUser> done) {
                        s.store.admin().RecordAdminLoginFailure((*admin)->id, now, LockPolicy(s.config),
                                                                std::move(audit), std::move(done));
                    };
                    auto after = co_await http::AwaitCallback<store::AdminUser>(std::move(fail));
                    if (!after) co_return http::ErrorResponse(after.error(), version);
                    if (after->lockouts > (*admin)->lockouts) {
                        const std::string detail = "operator " + std::to_string(after->id) + " locked until " +
                                                   FormatUtc(after->locked_until.value_or(now)) + " after " +
                                                   std::to_string(s.config.max_login_attempts) + " failed sign-ins";
                        spdlog::warn("security: {}", detail);
                        s.store.security().RecordSecurityEvent("admin_locked", ctx.client_ip, detail, now,
                                                               [](Result<void> r) { LogWrite("security event", r); });
                    }
                } else {
                    auto append = [&](store::Callback<store::AuditEntry> done) {
                        s.store.admin().AppendAudit(std::move(audit), std::move(done));
                    };
                    auto appended = co_await http::AwaitCallback<store::AuditEntry>(std::move(append));
                    if (!appended) co_return http::ErrorResponse(appended.error(), version);
                }
            }
            co_return NoStore(http::ErrorResponse({ErrorCode::kUnauthenticated, kSignInFailed, {}}, version));
        }

        const store::AdminUser& user = **admin;
        const std::string value = RandomBase62(kAdminSessionChars);
        store::AdminSession session;
        session.id_hash = HashApiKey(value);
        session.admin_id = user.id;
        session.csrf_token = RandomBase62(kCsrfChars);
        session.ip = ctx.client_ip;
        if (auto ua = ctx.request.find(http::bhttp::field::user_agent); ua != ctx.request.end())
            session.user_agent = std::string(ua->value().substr(0, kUserAgentChars));
        session.created_at = now;
        session.last_seen_at = now;
        session.expires_at = now + std::chrono::seconds(s.config.admin_session_max_age_seconds);
        OperatorCaller who{user, session, "admin", user.email};
        auto audit = AuditFor(who, ctx, "admin.sign_in", "admin:" + std::to_string(user.id));
        auto body_out = SessionJson(user, session, s.config);
        auto write = [&](store::Callback<void> done) {
            s.store.admin().SignInAdmin(std::move(session), std::move(audit), std::move(done));
        };
        auto signed_in = co_await http::AwaitCallback<void>(std::move(write));
        if (!signed_in) co_return http::ErrorResponse(signed_in.error(), version);
        ctx.principal = "admin:" + user.email;
        auto res = NoStore(OkJson(body_out, version, std::nullopt));
        res.set(http::bhttp::field::set_cookie, AdminSetCookie(s.config, value));
        co_return res;
    };
}

http::Handler MakeAdminSessionHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto found = co_await FindAdminSessionCaller(s, ctx);
        if (!found) co_return http::ErrorResponse(found.error(), version);
        if (!*found) {
            // Not an error: the sign-in page asks whether to send the operator on.
            co_return NoStore(
                OkJson(boost::json::object{{"status", "success"}, {"signed_in", false}}, version, std::nullopt));
        }
        ctx.principal = "admin:" + (*found)->actor;
        co_return NoStore(OkJson(SessionJson(*(*found)->admin, *(*found)->session, s.config), version, std::nullopt));
    };
}

http::Handler MakeAdminLogoutHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        int64_t ended = 0;
        if (CookieValue(ctx.request, AdminCookieName(s.config), kAdminSessionChars)) {
            auto auth = co_await AuthorizeOperator(s, ctx);
            if (auto* caller = std::get_if<OperatorCaller>(&auth); caller != nullptr && caller->session) {
                auto audit = AuditFor(*caller, ctx, "admin.sign_out", "admin:" + std::to_string(caller->admin->id));
                auto revoke = [&](store::Callback<int64_t> done) {
                    s.store.admin().RevokeAdminSession(caller->session->id_hash, UtcNow(), std::move(audit),
                                                       std::move(done));
                };
                auto revoked = co_await http::AwaitCallback<int64_t>(std::move(revoke));
                if (!revoked) co_return http::ErrorResponse(revoked.error(), version);
                ended = *revoked;
            } else if (auto* refused = std::get_if<http::Response>(&auth);
                       refused != nullptr && refused->result() == http::bhttp::status::forbidden) {
                co_return std::move(*refused);  // a live session, but the request failed the CSRF rule
            }
        }
        auto res = NoStore(
            OkJson(boost::json::object{{"status", "success"}, {"sessions_revoked", ended}}, version, std::nullopt));
        res.set(http::bhttp::field::set_cookie, AdminClearCookie(s.config));
        res.set("Clear-Site-Data", "\"cache\"");
        co_return res;
    };
}

http::Handler MakeAdminTotpBeginHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const auto& caller = std::get<OperatorCaller>(auth);
        if (!caller.admin) {
            co_return http::ErrorResponse(
                {ErrorCode::kForbidden, "A second factor belongs to an operator's account: sign in to /admin", {}},
                version);
        }
        const std::string secret = totp::GenerateSecret();
        co_return NoStore(OkJson(
            boost::json::object{{"status", "success"},
                                {"secret", secret},
                                {"otpauth_uri", totp::ProvisioningUri("GPUOptimizer", caller.admin->email, secret)},
                                {"digits", totp::kDigits},
                                {"period_seconds", totp::kStepSeconds}},
            version, std::nullopt));
    };
}

http::Handler MakeAdminTotpConfirmHandler(Services& s) {
    // PUT turns the factor on with the secret and a code it made; DELETE turns it off.
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const auto& caller = std::get<OperatorCaller>(auth);
        auto parsed = ParseJson(ctx.request.body());
        if (!parsed) co_return http::ErrorResponse(parsed.error(), version);
        if (!parsed->is_object())
            co_return http::ErrorResponse(Error::Validation("body", "must be a JSON object"), version);
        const auto& body = parsed->get_object();
        const bool enable = ctx.request.method() == http::bhttp::verb::put;
        const auto now = UtcNow();
        store::AdminUserChange change;
        change.admin_id = caller.admin->id;
        change.now = now;
        std::optional<int64_t> enrolled_step;
        if (enable) {
            auto secret = StringField(body, "secret", 128);
            auto key = secret ? totp::DecodeBase32(*secret) : std::nullopt;
            if (!key || key->size() < 16) {
                co_return http::ErrorResponse(
                    Error::Validation("secret", "must be the base32 secret from GET /api/admin/totp/new"), version);
            }
            auto code = StringField(body, "code", 16);
            enrolled_step = code ? totp::Match(*secret, *code, now) : std::nullopt;
            if (!enrolled_step) {
                co_return http::ErrorResponse(
                    Error::Validation("code", "does not match the secret: check the authenticator's clock"), version);
            }
            // The password alone: the factor being replaced (if any) is proven by the session that was started with it.
            auto pw = StringField(body, "password", password::kMaxLength);
            if (!pw) co_return http::ErrorResponse(Error::Validation("password", "is required"), version);
            auto ok = co_await VerifyPassword(s, caller.admin->password_hash, *pw);
            if (!ok) co_return http::ErrorResponse(ok.error(), version);
            if (!*ok) co_return http::ErrorResponse({ErrorCode::kForbidden, "The password is wrong", {}}, version);
            change.totp_secret = *secret;  // the store seals it (ENCRYPTION_KEY)
        } else {
            if (caller.admin->totp_secret.empty()) {
                co_return http::ErrorResponse(Error::Validation("totp", "no second factor is on"), version);
            }
            auto checked = co_await ReAuthenticate(s, *caller.admin, body);
            if (!checked) co_return http::ErrorResponse(checked.error(), version);
            change.totp_secret = std::string();
        }
        auto audit = AuditFor(caller, ctx, enable ? "admin.totp.enable" : "admin.totp.disable",
                              "admin:" + std::to_string(caller.admin->id));
        audit.before = ToJson(boost::json::object{{"second_factor", !caller.admin->totp_secret.empty()}});
        audit.after = ToJson(boost::json::object{{"second_factor", enable}});
        auto write = [&](store::Callback<store::AdminUser> done) {
            s.store.admin().ChangeAdminUser(std::move(change), std::move(audit), std::move(done));
        };
        auto changed = co_await http::AwaitCallback<store::AdminUser>(std::move(write));
        if (!changed) co_return http::ErrorResponse(changed.error(), version);
        if (enrolled_step) {
            // The code that confirmed the secret cannot sign in afterwards.
            auto accept = [&](store::Callback<bool> done) {
                s.store.admin().AcceptTotpStep(caller.admin->id, *enrolled_step, std::move(done));
            };
            auto accepted = co_await http::AwaitCallback<bool>(std::move(accept));
            if (!accepted) co_return http::ErrorResponse(accepted.error(), version);
        }
        auto res = NoStore(OkJson(boost::json::object{{"status", "success"},
                                                      {"second_factor", enable},
                                                      {"signed_out", true},
                                                      {"message", "Sign in again with your password and code"}},
                                  version, std::nullopt));
        res.set(http::bhttp::field::set_cookie, AdminClearCookie(s.config));
        co_return res;
    };
}

}  // namespace gpuopt::api
