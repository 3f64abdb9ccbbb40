// Billing through the real server: checkout with the fake Flutterwave and NOWPayments, the customer's
// return, signed webhooks, the worker that verifies and applies them, and the receipt that a real SMTP
// server (aiosmtpd, STARTTLS) receives. Signatures that fail are refused and logged; tampered returns,
// concurrent copies and a crash between recording and applying change nothing more than they should.
#include <boost/url/parse.hpp>

#include <map>
#include <utility>

#include "integration/fixture.hpp"
#include "support/fake_gateways.hpp"
#include "support/smtp_server.hpp"

namespace gpuopt::testing {
namespace {

class Billing : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(smtp_.Started()) << smtp_.Log(); }

    Env ServerEnv(Env extra = {}) const {
        Env env{{"FLUTTERWAVE_SECRET_KEY", FakeFlutterwave::kSecretKey},
                {"FLUTTERWAVE_SECRET_HASH", FakeFlutterwave::kSecretHash},
                {"FLUTTERWAVE_BASE_URL", flw_.BaseUrl()},
                {"NOWPAYMENTS_API_KEY", FakeNowPayments::kApiKey},
                {"NOWPAYMENTS_IPN_SECRET", FakeNowPayments::kIpnSecret},
                {"NOWPAYMENTS_BASE_URL", np_.BaseUrl()},
                {"BASE_URL", "https://app.example.test"},
                {"SMTP_SERVER", "127.0.0.1"},
                {"SMTP_PORT", std::to_string(smtp_.port())},
                {"SMTP_CA_FILE", smtp_.CaFile()},
                {"SENDER_EMAIL", "billing@gpuopt.example"},
                {"GATEWAY_TIMEOUT_SECONDS", "1"},
                {"BILLING_INTERVAL_SECONDS", "1"},
                {"MAIL_INTERVAL_SECONDS", "1"},
                {"RATE_LIMIT_FREE", "0"}};
        for (auto& [k, v] : extra) env[k] = v;
        return env;
    }

    // The messages received so far whose subject contains `needle`.
    std::vector<std::string> MailsWithSubject(const std::string& needle) const {
        std::vector<std::string> out;
        for (auto& m : smtp_.Messages()) {
            if (MailHeader(m, "Subject").find(needle) != std::string::npos) out.push_back(m);
        }
        return out;
    }
    bool WaitForMail(const std::string& needle, size_t count = 1) const {
        return WaitFor([&] { return MailsWithSubject(needle).size() >= count; }, std::chrono::seconds(30));
    }

    static std::string Tier(const RunningServer& s, const std::string& key) {
        auto me = Get(s.Url("/api/me"), Bearer(key)).Json();
        return me.is_object() && me.as_object().contains("tier") ? std::string(me.at("tier").as_string())
                                                                 : std::string();
    }
    static bool WaitForTier(const RunningServer& s, const std::string& key, const std::string& tier) {
        return WaitFor([&] { return Tier(s, key) == tier; }, std::chrono::seconds(30));
    }
    // Waits until the worker has dealt with every recorded gateway event.
    static bool WaitForWorker(const RunningServer& s) {
        return WaitFor(
            [&] { return CountRows(s.DbPath(), "SELECT COUNT(*) FROM gateway_events WHERE state = 'pending'") == 0; },
            std::chrono::seconds(30));
    }

    static boost::json::value Upgrade(const RunningServer& s, const std::string& key, const std::string& tier,
                                      const std::string& method) {
        auto res = PostJson(s.Url("/api/upgrade"), R"({"tier":")" + tier + R"(","payment_method":")" + method + R"("})",
                            Bearer(key));
        EXPECT_EQ(res.status, 200) << res.body << res.error << s.server->Log();
        return res.Json();
    }

    // The customer pays on Flutterwave's hosted page and comes back to us; returns the transaction id.
    std::string PayAndReturn(const RunningServer& s, const std::string& payment_url) {
        const std::string back = flw_.PayOnHostedPage(payment_url);
        EXPECT_EQ(back.rfind("https://app.example.test/payment/flutterwave/callback?", 0), 0u) << back;
        const std::string query = back.substr(back.find('?'));
        auto page = Get(s.Url("/payment/flutterwave/callback" + query));
        EXPECT_EQ(page.status, 200);
        EXPECT_EQ(page.Header("content-type"), "text/html; charset=utf-8");
        EXPECT_NE(page.body.find("confirming your payment"), std::string::npos) << page.body;
        auto url = boost::urls::parse_uri_reference(query);
        for (auto param : url->params()) {
            if (param.key == "transaction_id") return param.value;
        }
        ADD_FAILURE() << "no transaction_id in " << back;
        return {};
    }

