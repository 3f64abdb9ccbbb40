#include "support/fake_gateways.hpp"

#include <sodium.h>

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "support/http_client.hpp"

namespace gpuopt::testing {

namespace json = boost::json;

namespace {

std::string Num(double v) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

std::string Quote(const std::string& s) { return json::serialize(json::value(json::string(s))); }

std::optional<json::object> BodyObject(const FakeRequest& req) {
    boost::system::error_code ec;
    json::value v = json::parse(req.body, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return v.as_object();
}

std::string Str(const json::object& o, const char* key) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr) return {};
    if (v->is_string()) return std::string(v->as_string());
    if (v->is_int64()) return std::to_string(v->as_int64());
    return {};
}

double Dbl(const json::object& o, const char* key) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr) return 0;
    if (v->is_number()) return v->to_number<double>();
    if (v->is_string()) return std::strtod(std::string(v->as_string()).c_str(), nullptr);
    return 0;
}

std::string QueryValue(const std::string& target, const std::string& name) {
    const size_t q = target.find('?');
    if (q == std::string::npos) return {};
    const std::string query = target.substr(q + 1);
    size_t pos = 0;
    while (pos <= query.size()) {
        size_t amp = query.find('&', pos);
        if (amp == std::string::npos) amp = query.size();
        const std::string pair = query.substr(pos, amp - pos);
        const size_t eq = pair.find('=');
        if (eq != std::string::npos && pair.substr(0, eq) == name) {
            std::string out;
            const std::string raw = pair.substr(eq + 1);
            for (size_t i = 0; i < raw.size(); ++i) {
                if (raw[i] == '%' && i + 2 < raw.size()) {
                    out += static_cast<char>(std::stoi(raw.substr(i + 1, 2), nullptr, 16));
                    i += 2;
                } else {
                    out += raw[i] == '+' ? ' ' : raw[i];
                }
            }
            return out;
        }
        pos = amp + 1;
    }
    return {};
}

FakeResponse Outage(FakeMode mode) {
    FakeResponse r;
    if (mode == FakeMode::kBlackHole) {
        r.hang = true;
        return r;
    }
    r.headers["Content-Type"] = "application/json";
    switch (mode) {
        case FakeMode::kRateLimited:
            r.status = 429;
            r.headers["Retry-After"] = "120";
            r.body = R"({"status":"error","message":"Too many requests","data":null})";
            return r;
        case FakeMode::kTimeout:
            r.status = 408;
            r.body = R"({"status":"error","message":"Request timeout","data":null})";
            return r;
        case FakeMode::kTooEarly:
            r.status = 425;
            r.body = R"({"status":"error","message":"Too early","data":null})";
            return r;
        case FakeMode::kHtml:
            r.status = 200;
            r.headers["Content-Type"] = "text/html";
            r.body = "<html><body>Down for maintenance</body></html>";
            return r;
        default:
            break;
    }
    r.status = 503;
    r.body = R"({"status":"error","message":"An error occurred. Please contact support","data":null})";
    return r;
}

}  // namespace

std::string HmacSha512HexForTests(const std::string& key, const std::string& data) {
    if (sodium_init() < 0) return {};
    crypto_auth_hmacsha512_state st;
    crypto_auth_hmacsha512_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
    crypto_auth_hmacsha512_update(&st, reinterpret_cast<const unsigned char*>(data.data()), data.size());
    unsigned char mac[crypto_auth_hmacsha512_BYTES];
    crypto_auth_hmacsha512_final(&st, mac);
    char hex[2 * sizeof mac + 1];
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    return hex;
}

// ---------------------------------------------------------------------------------------------
// Flutterwave

FakeFlutterwave::FakeFlutterwave() : server_([this](const FakeRequest& r) { return Handle(r); }) {}

FakeResponse FakeFlutterwave::Json(int status, const std::string& body) {
    FakeResponse r;
    r.status = status;
    r.body = body;
    r.headers["Content-Type"] = "application/json";
    return r;
}

void FakeFlutterwave::SetMode(FakeMode mode) {
    std::lock_guard lock(mu_);
    mode_ = mode;
}

