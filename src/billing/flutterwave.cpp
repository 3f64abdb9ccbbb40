#include "billing/flutterwave.hpp"

#include <boost/json/object.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "billing/json_fields.hpp"
#include "common/json.hpp"
#include "net/http_client.hpp"

namespace gpuopt::billing {

namespace {

namespace json = boost::json;

using detail::Number;
using detail::Text;

Error Unavailable(const net::HttpAnswer& a) {
    return Error{ErrorCode::kUnavailable,
                 "Flutterwave did not answer (" + (a.status ? std::to_string(a.status) : a.error) + ")",
                 {}};
}

std::string Lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Flutterwave's own words for an unknown id or reference: an error envelope ("No transaction was found
// for this id"), as opposed to a route it does not have or an outage.
bool SaysNoSuchTransaction(long status, const json::object& o) {
    if ((status != 400 && status != 404) || Text(o, "status") != "error") return false;
    const std::string message = Lower(Text(o, "message"));
    return message.find("transaction") != std::string::npos &&
           (message.find("no ") != std::string::npos || message.find("not found") != std::string::npos);
}

GatewayAnswer ReadVerify(const net::HttpAnswer& a) {
    const std::string seen = a.status ? "HTTP " + std::to_string(a.status) : a.error;
    if (net::IsTransientStatus(a.status)) {
        return GatewayAnswer::Transient("Flutterwave did not answer (" + seen + ")", net::RetryAfter(a));
    }
    auto parsed = ParseJson(a.body, 16);
    if (!parsed || !parsed->is_object()) {
        return GatewayAnswer::Transient("Flutterwave answered something unreadable (" + seen + ")");
    }
    const auto& o = parsed->get_object();
    if (SaysNoSuchTransaction(a.status, o)) return GatewayAnswer::NotFound("Flutterwave: " + Text(o, "message"));
    const json::value* data = o.if_contains("data");
    if (!a.Ok() || Text(o, "status") != "success" || data == nullptr || !data->is_object()) {
        if (a.status == 401 || a.status == 403) return GatewayAnswer::Transient("Flutterwave refused our secret key");
        return GatewayAnswer::Transient("Flutterwave answered " + seen + ": " + Text(o, "message").substr(0, 200));
    }
    const auto& d = data->get_object();
    GatewayAnswer t;
    t.kind = GatewayAnswer::Kind::kFound;
    t.gateway_id = Text(d, "id");
    t.reference = Text(d, "tx_ref");
    t.status = Text(d, "status");
    t.state = FlutterwaveState(t.status);
    t.amount = Number(d, "amount");
    t.currency = Text(d, "currency");
    return t;
}

std::vector<std::string> Headers(const FlutterwaveConfig& c) {
    return {"Authorization: Bearer " + c.secret_key, "Content-Type: application/json", "Accept: application/json"};
}

}  // namespace

Result<std::string> FlutterwaveCreateCheckout(const FlutterwaveConfig& c, const FlutterwaveCheckout& k) {
    json::object customer{{"email", k.email}};
    json::object meta;
    for (const auto& [key, value] : k.meta) meta[key] = value;
    json::object body{{"tx_ref", k.reference},
                      {"amount", k.amount},
                      {"currency", k.currency},
                      {"redirect_url", k.redirect_url},
                      {"customer", customer},
                      {"customizations", json::object{{"title", k.title}, {"description", k.description}}},
                      {"meta", meta}};
    auto a = net::Fetch({"POST", net::JoinUrl(c.base_url, "/v3/payments"), Headers(c), ToJson(body), c.timeout});
    if (a.status == 0 || a.status >= 500) return Unavailable(a);
    auto parsed = ParseJson(a.body, 16);
    if (parsed && parsed->is_object() && Text(parsed->get_object(), "status") == "success") {
        const json::value* data = parsed->get_object().if_contains("data");
        if (data && data->is_object()) {
            const std::string link = Text(data->get_object(), "link");
            if (link.rfind("https://", 0) == 0 || link.rfind("http://", 0) == 0) return link;
        }
    }
    std::string why = parsed && parsed->is_object() ? Text(parsed->get_object(), "message") : std::string();
    return Error{ErrorCode::kPaymentFailed,
                 "Flutterwave refused the checkout" + (why.empty() ? "" : ": " + why.substr(0, 200)),
                 {}};
}

GatewayAnswer FlutterwaveVerify(const FlutterwaveConfig& c, const std::string& transaction_id) {
    if (transaction_id.empty() || transaction_id.size() > 20 ||
        !std::all_of(transaction_id.begin(), transaction_id.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
        return GatewayAnswer::NotFound("not a Flutterwave transaction id");
    }
    return ReadVerify(net::Fetch({"GET", net::JoinUrl(c.base_url, "/v3/transactions/" + transaction_id + "/verify"),
                                  Headers(c), "", c.timeout}));
}

GatewayAnswer FlutterwaveVerifyByReference(const FlutterwaveConfig& c, const std::string& tx_ref) {
    return ReadVerify(net::Fetch(
        {"GET", net::JoinUrl(c.base_url, "/v3/transactions/verify_by_reference?tx_ref=" + net::UrlEncode(tx_ref)),
         Headers(c), "", c.timeout}));
}

Result<FlutterwaveWebhook> ParseFlutterwaveWebhook(std::string_view body) {
    auto parsed = ParseJson(body, 16);
    if (!parsed) return parsed.error();
    if (!parsed->is_object()) return Error::Validation("body", "must be a JSON object");
    const auto& o = parsed->get_object();
    FlutterwaveWebhook w;
    if (const json::value* data = o.if_contains("data"); data && data->is_object()) {
        const auto& d = data->get_object();
        w.transaction_id = Text(d, "id");
        w.tx_ref = Text(d, "tx_ref");
        w.status = Text(d, "status");
    } else {  // the older flat shape
        w.transaction_id = Text(o, "id");
        w.tx_ref = Text(o, "txRef");
        if (w.tx_ref.empty()) w.tx_ref = Text(o, "tx_ref");
        w.status = Text(o, "status");
    }
    if (w.transaction_id.empty() && w.tx_ref.empty()) return Error::Validation("data.id", "is required");
    if (w.transaction_id.size() > 64 || w.tx_ref.size() > 128 || w.status.size() > 32)
        return Error::Validation("data", "fields too long");
    return w;
}

}  // namespace gpuopt::billing