    HttpResponse FlutterwaveWebhook(const RunningServer& s, const std::string& body, const std::string& hash) const {
        std::vector<std::string> headers;
        if (!hash.empty()) headers.push_back("verif-hash: " + hash);
        return PostJson(s.Url("/payment/flutterwave/webhook"), body, headers);
    }
    HttpResponse NowPaymentsIpn(const RunningServer& s, const std::string& body, const std::string& sig) const {
        std::vector<std::string> headers;
        if (!sig.empty()) headers.push_back("x-nowpayments-sig: " + sig);
        return PostJson(s.Url("/payment/nowpayments/webhook"), body, headers);
    }

    FakeFlutterwave flw_;
    FakeNowPayments np_;
    SmtpServer smtp_;
};

TEST_F(Billing, GatewaysAreListedFromConfiguration) {
    RunningServer server(ServerEnv());
    auto v = Get(server.Url("/api/payment/gateways")).Json();
    ASSERT_TRUE(v.is_object());
    const auto& list = v.at("gateways").as_array();
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0].at("name"), "flutterwave");
    EXPECT_EQ(list[1].at("name"), "nowpayments");

    RunningServer bare;  // no gateway configured: none listed, and an upgrade is refused clearly
    EXPECT_TRUE(Get(bare.Url("/api/payment/gateways")).Json().at("gateways").as_array().empty());
    const std::string key = bare.Signup("nobody@example.com");
    auto res =
        PostJson(bare.Url("/api/upgrade"), R"({"tier":"professional","payment_method":"flutterwave"})", Bearer(key));
    EXPECT_EQ(res.status, 400);
    EXPECT_TRUE(res.Json().at("details").as_object().contains("payment_method")) << res.body;
}

TEST_F(Billing, FlutterwaveUpgradeEndToEnd) {
    RunningServer server(ServerEnv({{"ENCRYPTION_KEY", kEncryptionKey}}));
    const std::string key = server.Signup("ada@example.com");

    // The welcome mail names the key's prefix, never the key.
    ASSERT_TRUE(WaitForMail("Welcome")) << server.server->Log();
    const std::string raw_welcome = MailsWithSubject("Welcome").front();
    const std::string welcome = MailPart(raw_welcome, "text/plain") + MailPart(raw_welcome, "text/html");
    EXPECT_NE(welcome.find(key.substr(0, 9)), std::string::npos) << welcome;
    EXPECT_EQ(welcome.find(key), std::string::npos);
    EXPECT_EQ(raw_welcome.find(key), std::string::npos);

    auto checkout = Upgrade(server, key, "professional", "flutterwave");
    const std::string reference(checkout.at("payment_id").as_string());
    const std::string payment_url(checkout.at("payment_url").as_string());
    EXPECT_EQ(checkout.at("status"), "success");
    EXPECT_EQ(payment_url.rfind(flw_.BaseUrl(), 0), 0u);
    auto sent = flw_.FindCheckout(reference);
    ASSERT_TRUE(sent.has_value());
    EXPECT_DOUBLE_EQ(sent->amount, 49);
    EXPECT_EQ(sent->email, "ada@example.com");

    auto mine = Get(server.Url("/api/me/payments"), Bearer(key)).Json();
    ASSERT_EQ(mine.at("payments").as_array().size(), 1u);
    EXPECT_EQ(mine.at("payments").at(0).at("status"), "pending");
    EXPECT_EQ(Tier(server, key), "free");  // nothing granted before the gateway confirms

    const std::string tx = PayAndReturn(server, payment_url);
    auto t = flw_.FindTransaction(std::stoll(tx)).value();
    auto hook = FlutterwaveWebhook(server, FakeFlutterwave::WebhookBody(t), FakeFlutterwave::kSecretHash);
    EXPECT_EQ(hook.status, 200) << hook.body;

    ASSERT_TRUE(WaitForTier(server, key, "professional")) << server.server->Log();
    ASSERT_TRUE(WaitForMail("receipt " + reference)) << server.server->Log() << smtp_.Log();
    // The gateway's payload was stored encrypted (ENCRYPTION_KEY), yet applied: the customer's details in it
    // (the gateway's customer record, the card's first digits) are nowhere in the database.
    EXPECT_GE(CountRows(server.DbPath(), "SELECT COUNT(*) FROM gateway_events"), 1);
    EXPECT_EQ(CountRows(server.DbPath(), "SELECT COUNT(*) FROM gateway_events WHERE body NOT LIKE 'gAAAAA%'"), 0);
    const std::string stored = StoredBytes(server);
    EXPECT_EQ(stored.find("ops@example.test"), std::string::npos);
    EXPECT_EQ(stored.find("553188"), std::string::npos);
    const std::string receipt = MailsWithSubject("receipt " + reference).front();
    EXPECT_EQ(MailHeader(receipt, "To"), "<ada@example.com>");
    EXPECT_NE(MailHeader(receipt, "From").find("billing@gpuopt.example"), std::string::npos);
    EXPECT_EQ(MailHeader(receipt, "MIME-Version"), "1.0");
    EXPECT_FALSE(MailHeader(receipt, "Date").empty());
    EXPECT_NE(MailHeader(receipt, "Message-ID").find('@'), std::string::npos);
    EXPECT_NE(MailHeader(receipt, "Content-Type").find("multipart/alternative"), std::string::npos);
    ASSERT_TRUE(WaitForMail("plan is now"));

    mine = Get(server.Url("/api/me/payments"), Bearer(key)).Json();
    EXPECT_EQ(mine.at("tier"), "professional");
    EXPECT_EQ(mine.at("payments").at(0).at("status"), "completed");
    EXPECT_EQ(mine.at("subscription").at("status"), "active");
    EXPECT_EQ(CountRows(server.DbPath(), "SELECT COUNT(*) FROM revenue_events WHERE kind = 'payment'"), 1);
    EXPECT_EQ(CountRows(server.DbPath(), "SELECT COUNT(*) FROM revenue_events WHERE kind = 'upgrade'"), 1);

    // The operator's view.
    auto stats = Get(server.Url("/api/stats"), {std::string("Authorization: Bearer ") + kAdminToken}).Json();
    EXPECT_DOUBLE_EQ(stats.at("monthly_recurring_revenue").to_number<double>(), 49);
}

