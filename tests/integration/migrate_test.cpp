// Moving from SQLite to PostgreSQL: `gpuopt migrate --from sqlite:PATH --to postgresql://...` copies a
// real server's database (accounts, history, a completed payment), stops and resumes, verifies every table,
// refuses a target that holds other data, and the server started on the copy answers exactly as before.
// In service_tests: it needs the services fixture's PostgreSQL.
#include <sqlite3.h>
#include <boost/url/parse.hpp>

#include <filesystem>

#include "common/time.hpp"
#include "integration/fixture.hpp"
#include "support/fake_gateways.hpp"
#include "support/pg_database.hpp"

namespace gpuopt::testing {
namespace {

struct Answers {
    std::string savings;
    std::string usage;
    std::string stats;
    std::string payments;
};

// The answers over one fixed range (asked at different times, "range=7d" would move); the operator's
// figures without the time they were made.
Answers Ask(const std::function<std::string(const std::string&)>& url, const std::string& key, SysSeconds at) {
    const std::string to = FormatUtc(at);
    Answers a;
    a.savings = Get(url("/api/savings?from=" + FormatUtc(at - std::chrono::days(2)) + "&to=" + to), Bearer(key)).body;
    a.usage = Get(url("/api/usage?from=" + FormatUtc(at - std::chrono::hours(2)) + "&to=" + to), Bearer(key)).body;
    auto stats = Get(url("/api/stats"), Bearer(kAdminToken)).Json();
    if (stats.is_object()) stats.as_object().erase("generated_at");
    a.stats = boost::json::serialize(stats);
    a.payments = Get(url("/api/me/payments"), Bearer(key)).body;
    return a;
}

TEST(Migrate, ACopyIntoPostgresqlResumesVerifiesAndAnswersAsBefore) {
    FakeFlutterwave flw;
    Env env{{"FLUTTERWAVE_SECRET_KEY", FakeFlutterwave::kSecretKey},
            {"FLUTTERWAVE_SECRET_HASH", FakeFlutterwave::kSecretHash},
            {"FLUTTERWAVE_BASE_URL", flw.BaseUrl()},
            {"BASE_URL", "https://app.example.test"},
            {"BILLING_INTERVAL_SECONDS", "1"},
            {"RATE_LIMIT_FREE", "0"},
            {"ROLLUP_INTERVAL_SECONDS", "1"}};
    TempDir dir;
    std::string key;
    SysSeconds to;
    Answers before;
    {
        RunningServer server(env);
        key = server.Signup("mover@example.com");
        ASSERT_FALSE(key.empty());
        for (int i = 0; i < 30; ++i) {
            auto res = PostJson(server.Url("/api/track-usage"),
                                FullReport("move-" + std::to_string(i), "h1", 2, i % 3 ? 3 : 60), Bearer(key));
            ASSERT_EQ(res.status, 200) << res.body;
        }
        // A completed payment: checkout, the hosted page, the signed webhook, the worker applies it.
        auto checkout = PostJson(server.Url("/api/upgrade"),
                                 R"({"tier":"professional","payment_method":"flutterwave"})", Bearer(key));
        ASSERT_EQ(checkout.status, 200) << checkout.body;
        const std::string back = flw.PayOnHostedPage(std::string(checkout.Json().at("payment_url").as_string()));
        const auto url = boost::urls::parse_uri_reference(back.substr(back.find('?')));
        int64_t tx = 0;
        for (auto p : url->params()) {
            if (p.key == "transaction_id") tx = std::stoll(p.value);
        }
        auto hook = PostJson(server.Url("/payment/flutterwave/webhook"),
                             FakeFlutterwave::WebhookBody(flw.FindTransaction(tx).value()),
                             {std::string("verif-hash: ") + FakeFlutterwave::kSecretHash});
        ASSERT_EQ(hook.status, 200) << hook.body;
        ASSERT_TRUE(
            WaitFor([&] { return Get(server.Url("/api/me"), Bearer(key)).Json().at("tier") == "professional"; }));
        // The roll-up has merged every window, so the file holds packed roll-up days to copy.
        ASSERT_TRUE(WaitFor([&] {
            return CountRows(server.dir.path() + "/gpuopt.db",
                             "SELECT COUNT(*) FROM gpu_windows WHERE id > (SELECT watermark FROM rollup_state)") == 0;
        }));
        to = std::chrono::ceil<std::chrono::seconds>(std::chrono::system_clock::now()) + std::chrono::seconds(1);
        before = Ask([&](const std::string& p) { return server.Url(p); }, key, to);
        ASSERT_NE(before.savings.find("\"reported_hours\""), std::string::npos) << before.savings;
        ASSERT_EQ(server.server->Terminate(), 0);
        std::filesystem::copy(server.dir.path() + "/gpuopt.db", dir.path() + "/gpuopt.db");
    }
    // SQLite writes a GPU's covered_until_ms about once a minute and reads the windows stored since
    // last_report_pk for the rest: as it is when the mark was last written half a minute before the end.
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open((dir.path() + "/gpuopt.db").c_str(), &db), SQLITE_OK);
        const int changed =
            sqlite3_exec(db,
                         "UPDATE gpus_seen SET"
                         " covered_until_ms = (SELECT MIN(window_end_ms) - 30000 FROM gpu_windows g"
                         " WHERE g.account_id = gpus_seen.account_id AND g.gpu_key = gpus_seen.gpu_key),"
                         " last_report_pk = (SELECT MIN(report_pk) FROM gpu_windows g"
                         " WHERE g.account_id = gpus_seen.account_id AND g.gpu_key = gpus_seen.gpu_key)",
                         nullptr, nullptr, nullptr);
        sqlite3_close(db);
        ASSERT_EQ(changed, SQLITE_OK);
    }
    ASSERT_NE(before.payments.find("completed"), std::string::npos) << before.payments;