void FakeFlutterwave::SetOutcome(const std::string& tx_ref, const std::string& status, std::optional<double> amount,
                                 std::optional<std::string> currency) {
    std::lock_guard lock(mu_);
    outcomes_[tx_ref] = {status, amount, std::move(currency)};
}

std::vector<FakeFlutterwave::Checkout> FakeFlutterwave::Checkouts() const {
    std::lock_guard lock(mu_);
    std::vector<Checkout> out;
    for (const auto& [_, c] : checkouts_) out.push_back(c);
    return out;
}

std::optional<FakeFlutterwave::Checkout> FakeFlutterwave::FindCheckout(const std::string& tx_ref) const {
    std::lock_guard lock(mu_);
    auto it = checkouts_.find(tx_ref);
    if (it == checkouts_.end()) return std::nullopt;
    return it->second;
}

std::optional<FakeFlutterwave::Transaction> FakeFlutterwave::FindTransaction(int64_t id) const {
    std::lock_guard lock(mu_);
    auto it = transactions_.find(id);
    if (it == transactions_.end()) return std::nullopt;
    return it->second;
}

FakeFlutterwave::Transaction FakeFlutterwave::AddTransaction(const std::string& tx_ref, const std::string& status,
                                                             double amount, const std::string& currency) {
    std::lock_guard lock(mu_);
    Transaction t{next_id_++, tx_ref, status, amount, currency};
    transactions_[t.id] = t;
    return t;
}

void FakeFlutterwave::SetTransactionStatus(int64_t id, const std::string& status) {
    std::lock_guard lock(mu_);
    transactions_.at(id).status = status;
}

int FakeFlutterwave::VerifyCalls() const {
    std::lock_guard lock(mu_);
    return verify_calls_;
}

std::string FakeFlutterwave::PayOnHostedPage(const std::string& link) const {
    auto res = Get(link);
    return res.status == 302 ? res.Header("location") : std::string();
}

std::string FakeFlutterwave::WebhookBody(const Transaction& t, bool legacy) {
    json::object customer{{"id", 998877}, {"name", "Ops"}, {"email", "ops@example.test"}};
    if (legacy) {
        json::object o{
            {"id", t.id},
            {"txRef", t.tx_ref},
            {"flwRef", "FLW-MOCK-" + std::to_string(t.id)},
            {"orderRef", "URF_" + std::to_string(t.id)},
            {"paymentPlan", nullptr},
            {"createdAt", "2026-11-26T10:20:30.000Z"},
            {"amount", t.amount},
            {"charged_amount", t.amount},
            {"status", t.status},
            {"IP", "197.210.64.1"},
            {"currency", t.currency},
            {"customer",
             json::object{{"id", 998877}, {"phone", nullptr}, {"fullName", "Ops"}, {"email", "ops@example.test"}}},
            {"entity", json::object{{"card6", "553188"}, {"card_last4", "2950"}}},
            {"event.type", "CARD_TRANSACTION"}};
        return json::serialize(o);
    }
    json::object data{{"id", t.id},
                      {"tx_ref", t.tx_ref},
                      {"flw_ref", "FLW-MOCK-" + std::to_string(t.id)},
                      {"device_fingerprint", "N/A"},
                      {"amount", t.amount},
                      {"currency", t.currency},
                      {"charged_amount", t.amount},
                      {"app_fee", 1.86},
                      {"merchant_fee", 0},
                      {"processor_response", t.status == "successful" ? "Approved" : "Declined"},
                      {"auth_model", "VBVSECURECODE"},
                      {"ip", "197.210.64.1"},
                      {"narration", "CARD Transaction "},
                      {"status", t.status},
                      {"payment_type", "card"},
                      {"created_at", "2026-11-26T10:20:30.000Z"},
                      {"account_id", 12345},
                      {"customer", customer},
                      {"card", json::object{{"first_6digits", "553188"},
                                            {"last_4digits", "2950"},
                                            {"issuer", "MASTERCARD"},
                                            {"country", "NG"},
                                            {"type", "MASTERCARD"},
                                            {"expiry", "09/32"}}}};
    json::object o{{"event", "charge.completed"}, {"data", data}, {"event.type", "CARD_TRANSACTION"}};
    return json::serialize(o);
}