TEST_F(Billing, NowPaymentsUpgradeEndToEnd) {
    RunningServer server(ServerEnv());
    const std::string key = server.Signup("grace@example.com");
    auto checkout = Upgrade(server, key, "enterprise", "nowpayments");
    const std::string reference(checkout.at("payment_id").as_string());
    auto order = np_.FindOrder(reference);
    ASSERT_TRUE(order.has_value());
    EXPECT_TRUE(order->invoice);
    EXPECT_DOUBLE_EQ(order->price_amount, 199);
    EXPECT_EQ(order->ipn_callback_url, "https://app.example.test/payment/nowpayments/webhook");
    EXPECT_NE(std::string(checkout.at("payment_url").as_string()).find(order->id), std::string::npos);

    // Waiting and confirming change nothing; finished grants the plan.
    auto payment = np_.Pay(reference, "confirming");
    EXPECT_EQ(NowPaymentsIpn(server, np_.IpnBody(payment), np_.IpnSignature(payment)).status, 200);
    ASSERT_TRUE(WaitForWorker(server));
    EXPECT_EQ(Tier(server, key), "free");

    np_.SetStatus(payment.payment_id, "finished");
    payment.status = "finished";
    auto res = NowPaymentsIpn(server, np_.IpnBody(payment), np_.IpnSignature(payment));
    EXPECT_EQ(res.status, 200) << res.body;
    ASSERT_TRUE(WaitForTier(server, key, "enterprise")) << server.server->Log();
    ASSERT_TRUE(WaitForMail("receipt " + reference)) << server.server->Log();
    EXPECT_EQ(MailHeader(MailsWithSubject("receipt " + reference).front(), "To"), "<grace@example.com>");

    // Failed after finished changes nothing.
    np_.SetStatus(payment.payment_id, "failed");
    payment.status = "failed";
    EXPECT_EQ(NowPaymentsIpn(server, np_.IpnBody(payment), np_.IpnSignature(payment)).status, 200);
    ASSERT_TRUE(WaitForWorker(server));
    EXPECT_EQ(Tier(server, key), "enterprise");
    EXPECT_EQ(Get(server.Url("/api/me/payments"), Bearer(key)).Json().at("payments").at(0).at("status"), "completed");
}

