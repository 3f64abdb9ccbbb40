// Outgoing webhooks with time under the test's control: the signature a receiver checks, events found
// once from what the store recorded, only for Enterprise accounts and the types an endpoint asked for, and
// deliveries retried with backoff until delivered or given up.
#include "alerts/outgoing_webhooks.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <filesystem>

#include "common/crypto.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/wait.hpp"
#include "support/test_dir.hpp"

namespace gpuopt::alerts {
namespace {

using namespace std::chrono;
const SysSeconds kT0 = sys_days{2026y / 11 / 20} + 9h;

TEST(WebhookSignature, SignsTheTimestampAndTheExactBody) {
    InitCrypto();
    const std::string body = R"({"id":"alert.fired:1","type":"alert.fired"})";
    const std::string header = SignatureHeader("whsec_abc", body, kT0);
    EXPECT_EQ(header.rfind("t=" + std::to_string(kT0.time_since_epoch().count()) + ",v1=", 0), 0u) << header;
    const std::string t = std::to_string(kT0.time_since_epoch().count());
    EXPECT_EQ(header.size(), ("t=" + t + ",v1=").size() + 64);
    EXPECT_TRUE(VerifySignature(header, body, "whsec_abc", kT0 + seconds(30)));
    EXPECT_FALSE(VerifySignature(header, body + " ", "whsec_abc", kT0));         // another body
    EXPECT_FALSE(VerifySignature(header, body, "whsec_abd", kT0));               // another secret
    EXPECT_FALSE(VerifySignature(header, body, "whsec_abc", kT0 + minutes(6)));  // replayed later
    EXPECT_FALSE(VerifySignature("v1=" + header.substr(header.find("v1=") + 3), body, "whsec_abc", kT0));  // no time
    EXPECT_FALSE(VerifySignature("t=abc,v1=00", body, "whsec_abc", kT0));
    // While a secret is rolled, a receiver may see two signatures: either one verifies.
    EXPECT_TRUE(VerifySignature(header + ",v1=" + std::string(64, '0'), body, "whsec_abc", kT0));
    // What a receiver computes: HMAC-SHA256 of "<t>.<body>" under the secret.
    EXPECT_EQ(SignatureHeader("whsec_abc", "{}", kT0), "t=" + t + ",v1=" + HmacSha256Hex("whsec_abc", t + ".{}"));
}

class OutgoingWebhooksTest : public ::testing::Test {
protected:
    void SetUp() override {
        InitCrypto();
        dir_ = testing::FreshTestDir("outgoing");
        auto s = store::sqlite::SqliteStore::Open({(dir_ / "gpuopt.db").string()});
        ASSERT_TRUE(s.ok());
        store_ = std::move(*s);
        config_ = BuildConfig({}).value();
        enterprise_ = Account("e@example.com", Tier::kEnterprise);
        pro_ = Account("p@example.com", Tier::kProfessional);
    }
    void TearDown() override {
        store_.reset();
        std::filesystem::remove_all(dir_);
    }
    int64_t Account(const std::string& email, Tier tier) {
        auto a = store::Wait<store::Account>([&](store::Callback<store::Account> done) {
            store_->accounts().CreateAccount({email, "hash-" + email, "gopt_abcd", tier, kT0 - hours(1), {}},
                                             std::move(done));
        });
        EXPECT_TRUE(a.ok());
        return a.ok() ? a->id : 0;
    }
    int64_t Endpoint(int64_t account, std::vector<std::string> events) {
        store::WebhookEndpoint e;
        e.account_id = account;
        e.url = "https://hooks.example.com/" + std::to_string(account);
        e.secret = "whsec_" + std::to_string(account);
        e.events = std::move(events);
        e.created_at = kT0;
        auto r = store::Wait<store::WebhookEndpoint>([&](store::Callback<store::WebhookEndpoint> done) {
            store_->notifications().AddWebhookEndpoint(e, kMaxWebhookEndpoints, std::move(done));
        });
        EXPECT_TRUE(r.ok());
        return r.ok() ? r->id : 0;
    }
    int64_t OpenAlert(int64_t account, SysSeconds at) {
        store::Alert a;
        a.account_id = account;
        a.gpu_key = "box/GPU-" + std::to_string(++gpus_);
        a.idle_since = at - minutes(30);
        a.opened_at = at;
        a.message = "GPU 0 on box has been idle for 30 min";
        auto r = store::Wait<store::Alert>(
            [&](store::Callback<store::Alert> done) { store_->alerts().OpenAlert(a, std::move(done)); });
        EXPECT_TRUE(r.ok());
        return r.ok() ? r->id : 0;
    }
    void Acted(int64_t account, SysSeconds at) {
        store::IdleEvent e;
        e.account_id = account;
        e.event_key = "rep#" + std::to_string(++gpus_);
        e.host = "box";
        e.gpu_key = "box/GPU-9";
        e.uuid = "GPU-9";
        e.kind = store::IdleEventKind::kActed;
        e.action = "signal";
        e.dry_run = false;
        e.detail = "SIGTERM sent to 4121 (python, alice)";
        e.processes_json = R"([{"pid":4121,"name":"python","user":"alice","used_mem":29000}])";
        e.at = at - seconds(20);
        e.received_at = at;
        ASSERT_TRUE(store::Wait<int>([&](store::Callback<int> done) {
                        store_->idle_actions().RecordIdleEvents({e}, std::move(done));
                    }).ok());
    }
    int Scan(SysSeconds now) {
        auto r = ScanWebhookEvents(*store_, config_, now);
        EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
        return r.ok() ? *r : -1;
    }
    struct Posted {
        std::string url;
        std::string body;
        std::vector<std::string> headers;
    };
    WebhookRun Deliver(SysSeconds now, long status) {
        auto r = DeliverWebhooks(
            *store_, now,
            [&](const std::string& url, const std::string& body, const std::vector<std::string>& headers) {
                posted_.push_back({url, body, headers});
                WebhookResult w;
                w.status = status;
                w.delivered = status >= 200 && status < 300;
                if (!w.delivered) w.error = "the webhook answered " + std::to_string(status);
                return w;
            });
        EXPECT_TRUE(r.ok());
        return r.ok() ? *r : WebhookRun{};
    }
    static std::string HeaderValue(const Posted& p, const std::string& name) {
        for (const auto& h : p.headers) {
            if (h.rfind(name + ": ", 0) == 0) return h.substr(name.size() + 2);
        }
        return "";
    }

