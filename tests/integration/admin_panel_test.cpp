// The operator panel's API against the real server, on SQLite and PostgreSQL: customers found, their plan
// changed with a ledger row and an audit row, the revenue figures equal to GET /api/stats and the ledger;
// a disabled customer's key stops at once; a deletion needs the address typed; payments verified with the
// (fake) gateway now and refunds recorded; failed mail sent again and waiting mail cancelled; addresses
// blocked and unblocked by hand and blocks for failures lifted; CSV exports that disarm formulas; the system
// page's jobs, features and missing settings; and bad input refused with nothing changed.
#include <boost/json/serialize.hpp>

#include "common/time.hpp"
#include "integration/fixture.hpp"
#include "integration/operator.hpp"
#include "support/fake_gateways.hpp"

namespace gpuopt::testing {
namespace {

constexpr const char* kPassword = "correct horse battery staple";
constexpr const char* kOps = "ops@example.com";

// An operator made from the host and signed in.
Operator MakeOperator(const RunningServer& s) {
    std::string out;
    EXPECT_EQ(Admin(s, {"create-user", "--email", kOps, "--password-stdin"}, out, {}, kPassword), 0) << out;
    return SignedIn(s, kOps, kPassword);
}

std::string Body(const boost::json::object& o) { return boost::json::serialize(o); }

// The customer's id, from the panel's search.
int64_t CustomerId(const RunningServer& s, const Operator& op, const std::string& email) {
    auto res = Get(s.Url("/api/admin/customers?q=" + email), {op.cookie});
    EXPECT_EQ(res.status, 200) << res.body;
    const auto json = res.Json();
    for (const auto& c : json.at("customers").as_array()) {
        if (c.at("email").as_string() == email) return c.at("id").as_int64();
    }
    ADD_FAILURE() << "no customer " << email << ": " << res.body;
    return 0;
}

boost::json::value Revenue(const RunningServer& s, const Operator& op) {
    auto res = Get(s.Url("/api/admin/revenue?months=3"), {op.cookie});
    EXPECT_EQ(res.status, 200) << res.body;
    return res.Json();
}

double StatsMrr(const RunningServer& s) {
    auto res = Get(s.Url("/api/stats"), Bearer(kAdminToken));
    EXPECT_EQ(res.status, 200) << res.body;
    return res.Json().at("monthly_recurring_revenue").to_number<double>();
}

int64_t LedgerRows(const RunningServer& s) { return CountRows(s.DbPath(), "SELECT COUNT(*) FROM revenue_events"); }

std::string PlanOf(const RunningServer& s, const std::string& key) {
    auto me = Get(s.Url("/api/me"), Bearer(key));
    if (me.status != 200) return "status " + std::to_string(me.status);
    return std::string(me.Json().at("tier").as_string());
}

TEST(AdminPanel, PlanChangesAreLedgerRowsAndTheRevenueFiguresAgreeWithStats) {
    RunningServer s;
    const Operator op = MakeOperator(s);
    const std::string ada = s.Signup("ada@example.com");
    const std::string bob = s.Signup("bob@example.com");
    (void)s.Signup("cyd@example.org");
    const int64_t ada_id = CustomerId(s, op, "ada@example.com");
    const int64_t bob_id = CustomerId(s, op, "bob@example.com");

    // Search by a part of the address, by plan, and paging back.
    {
        auto res = Get(s.Url("/api/admin/customers?q=EXAMPLE.COM"), {op.cookie});
        ASSERT_EQ(res.status, 200) << res.body;
        const auto json = res.Json();
        EXPECT_EQ(json.at("customers").as_array().size(), 2u) << res.body;
        auto first = Get(s.Url("/api/admin/customers?limit=2"), {op.cookie}).Json();
        ASSERT_EQ(first.at("customers").as_array().size(), 2u);
        ASSERT_TRUE(first.at("next_before").is_int64());
        auto rest =
            Get(s.Url("/api/admin/customers?limit=2&before=" + std::to_string(first.at("next_before").as_int64())),
                {op.cookie})
                .Json();
        ASSERT_EQ(rest.at("customers").as_array().size(), 1u);
        EXPECT_EQ(rest.at("customers").as_array()[0].at("email").as_string(), "ada@example.com");
        EXPECT_TRUE(rest.at("next_before").is_null());
    }

    // Bad input is refused and changes nothing.
    const int64_t ledger_before = LedgerRows(s);
    const std::string plan_path = "/api/admin/customers/" + std::to_string(ada_id) + "/plan";
    EXPECT_EQ(OperatorCall(s, op, "POST", plan_path, R"({"plan":"professional"})").status, 400) << "no reason";
    EXPECT_EQ(OperatorCall(s, op, "POST", plan_path, R"({"plan":"gold","reason":"a trial"})").status, 400);
    EXPECT_EQ(OperatorCall(s, op, "POST", plan_path,
                           R"({"plan":"professional","reason":"a trial","period_end":"2001-01-01T00:00:00Z"})")
                  .status,
              400);
    EXPECT_EQ(
        OperatorCall(s, op, "POST", "/api/admin/customers/999999/plan", R"({"plan":"professional","reason":"a trial"})")
            .status,
        404);
    EXPECT_EQ(Get(s.Url("/api/admin/customers?colour=red"), {op.cookie}).status, 400);
    EXPECT_EQ(Get(s.Url("/api/admin/customers?limit=0"), {op.cookie}).status, 400);
    // The operator token reads and never writes; a write without the CSRF token is refused.
    EXPECT_EQ(Get(s.Url("/api/admin/customers"), Bearer(kAdminToken)).status, 200);
    EXPECT_EQ(Call(s, "POST", plan_path, R"({"plan":"professional","reason":"a trial"})", Bearer(kAdminToken)).status,
              403);
    EXPECT_EQ(Call(s, "POST", plan_path, R"({"plan":"professional","reason":"a trial"})", {op.cookie}).status, 403);
    EXPECT_EQ(LedgerRows(s), ledger_before);
    EXPECT_EQ(PlanOf(s, ada), "free");

    // Ada to professional for a month: her key has the plan at once, the ledger and the audit log say so.
    auto changed = OperatorCall(s, op, "POST", plan_path, R"({"plan":"professional","reason":"conference trial"})");
    ASSERT_EQ(changed.status, 200) << changed.body;
    const auto ada_json = changed.Json();
    EXPECT_EQ(ada_json.at("customer").at("plan").as_string(), "professional");
    EXPECT_EQ(ada_json.at("customer").at("subscription").at("status").as_string(), "active");
    const auto period_end = ParseUtc(ada_json.at("customer").at("subscription").at("period_end").as_string());
    ASSERT_TRUE(period_end);
    EXPECT_NEAR(static_cast<double>((*period_end - UtcNow()).count()), 30.5 * 86400, 2 * 86400);
    EXPECT_EQ(PlanOf(s, ada), "professional");
    EXPECT_EQ(LedgerRows(s), ledger_before + 1);
    EXPECT_EQ(CountRows(s.DbPath(),
                        "SELECT COUNT(*) FROM revenue_events WHERE kind = 'upgrade' AND tier = 'professional'"
                        " AND amount = 0 AND detail = ?1",
                        "operator: conference trial"),
              1);
    {
        auto audit = Get(s.Url("/api/admin/audit?action=customer.plan"), {op.cookie});
        ASSERT_EQ(audit.status, 200) << audit.body;
        const auto json = audit.Json();
        ASSERT_EQ(json.at("entries").as_array().size(), 1u) << audit.body;
        const auto& e = json.at("entries").as_array()[0];
        EXPECT_EQ(e.at("actor").as_string(), kOps);
        EXPECT_EQ(e.at("target").as_string(), "customer:" + std::to_string(ada_id));
        EXPECT_NE(std::string(e.at("before").as_string()).find("\"plan\":\"free\""), std::string::npos);
        EXPECT_NE(std::string(e.at("after").as_string()).find("conference trial"), std::string::npos);
    }

    // Bob to enterprise until a given day, then 30 days more.
    auto bob_plan =
        OperatorCall(s, op, "POST", "/api/admin/customers/" + std::to_string(bob_id) + "/plan",
                     Body(boost::json::object{{"plan", "enterprise"},
                                              {"reason", "invoice paid by wire"},
                                              {"period_end", FormatUtc(UtcNow() + std::chrono::days(10))}}));
    ASSERT_EQ(bob_plan.status, 200) << bob_plan.body;
    const auto bob_end = ParseUtc(bob_plan.Json().at("customer").at("subscription").at("period_end").as_string());
    auto extended = OperatorCall(s, op, "POST", "/api/admin/customers/" + std::to_string(bob_id) + "/extend",
                                 R"({"days":30,"reason":"goodwill after an outage"})");
    ASSERT_EQ(extended.status, 200) << extended.body;
    const auto bob_new_end = ParseUtc(extended.Json().at("customer").at("subscription").at("period_end").as_string());
    ASSERT_TRUE(bob_end && bob_new_end);
    EXPECT_EQ(*bob_new_end - *bob_end, std::chrono::days(30));
    EXPECT_EQ(OperatorCall(s, op, "POST", "/api/admin/customers/" + std::to_string(bob_id) + "/extend",
                           R"({"days":0,"reason":"nothing"})")
                  .status,
              400);
    EXPECT_EQ(PlanOf(s, bob), "enterprise");

    // Now: 49 + 199, the same in the panel, in /api/stats, and at the end of the ledger's month.
    {
        const auto revenue = Revenue(s, op);
        EXPECT_DOUBLE_EQ(revenue.at("current").at("mrr").to_number<double>(), 248);
        EXPECT_DOUBLE_EQ(StatsMrr(s), 248);
        EXPECT_EQ(revenue.at("current").at("paying_customers").as_int64(), 2);
        EXPECT_EQ(revenue.at("current").at("active_subscriptions").as_int64(), 2);
        EXPECT_EQ(revenue.at("current").at("grace_subscriptions").as_int64(), 0);
        const auto& months = revenue.at("months").as_array();
        ASSERT_EQ(months.size(), 3u);
        const auto& now = months.back();
        EXPECT_DOUBLE_EQ(now.at("mrr_end").to_number<double>(), 248);
        EXPECT_DOUBLE_EQ(now.at("new_mrr").to_number<double>(), 248);
        EXPECT_EQ(now.at("signups").as_int64(), 3);
        EXPECT_EQ(now.at("converted").as_int64(), 2);
        EXPECT_DOUBLE_EQ(now.at("mrr_by_plan").at("enterprise").to_number<double>(), 199);
        EXPECT_DOUBLE_EQ(now.at("mrr_by_gateway").at("operator").to_number<double>(), 248);
        EXPECT_TRUE(revenue.at("definitions").as_object().contains("churned"));
    }

    // Ada back to free: churned, and the figures still agree.
    ASSERT_EQ(OperatorCall(s, op, "POST", plan_path, R"({"plan":"free","reason":"trial over"})").status, 200);
    EXPECT_EQ(PlanOf(s, ada), "free");
    {
        const auto revenue = Revenue(s, op);
        EXPECT_DOUBLE_EQ(revenue.at("current").at("mrr").to_number<double>(), 199);
        EXPECT_DOUBLE_EQ(StatsMrr(s), 199);
        const auto& now = revenue.at("months").as_array().back();
        EXPECT_DOUBLE_EQ(now.at("mrr_end").to_number<double>(), 199);
        EXPECT_DOUBLE_EQ(now.at("churned_mrr").to_number<double>(), 49);
        EXPECT_EQ(now.at("churned_customers").as_int64(), 1);
    }
    EXPECT_EQ(OperatorCall(s, op, "POST", "/api/admin/customers/" + std::to_string(ada_id) + "/extend",
                           R"({"days":5,"reason":"on free"})")
                  .status,
              409);

    // The detail: plan, ledger, the welcome mail; the welcome mail sent again is one more mail and a row.
    ASSERT_EQ(OperatorCall(s, op, "POST", "/api/admin/customers/" + std::to_string(bob_id) + "/welcome").status, 200);
    {
        auto res = Get(s.Url("/api/admin/customers/" + std::to_string(bob_id)), {op.cookie});
        ASSERT_EQ(res.status, 200) << res.body;
        const auto json = res.Json();
        EXPECT_EQ(json.at("customer").at("plan").as_string(), "enterprise");
        EXPECT_EQ(json.at("subscription").at("gateway").as_string(), "operator");
        EXPECT_GE(json.at("ledger").as_array().size(), 3u) << "signup, upgrade, renewal";
        size_t welcomes = 0;
        for (const auto& m : json.at("mails").as_array()) welcomes += m.at("kind").as_string() == "welcome";
        EXPECT_EQ(welcomes, 2u) << res.body;
    }
    const auto actions = AuditActions(s);
    EXPECT_NE(std::find(actions.begin(), actions.end(), "customer.welcome.resend success by admin"), actions.end());
    EXPECT_NE(std::find(actions.begin(), actions.end(), "customer.period.extend success by admin"), actions.end());
    EXPECT_EQ(Get(s.Url("/api/admin/audit/verify"), {op.cookie}).Json().at("intact").as_bool(), true);
}

TEST(AdminPanel, ADisabledCustomerStopsAtOnceAndADeletionNeedsTheAddress) {
    RunningServer s;
    const Operator op = MakeOperator(s);
    const std::string key = s.Signup("dee@example.com");
    const int64_t id = CustomerId(s, op, "dee@example.com");
    const std::string path = "/api/admin/customers/" + std::to_string(id);
    auto web = PostJson(s.Url("/api/login/key"), R"({"api_key":")" + key + R"("})");
    ASSERT_EQ(web.status, 200) << web.body;
    const std::string session = "Cookie: " + CookiePair(web.Header("set-cookie"));

    auto disabled = OperatorCall(s, op, "POST", path + "/disable", R"({"reason":"=1+2 card testing"})");
    ASSERT_EQ(disabled.status, 200) << disabled.body;
    EXPECT_TRUE(disabled.Json().at("customer").at("disabled").as_bool());
    EXPECT_EQ(Get(s.Url("/api/me"), Bearer(key)).status, 401) << "the key stops at once";
    EXPECT_EQ(Get(s.Url("/api/me"), {session}).status, 401) << "the web session ended";
    EXPECT_EQ(PostJson(s.Url("/api/login/key"), R"({"api_key":")" + key + R"("})").status, 401);
    EXPECT_EQ(OperatorCall(s, op, "POST", path + "/disable", R"({"reason":"again"})").status, 409);
    // Its data stays, and the panel still shows it.
    EXPECT_EQ(Get(s.Url(path), {op.cookie}).status, 200);

    ASSERT_EQ(OperatorCall(s, op, "POST", path + "/enable", R"({"reason":"cleared by support"})").status, 200);
    EXPECT_EQ(Get(s.Url("/api/me"), Bearer(key)).status, 200);

    // A deletion needs the customer's address typed and a reason.
    EXPECT_EQ(OperatorCall(s, op, "DELETE", path, R"({"confirm_email":"someone@example.com","reason":"asked"})").status,
              400);
    EXPECT_EQ(OperatorCall(s, op, "DELETE", path, R"({"confirm_email":"dee@example.com"})").status, 400);
    EXPECT_EQ(Get(s.Url("/api/me"), Bearer(key)).status, 200);
    auto deleted =
        OperatorCall(s, op, "DELETE", path, R"({"confirm_email":" DEE@example.com","reason":"asked by mail"})");
    ASSERT_EQ(deleted.status, 200) << deleted.body;
    EXPECT_EQ(Get(s.Url("/api/me"), Bearer(key)).status, 401);
    EXPECT_EQ(Get(s.Url(path), {op.cookie}).status, 404);
    EXPECT_EQ(CountRows(s.DbPath(), "SELECT COUNT(*) FROM outbox WHERE kind = 'account_deleted'"), 1);
    const auto actions = AuditActions(s);
    const std::vector<std::string> expected = {"customer.disable success by admin", "customer.enable success by admin",
                                               "customer.delete success by admin"};
    std::vector<std::string> customer_actions;
    for (const auto& a : actions) {
        if (a.starts_with("customer.")) customer_actions.push_back(a);
    }
    EXPECT_EQ(customer_actions, expected);
    // The address is deleted everywhere, the audit log included.
    EXPECT_EQ(CountRows(s.DbPath(), "SELECT COUNT(*) FROM audit_log WHERE before_json LIKE ?1 OR after_json LIKE ?1",
                        "%dee@example.com%"),
              0);
}

TEST(AdminPanel, PaymentsAreVerifiedWithTheGatewayNowAndRefundsRecorded) {
    FakeFlutterwave flw;
    RunningServer s(Env{{"FLUTTERWAVE_SECRET_KEY", FakeFlutterwave::kSecretKey},
                        {"FLUTTERWAVE_SECRET_HASH", FakeFlutterwave::kSecretHash},
                        {"FLUTTERWAVE_BASE_URL", flw.BaseUrl()},
                        {"GATEWAY_TIMEOUT_SECONDS", "2"},
                        {"ENCRYPTION_KEY", kEncryptionKey}});
    const Operator op = MakeOperator(s);
    const std::string key = s.Signup("eve@example.com");
    auto checkout =
        PostJson(s.Url("/api/upgrade"), R"({"tier":"professional","payment_method":"flutterwave"})", Bearer(key));
    ASSERT_EQ(checkout.status, 200) << checkout.body;
    const std::string reference(checkout.Json().at("payment_id").as_string());

    auto listed = Get(s.Url("/api/admin/payments?status=pending"), {op.cookie});
    ASSERT_EQ(listed.status, 200) << listed.body;
    const auto list = listed.Json();
    ASSERT_EQ(list.at("payments").as_array().size(), 1u);
    const auto& pending = list.at("payments").as_array()[0];
    EXPECT_EQ(pending.at("reference").as_string(), reference);
    EXPECT_EQ(pending.at("email").as_string(), "eve@example.com");
    const int64_t payment_id = pending.at("id").as_int64();
    const std::string payment = "/api/admin/payments/" + std::to_string(payment_id);

    // Not paid yet: the gateway knows nothing, nothing changes.
    auto early = OperatorCall(s, op, "POST", payment + "/verify");
    ASSERT_EQ(early.status, 200) << early.body;
    EXPECT_EQ(early.Json().at("verdict").as_string(), "unchanged") << early.body;
    EXPECT_EQ(PlanOf(s, key), "free");
    EXPECT_EQ(OperatorCall(s, op, "POST", payment + "/refund", R"({"reason":"not yet"})").status, 409);

    // Paid at the gateway, and the news never came: "verify now" applies it.
    const auto transaction = flw.AddTransaction(reference, "successful", 49, "USD");
    auto verified = OperatorCall(s, op, "POST", payment + "/verify");
    ASSERT_EQ(verified.status, 200) << verified.body;
    EXPECT_EQ(verified.Json().at("verdict").as_string(), "applied") << verified.body;
    EXPECT_EQ(verified.Json().at("payment").at("status").as_string(), "completed");
    EXPECT_EQ(PlanOf(s, key), "professional");
    // Asked again: settled already, the plan is bought once.
    auto again = OperatorCall(s, op, "POST", payment + "/verify");
    ASSERT_EQ(again.status, 200) << again.body;
    EXPECT_NE(again.Json().at("verdict").as_string(), "applied");
    EXPECT_EQ(CountRows(s.DbPath(), "SELECT COUNT(*) FROM revenue_events WHERE kind = 'payment'"), 1);

    // A refund made at the gateway, recorded once: the plan stays to the period's end.
    EXPECT_EQ(OperatorCall(s, op, "POST", payment + "/refund", "{}").status, 400) << "a reason";
    auto refunded = OperatorCall(s, op, "POST", payment + "/refund", R"({"reason":"customer asked within 14 days"})");
    ASSERT_EQ(refunded.status, 200) << refunded.body;
    EXPECT_TRUE(refunded.Json().at("payment").at("refunded").as_bool());
    EXPECT_EQ(OperatorCall(s, op, "POST", payment + "/refund", R"({"reason":"twice"})").status, 409);
    EXPECT_EQ(CountRows(s.DbPath(), "SELECT COUNT(*) FROM revenue_events WHERE kind = 'refund' AND amount = -49"), 1);
    EXPECT_EQ(PlanOf(s, key), "professional");

    // The webhook arrives late: recorded, and ignored with its reason (the payment was settled). Gateway
    // events are listed with their payloads opened (sealed at rest) and their result.
    ASSERT_EQ(Send({"POST",
                    s.Url("/payment/flutterwave/webhook"),
                    FakeFlutterwave::WebhookBody(transaction),
                    {"Content-Type: application/json", std::string("verif-hash: ") + FakeFlutterwave::kSecretHash}})
                  .status,
              200);
    ASSERT_TRUE(WaitFor([&] {
        auto events = Get(s.Url("/api/admin/gateway-events?state=ignored"), {op.cookie});
        return events.status == 200 && !events.Json().at("events").as_array().empty();
    }));
    auto events = Get(s.Url("/api/admin/gateway-events?gateway=flutterwave"), {op.cookie});
    ASSERT_EQ(events.status, 200) << events.body;
    const auto ev = events.Json();
    const auto& first = ev.at("events").as_array()[0];
    EXPECT_EQ(first.at("reference").as_string(), reference);
    EXPECT_NE(std::string(first.at("body").as_string()).find(reference), std::string::npos) << events.body;
    EXPECT_FALSE(std::string(first.at("result").as_string()).empty());
    EXPECT_EQ(Get(s.Url("/api/admin/gateway-events?state=lost"), {op.cookie}).status, 400);

    const auto actions = AuditActions(s);
    EXPECT_EQ(std::count(actions.begin(), actions.end(), "payment.verify success by admin"), 3);
    EXPECT_EQ(std::count(actions.begin(), actions.end(), "payment.refund success by admin"), 1);
}

TEST(AdminPanel, FailedMailIsSentAgainAndWaitingMailCancelled) {
    RunningServer s(Env{{"MAIL_INTERVAL_SECONDS", "1"}});
    const Operator op = MakeOperator(s);
    (void)s.Signup("fay@example.com");
    (void)s.Signup("gus@example.com");
    ASSERT_TRUE(
        WaitFor([&] { return CountRows(s.DbPath(), "SELECT COUNT(*) FROM outbox WHERE status = 'sent'") == 2; }));
    // One failed for good at the transport, one held back for later.
    Execute(s.DbPath(),
            "UPDATE outbox SET status = 'failed', attempts = 8, last_error = '550 mailbox unavailable'"
            " WHERE to_address = ?1",
            "fay@example.com");
    Execute(s.DbPath(),
            "UPDATE outbox SET status = 'pending', next_attempt = '2099-01-01T00:00:00Z' WHERE to_address = ?1",
            "gus@example.com");

    auto failed = Get(s.Url("/api/admin/mail?status=failed"), {op.cookie});
    ASSERT_EQ(failed.status, 200) << failed.body;
    const auto fj = failed.Json();
    ASSERT_EQ(fj.at("mails").as_array().size(), 1u);
    EXPECT_EQ(fj.at("mails").as_array()[0].at("last_error").as_string(), "550 mailbox unavailable");
    const int64_t fay = fj.at("mails").as_array()[0].at("id").as_int64();
    auto waiting = Get(s.Url("/api/admin/mail?status=pending&kind=welcome"), {op.cookie}).Json();
    ASSERT_EQ(waiting.at("mails").as_array().size(), 1u);
    const int64_t gus = waiting.at("mails").as_array()[0].at("id").as_int64();

    EXPECT_EQ(OperatorCall(s, op, "POST", "/api/admin/mail/" + std::to_string(fay) + "/cancel").status, 409);
    auto retried = OperatorCall(s, op, "POST", "/api/admin/mail/" + std::to_string(fay) + "/retry");
    ASSERT_EQ(retried.status, 200) << retried.body;
    EXPECT_EQ(retried.Json().at("mail").at("attempts").as_int64(), 0);
    ASSERT_TRUE(WaitFor([&] {
        return CountRows(s.DbPath(), "SELECT COUNT(*) FROM outbox WHERE status = 'sent' AND to_address = ?1",
                         "fay@example.com") == 1;
    }));
    EXPECT_EQ(OperatorCall(s, op, "POST", "/api/admin/mail/" + std::to_string(fay) + "/retry").status, 409)
        << "sent already";

    auto cancelled = OperatorCall(s, op, "POST", "/api/admin/mail/" + std::to_string(gus) + "/cancel");
    ASSERT_EQ(cancelled.status, 200) << cancelled.body;
    EXPECT_EQ(cancelled.Json().at("mail").at("status").as_string(), "failed");
    EXPECT_EQ(cancelled.Json().at("mail").at("last_error").as_string(), std::string("cancelled by ") + kOps);
    EXPECT_EQ(OperatorCall(s, op, "POST", "/api/admin/mail/424242/retry").status, 404);
    EXPECT_EQ(Get(s.Url("/api/admin/mail?status=lost"), {op.cookie}).status, 400);
}

TEST(AdminPanel, AddressesAreBlockedByHandAndBlocksForFailuresLifted) {
    RunningServer s(Env{{"TRUSTED_PROXIES", "127.0.0.1"}, {"AUTH_FAILURE_LIMIT", "3"}});
    const Operator op = MakeOperator(s);
    const std::string key = s.Signup("hal@example.com");
    const std::vector<std::string> from = {"Authorization: Bearer " + key, "X-Forwarded-For: 203.0.113.9"};
    ASSERT_EQ(Get(s.Url("/api/me"), from).status, 200);

    EXPECT_EQ(OperatorCall(s, op, "POST", "/api/admin/blocks", R"({"ip":"not an address","reason":"spam"})").status,
              400);
    EXPECT_EQ(OperatorCall(s, op, "POST", "/api/admin/blocks", R"({"ip":"127.0.0.1","reason":"myself"})").status, 400)
        << "the operator's own address";
    EXPECT_EQ(
        OperatorCall(s, op, "POST", "/api/admin/blocks", R"({"ip":"203.0.113.9","minutes":-5,"reason":"x y"})").status,
        400);
    auto blocked =
        OperatorCall(s, op, "POST", "/api/admin/blocks", R"({"ip":"203.0.113.9","minutes":60,"reason":"scraping"})");
    ASSERT_EQ(blocked.status, 200) << blocked.body;
    EXPECT_EQ(Get(s.Url("/api/me"), from).status, 429) << "refused at once, even with a good key";
    EXPECT_EQ(Get(s.Url("/api/me"), {"Authorization: Bearer " + key, "X-Forwarded-For: 203.0.113.10"}).status, 200);

    // Three wrong keys from another address: blocked for failures.
    for (int i = 0; i < 3; ++i) {
        (void)Get(s.Url("/api/me"),
                  {"Authorization: Bearer wrong-key-" + std::to_string(i), "X-Forwarded-For: 198.51.100.7"});
    }
    EXPECT_EQ(Get(s.Url("/api/me"), {"Authorization: Bearer " + key, "X-Forwarded-For: 198.51.100.7"}).status, 429);

    auto listed = Get(s.Url("/api/admin/blocks"), {op.cookie});
    ASSERT_EQ(listed.status, 200) << listed.body;
    const auto lj = listed.Json();
    std::map<std::string, std::string> sources;
    for (const auto& b : lj.at("blocks").as_array())
        sources[std::string(b.at("ip").as_string())] = b.at("source").as_string();
    EXPECT_EQ(sources["203.0.113.9"], "operator") << listed.body;
    EXPECT_EQ(sources["198.51.100.7"], "failures") << listed.body;
    EXPECT_EQ(lj.at("failure_limit").at("max_failures").as_int64(), 3);

    auto lifted = OperatorCall(s, op, "DELETE", "/api/admin/blocks?ip=203.0.113.9");
    ASSERT_EQ(lifted.status, 200) << lifted.body;
    EXPECT_TRUE(lifted.Json().at("lifted").at("operator").as_bool());
    EXPECT_EQ(Get(s.Url("/api/me"), from).status, 200);
    auto lifted2 = OperatorCall(s, op, "DELETE", "/api/admin/blocks?ip=198.51.100.7");
    ASSERT_EQ(lifted2.status, 200) << lifted2.body;
    EXPECT_TRUE(lifted2.Json().at("lifted").at("failures").as_bool());
    EXPECT_EQ(Get(s.Url("/api/me"), {"Authorization: Bearer " + key, "X-Forwarded-For: 198.51.100.7"}).status, 200);

    // The block for failures is a security event (written in the background), filtered by kind and address.
    const std::string events_path = "/api/admin/security-events?kind=address&ip=198.51.100.7";
    ASSERT_TRUE(WaitFor([&] {
        auto res = Get(s.Url(events_path), {op.cookie});
        return res.status == 200 && !res.Json().at("events").as_array().empty();
    }));
    auto events = Get(s.Url(events_path), {op.cookie});
    ASSERT_EQ(events.status, 200) << events.body;
    const auto ej = events.Json();
    for (const auto& e : ej.at("events").as_array()) EXPECT_EQ(e.at("ip").as_string(), "198.51.100.7");
    const auto actions = AuditActions(s);
    EXPECT_EQ(std::count(actions.begin(), actions.end(), "address.block success by admin"), 1);
    EXPECT_EQ(std::count(actions.begin(), actions.end(), "address.unblock success by admin"), 2);
}

TEST(AdminPanel, ExportsAreCsvWithFormulasDisarmedAndAudited) {
    RunningServer s;
    const Operator op = MakeOperator(s);
    (void)s.Signup("ivy@example.com");
    const int64_t id = CustomerId(s, op, "ivy@example.com");
    const std::string reason = R"json({"reason":"=HYPERLINK(\"http://x\",\"a, b\")"})json";
    ASSERT_EQ(OperatorCall(s, op, "POST", "/api/admin/customers/" + std::to_string(id) + "/disable", reason).status,
              200);
    auto csv = Get(s.Url("/api/admin/export/customers.csv"), {op.cookie});
    ASSERT_EQ(csv.status, 200) << csv.body;
    EXPECT_EQ(csv.Header("content-type"), "text/csv; charset=utf-8; header=present");
    EXPECT_NE(csv.Header("content-disposition").find("attachment; filename=\"gpuoptimizer-customers-"),
              std::string::npos);
    EXPECT_TRUE(csv.body.starts_with("id,email,plan,created_at,disabled_at,disabled_reason,")) << csv.body;
    // Guarded with an apostrophe, then quoted for its commas and quotes (RFC 4180).
    EXPECT_NE(csv.body.find(R"csv(,"'=HYPERLINK(""http://x"",""a, b"")",)csv"), std::string::npos) << csv.body;
    EXPECT_NE(csv.body.find("\r\n"), std::string::npos);
    auto ledger = Get(s.Url("/api/admin/export/ledger.csv"), Bearer(kAdminToken));
    ASSERT_EQ(ledger.status, 200) << ledger.body;
    EXPECT_NE(ledger.body.find(",signup,free,"), std::string::npos) << ledger.body;
    EXPECT_EQ(Get(s.Url("/api/admin/export/payments.csv"), {op.cookie}).status, 200);
    EXPECT_EQ(Get(s.Url("/api/admin/export/customers.csv")).status, 401);
    const auto actions = AuditActions(s);
    EXPECT_EQ(std::count(actions.begin(), actions.end(), "export.customers success by admin"), 1);
    EXPECT_EQ(std::count(actions.begin(), actions.end(), "export.ledger success by token"), 1);
}

TEST(AdminPanel, TheSystemPageNamesJobsFeaturesAndMissingSettings) {
    RunningServer s(Env{{"ROLLUP_INTERVAL_SECONDS", "1"}});
    const Operator op = MakeOperator(s);
    auto ran = [&] {
        auto res = Get(s.Url("/api/admin/system"), {op.cookie});
        if (res.status != 200) return false;
        const auto json = res.Json();
        for (const auto& j : json.at("jobs").as_array()) {
            if (j.at("name").as_string() == "rollup" && !j.at("last_finished").is_null()) return true;
        }
        return false;
    };
    ASSERT_TRUE(WaitFor(ran)) << s.server->Log();
    auto res = Get(s.Url("/api/admin/system"), Bearer(kAdminToken));
    ASSERT_EQ(res.status, 200) << res.body;
    const auto json = res.Json();
    EXPECT_EQ(json.at("database").at("backend").as_string(), TestOnPostgres() ? "postgresql" : "sqlite");
    EXPECT_GT(json.at("database").at("bytes").as_int64(), 0);
    EXPECT_FALSE(std::string(json.at("version").as_string()).empty());
    for (const auto& j : json.at("jobs").as_array()) {
        if (j.at("name").as_string() != "rollup") continue;
        EXPECT_EQ(j.at("interval_seconds").as_int64(), 1);
        EXPECT_EQ(j.at("result").as_string(), "ok");
        EXPECT_GE(j.at("duration_ms").as_int64(), 0);
        EXPECT_FALSE(j.at("next_run").is_null());
    }
    std::vector<std::string> missing;
    for (const auto& m : json.at("settings_missing").as_array()) missing.emplace_back(m.at("name").as_string());
    EXPECT_NE(std::find(missing.begin(), missing.end(), "ENCRYPTION_KEY"), missing.end()) << res.body;
    EXPECT_NE(std::find(missing.begin(), missing.end(), "FLUTTERWAVE_SECRET_KEY or NOWPAYMENTS_API_KEY"),
              missing.end());
}

}  // namespace
}  // namespace gpuopt::testing