TEST_F(Billing, ForgedMissingAndStaleSignaturesAreRefusedLoggedAndChangeNothing) {
    RunningServer server(ServerEnv());
    const std::string key = server.Signup("eve@example.com");
    auto flw = Upgrade(server, key, "professional", "flutterwave");
    auto np = Upgrade(server, key, "professional", "nowpayments");
    const std::string flw_ref(flw.at("payment_id").as_string());
    const std::string np_ref(np.at("payment_id").as_string());

    const std::string back = flw_.PayOnHostedPage(std::string(flw.at("payment_url").as_string()));
    auto t = flw_.FindTransaction(std::stoll(back.substr(back.find("transaction_id=") + 15))).value();
    auto waiting = np_.Pay(np_ref, "waiting");
    auto finished = waiting;
    finished.status = "finished";
    np_.SetStatus(finished.payment_id, "finished");
    const std::string np_body = np_.IpnBody(finished);

    const std::vector<std::pair<HttpResponse, std::string>> refused = {
        {FlutterwaveWebhook(server, FakeFlutterwave::WebhookBody(t), ""), "flutterwave, missing"},
        {FlutterwaveWebhook(server, FakeFlutterwave::WebhookBody(t), "guessed-hash"), "flutterwave, forged"},
        {FlutterwaveWebhook(server, FakeFlutterwave::WebhookBody(t),
                            std::string(FakeFlutterwave::kSecretHash).substr(1)),
         "flutterwave, short"},
        {NowPaymentsIpn(server, np_body, ""), "nowpayments, missing"},
        {NowPaymentsIpn(server, np_body, HmacSha512HexForTests("not-the-secret", np_body)), "nowpayments, forged"},
        {NowPaymentsIpn(server, np_body, np_.IpnSignature(waiting)), "nowpayments, stale"},
        {NowPaymentsIpn(server, np_body, HmacSha512HexForTests(FakeNowPayments::kIpnSecret, np_body)),
         "nowpayments, unsorted"},
    };
    for (const auto& [res, what] : refused) {
        EXPECT_EQ(res.status, 403) << what << ": " << res.body;
        auto v = res.Json();
        ASSERT_TRUE(v.is_object()) << what;
        EXPECT_EQ(v.at("status"), "error") << what;
        EXPECT_EQ(v.at("code"), "FORBIDDEN") << what;
    }
    EXPECT_EQ(CountRows(server.DbPath(), "SELECT COUNT(*) FROM security_events WHERE kind = 'webhook_signature'"),
              static_cast<int64_t>(refused.size()));
    EXPECT_EQ(CountRows(server.DbPath(), "SELECT COUNT(*) FROM gateway_events"), 0);
    EXPECT_EQ(Tier(server, key), "free");
    EXPECT_EQ(CountRows(server.DbPath(), "SELECT COUNT(*) FROM payments WHERE status = 'pending'"), 2);
    EXPECT_EQ(CountRows(server.DbPath(), "SELECT COUNT(*) FROM revenue_events WHERE kind <> 'signup'"), 0);
    EXPECT_EQ(server.server->Log().find(FakeFlutterwave::kSecretHash), std::string::npos);  // never logged
}

TEST_F(Billing, AFloodOfForgedWebhooksIsCutOffAndDoesNotGrowTheSecurityLog) {
    RunningServer server(ServerEnv());
    int forbidden = 0, limited = 0;
    for (int i = 0; i < 40; ++i) {
        auto res = NowPaymentsIpn(server, R"({"payment_id":)" + std::to_string(i) + R"(,"payment_status":"finished"})",
                                  "forged");
        if (res.status == 403) ++forbidden;
        if (res.status == 429) {
            ++limited;
            EXPECT_FALSE(res.Header("retry-after").empty());
        }
    }
    EXPECT_EQ(forbidden, 30);
    EXPECT_EQ(limited, 10);
    EXPECT_EQ(CountRows(server.DbPath(), "SELECT COUNT(*) FROM security_events"), 30);
    EXPECT_EQ(CountRows(server.DbPath(), "SELECT COUNT(*) FROM gateway_events"), 0);
}

TEST_F(Billing, TamperedReturnsGrantNothing) {
    RunningServer server(ServerEnv());
    const std::string key = server.Signup("mallory@example.com");
    auto checkout = Upgrade(server, key, "professional", "flutterwave");
    const std::string reference(checkout.at("payment_id").as_string());

    // Someone else's successful transaction presented as ours, with our reference in the query.
    auto foreign = flw_.AddTransaction("gpo_someoneelsesreference0", "successful", 49, "USD");
    auto page = Get(server.Url("/payment/flutterwave/callback?status=successful&tx_ref=" + reference +
                               "&transaction_id=" + std::to_string(foreign.id)));
    EXPECT_EQ(page.status, 200);
    // Our own transaction, paid for less than the price.
    flw_.SetOutcome(reference, "successful", 1.0);
    const std::string back = flw_.PayOnHostedPage(std::string(checkout.at("payment_url").as_string()));
    EXPECT_EQ(Get(server.Url("/payment/flutterwave/callback" + back.substr(back.find('?')))).status, 200);
    // A transaction id that does not exist, and a browser that says "successful" with no id at all.
    EXPECT_EQ(Get(server.Url("/payment/flutterwave/callback?status=successful&tx_ref=" + reference +
                             "&transaction_id=99999999"))
                  .status,
              200);
    auto bare = Get(server.Url("/payment/flutterwave/callback?status=successful&tx_ref=" + reference));
    EXPECT_EQ(bare.status, 200);
    // Still being confirmed, or (the worker was quick) found short: never "confirmed".
    EXPECT_TRUE(bare.body.find("confirming") != std::string::npos ||
                bare.body.find("not what the plan costs") != std::string::npos)
        << bare.body;
    EXPECT_EQ(bare.body.find("is confirmed"), std::string::npos);
    // A reference that is not ours: refused, neither recorded nor verified.
    auto stranger = Get(server.Url("/payment/flutterwave/callback?status=successful&tx_ref=gpo_notoursatall00000000"));
    EXPECT_EQ(stranger.status, 404);

    ASSERT_TRUE(WaitForWorker(server)) << server.server->Log();
    EXPECT_EQ(Tier(server, key), "free");
    EXPECT_EQ(CountRows(server.DbPath(), "SELECT COUNT(*) FROM revenue_events WHERE kind IN ('payment', 'upgrade')"),
              0);
    EXPECT_EQ(CountRows(server.DbPath(), "SELECT COUNT(*) FROM payments WHERE status = 'completed'"), 0);
    EXPECT_GE(CountRows(server.DbPath(), "SELECT COUNT(*) FROM security_events"), 1);  // the short payment
    // The short payment is money the gateway took: held for the operator, not dropped.
    EXPECT_EQ(CountRows(server.DbPath(), "SELECT COUNT(*) FROM payments WHERE status = 'paid_unapplied'"), 1);
    EXPECT_EQ(CountRows(server.DbPath(), "SELECT COUNT(*) FROM operator_events WHERE kind = 'payment_unapplied'"), 1);
    // The customer back on the page is told what happened.
    auto later = Get(server.Url("/payment/flutterwave/callback?status=successful&tx_ref=" + reference));
    EXPECT_NE(later.body.find("not what the plan costs"), std::string::npos) << later.body;
}

