// POST /api/upgrade {"tier", "payment_method"}: a pending payment and the gateway's checkout.
// GET /api/payment/gateways: which gateways this server takes, and in what currency.
// GET /api/me/payments: the caller's payments, newest first.
#include "billing/billing.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "api/api.hpp"
#include "api/auth.hpp"
#include "common/json.hpp"
#include "http/error_response.hpp"

namespace gpuopt::api {

namespace {

boost::json::object CheckoutJson(const billing::CheckoutResult& c) {
    boost::json::object o;
    o["status"] = "success";
    o["payment_url"] = c.payment_url;
    o["payment_id"] = c.payment.reference;
    o["gateway"] = c.payment.gateway;
    o["tier"] = NameOf(c.payment.tier);
    o["amount"] = c.payment.amount;
    o["currency"] = c.payment.currency;
    if (!c.pay_address.empty()) {
        o["pay_address"] = c.pay_address;
        o["pay_amount"] = c.pay_amount;
        o["pay_currency"] = c.pay_currency;
    }
    return o;
}

}  // namespace

http::Handler MakeUpgradeHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeWithBody(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const auto& body = std::get<JsonCaller>(auth).body;
        const Caller& caller = std::get<JsonCaller>(auth).caller;
        std::string tier_name, method;
        for (auto [key, out] : {std::pair{"tier", &tier_name}, {"payment_method", &method}}) {
            const auto* v = body.if_contains(key);
            if (v == nullptr || !v->is_string() || v->get_string().empty() || v->get_string().size() > 32) {
                co_return CallerError(Error::Validation(key, "is required"), caller, version);
            }
            *out = std::string(v->get_string());
        }
        const auto tier = TierNamed(tier_name);
        const Plan* plan = tier ? s.config.FindPlan(*tier) : nullptr;
        if (plan == nullptr || plan->price_usd <= 0) {
            co_return CallerError(Error::Validation("tier", "must be a paid plan: professional or enterprise"), caller,
                                  version);
        }
        if (s.billing == nullptr || !s.billing->Enabled(method)) {
            co_return CallerError(
                Error::Validation("payment_method", "must be a gateway this server takes (GET /api/payment/gateways)"),
                caller, version);
        }
        const std::string purpose = caller.account.tier == plan->tier ? "renewal" : "upgrade";
        const std::function<Result<billing::CheckoutResult>()> start = [&s, account = caller.account, tier = plan->tier,
                                                                        method, purpose] {
            return s.billing->StartCheckout(account, tier, method, purpose, UtcNow());
        };
        auto checkout = co_await Offload<billing::CheckoutResult>(s, start);
        if (!checkout) co_return CallerError(checkout.error(), caller, version);
        co_return OkJson(CheckoutJson(*checkout), version, caller.limit);
    };
}

http::Handler MakeGatewaysHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        boost::json::array list;
        if (s.billing != nullptr) {
            for (const auto& g : s.billing->Gateways()) {
                if (!g.enabled) continue;
                boost::json::array currencies;
                for (const auto& c : g.currencies) currencies.push_back(boost::json::string(c));
                list.push_back(boost::json::object{{"name", g.name},
                                                   {"display_name", g.display_name},
                                                   {"method", g.method},
                                                   {"currencies", currencies}});
            }
        }
        boost::json::object body{{"status", "success"}, {"gateways", std::move(list)}};
        co_return http::JsonResponse(http::bhttp::status::ok, body, ctx.request.version());
    };
}

http::Handler MakeMyPaymentsHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeCustomer(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const Caller& caller = std::get<Caller>(auth);
        auto payments = s.store.billing().ListPayments(caller.account.id, 100);
        if (!payments) co_return CallerError(payments.error(), caller, version);
        auto subscription = s.store.billing().GetSubscription(caller.account.id);
        if (!subscription) co_return CallerError(subscription.error(), caller, version);
        boost::json::array list;
        for (const auto& p : *payments) {
            boost::json::object o{{"payment_id", p.reference}, {"gateway", p.gateway},
                                  {"tier", NameOf(p.tier)},    {"amount", p.amount},
                                  {"currency", p.currency},    {"status", store::NameOf(p.status)},
                                  {"purpose", p.purpose},      {"created_at", FormatUtc(p.created_at)}};
            o["completed_at"] =
                p.completed_at ? boost::json::value(FormatUtc(*p.completed_at)) : boost::json::value(nullptr);
            // What a receipt shows: the money the gateway confirmed and its own id for the transaction.
            if (p.status == store::PaymentStatus::kCompleted || p.status == store::PaymentStatus::kRefunded) {
                o["paid_amount"] = p.paid_amount.value_or(p.amount);
                o["paid_currency"] = p.paid_currency.empty() ? p.currency : p.paid_currency;
                o["gateway_id"] = p.gateway_id;
            }
            if (p.status == store::PaymentStatus::kPending && !p.checkout_url.empty())
                o["payment_url"] = p.checkout_url;
            list.push_back(std::move(o));
        }
        boost::json::object body{
            {"status", "success"}, {"tier", NameOf(caller.account.tier)}, {"payments", std::move(list)}};
        if (*subscription) {
            const auto& sub = **subscription;
            body["subscription"] = boost::json::object{{"tier", NameOf(sub.tier)},
                                                       {"status", store::NameOf(sub.status)},
                                                       {"period_start", FormatUtc(sub.period_start)},
                                                       {"period_end", FormatUtc(sub.period_end)}};
        } else {
            body["subscription"] = nullptr;
        }
        co_return OkJson(body, version, caller.limit);
    };
}

}  // namespace gpuopt::api
