// The public side of acquisition (SPEC §9):
//   GET  /api/audit-requests        what the audit form shows: the consent text, what the audit covers
//   POST /api/audit-requests        {"email", "name"?, "company"?, "consent": true, "utc_offset_minutes"?, "ref"?}
//                                   a free GPU cost audit, double opt-in: only a confirmation link is sent
//   GET  /audit/confirm?t=          the link's page: one button (mail scanners open links; only the POST acts)
//   POST /audit/confirm?t=          confirms: the consent is recorded now
//   GET  /unsubscribe?l=&t=         a sequence mail's unsubscribe page: one button, changes nothing
//   POST /unsubscribe?l=&t=         unsubscribes at once (the button, and RFC 8058 one-click POSTs)
// Every answer to an audit request is the same whatever the address's state, so the form tells nobody
// who is a lead or a customer.
#include <boost/json/object.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "acquisition/outreach.hpp"
#include "acquisition/settings.hpp"
#include "api/api.hpp"
#include "api/auth.hpp"
#include "api/html_page.hpp"
#include "common/crypto.hpp"
#include "common/email.hpp"
#include "common/json.hpp"
#include "http/await.hpp"
#include "http/error_response.hpp"
#include "http/query.hpp"
#include "store/acquisition.hpp"

namespace gpuopt::api {

namespace {

constexpr const char* kTitle = "GPUOptimizer";

bool IsReferralCode(std::string_view code) {
    return !code.empty() && code.size() <= 64 && std::all_of(code.begin(), code.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
}

struct AuditForm {
    std::string email;
    std::string name;
    std::string company;
    std::optional<int> utc_offset_minutes;
    std::string ref;
};

Result<std::string> OptionalText(const boost::json::object& o, const char* key, size_t max) {
    const auto* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) return std::string();
    if (!v->is_string()) return Error::Validation(key, "must be a string");
    if (v->get_string().size() > max)
        return Error::Validation(key, "must be at most " + std::to_string(max) + " characters");
    std::string out(v->get_string());
    if (out.find_first_of("\r\n") != std::string::npos) return Error::Validation(key, "must be one line");
    return out;
}

Result<AuditForm> ParseAuditForm(std::string_view body) {
    auto parsed = ParseJson(body);
    if (!parsed) return parsed.error();
    if (!parsed->is_object()) return Error::Validation("body", "must be a JSON object");
    const auto& o = parsed->get_object();
    AuditForm f;
    const auto* email = o.if_contains("email");
    if (email == nullptr || !email->is_string()) return Error::Validation("email", "is required");
    if (email->get_string().size() > 254) return Error::Validation("email", "must be at most 254 characters");
    f.email = NormalizeEmail(std::string_view(email->get_string()));
    if (!IsValidEmail(f.email)) return Error::Validation("email", "is not a valid e-mail address");
    const auto* consent = o.if_contains("consent");
    if (consent == nullptr || !consent->is_bool() || !consent->get_bool()) {
        return Error::Validation("consent", "must be true: the audit is sent only to those who agree to receive it");
    }
    auto name = OptionalText(o, "name", 100);
    if (!name) return name.error();
    f.name = std::move(*name);
    auto company = OptionalText(o, "company", 100);
    if (!company) return company.error();
    f.company = std::move(*company);
    if (const auto* offset = o.if_contains("utc_offset_minutes"); offset != nullptr && !offset->is_null()) {
        if (!offset->is_int64() || offset->get_int64() < -14 * 60 || offset->get_int64() > 14 * 60) {
            return Error::Validation("utc_offset_minutes", "must be minutes east of UTC, from -840 to 840");
        }
        f.utc_offset_minutes = static_cast<int>(offset->get_int64());
    }
    auto ref = OptionalText(o, "ref", 64);
    if (!ref) return ref.error();
    if (!ref->empty() && !IsReferralCode(*ref))
        return Error::Validation("ref", "must be a referral code (a-z, 0-9, - and _)");
    f.ref = std::move(*ref);
    return f;
}

std::optional<std::string> QueryValue(const http::RequestContext& ctx, const std::string& name) {
    auto query = http::ParseQuery(ctx.query);
    if (!query) return std::nullopt;
    auto it = query->find(name);
    if (it == query->end()) return std::nullopt;
    return it->second;
}

// The confirmation link's token: 32 base62 characters.
std::optional<std::string> ConfirmToken(const http::RequestContext& ctx) {
    auto t = QueryValue(ctx, "t");
    if (!t || t->size() != 32) return std::nullopt;
    if (!std::all_of(t->begin(), t->end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; })) {
        return std::nullopt;
    }
    return t;
}

// The lead an unsubscribe link names, when its token is right.
std::optional<int64_t> UnsubscribeLead(const Services& s, const http::RequestContext& ctx) {
    auto l = QueryValue(ctx, "l");
    auto t = QueryValue(ctx, "t");
    if (!l || !t || l->empty() || l->size() > 18) return std::nullopt;
    int64_t id = 0;
    const auto [end, ec] = std::from_chars(l->data(), l->data() + l->size(), id);
    if (ec != std::errc() || end != l->data() + l->size() || id <= 0) return std::nullopt;
    if (!acquisition::UnsubscribeTokenValid(s.config.secret_key, id, *t)) return std::nullopt;
    return id;
}

store::OutboxMessage ConfirmationMail(const Services& s, const std::string& email, const std::string& token,
                                      const std::string& token_hash, int valid_hours) {
    const std::string link = s.config.base_url + "/audit/confirm?t=" + token;
    store::OutboxMessage m;
    m.dedup_key = "audit-confirm:" + token_hash;
    m.to = email;
    m.kind = "audit_confirm";
    m.subject = "Confirm your GPU cost audit request";
    m.text = "Someone, we hope you, asked for a free GPU cost audit for this address at " + s.config.base_url +
             ".\n\nTo confirm, open this link (it works for " + std::to_string(valid_hours) + " hours):\n" + link +
             "\n\nIf it was not you, ignore this email: nothing else will be sent to you.\n";
    m.html = "<p>Someone, we hope you, asked for a free GPU cost audit for this address.</p><p><a href=\"" + link +
             "\">Confirm the request</a> (the link works for " + std::to_string(valid_hours) +
             " hours).</p><p>If it was not you, ignore this email: nothing else will be sent to you.</p>";
    return m;
}

}  // namespace