// Sends `requests` 50 at a time, each batch at once.
std::vector<HttpResponse> SendInBatches(const std::vector<HttpRequest>& requests) {
    std::vector<HttpResponse> out;
    for (size_t at = 0; at < requests.size(); at += 50) {
        const std::vector<HttpRequest> batch(
            requests.begin() + static_cast<std::ptrdiff_t>(at),
            requests.begin() + static_cast<std::ptrdiff_t>(std::min(at + 50, requests.size())));
        for (auto& r : SendParallel(batch)) out.push_back(std::move(r));
    }
    return out;
}

TEST_F(Billing, CallbackFloodsAreNeitherStoredNorVerified) {
    RunningServer server(ServerEnv());
    const std::string key = server.Signup("flood@example.com");
    auto checkout = Upgrade(server, key, "professional", "flutterwave");
    const std::string reference(checkout.at("payment_id").as_string());
    const int verified_before = flw_.VerifyCalls();
    // 200 loads of the page for one real reference: merged into one event a minute, looked at no more than
    // once every 10 s (the first look, and one 10 s after the repeats).
    std::vector<HttpRequest> same(200);
    for (auto& r : same) r.url = server.Url("/payment/flutterwave/callback?status=successful&tx_ref=" + reference);
    for (const auto& res : SendInBatches(same)) EXPECT_EQ(res.status, 200);
    ASSERT_TRUE(WaitForWorker(server)) << server.server->Log();
    EXPECT_LE(CountRows(server.DbPath(), "SELECT COUNT(*) FROM gateway_events"), 2);  // a minute may turn over
    EXPECT_LE(flw_.VerifyCalls() - verified_before, 4);
    const int verified_after_flood = flw_.VerifyCalls();
    // 1000 invented references from one address: refused, counted against its refusal limit, nothing stored.
    std::vector<HttpRequest> invented(1000);
    for (size_t i = 0; i < invented.size(); ++i) {
        invented[i].url = server.Url("/payment/flutterwave/callback?status=successful&tx_ref=gpo_invented" +
                                     std::to_string(100000 + i) + "&transaction_id=" + std::to_string(i + 1));
    }
    int refused = 0, limited = 0;
    for (const auto& res : SendInBatches(invented)) {
        refused += res.status == 404;
        limited += res.status == 429;
    }
    EXPECT_EQ(refused + limited, 1000);
    EXPECT_LE(refused, 31);
    EXPECT_LE(CountRows(server.DbPath(), "SELECT COUNT(*) FROM gateway_events"), 2);
    EXPECT_EQ(flw_.VerifyCalls(), verified_after_flood);  // none of them verified
}