    std::filesystem::path dir_;
    std::unique_ptr<store::sqlite::SqliteStore> store_;
    Config config_;
    int64_t enterprise_ = 0;
    int64_t pro_ = 0;
    int gpus_ = 0;
    std::vector<Posted> posted_;
};

TEST_F(OutgoingWebhooksTest, EventsAreFoundOnceAndPostedSigned) {
    const int64_t all = Endpoint(enterprise_, {});
    const int64_t alerts_only = Endpoint(enterprise_, {"alert.fired"});
    Endpoint(pro_, {});  // a Professional account's endpoint (from before a downgrade) gets nothing
    const int64_t alert = OpenAlert(enterprise_, kT0 + minutes(1));
    OpenAlert(pro_, kT0 + minutes(1));
    Acted(enterprise_, kT0 + minutes(2));

    // alert.fired to both endpoints, action.taken to the one that takes everything.
    EXPECT_EQ(Scan(kT0 + minutes(3)), 3);
    EXPECT_EQ(Scan(kT0 + minutes(4)), 0);  // the overlap finds the same events: nothing new
    auto run = Deliver(kT0 + minutes(4), 200);
    EXPECT_EQ(run.delivered, 3);
    ASSERT_EQ(posted_.size(), 3u);
    for (const auto& p : posted_) {
        const std::string secret = "whsec_" + std::to_string(enterprise_);
        EXPECT_TRUE(VerifySignature(HeaderValue(p, "GPUOptimizer-Signature"), p.body, secret, UtcNow())) << p.body;
        EXPECT_EQ(p.url, "https://hooks.example.com/" + std::to_string(enterprise_));
    }
    auto first = boost::json::parse(posted_[0].body).as_object();
    EXPECT_EQ(first.at("type"), "alert.fired");
    EXPECT_EQ(std::string(first.at("id").as_string()), "alert.fired:" + std::to_string(alert));
    EXPECT_EQ(first.at("account_id"), enterprise_);
    EXPECT_EQ(std::string(first.at("data").at("gpu").as_string()).substr(0, 8), "box/GPU-");
    bool saw_action = false;
    for (const auto& p : posted_) {
        auto event = boost::json::parse(p.body).as_object();
        if (event.at("type") != "action.taken") continue;
        saw_action = true;
        EXPECT_EQ(HeaderValue(p, "GPUOptimizer-Event"), "action.taken");
        EXPECT_EQ(event.at("data").at("outcome"), "acted");
        EXPECT_EQ(event.at("data").at("dry_run"), false);
        EXPECT_EQ(event.at("data").at("processes").at(0).at("user"), "alice");
    }
    EXPECT_TRUE(saw_action);
    EXPECT_EQ(store_->notifications().ListWebhookDeliveries(enterprise_, alerts_only, 10)->size(), 1u);
    EXPECT_EQ(store_->notifications().ListWebhookDeliveries(enterprise_, all, 10)->size(), 2u);

    // The alert closes: alert.resolved, to the endpoint that takes everything.
    ASSERT_TRUE(store::Wait<void>([&](store::Callback<void> done) {
                    store_->alerts().CloseAlert(alert, kT0 + minutes(5), std::move(done));
                }).ok());
    EXPECT_EQ(Scan(kT0 + minutes(6)), 1);
}

TEST_F(OutgoingWebhooksTest, FailedDeliveriesAreRetriedWithBackoffThenGivenUp) {
    const int64_t endpoint = Endpoint(enterprise_, {"alert.fired"});
    OpenAlert(enterprise_, kT0 + minutes(1));
    EXPECT_EQ(Scan(kT0 + minutes(2)), 1);
    SysSeconds now = kT0 + minutes(2);
    EXPECT_EQ(Deliver(now, 503).retried, 1);
    EXPECT_EQ(Deliver(now + seconds(59), 200).delivered, 0);  // not due before a minute
    EXPECT_EQ(posted_.size(), 1u);
    int failed = 0;
    for (int attempt = 2; attempt <= kWebhookMaxAttempts; ++attempt) {
        now += minutes(1 << (attempt - 2));
        auto run = Deliver(now, 500);
        ASSERT_EQ(run.retried + run.failed, 1) << "attempt " << attempt;
        failed += run.failed;
    }
    EXPECT_EQ(failed, 1);
    EXPECT_EQ(Deliver(now + hours(24), 200).delivered, 0);  // given up
    auto log = store_->notifications().ListWebhookDeliveries(enterprise_, endpoint, 10);
    ASSERT_TRUE(log.ok());
    ASSERT_EQ(log->size(), 1u);
    EXPECT_EQ((*log)[0].state, store::WebhookState::kFailed);
    EXPECT_EQ((*log)[0].attempts, kWebhookMaxAttempts);
    EXPECT_EQ((*log)[0].last_status, 500);
    EXPECT_EQ((*log)[0].last_error, "the webhook answered 500");
}

TEST_F(OutgoingWebhooksTest, EventsFromBeforeAnEndpointExistedAreNotSentToIt) {
    OpenAlert(enterprise_, kT0 - minutes(5));  // before the endpoint was added at kT0
    Endpoint(enterprise_, {});
    EXPECT_EQ(Scan(kT0 + minutes(1)), 0);
}

TEST_F(OutgoingWebhooksTest, AnEndpointThatFailsWaitsForTheNextRunAndHoldsUpNoOther) {
    Endpoint(enterprise_, {"alert.fired"});
    const int64_t other = Account("o@example.com", Tier::kEnterprise);
    Endpoint(other, {"alert.fired"});
    OpenAlert(enterprise_, kT0 + minutes(1));
    OpenAlert(enterprise_, kT0 + minutes(1));
    OpenAlert(other, kT0 + minutes(1));
    EXPECT_EQ(Scan(kT0 + minutes(2)), 3);
    const std::string dead = "https://hooks.example.com/" + std::to_string(enterprise_);
    int dead_attempts = 0;
    auto run = DeliverWebhooks(*store_, kT0 + minutes(2),
                               [&](const std::string& url, const std::string&, const std::vector<std::string>&) {
                                   WebhookResult w;
                                   if (url == dead) {
                                       ++dead_attempts;
                                       w.error = "timed out";
                                       return w;
                                   }
                                   w.status = 204;
                                   w.delivered = true;
                                   return w;
                               });
    ASSERT_TRUE(run.ok());
    EXPECT_EQ(dead_attempts, 1);  // its second delivery waits for the next run
    EXPECT_EQ(run->retried, 1);
    EXPECT_EQ(run->delivered, 1);  // the other customer's endpoint is served
    EXPECT_EQ(store_->notifications().DueWebhookDeliveries(kT0 + minutes(2), 10)->size(), 1u);
}

}  // namespace
}  // namespace gpuopt::alerts
