// The gateways' deliveries. Each is checked (Flutterwave: the verif-hash header, in constant time;
// NOWPayments: HMAC-SHA512 of the key-sorted body), recorded raw in the inbox, and answered 200 at
// once; the billing worker applies it after confirming with the gateway's API. A forged or missing
// signature is refused 403, logged as a security event, and changes nothing.
//   POST /payment/flutterwave/webhook
//   POST /payment/nowpayments/webhook
//   GET  /payment/flutterwave/callback?status=&tx_ref=&transaction_id=   (the customer's browser)
#include <spdlog/spdlog.h>

#include <boost/json/object.hpp>

#include "acquisition/sendgrid.hpp"
#include "api/api.hpp"
#include "api/auth.hpp"
#include "billing/billing.hpp"
#include "http/await.hpp"
#include "http/error_response.hpp"
#include "http/query.hpp"
#include "mail/templates.hpp"
#include "store/acquisition.hpp"

namespace gpuopt::api {

namespace {

// Refused deliveries an address may make per minute before it is answered 429 and no longer recorded:
// a flood of forged webhooks must not grow the security log without bound.
constexpr int kRefusalsPerMinute = 30;

// Refused deliveries recorded row by row per minute, from all addresses together: a forged flood from
// many addresses is counted (gpuopt_security_events_unrecorded_total) and summarised, not stored row by row.
constexpr int kRecordedRefusalsPerMinute = 60;

boost::asio::awaitable<http::Response> Refuse(Services& s, http::RequestContext& ctx, const std::string& detail) {
    const unsigned version = ctx.request.version();
    RecordAuthFailure(s, ctx, detail);
    auto limit = CheckIpLimit(s, "webhook-refused", ctx.client_ip, kRefusalsPerMinute);
    if (limit && !limit->allowed) co_return RateLimitedResponse(*limit, version);
    auto global = CheckIpLimit(s, "webhook-refused", "all", kRecordedRefusalsPerMinute);
    if (global && !global->allowed) {
        if (s.security != nullptr) {
            s.security->unrecorded.fetch_add(1, std::memory_order_relaxed);
            s.security->pending_summary.fetch_add(1, std::memory_order_relaxed);
        }
        co_return http::ErrorResponse({ErrorCode::kForbidden, "Invalid webhook signature", {}}, version);
    }
    spdlog::warn("security: webhook_signature from {}: {}", ctx.client_ip, detail);
    const uint64_t skipped = s.security != nullptr ? s.security->pending_summary.exchange(0) : 0;
    if (skipped > 0) {
        // The flood's size, in one row, before the first refusal recorded again.
        auto summary = [&](store::Callback<void> done) {
            s.store.security().RecordSecurityEvent(
                "webhook_signature_unrecorded", "many",
                std::to_string(skipped) + " refused deliveries over the recording cap were counted, not stored",
                UtcNow(), std::move(done));
        };
        (void)co_await http::AwaitCallback<void>(std::move(summary));
    }
    auto write = [&](store::Callback<void> done) {
        s.store.security().RecordSecurityEvent("webhook_signature", ctx.client_ip, detail, UtcNow(), std::move(done));
    };
    (void)co_await http::AwaitCallback<void>(std::move(write));
    co_return http::ErrorResponse({ErrorCode::kForbidden, "Invalid webhook signature", {}}, version);
}

boost::asio::awaitable<http::Response> Record(Services& s, store::GatewayEvent event, unsigned version) {
    auto write = [&](store::Callback<bool> done) {
        s.store.billing().RecordGatewayEvent(std::move(event), std::move(done));
    };
    auto recorded = co_await http::AwaitCallback<bool>(std::move(write));
    if (!recorded) co_return http::ErrorResponse(recorded.error(), version);  // 5xx: the gateway retries
    if (*recorded && s.wake_billing) s.wake_billing();
    boost::json::object body{{"status", "success"}, {"duplicate", !*recorded}};
    co_return http::JsonResponse(http::bhttp::status::ok, body, version);
}

std::string Header(const http::Request& req, std::string_view name) {
    auto it = req.find(name);
    return it == req.end() ? std::string() : std::string(it->value());
}

}  // namespace

http::Handler MakeFlutterwaveWebhookHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        ctx.principal = "flutterwave";
        if (s.billing == nullptr || !s.billing->Enabled("flutterwave")) {
            co_return http::ErrorResponse({ErrorCode::kNotFound, "Flutterwave is not configured here", {}}, version);
        }
        auto event =
            s.billing->FlutterwaveWebhookEvent(Header(ctx.request, "verif-hash"), ctx.request.body(), UtcNow());
        if (!event) {
            if (event.error().code == ErrorCode::kForbidden) {
                const std::string detail =
                    "flutterwave: " + event.error().message;  // named: not a temporary in co_await
                co_return co_await Refuse(s, ctx, detail);
            }
            co_return http::ErrorResponse(event.error(), version);
        }
        co_return co_await Record(s, std::move(*event), version);
    };
}

http::Handler MakeNowPaymentsWebhookHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        ctx.principal = "nowpayments";
        if (s.billing == nullptr || !s.billing->Enabled("nowpayments")) {
            co_return http::ErrorResponse({ErrorCode::kNotFound, "NOWPayments is not configured here", {}}, version);
        }
        auto event =
            s.billing->NowPaymentsIpnEvent(Header(ctx.request, "x-nowpayments-sig"), ctx.request.body(), UtcNow());
        if (!event) {
            if (event.error().code == ErrorCode::kForbidden) {
                const std::string detail =
                    "nowpayments: " + event.error().message;  // named: not a temporary in co_await
                co_return co_await Refuse(s, ctx, detail);
            }
            co_return http::ErrorResponse(event.error(), version);
        }
        co_return co_await Record(s, std::move(*event), version);
    };
}

namespace {

// How the news reads: done, still under way, or needing the customer's attention.
enum class Tone { kDone, kWaiting, kAttention };

http::Response ReturnPage(http::bhttp::status status, Tone tone, const std::string& headline, const std::string& detail,
                          unsigned version) {
    const char* tone_class = tone == Tone::kDone ? "done" : tone == Tone::kWaiting ? "waiting" : "attention";
    http::Response res{status, version};
    res.set(http::bhttp::field::content_type, "text/html; charset=utf-8");
    res.body() =
        R"(<!doctype html><html lang="en"><head><meta charset="utf-8">)"
        R"(<meta name="viewport" content="width=device-width, initial-scale=1"><title>GPUOptimizer payment</title>)"
        R"(<link rel="icon" href="/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/app.css">)"
        R"(</head><body><header class="top"><a class="brand" href="/">)"
        R"(<img src="/favicon.svg" alt="" width="28" height="28"> GPUOptimizer</a></header>)"
        R"(<main class="payment-return"><section class="status-card )" +
        std::string(tone_class) + R"("><h1>)" + mail::Html(headline) + "</h1><p>" + mail::Html(detail) +
        R"(</p><p><a class="button" href="/billing">Back to your billing page</a></p></section></main></body></html>)";
    return res;
}

}  // namespace

http::Handler MakeFlutterwaveCallbackHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto query = http::ParseQuery(ctx.query);
        std::string status, tx_ref;
        if (query) {
            if (auto it = query->find("status"); it != query->end()) status = it->second;
            if (auto it = query->find("tx_ref"); it != query->end()) tx_ref = it->second;
        }
        if (s.billing == nullptr || !s.billing->Enabled("flutterwave")) {
            co_return http::ErrorResponse({ErrorCode::kNotFound, "Flutterwave is not configured here", {}}, version);
        }
        // The query is the customer's browser talking: it only says which of our payments to look at. A
        // reference that is not ours is neither recorded nor verified, and counts as a refusal.
        auto event = s.billing->FlutterwaveReturnEvent(tx_ref, UtcNow());
        if (!event) {
            if (event.error().code != ErrorCode::kNotFound) co_return http::ErrorResponse(event.error(), version);
            RecordAuthFailure(s, ctx, "a payment return for a reference that is not ours");
            auto limit = CheckIpLimit(s, "webhook-refused", ctx.client_ip, kRefusalsPerMinute);
            if (limit && !limit->allowed) co_return RateLimitedResponse(*limit, version);
            co_return ReturnPage(http::bhttp::status::not_found, Tone::kAttention, "We could not find this payment.",
                                 "If you were charged, your plan changes once Flutterwave tells us directly.", version);
        }
        if (!*event) {  // settled already: say how
            auto payment = s.store.billing().FindPaymentByReference(tx_ref);
            if (payment && payment->status == store::PaymentStatus::kPaidUnapplied) {
                co_return ReturnPage(
                    http::bhttp::status::ok, Tone::kAttention, "We received your payment, but not what the plan costs.",
                    "Your plan has not changed. We have been told and will contact you to settle it.", version);
            }
            if (payment && payment->status == store::PaymentStatus::kRefunded) {
                co_return ReturnPage(http::bhttp::status::ok, Tone::kAttention, "This payment was refunded.",
                                     "Your plan has not changed.", version);
            }
            co_return ReturnPage(http::bhttp::status::ok, Tone::kDone, "Your payment is confirmed.",
                                 "Thank you. Your plan is active and a receipt went to your e-mail address.", version);
        }
        if (status == "cancelled") {
            co_return ReturnPage(http::bhttp::status::ok, Tone::kAttention, "Your payment was not completed.",
                                 "Nothing was charged. You can start again from your account.", version);
        }
        auto write = [&](store::Callback<bool> done) {
            s.store.billing().RecordGatewayEvent(std::move(**event), std::move(done));
        };
        auto recorded = co_await http::AwaitCallback<bool>(std::move(write));
        if (!recorded) co_return http::ErrorResponse(recorded.error(), version);
        if (*recorded && s.wake_billing) s.wake_billing();
        co_return ReturnPage(http::bhttp::status::ok, Tone::kWaiting,
                             "Thank you. We are confirming your payment with Flutterwave.",
                             "This takes a few seconds. Your plan changes as soon as Flutterwave confirms it, and a "
                             "receipt goes to your e-mail address.",
                             version);
    };
}

// SendGrid's Event Webhook: bounces, complaints and unsubscribes suppress the address and end its
// sequences; every event is kept once (sg_event_id). Refused without the verification key: an unsigned
// event could unsubscribe anyone.
http::Handler MakeSendgridEventsHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        ctx.principal = "sendgrid";
        const std::string& key = s.config.acquisition.sendgrid_webhook_public_key;
        if (key.empty()) co_return co_await Refuse(s, ctx, "sendgrid: SENDGRID_WEBHOOK_PUBLIC_KEY is not set");
        const auto verified = acquisition::VerifySendgridSignature(
            key, Header(ctx.request, "X-Twilio-Email-Event-Webhook-Signature"),
            Header(ctx.request, "X-Twilio-Email-Event-Webhook-Timestamp"), ctx.request.body(), UtcNow());
        if (!verified) co_return co_await Refuse(s, ctx, "sendgrid: " + verified.error().message);
        auto events = acquisition::ParseSendgridEvents(ctx.request.body());
        if (!events) co_return http::ErrorResponse(events.error(), version);
        int64_t fresh = 0;
        for (auto& event : *events) {
            auto write = [&](store::Callback<bool> done) {
                s.store.acquisition().RecordMailEvent(std::move(event), std::move(done));
            };
            auto recorded = co_await http::AwaitCallback<bool>(std::move(write));
            if (!recorded) co_return http::ErrorResponse(recorded.error(), version);  // 5xx: SendGrid retries
            fresh += *recorded ? 1 : 0;
        }
        co_return http::JsonResponse(
            http::bhttp::status::ok,
            boost::json::object{
                {"status", "success"}, {"events", static_cast<int64_t>(events->size())}, {"new", fresh}},
            version);
    };
}

}  // namespace gpuopt::api