FakeResponse FakeFlutterwave::Handle(const FakeRequest& req) {
    const std::string path = req.target.substr(0, req.target.find('?'));
    std::unique_lock lock(mu_);
    // The hosted page is the customer's browser: no key, and no outage of the API behind it.
    if (req.method == "GET" && path.rfind("/pay/", 0) == 0) {
        auto tok = tokens_.find(path.substr(5));
        if (tok == tokens_.end()) return Json(404, R"({"status":"error","message":"Link expired","data":null})");
        const Checkout& c = checkouts_.at(tok->second);
        Outcome outcome{"successful", std::nullopt, std::nullopt};
        if (auto it = outcomes_.find(c.tx_ref); it != outcomes_.end()) outcome = it->second;
        std::string location = c.redirect_url + (c.redirect_url.find('?') == std::string::npos ? "?" : "&");
        if (outcome.status == "cancelled") {
            location += "status=cancelled&tx_ref=" + c.tx_ref;
        } else {
            Transaction t{next_id_++, c.tx_ref, outcome.status, outcome.amount.value_or(c.amount),
                          outcome.currency.value_or(c.currency)};
            transactions_[t.id] = t;
            location += "status=" + (t.status == "successful" ? std::string("successful") : std::string("failed")) +
                        "&tx_ref=" + c.tx_ref + "&transaction_id=" + std::to_string(t.id);
        }
        FakeResponse r;
        r.status = 302;
        r.headers["Location"] = location;
        return r;
    }
    if (mode_ != FakeMode::kNormal) return Outage(mode_);
    if (req.Header("authorization") != std::string("Bearer ") + kSecretKey) {
        return Json(401, R"({"status":"error","message":"Invalid authorization key","data":null})");
    }
    if (req.method == "POST" && path == "/v3/payments") {
        auto body = BodyObject(req);
        if (!body) return Json(400, R"({"status":"error","message":"Invalid JSON","data":null})");
        Checkout c;
        c.tx_ref = Str(*body, "tx_ref");
        c.amount = Dbl(*body, "amount");
        c.currency = Str(*body, "currency");
        c.redirect_url = Str(*body, "redirect_url");
        if (const auto* cust = body->if_contains("customer"); cust && cust->is_object())
            c.email = Str(cust->as_object(), "email");
        if (c.tx_ref.empty() || c.amount <= 0 || c.redirect_url.empty() || c.email.empty()) {
            return Json(
                400,
                R"({"status":"error","message":"tx_ref, amount, redirect_url and customer.email are required","data":null})");
        }
        if (checkouts_.count(c.tx_ref))
            return Json(400, R"({"status":"error","message":"Duplicate tx_ref","data":null})");
        const std::string token = std::to_string(0x3f1c9a0b7e + checkouts_.size());
        c.link = server_.Url("/pay/" + token);
        tokens_[token] = c.tx_ref;
        checkouts_[c.tx_ref] = c;
        return Json(200, R"({"status":"success","message":"Hosted Link","data":{"link":)" + Quote(c.link) + "}}");
    }
    const Transaction* found = nullptr;
    if (req.method == "GET" && path == "/v3/transactions/verify_by_reference") {
        ++verify_calls_;
        const std::string ref = QueryValue(req.target, "tx_ref");
        for (const auto& [_, t] : transactions_) {
            if (t.tx_ref == ref) found = &t;  // the latest attempt
        }
    } else if (req.method == "GET" && path.rfind("/v3/transactions/", 0) == 0 && path.size() > 24 &&
               path.compare(path.size() - 7, 7, "/verify") == 0) {
        ++verify_calls_;
        const std::string id = path.substr(17, path.size() - 17 - 7);
        auto it = transactions_.find(std::strtoll(id.c_str(), nullptr, 10));
        if (it != transactions_.end()) found = &it->second;
    } else {
        return Json(404, R"({"status":"error","message":"Route not found","data":null})");
    }
    if (found == nullptr)
        return Json(400, R"({"status":"error","message":"No transaction was found for this id","data":null})");
    const Transaction& t = *found;
    json::object data{{"id", t.id},
                      {"tx_ref", t.tx_ref},
                      {"flw_ref", "FLW-MOCK-" + std::to_string(t.id)},
                      {"amount", t.amount},
                      {"currency", t.currency},
                      {"charged_amount", t.amount},
                      {"app_fee", 1.86},
                      {"merchant_fee", 0},
                      {"processor_response", t.status == "successful" ? "Approved" : "Declined"},
                      {"status", t.status},
                      {"payment_type", "card"},
                      {"created_at", "2026-11-26T10:20:30.000Z"},
                      {"amount_settled", t.amount - 1.86},
                      {"meta", nullptr},
                      {"customer", json::object{{"id", 998877}, {"email", "ops@example.test"}}}};
    return Json(200, json::serialize(json::object{
                         {"status", "success"}, {"message", "Transaction fetched successfully"}, {"data", data}}));
}