    PgTestDatabase target;
    ASSERT_TRUE(target.Ready());
    const std::string from = "sqlite:" + dir.path() + "/gpuopt.db";
    std::string out;
    // Stopped part way: exit 3, and the same command goes on from there.
    ASSERT_EQ(RunGpuopt({"migrate", "--from", from, "--to", target.Url(), "--max-rows", "25", "--data-dir", dir.path()},
                        {}, out),
              3)
        << out;
    EXPECT_NE(out.find("25 rows copied by this run"), std::string::npos) << out;
    ASSERT_EQ(RunGpuopt({"migrate", "--from", from, "--to", target.Url(), "--data-dir", dir.path()}, {}, out), 0)
        << out;
    EXPECT_NE(out.find("continuing the copy"), std::string::npos) << out;
    EXPECT_NE(out.find("verified: every table has the same rows on both sides"), std::string::npos) << out;
    EXPECT_EQ(out.find("DIFFERENT"), std::string::npos) << out;
    EXPECT_EQ(out.find("secret"), std::string::npos);
    for (const char* table : {"accounts", "usage_reports", "gpu_windows", "payments", "revenue_events", "outbox"}) {
        EXPECT_NE(out.find(std::string("\n") + table + " "), std::string::npos) << table << "\n" << out;
    }
    EXPECT_EQ(CountRows(target.Url(), "SELECT COUNT(*) FROM usage_reports"), 30);
    EXPECT_EQ(CountRows(target.Url(), "SELECT COUNT(*) FROM gpu_windows"), 60);
    // The roll-up's packed days (bytea on PostgreSQL, BLOB in SQLite) come across, checksummed with the rest.
    const int64_t days_rolled = CountRows(dir.path() + "/gpuopt.db", "SELECT COUNT(*) FROM gpu_days");
    EXPECT_GT(days_rolled, 0);
    EXPECT_EQ(CountRows(target.Url(), "SELECT COUNT(*) FROM gpu_days"), days_rolled);
    EXPECT_NE(out.find("\ngpu_days "), std::string::npos) << out;
    // PostgreSQL keeps each GPU's mark exact and reads only it: the copy sets it to the end of its last window.
    EXPECT_EQ(CountRows(target.Url(),
                        "SELECT COUNT(*) FROM gpus_seen s WHERE covered_until_ms IS DISTINCT FROM"
                        " (SELECT MAX(window_end_ms) FROM gpu_windows g"
                        " WHERE g.account_id = s.account_id AND g.gpu_key = s.gpu_key)"),
              0);

    // The server on the copy answers as the one on the file did.
    env["DATABASE_URL"] = target.Url();
    env["ADMIN_TOKEN"] = kAdminToken;
    TempDir pg_dir;
    ServerProcess on_pg({pg_dir.path(), env, {}});
    const auto after = Ask([&](const std::string& p) { return on_pg.Url(p); }, key, to);
    EXPECT_EQ(after.savings, before.savings);
    EXPECT_EQ(after.usage, before.usage);
    EXPECT_EQ(after.stats, before.stats);
    EXPECT_EQ(after.payments, before.payments);
    // And it goes on: new ids follow the copied ones.
    auto more = PostJson(on_pg.Url("/api/track-usage"), FullReport("after-move", "h1", 2), Bearer(key));
    EXPECT_EQ(more.status, 200) << more.body;
    EXPECT_EQ(CountRows(target.Url(), "SELECT COUNT(*) FROM usage_reports"), 31);
    // Its windows count only the time after the copied ones, not the half minute before.
    EXPECT_EQ(CountRows(target.Url(),
                        "SELECT COUNT(*) FROM gpu_windows g JOIN usage_reports u ON u.id = g.report_pk"
                        " WHERE u.report_id = 'after-move' AND g.counted_ms = g.window_end_ms - GREATEST("
                        " g.window_end_ms - g.window_ms, (SELECT MAX(h.window_end_ms) FROM gpu_windows h"
                        " WHERE h.account_id = g.account_id AND h.gpu_key = g.gpu_key AND h.id <> g.id))"),
              2);
}

TEST(Migrate, ATargetHoldingOtherDataIsRefused) {
    TempDir dir;
    {
        RunningServer server;
        ASSERT_FALSE(server.Signup("first@example.com").empty());
        ASSERT_EQ(server.server->Terminate(), 0);
        std::filesystem::copy(server.dir.path() + "/gpuopt.db", dir.path() + "/gpuopt.db");
    }
    PgTestDatabase target;
    ASSERT_TRUE(target.Ready());
    {
        TempDir pg_dir;
        ServerProcess other({pg_dir.path(), {{"DATABASE_URL", target.Url()}}, {}});
        ASSERT_EQ(PostJson(other.Url("/api/signup"), R"({"email":"someone-else@example.com"})").status, 200);
    }
    std::string out;
    const std::string from = "sqlite:" + dir.path() + "/gpuopt.db";
    EXPECT_EQ(RunGpuopt({"migrate", "--from", from, "--to", target.Url(), "--data-dir", dir.path()}, {}, out), 2)
        << out;
    EXPECT_NE(out.find("not empty"), std::string::npos) << out;
    EXPECT_EQ(CountRows(target.Url(), "SELECT COUNT(*) FROM accounts"), 1);
    EXPECT_EQ(
        RunGpuopt({"migrate", "--from", "postgresql://x/y", "--to", target.Url(), "--data-dir", dir.path()}, {}, out),
        2);
    EXPECT_NE(out.find("sqlite:PATH"), std::string::npos) << out;
}

}  // namespace
}  // namespace gpuopt::testing