TEST_F(Billing, TwentyConcurrentCopiesOfOneWebhookUpgradeOnce) {
    RunningServer server(ServerEnv());
    const std::string key = server.Signup("lin@example.com");
    auto checkout = Upgrade(server, key, "professional", "flutterwave");
    const std::string reference(checkout.at("payment_id").as_string());
    const std::string back = flw_.PayOnHostedPage(std::string(checkout.at("payment_url").as_string()));
    auto t = flw_.FindTransaction(std::stoll(back.substr(back.find("transaction_id=") + 15))).value();

    std::vector<HttpRequest> copies(20);
    for (auto& r : copies) {
        r.method = "POST";
        r.url = server.Url("/payment/flutterwave/webhook");
        r.body = FakeFlutterwave::WebhookBody(t);
        r.headers = {"Content-Type: application/json", std::string("verif-hash: ") + FakeFlutterwave::kSecretHash};
    }
    int recorded = 0;
    for (const auto& res : SendParallel(copies)) {
        ASSERT_EQ(res.status, 200) << res.body;
        if (!res.Json().at("duplicate").as_bool()) ++recorded;
    }
    EXPECT_EQ(recorded, 1);

    ASSERT_TRUE(WaitForTier(server, key, "professional"));
    ASSERT_TRUE(WaitForMail("receipt " + reference));
    ASSERT_TRUE(
        WaitFor([&] { return CountRows(server.DbPath(), "SELECT COUNT(*) FROM outbox WHERE status = 'pending'") == 0; },
                std::chrono::seconds(30)));
    EXPECT_EQ(CountRows(server.DbPath(), "SELECT COUNT(*) FROM gateway_events"), 1);
    EXPECT_EQ(CountRows(server.DbPath(), "SELECT COUNT(*) FROM revenue_events WHERE kind = 'upgrade'"), 1);
    EXPECT_EQ(CountRows(server.DbPath(), "SELECT COUNT(*) FROM revenue_events WHERE kind = 'payment'"), 1);
    EXPECT_EQ(MailsWithSubject("receipt " + reference).size(), 1u);
}

TEST_F(Billing, AWebhookRecordedBeforeACrashIsAppliedAfterRestart) {
    auto server = std::make_unique<RunningServer>(ServerEnv());
    const std::string key = server->Signup("kim@example.com");
    auto checkout = Upgrade(*server, key, "professional", "flutterwave");
    const std::string back = flw_.PayOnHostedPage(std::string(checkout.at("payment_url").as_string()));
    auto t = flw_.FindTransaction(std::stoll(back.substr(back.find("transaction_id=") + 15))).value();

    // The gateway stops answering: the webhook is recorded and acknowledged, but cannot be verified.
    flw_.SetMode(FakeMode::kBlackHole);
    ASSERT_EQ(FlutterwaveWebhook(*server, FakeFlutterwave::WebhookBody(t), FakeFlutterwave::kSecretHash).status, 200);
    EXPECT_EQ(CountRows(server->DbPath(), "SELECT COUNT(*) FROM gateway_events"), 1);
    server->server->Kill9();
    EXPECT_EQ(CountRows(server->DbPath(), "SELECT COUNT(*) FROM payments WHERE status = 'pending'"), 1);

    flw_.SetMode(FakeMode::kNormal);
    server->server = std::make_unique<ServerProcess>(ServerProcess::Options{server->dir.path(),
                                                                            [&] {
                                                                                auto env = ServerEnv();
                                                                                env.emplace("ADMIN_TOKEN", kAdminToken);
                                                                                return env;
                                                                            }(),
                                                                            {}});
    ASSERT_TRUE(WaitForTier(*server, key, "professional")) << server->server->Log();
    EXPECT_EQ(CountRows(server->DbPath(), "SELECT COUNT(*) FROM revenue_events WHERE kind = 'payment'"), 1);
}

TEST_F(Billing, SignupWithAPaidTierStartsOnFreeWithACheckout) {
    RunningServer server(ServerEnv());
    auto res = PostJson(server.Url("/api/signup"),
                        R"({"email":"pat@example.com","tier":"professional","payment_method":"nowpayments"})");
    ASSERT_EQ(res.status, 200) << res.body;
    auto v = res.Json();
    EXPECT_EQ(v.at("tier"), "free");
    EXPECT_FALSE(v.at("api_key").as_string().empty());
    const std::string reference(v.at("payment_id").as_string());
    EXPECT_TRUE(np_.FindOrder(reference).has_value());
    EXPECT_FALSE(v.at("payment_url").as_string().empty());

    auto missing = PostJson(server.Url("/api/signup"), R"({"email":"sam@example.com","tier":"enterprise"})");
    EXPECT_EQ(missing.status, 400);
    EXPECT_TRUE(missing.Json().at("details").as_object().contains("payment_method")) << missing.body;
    EXPECT_EQ(CountRows(server.DbPath(), "SELECT COUNT(*) FROM accounts WHERE email = ?1", "sam@example.com"), 0);
}