// ---------------------------------------------------------------------------------------------
// NOWPayments

FakeNowPayments::FakeNowPayments() : server_([this](const FakeRequest& r) { return Handle(r); }) {}

void FakeNowPayments::SetMode(FakeMode mode) {
    std::lock_guard lock(mu_);
    mode_ = mode;
}

std::vector<FakeNowPayments::Order> FakeNowPayments::Orders() const {
    std::lock_guard lock(mu_);
    std::vector<Order> out;
    for (const auto& [_, o] : orders_) out.push_back(o);
    return out;
}

std::optional<FakeNowPayments::Order> FakeNowPayments::FindOrder(const std::string& order_id) const {
    std::lock_guard lock(mu_);
    auto it = orders_.find(order_id);
    if (it == orders_.end()) return std::nullopt;
    return it->second;
}

FakeNowPayments::Payment FakeNowPayments::Pay(const std::string& order_id, const std::string& status,
                                              std::optional<double> price_amount,
                                              std::optional<std::string> price_currency) {
    std::lock_guard lock(mu_);
    const Order& o = orders_.at(order_id);
    Payment p;
    p.payment_id = o.invoice ? std::to_string(next_id_++) : o.id;
    p.invoice_id = o.invoice ? o.id : "";
    p.status = status;
    p.order_id = o.order_id;
    p.price_amount = price_amount.value_or(o.price_amount);
    p.price_currency = price_currency.value_or(o.price_currency);
    p.actually_paid = status == "partially_paid" ? p.pay_amount / 2 : (status == "waiting" ? 0 : p.pay_amount);
    payments_[p.payment_id] = p;
    return p;
}

void FakeNowPayments::SetStatus(const std::string& payment_id, const std::string& status) {
    std::lock_guard lock(mu_);
    payments_.at(payment_id).status = status;
}

int FakeNowPayments::GetCalls() const {
    std::lock_guard lock(mu_);
    return get_calls_;
}

