// Local fakes of the payment gateways and of SendGrid, following reference/external-apis.md §1, §2
// and §5.7: what the real services take, answer and send, with the knobs a test needs (each payment's
// outcome, an outage, a black hole). Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "support/fake_http_server.hpp"

namespace gpuopt::testing {

// HMAC-SHA512 in lowercase hex, computed here independently of the product's code.
std::string HmacSha512HexForTests(const std::string& key, const std::string& data);

// What an outage looks like.
enum class FakeMode {
    kNormal,
    kUnavailable,  // 503 {"status":"error",...}, as after Flutterwave's ~28 s gateway timeout
    kBlackHole,    // accepts the connection and never answers
    kRateLimited,  // 429 with Retry-After: 120
    kTimeout,      // 408 Request Timeout
    kTooEarly,     // 425 Too Early
    kHtml,         // 200 with an HTML page, as from a captive proxy or a maintenance page
};

// Flutterwave v3: POST /v3/payments (hosted link), the hosted page (GET /pay/<token>: 302 back to
// redirect_url with status, tx_ref, transaction_id), GET /v3/transactions/{id}/verify and
// /v3/transactions/verify_by_reference?tx_ref=, 401 for a wrong bearer; and the webhooks it sends.
class FakeFlutterwave {
public:
    static constexpr const char* kSecretKey = "FLWSECK_TEST-0123456789abcdef0123456789abcdef-X";
    static constexpr const char* kSecretHash = "flw-webhook-hash-for-tests-6d1f";

    FakeFlutterwave();

    std::string BaseUrl() const { return server_.Url(); }
    const FakeHttpServer& server() const { return server_; }

    struct Checkout {
        std::string tx_ref;
        double amount = 0;
        std::string currency;
        std::string redirect_url;
        std::string email;
        std::string link;
    };
    struct Transaction {
        int64_t id = 0;
        std::string tx_ref;
        std::string status;  // successful, failed, pending
        double amount = 0;
        std::string currency;
    };

    void SetMode(FakeMode mode);
    // What paying on the hosted page does for this reference (default: successful, the full amount).
    void SetOutcome(const std::string& tx_ref, const std::string& status, std::optional<double> amount = std::nullopt,
                    std::optional<std::string> currency = std::nullopt);

    std::vector<Checkout> Checkouts() const;
    std::optional<Checkout> FindCheckout(const std::string& tx_ref) const;
    std::optional<Transaction> FindTransaction(int64_t id) const;
    // A transaction the gateway holds for someone else's reference (tampering tests).
    Transaction AddTransaction(const std::string& tx_ref, const std::string& status, double amount,
                               const std::string& currency);
    // Changes a transaction's status, as a later charge event does.
    void SetTransactionStatus(int64_t id, const std::string& status);
    int VerifyCalls() const;

    // The customer on the hosted page: opens `link` and returns where the page sends the browser.
    std::string PayOnHostedPage(const std::string& link) const;

    // Webhook bodies: the v3 envelope ({"event":"charge.completed","data":{...}}) or the older flat
    // camelCase shape.
    static std::string WebhookBody(const Transaction& t, bool legacy = false);

private:
    FakeResponse Handle(const FakeRequest& req);
    static FakeResponse Json(int status, const std::string& body);

    mutable std::mutex mu_;
    FakeMode mode_ = FakeMode::kNormal;
    std::map<std::string, Checkout> checkouts_;  // by tx_ref
    std::map<std::string, std::string> tokens_;  // hosted-page token -> tx_ref
    struct Outcome {
        std::string status;
        std::optional<double> amount;
        std::optional<std::string> currency;
    };
    std::map<std::string, Outcome> outcomes_;
    std::map<int64_t, Transaction> transactions_;
    int64_t next_id_ = 4837261;
    int verify_calls_ = 0;
    FakeHttpServer server_;  // last: destroyed first, while the state above still lives
};

// NOWPayments: POST /v1/invoice, POST /v1/payment, GET /v1/payment/{id} (x-api-key), and the IPNs it
// sends, signed the real way (HMAC-SHA512 of the key-sorted compact body) with kIpnSecret.
class FakeNowPayments {
public:
    static constexpr const char* kApiKey = "NP-TEST-KEY-4F2A9C";
    static constexpr const char* kIpnSecret = "np-ipn-secret-for-tests-a8d3e";

    FakeNowPayments();

    std::string BaseUrl() const { return server_.Url(); }
    const FakeHttpServer& server() const { return server_; }

    struct Order {
        std::string id;  // invoice id, or payment id for POST /v1/payment
        bool invoice = true;
        std::string order_id;
        double price_amount = 0;
        std::string price_currency;
        std::string ipn_callback_url;
        std::string success_url;
    };
    struct Payment {
        std::string payment_id;
        std::string invoice_id;
        std::string status;
        std::string order_id;
        double price_amount = 0;
        std::string price_currency;
        double pay_amount = 0.00051234;
        double actually_paid = 0;
        std::string pay_currency = "btc";
    };

    void SetMode(FakeMode mode);
    std::vector<Order> Orders() const;
    std::optional<Order> FindOrder(const std::string& order_id) const;
    // The customer pays an order (invoice or payment): the payment now has `status`. Returns it.
    Payment Pay(const std::string& order_id, const std::string& status,
                std::optional<double> price_amount = std::nullopt,
                std::optional<std::string> price_currency = std::nullopt);
    void SetStatus(const std::string& payment_id, const std::string& status);
    int GetCalls() const;

    // The IPN NOWPayments would POST for this payment now: keys in the gateway's own order (not
    // sorted), a nested fee object, a fee written 1e-8, a URL with slashes, a large integer id.
    std::string IpnBody(const Payment& p) const;
    // The x-nowpayments-sig of a body built by IpnBody (computed from the fake's own sorted form).
    std::string IpnSignature(const Payment& p) const;

private:
    FakeResponse Handle(const FakeRequest& req);
    std::string PaymentJson(const Payment& p, bool sorted) const;

    mutable std::mutex mu_;
    FakeMode mode_ = FakeMode::kNormal;
    std::map<std::string, Order> orders_;  // by order_id
    std::map<std::string, Payment> payments_;
    int64_t next_id_ = 5077125051;
    int get_calls_ = 0;
    FakeHttpServer server_;
};

// SendGrid v3: POST /v3/mail/send with Bearer auth; 202 and X-Message-Id, or the documented errors.
class FakeSendGrid {
public:
    static constexpr const char* kApiKey = "SG.test-key.0123456789";

    FakeSendGrid();
    std::string BaseUrl() const { return server_.Url(); }
    void SetMode(FakeMode mode);
    void FailNext(int status, int count = 1);  // the next `count` sends answer `status`
    std::vector<FakeRequest> Accepted() const;

private:
    FakeResponse Handle(const FakeRequest& req);

    mutable std::mutex mu_;
    FakeMode mode_ = FakeMode::kNormal;
    int fail_status_ = 0;
    int fail_count_ = 0;
    int next_id_ = 1;
    std::vector<FakeRequest> accepted_;
    FakeHttpServer server_;
};

}  // namespace gpuopt::testing
