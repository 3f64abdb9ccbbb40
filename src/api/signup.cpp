// POST /api/signup {"email", "tier"?, "payment_method"?, "ref"?, "utc_offset_minutes"?}
#include <boost/json/object.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>

#include "api/api.hpp"
#include "api/auth.hpp"
#include "api/signup.hpp"
#include "billing/billing.hpp"
#include "common/crypto.hpp"
#include "common/email.hpp"
#include "common/json.hpp"
#include "http/await.hpp"
#include "http/error_response.hpp"
#include "mail/templates.hpp"
#include "store/acquisition.hpp"

namespace gpuopt::api {

Result<SignupRequest> ParseSignup(std::string_view body, const Config& config) {
    auto parsed = ParseJson(body);
    if (!parsed) return parsed.error();
    if (!parsed->is_object()) return Error::Validation("body", "must be a JSON object");
    const auto& obj = parsed->get_object();
    const auto* email = obj.if_contains("email");
    if (email == nullptr || email->is_null()) return Error::Validation("email", "is required");
    if (!email->is_string()) return Error::Validation("email", "must be a string");
    if (email->get_string().size() > 254) return Error::Validation("email", "must be at most 254 characters");
    SignupRequest req;
    req.email = NormalizeEmail(std::string_view(email->get_string()));
    if (!IsValidEmail(req.email)) return Error::Validation("email", "is not a valid e-mail address");
    if (const auto* tier = obj.if_contains("tier"); tier != nullptr && !tier->is_null()) {
        if (!tier->is_string()) return Error::Validation("tier", "must be a string");
        const auto named = TierNamed(tier->get_string());
        if (!named || config.FindPlan(*named) == nullptr) {
            return Error::Validation("tier", "must be one of free, professional, enterprise");
        }
        req.tier = *named;
    }
    if (const auto* pm = obj.if_contains("payment_method"); pm != nullptr && !pm->is_null()) {
        if (!pm->is_string()) return Error::Validation("payment_method", "must be a string");
        if (pm->get_string() != "flutterwave" && pm->get_string() != "nowpayments") {
            return Error::Validation("payment_method", "must be flutterwave or nowpayments");
        }
        req.payment_method = std::string(pm->get_string());
    }
    if (const auto* ref = obj.if_contains("ref"); ref != nullptr && !ref->is_null()) {
        if (!ref->is_string()) return Error::Validation("ref", "must be a string");
        const std::string_view code = ref->get_string();
        const bool ok = !code.empty() && code.size() <= 64 && std::all_of(code.begin(), code.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        });
        if (!ok) return Error::Validation("ref", "must be a referral code (a-z, 0-9, - and _, at most 64)");
        req.ref = std::string(code);
    }
    if (const auto* offset = obj.if_contains("utc_offset_minutes"); offset != nullptr && !offset->is_null()) {
        if (!offset->is_int64() || offset->get_int64() < -14 * 60 || offset->get_int64() > 14 * 60) {
            return Error::Validation("utc_offset_minutes", "must be minutes east of UTC, from -840 to 840");
        }
        req.utc_offset_minutes = static_cast<int>(offset->get_int64());
    }
    if (req.tier != Tier::kFree && req.payment_method.empty()) {
        return Error::Validation("payment_method", "is required for a paid plan: flutterwave or nowpayments");
    }
    return req;
}

http::Handler MakeSignupHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto limit = CheckIpLimit(s, "signup", ctx.client_ip, s.config.signup_per_minute_per_ip);
        if (limit && !limit->allowed) co_return RateLimitedResponse(*limit, version);

        auto req = ParseSignup(ctx.request.body(), s.config);
        if (!req) co_return http::ErrorResponse(req.error(), version);

        const bool paid = req->tier != Tier::kFree;
        if (paid && (s.billing == nullptr || !s.billing->Enabled(req->payment_method))) {
            co_return http::ErrorResponse(
                Error::Validation("payment_method", "must be a gateway this server takes (GET /api/payment/gateways)"),
                version);
        }
        const std::string key = GenerateApiKey();
        // A paid sign-up starts on the free plan; the plan changes when the payment is confirmed.
        store::NewAccount account{req->email,  HashApiKey(key), key.substr(0, kApiKeyShownPrefix),
                                  Tier::kFree, UtcNow(),        std::nullopt};
        {
            store::Account preview{0, account.email, account.tier, account.key_prefix, FormatUtc(account.now)};
            account.welcome = mail::Welcome(mail::Brand{"GPUOptimizer", s.config.base_url}, preview);
            account.welcome->dedup_key = "welcome:" + account.email;
        }
        auto write = [&](store::Callback<store::Account> done) {
            s.store.accounts().CreateAccount(std::move(account), std::move(done));
        };
        auto created = co_await http::AwaitCallback<store::Account>(std::move(write));
        if (!created) {
            if (created.error().code == ErrorCode::kAlreadyExists) {
                co_return http::ErrorResponse(
                    {ErrorCode::kAlreadyExists, "An account with this email already exists", {}}, version);
            }
            co_return http::ErrorResponse(created.error(), version);
        }
        ctx.principal = created->key_prefix;
        // Every signup is a lead (SPEC §9), credited to its referral's source. Should this write fail, the
        // sequences' sync makes the lead later, without the referral.
        auto lead = [&](store::Callback<store::Lead> done) {
            s.store.acquisition().RecordSignup(
                {created->id, created->email, req->ref, req->utc_offset_minutes, UtcNow()}, std::move(done));
        };
        if (auto recorded = co_await http::AwaitCallback<store::Lead>(std::move(lead)); !recorded) {
            spdlog::warn("signup {}: its lead was not recorded: {}", created->key_prefix, recorded.error().message);
        }
        boost::json::object body;
        body["status"] = "success";
        body["message"] = "Account created successfully";
        body["api_key"] = key;
        body["key_prefix"] = created->key_prefix;
        body["tier"] = NameOf(created->tier);
        body["email"] = created->email;
        if (paid) {
            // The account exists and its key must reach the customer whatever the gateway does.
            const std::function<Result<billing::CheckoutResult>()> start = [&s, account = *created, tier = req->tier,
                                                                            method = req->payment_method] {
                return s.billing->StartCheckout(account, tier, method, "signup", UtcNow());
            };
            auto checkout = co_await Offload<billing::CheckoutResult>(s, start);
            if (checkout) {
                body["payment_url"] = checkout->payment_url;
                body["payment_id"] = checkout->payment.reference;
            } else {
                body["payment_error"] = checkout.error().message;
            }
        }
        co_return OkJson(body, version, limit);
    };
}

}  // namespace gpuopt::api