// The payment as NOWPayments writes it, fields in its own order, or sorted at every level.
std::string FakeNowPayments::PaymentJson(const Payment& p, bool sorted) const {
    using Fields = std::vector<std::pair<std::string, std::string>>;
    auto object = [sorted](Fields f) {
        if (sorted) std::sort(f.begin(), f.end());
        std::string out = "{";
        for (size_t i = 0; i < f.size(); ++i) out += (i ? "," : "") + Quote(f[i].first) + ":" + f[i].second;
        return out + "}";
    };
    Fields fee{
        {"currency", Quote(p.pay_currency)}, {"depositFee", "0"}, {"withdrawalFee", "0"}, {"serviceFee", "1e-8"}};
    Fields f{{"payment_id", p.payment_id},  // a number larger than 32 bits, as the gateway sends it
             {"invoice_id", p.invoice_id.empty() ? "null" : p.invoice_id},
             {"parent_payment_id", "null"},
             {"payment_status", Quote(p.status)},
             {"pay_address", Quote("bc1qexampleaddress0000000000000000")},
             {"payin_extra_id", "null"},
             {"price_amount", Num(p.price_amount)},
             {"price_currency", Quote(p.price_currency)},
             {"pay_amount", Num(p.pay_amount)},
             {"actually_paid", Num(p.actually_paid)},
             {"actually_paid_at_fiat", "0"},
             {"pay_currency", Quote(p.pay_currency)},
             {"order_id", Quote(p.order_id)},
             {"order_description", Quote("GPUOptimizer plan \u2014 r\u00e9sum\u00e9")},
             {"purchase_id", Quote("5837122679")},
             {"outcome_amount", "0.0005"},
             {"outcome_currency", Quote("btc")},
             {"payin_hash", "null"},
             {"payout_hash", "null"},
             {"ipn_callback_url", Quote("https://app.example.test/payment/nowpayments/webhook")},
             {"fee", object(fee)},
             {"created_at", Quote("2026-11-26T10:20:30.123Z")},
             {"updated_at", Quote("2026-11-26T10:41:02.456Z")}};
    return object(f);
}

std::string FakeNowPayments::IpnBody(const Payment& p) const { return PaymentJson(p, false); }

std::string FakeNowPayments::IpnSignature(const Payment& p) const {
    return HmacSha512HexForTests(kIpnSecret, PaymentJson(p, true));
}

FakeResponse FakeNowPayments::Handle(const FakeRequest& req) {
    auto reply = [](int status, const std::string& body) {
        FakeResponse r;
        r.status = status;
        r.body = body;
        r.headers["Content-Type"] = "application/json";
        return r;
    };
    const std::string path = req.target.substr(0, req.target.find('?'));
    std::lock_guard lock(mu_);
    if (mode_ != FakeMode::kNormal) return Outage(mode_);
    if (req.Header("x-api-key") != kApiKey)
        return reply(401, R"({"statusCode":401,"code":"INVALID_API_KEY","message":"Invalid api key"})");
    if (req.method == "POST" && (path == "/v1/invoice" || path == "/v1/payment")) {
        auto body = BodyObject(req);
        if (!body) return reply(400, R"({"statusCode":400,"code":"INVALID_REQUEST_PARAMS","message":"Invalid JSON"})");
        Order o;
        o.invoice = path == "/v1/invoice";
        o.order_id = Str(*body, "order_id");
        o.price_amount = Dbl(*body, "price_amount");
        o.price_currency = Str(*body, "price_currency");
        o.ipn_callback_url = Str(*body, "ipn_callback_url");
        o.success_url = Str(*body, "success_url");
        if (o.price_amount <= 0 || o.price_currency.empty() || (!o.invoice && Str(*body, "pay_currency").empty())) {
            return reply(
                400,
                R"({"statusCode":400,"code":"INVALID_REQUEST_PARAMS","message":"price_amount, price_currency (and pay_currency) are required"})");
        }
        o.id = std::to_string(o.invoice ? 4522625843 + static_cast<int64_t>(orders_.size()) : next_id_++);
        orders_[o.order_id] = o;
        if (o.invoice) {
            json::object r{{"id", o.id},
                           {"token_id", "mK7rT2"},
                           {"order_id", o.order_id},
                           {"price_amount", Num(o.price_amount)},  // a string here, as the gateway sends it
                           {"price_currency", o.price_currency},
                           {"pay_currency", nullptr},
                           {"ipn_callback_url", o.ipn_callback_url},
                           {"invoice_url", server_.Url("/payment/?iid=" + o.id)},
                           {"success_url", o.success_url},
                           {"created_at", "2026-11-26T10:20:30.123Z"}};
            return reply(200, json::serialize(r));
        }
        Payment p;
        p.payment_id = o.id;
        p.status = "waiting";
        p.order_id = o.order_id;
        p.price_amount = o.price_amount;
        p.price_currency = o.price_currency;
        payments_[p.payment_id] = p;
        return reply(201, R"({"payment_id":)" + Quote(p.payment_id) +
                              R"(,"payment_status":"waiting","pay_address":"bc1qexample000",)"
                              R"("price_amount":)" +
                              Num(p.price_amount) + R"(,"price_currency":)" + Quote(p.price_currency) +
                              R"(,"pay_amount":0.00051234,"pay_currency":"btc","order_id":)" + Quote(p.order_id) + "}");
    }
    if (req.method == "GET" && path.rfind("/v1/payment/", 0) == 0) {
        ++get_calls_;
        auto it = payments_.find(path.substr(12));
        if (it == payments_.end())
            return reply(404, R"({"statusCode":404,"code":"NOT_FOUND","message":"Payment not found"})");
        return reply(200, PaymentJson(it->second, false));
    }
    return reply(404, R"({"statusCode":404,"message":"Not found"})");
}

