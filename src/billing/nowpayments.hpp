// NOWPayments (SPEC §7, reference/external-apis.md §2): an invoice (hosted page, the default) or a
// payment with a deposit address, the payment's state by id, and the IPN body. Only `finished` grants
// access; the amount and currency are checked against ours.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "billing/decision.hpp"
#include "common/result.hpp"

namespace gpuopt::billing {

struct NowPaymentsConfig {
    std::string base_url = "https://api.nowpayments.io";
    std::string api_key;  // x-api-key
    std::string ipn_secret;
    std::string mode = "invoice";      // or "payment"
    std::string pay_currency = "btc";  // for mode payment
    std::chrono::milliseconds timeout{30000};
};

struct NowPaymentsOrder {
    std::string reference;  // order_id
    double amount = 0;      // price_amount
    std::string currency;   // price_currency, lower case
    std::string description;
    std::string ipn_url;
    std::string success_url;
    std::string cancel_url;
};

struct NowPaymentsCheckout {
    std::string id;            // invoice id, or payment id in payment mode
    std::string checkout_url;  // the invoice page ("" in payment mode)
    std::string pay_address;   // payment mode
    std::string pay_amount;
    std::string pay_currency;
};

Result<NowPaymentsCheckout> NowPaymentsCreate(const NowPaymentsConfig& config, const NowPaymentsOrder& order);

struct NowPaymentsPayment {
    std::string payment_id;
    std::string invoice_id;
    std::string status;  // waiting, confirming, confirmed, sending, partially_paid, finished, failed, refunded, expired
    std::string order_id;
    double price_amount = 0;
    std::string price_currency;
    double actually_paid = 0;
    std::string pay_currency;
};

// GET /v1/payment/{id}: the answer (kFound with our order_id as `reference` and the price as the amount),
// and the payment as read. kNotFound only when NOWPayments says explicitly that it has no such payment;
// kTransient for no answer, 408/425/429/5xx (with Retry-After), a refused key and unreadable bodies.
struct NowPaymentsLookup {
    GatewayAnswer answer;
    NowPaymentsPayment payment;
};
NowPaymentsLookup NowPaymentsGetPayment(const NowPaymentsConfig& config, const std::string& payment_id);
Result<NowPaymentsPayment> ParseNowPaymentsIpn(std::string_view body);

}  // namespace gpuopt::billing
