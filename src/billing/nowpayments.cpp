#include "billing/nowpayments.hpp"

#include <boost/json/object.hpp>

#include <algorithm>
#include <cctype>

#include "billing/json_fields.hpp"
#include "common/json.hpp"
#include "net/http_client.hpp"

namespace gpuopt::billing {

namespace {

namespace json = boost::json;

using detail::Number;
using detail::Text;

NowPaymentsPayment ReadPayment(const json::object& o) {
    NowPaymentsPayment p;
    p.payment_id = Text(o, "payment_id");
    p.invoice_id = Text(o, "invoice_id");
    p.status = Text(o, "payment_status");
    p.order_id = Text(o, "order_id");
    p.price_amount = Number(o, "price_amount");
    p.price_currency = Text(o, "price_currency");
    p.actually_paid = Number(o, "actually_paid");
    p.pay_currency = Text(o, "pay_currency");
    return p;
}

std::vector<std::string> Headers(const NowPaymentsConfig& c) {
    return {"x-api-key: " + c.api_key, "Content-Type: application/json", "Accept: application/json"};
}

Error Unavailable(const net::HttpAnswer& a) {
    return Error{ErrorCode::kUnavailable,
                 "NOWPayments did not answer (" + (a.status ? std::to_string(a.status) : a.error) + ")",
                 {}};
}

}  // namespace

Result<NowPaymentsCheckout> NowPaymentsCreate(const NowPaymentsConfig& c, const NowPaymentsOrder& order) {
    json::object body{{"price_amount", order.amount},
                      {"price_currency", order.currency},
                      {"order_id", order.reference},
                      {"order_description", order.description},
                      {"ipn_callback_url", order.ipn_url}};
    const bool invoice = c.mode != "payment";
    if (invoice) {
        body["success_url"] = order.success_url;
        body["cancel_url"] = order.cancel_url;
    } else {
        body["pay_currency"] = c.pay_currency;
    }
    auto a = net::Fetch({"POST", net::JoinUrl(c.base_url, invoice ? "/v1/invoice" : "/v1/payment"), Headers(c),
                         ToJson(body), c.timeout});
    if (a.status == 0 || a.status >= 500) return Unavailable(a);
    auto parsed = ParseJson(a.body, 16);
    if (!a.Ok() || !parsed || !parsed->is_object()) {
        std::string why = parsed && parsed->is_object() ? Text(parsed->get_object(), "message") : std::string();
        return Error{ErrorCode::kPaymentFailed,
                     "NOWPayments refused the order" + (why.empty() ? "" : ": " + why.substr(0, 200)),
                     {}};
    }
    const auto& o = parsed->get_object();
    NowPaymentsCheckout out;
    if (invoice) {
        out.id = Text(o, "id");
        out.checkout_url = Text(o, "invoice_url");
        if (out.id.empty() || out.checkout_url.rfind("http", 0) != 0) {
            return Error{ErrorCode::kPaymentFailed, "NOWPayments answered without an invoice", {}};
        }
    } else {
        out.id = Text(o, "payment_id");
        out.pay_address = Text(o, "pay_address");
        out.pay_amount = Text(o, "pay_amount");
        out.pay_currency = Text(o, "pay_currency");
        if (out.id.empty() || out.pay_address.empty())
            return Error{ErrorCode::kPaymentFailed, "NOWPayments answered without a payment", {}};
    }
    return out;
}

NowPaymentsLookup NowPaymentsGetPayment(const NowPaymentsConfig& c, const std::string& payment_id) {
    NowPaymentsLookup out;
    if (payment_id.empty() || payment_id.size() > 20 ||
        !std::all_of(payment_id.begin(), payment_id.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
        out.answer = GatewayAnswer::NotFound("not a NOWPayments payment id");
        return out;
    }
    auto a = net::Fetch({"GET", net::JoinUrl(c.base_url, "/v1/payment/" + payment_id), Headers(c), "", c.timeout});
    const std::string seen = a.status ? "HTTP " + std::to_string(a.status) : a.error;
    if (net::IsTransientStatus(a.status)) {
        out.answer = GatewayAnswer::Transient("NOWPayments did not answer (" + seen + ")", net::RetryAfter(a));
        return out;
    }
    auto parsed = ParseJson(a.body, 16);
    if (!parsed || !parsed->is_object()) {
        out.answer = GatewayAnswer::Transient("NOWPayments answered something unreadable (" + seen + ")");
        return out;
    }
    const auto& o = parsed->get_object();
    if (!a.Ok()) {
        // Its own words for an unknown payment: 404 (or 400) {"code":"NOT_FOUND","message":"Payment not found"}.
        std::string message = Text(o, "message");
        for (auto& ch : message) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if ((a.status == 404 || a.status == 400) &&
            (Text(o, "code") == "NOT_FOUND" || message.find("payment not found") != std::string::npos)) {
            out.answer = GatewayAnswer::NotFound("NOWPayments: " + Text(o, "message"));
        } else if (a.status == 401 || a.status == 403) {
            out.answer = GatewayAnswer::Transient("NOWPayments refused our API key");
        } else {
            out.answer =
                GatewayAnswer::Transient("NOWPayments answered " + seen + ": " + Text(o, "message").substr(0, 200));
        }
        return out;
    }
    out.payment = ReadPayment(o);
    if (out.payment.payment_id.empty() || out.payment.status.empty()) {
        out.answer = GatewayAnswer::Transient("NOWPayments answered without a payment");
        return out;
    }
    GatewayAnswer& ans = out.answer;
    ans.kind = GatewayAnswer::Kind::kFound;
    ans.gateway_id = out.payment.payment_id;
    ans.reference = out.payment.order_id;
    ans.status = out.payment.status;
    ans.state = NowPaymentsState(ans.status);
    ans.amount = out.payment.price_amount;
    ans.currency = out.payment.price_currency;
    return out;
}

Result<NowPaymentsPayment> ParseNowPaymentsIpn(std::string_view body) {
    auto parsed = ParseJson(body, 16);
    if (!parsed) return parsed.error();
    if (!parsed->is_object()) return Error::Validation("body", "must be a JSON object");
    NowPaymentsPayment p = ReadPayment(parsed->get_object());
    if (p.payment_id.empty()) return Error::Validation("payment_id", "is required");
    if (p.status.empty()) return Error::Validation("payment_status", "is required");
    if (p.payment_id.size() > 32 || p.status.size() > 32 || p.order_id.size() > 128)
        return Error::Validation("body", "fields too long");
    return p;
}

}  // namespace gpuopt::billing