// ---------------------------------------------------------------------------------------------
// SendGrid

FakeSendGrid::FakeSendGrid() : server_([this](const FakeRequest& r) { return Handle(r); }) {}

void FakeSendGrid::SetMode(FakeMode mode) {
    std::lock_guard lock(mu_);
    mode_ = mode;
}

void FakeSendGrid::FailNext(int status, int count) {
    std::lock_guard lock(mu_);
    fail_status_ = status;
    fail_count_ = count;
}

std::vector<FakeRequest> FakeSendGrid::Accepted() const {
    std::lock_guard lock(mu_);
    return accepted_;
}

FakeResponse FakeSendGrid::Handle(const FakeRequest& req) {
    auto error = [](int status, const std::string& message, const std::string& field) {
        FakeResponse r;
        r.status = status;
        r.headers["Content-Type"] = "application/json";
        r.body = json::serialize(json::object{
            {"errors", json::array{json::object{{"message", message},
                                                {"field", field.empty() ? json::value(nullptr) : json::value(field)},
                                                {"help", nullptr}}}}});
        return r;
    };
    std::lock_guard lock(mu_);
    if (mode_ != FakeMode::kNormal) return Outage(mode_);
    if (req.method != "POST" || req.target != "/v3/mail/send") return error(404, "not found", "");
    if (req.Header("authorization") != std::string("Bearer ") + kApiKey) {
        return error(401, "The provided authorization grant is invalid, expired, or revoked", "");
    }
    if (fail_count_ > 0) {
        --fail_count_;
        FakeResponse r =
            error(fail_status_, fail_status_ == 429 ? "too many requests" : "the mail could not be sent", "");
        if (fail_status_ == 429) r.headers["X-RateLimit-Reset"] = "1";
        return r;
    }
    auto body = BodyObject(req);
    if (!body) return error(400, "Bad Request", "");
    const auto* pers = body->if_contains("personalizations");
    if (pers == nullptr || !pers->is_array() || pers->as_array().empty()) {
        return error(400, "The personalizations field is required and must have at least one personalization.",
                     "personalizations");
    }
    for (const auto& p : pers->as_array()) {
        const auto* to = p.is_object() ? p.as_object().if_contains("to") : nullptr;
        if (to == nullptr || !to->is_array() || to->as_array().empty()) {
            return error(
                400,
                "The to array is required for all personalization objects, and must have at least one email object",
                "personalizations.0.to");
        }
    }
    const auto* from = body->if_contains("from");
    if (from == nullptr || !from->is_object() || Str(from->as_object(), "email").empty()) {
        return error(400, "The from object must be provided for every email send.", "from");
    }
    const auto* content = body->if_contains("content");
    if (content == nullptr || !content->is_array() || content->as_array().empty()) {
        return error(400, "Unless a valid template_id is provided, the content parameter is required.", "content");
    }
    const auto& parts = content->as_array();
    for (size_t i = 1; i < parts.size(); ++i) {
        if (parts[i].is_object() && Str(parts[i].as_object(), "type") == "text/plain") {
            return error(400, "The text/plain content type must be first.", "content");
        }
    }
    accepted_.push_back(req);
    FakeResponse r;
    r.status = 202;
    r.headers["X-Message-Id"] = "fake-sg-" + std::to_string(next_id_++);
    return r;
}

}  // namespace gpuopt::testing