// Deleting an account: every table's rows of it go, the other customer's stay; the payments and the revenue
// ledger stay, tied to a row with no address; its keys and sessions stop at once; the paid plan ends in the
// ledger; a mail says so; and a checkout it left open, paid afterwards, buys nothing and is held for a refund.
TEST_F(Billing, DeletingAnAccountRemovesItsDataKeepsTheLedgerAndHoldsALatePayment) {
    RunningServer server(ServerEnv());
    const std::string key_a = server.Signup("ada@example.com");
    const std::string key_b = server.Signup("bob@example.com");
    const std::string db = server.DbPath();
    const std::string id_a = QueryColumn(db, "SELECT id FROM accounts WHERE email = 'ada@example.com'").at(0);
    const std::string id_b = QueryColumn(db, "SELECT id FROM accounts WHERE email = 'bob@example.com'").at(0);

    // Ada pays for Professional, then opens an Enterprise checkout she does not pay yet.
    auto pro = Upgrade(server, key_a, "professional", "flutterwave");
    const std::string tx = PayAndReturn(server, std::string(pro.at("payment_url").as_string()));
    ASSERT_EQ(FlutterwaveWebhook(server, FakeFlutterwave::WebhookBody(flw_.FindTransaction(std::stoll(tx)).value()),
                                 FakeFlutterwave::kSecretHash)
                  .status,
              200);
    ASSERT_TRUE(WaitForTier(server, key_a, "professional")) << server.server->Log();
    auto open_checkout = Upgrade(server, key_a, "enterprise", "flutterwave");
    const std::string late_reference(open_checkout.at("payment_id").as_string());

    // Both customers have history, settings, a second key, a session and a sign-in link.
    std::string cookie_a;
    const std::vector<std::pair<std::string, std::string>> customers{{"ada@example.com", key_a},
                                                                     {"bob@example.com", key_b}};
    for (const auto& [email, key] : customers) {
        const std::string name = email.substr(0, email.find('@'));
        ASSERT_EQ(
            PostJson(server.Url("/api/track-usage"), FullReport(name + "-1", name + "-host", 2), Bearer(key)).status,
            200);
        ASSERT_EQ(Send({"PUT",
                        server.Url("/api/me/reports"),
                        R"({"weekly":false})",
                        {"Content-Type: application/json", Bearer(key)[0]}})
                      .status,
                  200);
        ASSERT_EQ(PostJson(server.Url("/api/me/keys"), R"({"name":"second"})", Bearer(key)).status, 200);
        auto signed_in = PostJson(server.Url("/api/login/key"), R"({"api_key":")" + key + R"("})");
        ASSERT_EQ(signed_in.status, 200) << signed_in.body;
        if (email == "ada@example.com") {
            const std::string set = signed_in.Header("set-cookie");
            cookie_a = "Cookie: " + set.substr(0, set.find(';'));
        }
        ASSERT_EQ(PostJson(server.Url("/api/login"), R"({"email":")" + email + R"("})").status, 200);
    }

    // Every table that names an account, as the database describes itself (a table added later is covered).
    const std::vector<std::string> tables = QueryColumn(
        db, TestOnPostgres() ? "SELECT DISTINCT c.table_name FROM information_schema.columns c JOIN pg_class r ON "
                               "r.relname = c.table_name WHERE c.table_schema = current_schema() AND c.column_name = "
                               "'account_id' AND r.relkind IN ('r', 'p') AND NOT r.relispartition ORDER BY 1"
                             : "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = "
                               "'table' AND p.name = 'account_id' ORDER BY 1");
    ASSERT_GE(tables.size(), 20u);
    auto rows_of = [&](const std::string& id) {
        std::map<std::string, int64_t> counts;
        for (const auto& t : tables)
            counts[t] = CountRows(db, "SELECT COUNT(*) FROM " + t + " WHERE account_id = ?1", id);
        return counts;
    };
    const auto bob_before = rows_of(id_b);
    const auto ada_before = rows_of(id_a);
    EXPECT_GT(ada_before.at("gpu_windows"), 0);
    EXPECT_GT(ada_before.at("api_keys"), 1);
    EXPECT_GT(ada_before.at("web_sessions"), 0);
    EXPECT_GT(ada_before.at("subscriptions"), 0);

    // The address typed back is the confirmation: without it, or with another, 400 and nothing changes.
    for (const std::string body : {R"({})", R"({"confirm":"bob@example.com"})", R"({"confirm":true})"}) {
        auto refused =
            Send({"DELETE", server.Url("/api/me"), body, {"Content-Type: application/json", Bearer(key_a)[0]}});
        EXPECT_EQ(refused.status, 400) << refused.body;
        EXPECT_TRUE(refused.Json().at("details").as_object().contains("confirm")) << refused.body;
    }
    EXPECT_EQ(Get(server.Url("/api/me"), Bearer(key_a)).status, 200);
    EXPECT_EQ(rows_of(id_a).at("api_keys"), ada_before.at("api_keys"));
    EXPECT_EQ(rows_of(id_a).at("usage_reports"), ada_before.at("usage_reports"));

    auto deleted = Send({"DELETE",
                         server.Url("/api/me"),
                         R"({"confirm":" Ada@Example.com "})",
                         {"Content-Type: application/json", Bearer(key_a)[0]}});
    ASSERT_EQ(deleted.status, 200) << deleted.body;
    EXPECT_EQ(deleted.Json().at("deleted"), true);
    EXPECT_EQ(deleted.Json().at("checkouts_closed"), 1);

    // Its keys and its session stop at once; Bob's keep working and his rows are all there.
    EXPECT_EQ(Get(server.Url("/api/me"), Bearer(key_a)).status, 401);
    EXPECT_EQ(Get(server.Url("/api/session"), {cookie_a}).Json().at("signed_in"), false);
    EXPECT_EQ(Get(server.Url("/api/me"), Bearer(key_b)).status, 200);
    // (The periodic jobs may add to some of his tables meanwhile: roll-ups, tracked recommendations, mail.)
    const auto bob_after = rows_of(id_b);
    for (const auto& [table, n] : bob_before) EXPECT_GE(bob_after.at(table), n) << table;
    for (const char* table : {"usage_reports", "gpu_windows", "api_keys", "web_sessions", "sign_in_links",
                              "report_settings", "gpus_seen"}) {
        EXPECT_EQ(bob_after.at(table), bob_before.at(table)) << table;
    }
    // Nothing of Ada's is left but the books: her payments and her revenue events.
    for (const auto& [table, n] : rows_of(id_a)) {
        if (table == "payments" || table == "revenue_events" || table == "operator_events") continue;
        EXPECT_EQ(n, 0) << table;
    }
    EXPECT_EQ(CountRows(db, "SELECT COUNT(*) FROM payments WHERE account_id = ?1", id_a), 2);
    EXPECT_EQ(CountRows(db, "SELECT COUNT(*) FROM accounts WHERE email LIKE '%ada%'"), 0);
    EXPECT_EQ(CountRows(db, "SELECT COUNT(*) FROM accounts WHERE id = ?1 AND deleted_at IS NOT NULL", id_a), 1);
    EXPECT_EQ(CountRows(db,
                        "SELECT COUNT(*) FROM revenue_events WHERE account_id = ?1 AND kind = 'downgrade'"
                        " AND detail LIKE '%account deleted%'",
                        id_a),
              1);
    EXPECT_EQ(CountRows(db, "SELECT COUNT(*) FROM gateway_events WHERE body LIKE '%ada@example.com%'"), 0);
    // The books no longer count her as a customer, nor her plan as revenue.
    auto stats = Get(server.Url("/api/stats"), {std::string("Authorization: Bearer ") + kAdminToken}).Json();
    EXPECT_EQ(stats.at("total_customers"), 1);
    EXPECT_EQ(stats.at("paying_customers"), 0);

    // The mail goes to the address the account had.
    ASSERT_TRUE(WaitForMail("account was deleted")) << server.server->Log() << smtp_.Log();
    EXPECT_EQ(MailHeader(MailsWithSubject("account was deleted").front(), "To"), "<ada@example.com>");
    EXPECT_EQ(server.server->Log().find("ada@example.com"), std::string::npos) << "the address is not logged";

    // Paying the checkout she left open buys nothing: the payment is held for the operator to refund.
    const std::string late_tx = PayAndReturn(server, std::string(open_checkout.at("payment_url").as_string()));
    ASSERT_EQ(
        FlutterwaveWebhook(server, FakeFlutterwave::WebhookBody(flw_.FindTransaction(std::stoll(late_tx)).value()),
                           FakeFlutterwave::kSecretHash)
            .status,
        200);
    ASSERT_TRUE(WaitForWorker(server));
    EXPECT_EQ(CountRows(db, "SELECT COUNT(*) FROM payments WHERE reference = ?1 AND status = 'paid_unapplied'",
                        late_reference),
              1);
    EXPECT_EQ(CountRows(db,
                        "SELECT COUNT(*) FROM operator_events WHERE kind = 'payment_unapplied' AND detail LIKE "
                        "'%account was deleted%'"),
              1);
    EXPECT_EQ(CountRows(db, "SELECT COUNT(*) FROM subscriptions WHERE account_id = ?1", id_a), 0);

    // The address is free: signing up again starts a new, empty account.
    const std::string again = server.Signup("ada@example.com");
    auto gpus = Get(server.Url("/api/gpus"), Bearer(again)).Json();
    EXPECT_TRUE(gpus.at("gpus").as_array().empty()) << gpus;
    auto second_delete = Send({"DELETE",
                               server.Url("/api/me"),
                               R"({"confirm":"ada@example.com"})",
                               {"Content-Type: application/json", Bearer(key_a)[0]}});
    EXPECT_EQ(second_delete.status, 401);
}

}  // namespace
}  // namespace gpuopt::testing
