// Flutterwave v3 (SPEC §7, reference/external-apis.md §1): hosted checkout (POST /v3/payments),
// verification by transaction id and by our reference, and the webhook's two shapes. Only what
// verification returns is trusted; the webhook and the customer's return address only say where to look.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "billing/decision.hpp"
#include "common/result.hpp"

namespace gpuopt::billing {

struct FlutterwaveConfig {
    std::string base_url = "https://api.flutterwave.com";
    std::string secret_key;   // Authorization: Bearer
    std::string secret_hash;  // the webhook's verif-hash
    std::chrono::milliseconds timeout{30000};
};

struct FlutterwaveCheckout {
    std::string reference;  // tx_ref
    double amount = 0;
    std::string currency;  // "USD"
    std::string redirect_url;
    std::string email;
    std::string title;
    std::string description;
    std::map<std::string, std::string> meta;
};

// The hosted-checkout link. kPaymentFailed when the gateway refuses; kUnavailable when it cannot be
// reached or times out (then the payment may or may not exist there: reconcile by reference).
Result<std::string> FlutterwaveCreateCheckout(const FlutterwaveConfig& config, const FlutterwaveCheckout& checkout);

// What Flutterwave's verify endpoints say about a transaction (kFound, with our reference as
// `reference`); kNotFound only when Flutterwave says explicitly that it has no such transaction;
// kTransient for no answer, 408/425/429/5xx (with Retry-After), a refused key and unreadable bodies.
GatewayAnswer FlutterwaveVerify(const FlutterwaveConfig& config, const std::string& transaction_id);
GatewayAnswer FlutterwaveVerifyByReference(const FlutterwaveConfig& config, const std::string& tx_ref);

// What a webhook body points at: the transaction id, our reference and the status it claims. Both the
// current shape ({"event", "data": {...}}) and the older flat one (camelCase "txRef") are read.
struct FlutterwaveWebhook {
    std::string transaction_id;
    std::string tx_ref;
    std::string status;
};
Result<FlutterwaveWebhook> ParseFlutterwaveWebhook(std::string_view body);

}  // namespace gpuopt::billing