http::Handler MakeAuditFormHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        if (s.acquisition == nullptr) co_return http::ErrorResponse({ErrorCode::kNotFound, "Not found", {}}, version);
        co_return OkJson(boost::json::object{{"status", "success"},
                                             {"consent_text", s.acquisition->audit.consent_text},
                                             {"data_hours", s.acquisition->audit.data_hours},
                                             {"link_valid_hours", s.acquisition->audit.link_valid_hours}},
                         version, std::nullopt);
    };
}

http::Handler MakeAuditRequestHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        if (s.acquisition == nullptr) co_return http::ErrorResponse({ErrorCode::kNotFound, "Not found", {}}, version);
        auto limit = CheckIpLimit(s, "audit", ctx.client_ip, s.config.signup_per_minute_per_ip);
        if (limit && !limit->allowed) co_return RateLimitedResponse(*limit, version);
        auto form = ParseAuditForm(ctx.request.body());
        if (!form) co_return http::ErrorResponse(form.error(), version);
        const std::string token = RandomBase62(32);
        store::AuditRequest request;
        request.email = form->email;
        request.name = form->name;
        request.company = form->company;
        request.consent_text = s.acquisition->audit.consent_text;
        request.ip = ctx.client_ip;
        request.utc_offset_minutes = form->utc_offset_minutes;
        request.referral_code = form->ref;
        request.confirm_token_hash = HashApiKey(token);
        request.now = UtcNow();
        request.confirmation =
            ConfirmationMail(s, form->email, token, request.confirm_token_hash, s.acquisition->audit.link_valid_hours);
        auto write = [&](store::Callback<store::AuditRequestOutcome> done) {
            s.store.acquisition().RequestAudit(std::move(request), std::move(done));
        };
        auto outcome = co_await http::AwaitCallback<store::AuditRequestOutcome>(std::move(write));
        if (!outcome) co_return http::ErrorResponse(outcome.error(), version);
        if ((*outcome == store::AuditRequestOutcome::kCreated || *outcome == store::AuditRequestOutcome::kResent) &&
            s.wake_job) {
            s.wake_job("mail");
        }
        auto res = http::JsonResponse(
            http::bhttp::status::accepted,
            boost::json::object{{"status", "success"},
                                {"message",
                                 "Check your inbox: we sent a link to confirm the request. Nothing else is sent until "
                                 "you open it."}},
            version);
        ApplyRateHeaders(res, limit);
        co_return res;
    };
}

http::Handler MakeAuditConfirmPageHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        (void)s;
        auto token = ConfirmToken(ctx);
        if (!token) {
            co_return HtmlPage(http::bhttp::status::bad_request, kTitle, "This link is not complete",
                               "Open the link from the email exactly as it is.", nullptr, version);
        }
        const PageButton button{"/audit/confirm?t=" + *token, "Confirm my audit request"};
        co_return HtmlPage(http::bhttp::status::ok, kTitle, "Confirm your GPU cost audit request",
                           "After you confirm, we send how to connect your GPUs; the audit follows once 24 hours of "
                           "their data are in. You can unsubscribe from every email.",
                           &button, version);
    };
}

http::Handler MakeAuditConfirmHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        if (auto limit = CheckIpLimit(s, "audit-confirm", ctx.client_ip, 30); limit && !limit->allowed) {
            co_return RateLimitedResponse(*limit, version);
        }
        auto token = ConfirmToken(ctx);
        if (!token || s.acquisition == nullptr) {
            co_return HtmlPage(http::bhttp::status::bad_request, kTitle, "This link is not complete",
                               "Open the link from the email exactly as it is.", nullptr, version);
        }
        const SysSeconds now = UtcNow();
        const SysSeconds oldest = now - std::chrono::hours(s.acquisition->audit.link_valid_hours);
        auto write = [&](store::Callback<std::optional<store::Lead>> done) {
            s.store.acquisition().ConfirmAudit(HashApiKey(*token), now, oldest, std::move(done));
        };
        auto confirmed = co_await http::AwaitCallback<std::optional<store::Lead>>(std::move(write));
        if (!confirmed) co_return http::ErrorResponse(confirmed.error(), version);
        if (!*confirmed) {
            co_return HtmlPage(http::bhttp::status::not_found, kTitle, "This link has expired",
                               "Ask for the audit again from the home page; a new link replaces this one.", nullptr,
                               version);
        }
        if (s.wake_job) s.wake_job("sequences");
        co_return HtmlPage(http::bhttp::status::ok, kTitle, "Your audit request is confirmed",
                           "We are sending how to connect your GPUs now. The audit arrives 24 hours after the first "
                           "one reports.",
                           nullptr, version);
    };
}

http::Handler MakeLeadUnsubscribePageHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto lead = UnsubscribeLead(s, ctx);
        if (!lead) {
            co_return HtmlPage(http::bhttp::status::bad_request, kTitle, "This unsubscribe link is not complete",
                               "Open the link from the email exactly as it is, or reply to the email and ask us.",
                               nullptr, version);
        }
        // Opening the page changes nothing: link scanners open every link.
        const PageButton button{"/unsubscribe?l=" + std::to_string(*lead) +
                                    "&t=" + acquisition::UnsubscribeToken(s.config.secret_key, *lead),
                                "Unsubscribe"};
        co_return HtmlPage(http::bhttp::status::ok, kTitle, "Stop these emails?",
                           "You will get no more emails about getting started, upgrades or the audit. Receipts and "
                           "alerts you set up yourself are not affected.",
                           &button, version);
    };
}

http::Handler MakeLeadUnsubscribeHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        if (auto limit = CheckIpLimit(s, "unsubscribe", ctx.client_ip, 30); limit && !limit->allowed) {
            co_return RateLimitedResponse(*limit, version);
        }
        auto lead = UnsubscribeLead(s, ctx);
        if (!lead) {
            co_return http::ErrorResponse(Error::Validation("t", "must be the token of an unsubscribe link"), version);
        }
        const bool one_click = ctx.request.body().find("List-Unsubscribe=One-Click") != std::string::npos;
        auto write = [&](store::Callback<bool> done) {
            s.store.acquisition().Unsubscribe(*lead, one_click ? "one-click" : "link", UtcNow(), std::move(done));
        };
        auto done = co_await http::AwaitCallback<bool>(std::move(write));
        if (!done && done.error().code != ErrorCode::kNotFound) co_return http::ErrorResponse(done.error(), version);
        if (done && *done) spdlog::info("lead {} unsubscribed ({})", *lead, one_click ? "one-click" : "link");
        if (WantsHtml(ctx.request)) {
            co_return HtmlPage(http::bhttp::status::ok, kTitle, "You are unsubscribed",
                               "No more of these emails will be sent to you.", nullptr, version);
        }
        co_return OkJson(boost::json::object{{"status", "success"}, {"unsubscribed", true}}, version, std::nullopt);
    };
}

}  // namespace gpuopt::api
