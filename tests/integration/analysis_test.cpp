// The customer's read API over the real server: fleet, usage, savings and recommendations from stored
// history (raw and rolled up), customers kept apart, idle alerts to a webhook receiver, and /metrics.
#include <cmath>

#include "common/time.hpp"
#include "integration/fixture.hpp"
#include "support/fake_http_server.hpp"

namespace gpuopt::testing {
namespace {

// One agent report: a 60 s window ending at `end` for one GPU.
std::string Window(const std::string& id, const std::string& host, const std::string& uuid,
                   std::chrono::sys_seconds end, double util, double idle_fraction, double held_fraction,
                   double mem_used, double cost = 2.74) {
    boost::json::object g{{"gpu_index", 0},
                          {"uuid", uuid},
                          {"gpu_name", "NVIDIA A100-SXM4-40GB"},
                          {"gpu_util", util},
                          {"util_max", util},
                          {"idle_fraction", idle_fraction},
                          {"idle_held_fraction", held_fraction},
                          {"mem_used", mem_used},
                          {"mem_total", 40960},
                          {"cost_per_hour", cost}};
    boost::json::object body{
        {"report_id", id},
        {"agent", {{"id", host}, {"hostname", host}, {"version", "test"}}},
        {"window", {{"start", FormatUtc(end - std::chrono::seconds(60))}, {"end", FormatUtc(end)}, {"samples", 6}}},
        {"gpu_data", boost::json::array{g}}};
    return boost::json::serialize(body);
}

void Post(const RunningServer& s, const std::string& key, const std::string& body) {
    auto res = PostJson(s.Url("/api/track-usage"), body, Bearer(key));
    ASSERT_EQ(res.status, 200) << res.body;
}

void Upgrade(const RunningServer& s, const std::string& email, const std::string& key) {
    std::string out;
    ASSERT_EQ(RunGpuopt({"admin", "set-tier", "--email", email, "--tier", "professional", "--data-dir", s.dir.path()},
                        {}, out),
              0)
        << out;
    // The server remembers accounts for a few seconds; the change shows within them.
    ASSERT_TRUE(WaitFor([&] { return Get(s.Url("/api/me"), Bearer(key)).Json().at("tier") == "professional"; }));
}

double Num(const boost::json::value& v) { return v.to_number<double>(); }

Env FastJobs(Env extra = {}) {
    extra.emplace("ROLLUP_INTERVAL_SECONDS", "1");
    extra.emplace("ALERT_INTERVAL_SECONDS", "1");
    extra.emplace("RECOMMENDATION_INTERVAL_SECONDS", "1");
    extra.emplace("WEBHOOK_ALLOW_PRIVATE", "true");
    extra.emplace("RATE_LIMIT_FREE", "0");
    return extra;
}

TEST(Analysis, APrototypeBurstCountsItsTimeOnceAndTwoWindowlessHostsStayApart) {
    RunningServer server(FastJobs({{"TRUSTED_PROXIES", "127.0.0.1"}}));
    const std::string key = server.Signup("proto@example.com");
    const std::string body =
        R"({"gpu_data":[{"gpu_index":0,"gpu_name":"Tesla V100","gpu_util":1,"mem_used":100,"mem_total":16384,"cost_per_hour":3.6}]})";
    // The prototype's agent, on two machines, posting six times within a second each.
    for (const char* address : {"198.51.100.10", "198.51.100.11"}) {
        for (int i = 0; i < 6; ++i) {
            auto res = PostJson(server.Url("/api/track-usage"), body,
                                {"Authorization: Bearer " + key, std::string("X-Forwarded-For: ") + address});
            ASSERT_EQ(res.status, 200) << res.body;
        }
    }
    auto gpus = Get(server.Url("/api/gpus"), Bearer(key)).Json();
    ASSERT_EQ(gpus.at("count").to_number<int>(), 2) << gpus;
    for (const auto& g : gpus.at("gpus").as_array()) EXPECT_EQ(g.at("host_source"), "client_address");
    auto savings = Get(server.Url("/api/savings?range=24h"), Bearer(key)).Json();
    // 60 s for each machine's first report, the time since the previous one for the rest: about 120 s at
    // $3.60/h, $0.12 (not 6 x 60 s a machine, $0.72).
    EXPECT_NEAR(Num(savings.at("fleet").at("cost")), 0.12, 0.005) << savings;
}

TEST(Analysis, AnswersDoNotDependOnWhetherTheRollUpHasCaughtUp) {
    RunningServer server(FastJobs({{"ROLLUP_INTERVAL_SECONDS", "3600"}}));  // the roll-up waits an hour
    const std::string key = server.Signup("backfill@example.com");
    // A spool replayed after three days offline: 6 idle hours, 3 to 2 days ago.
    const auto base = std::chrono::floor<std::chrono::hours>(UtcNow()) - std::chrono::hours(72);
    for (int m = 1; m <= 360; ++m) {
        Post(server, key,
             Window("bf:" + std::to_string(m), "trainer-9", "GPU-bf", base + std::chrono::minutes(m), 1, 1, 0, 100));
    }
    auto before = Get(server.Url("/api/savings?range=30d"), Bearer(key)).Json();
    ASSERT_EQ(before.at("resolution"), "hourly");
    EXPECT_NEAR(Num(before.at("fleet").at("idle_hours")), 6, 1e-6) << before;
    EXPECT_NEAR(Num(before.at("fleet").at("reported_hours")), 6, 1e-6);
}

TEST(Analysis, SavingsAndUsageComeFromStoredHistory) {
    RunningServer server(FastJobs());
    const std::string key = server.Signup("history@example.com");
    // Three hours ago, for two hours: the first hour busy, the second idle with 30 GB held.
    const auto base = std::chrono::floor<std::chrono::hours>(UtcNow()) - std::chrono::hours(3);
    for (int m = 1; m <= 120; ++m) {
        const bool busy = m <= 60;
        Post(server, key,
             Window("h1:" + std::to_string(m), "trainer-1", "GPU-aa", base + std::chrono::minutes(m), busy ? 90 : 1,
                    busy ? 0 : 1, busy ? 0 : 1, busy ? 35000 : 30720));
    }
    auto savings = Get(server.Url("/api/savings?range=24h"), Bearer(key));
    ASSERT_EQ(savings.status, 200) << savings.body;
    auto s = savings.Json().as_object();
    EXPECT_EQ(s.at("resolution"), "raw");
    const auto& fleet = s.at("fleet").as_object();
    EXPECT_NEAR(Num(fleet.at("reported_hours")), 2, 1e-9);
    EXPECT_NEAR(Num(fleet.at("idle_hours")), 1, 1e-9);
    EXPECT_NEAR(Num(fleet.at("idle_held_hours")), 1, 1e-9);
    EXPECT_NEAR(Num(fleet.at("idle_cost")), 2.74, 1e-9);
    EXPECT_NEAR(Num(fleet.at("recoverable_savings")), 1.37, 1e-9);
    EXPECT_NEAR(Num(fleet.at("projected_month")), 1.37 * 30, 1e-9);  // 24 h range -> × 30
    EXPECT_NEAR(Num(fleet.at("unknown_hours")), 22, 1e-9);
    ASSERT_EQ(s.at("idle_holding_memory").as_array().size(), 1u);
    const auto& held = s.at("idle_holding_memory").at(0).as_object();
    EXPECT_EQ(held.at("start").as_string(), FormatUtc(base + std::chrono::hours(1)));
    EXPECT_EQ(held.at("end").as_string(), FormatUtc(base + std::chrono::hours(2)));
    EXPECT_NEAR(Num(held.at("mem_used_max")), 30720, 1e-9);
    ASSERT_EQ(s.at("hosts").as_array().size(), 1u);
    EXPECT_EQ(s.at("hosts").at(0).at("host"), "trainer-1");

    auto usage = Get(server.Url("/api/usage?from=" + FormatUtc(base) +
                                "&to=" + FormatUtc(base + std::chrono::hours(2)) + "&step=1h&gpu=GPU-aa"),
                     Bearer(key));
    ASSERT_EQ(usage.status, 200) << usage.body;
    auto u = usage.Json().as_object();
    ASSERT_EQ(u.at("series").as_array().size(), 1u);
    const auto& points = u.at("series").at(0).at("points").as_array();
    ASSERT_EQ(points.size(), 2u);
    EXPECT_NEAR(Num(points[0].at("util_avg")), 90, 1e-9);
    EXPECT_NEAR(Num(points[1].at("idle_fraction")), 1, 1e-9);
    EXPECT_NEAR(Num(points[1].at("idle_cost")), 2.74, 1e-9);

    // The roll-up (every second here) gives the same totals over a 30-day range read from hours.
    ASSERT_TRUE(WaitFor([&] {
        auto r = Get(server.Url("/api/savings?range=30d"), Bearer(key)).Json();
        return r.is_object() && r.at("resolution") == "hourly" &&
               std::abs(Num(r.at("fleet").at("idle_cost")) - 2.74) < 1e-9 &&
               std::abs(Num(r.at("fleet").at("reported_hours")) - 2) < 1e-9;
    })) << Get(server.Url("/api/savings?range=30d"), Bearer(key)).body;
    auto long_usage = Get(server.Url("/api/usage?range=10d&step=1h"), Bearer(key)).Json();
    EXPECT_EQ(long_usage.at("resolution"), "hourly");

    auto gpus = Get(server.Url("/api/gpus"), Bearer(key));
    ASSERT_EQ(gpus.status, 200) << gpus.body;
    const auto gpus_json = gpus.Json();
    const auto& g = gpus_json.at("gpus").at(0).as_object();
    EXPECT_EQ(g.at("gpu"), "trainer-1/GPU-aa");
    EXPECT_EQ(g.at("uuid"), "GPU-aa");
    EXPECT_EQ(g.at("state"), "offline");  // its last report is an hour old
    EXPECT_EQ(g.at("last_report").as_string(), FormatUtc(base + std::chrono::hours(2)));
}

TEST(Analysis, ACustomerCannotReadAnotherCustomersGpus) {
    RunningServer server(FastJobs());
    const std::string alice = server.Signup("alice@example.com");
    const std::string bob = server.Signup("bob@example.com");
    Post(server, alice, Window("a:1", "alice-host", "GPU-alice", UtcNow() - std::chrono::minutes(1), 5, 1, 0, 10));
    for (const std::string gpu : {"GPU-alice", "alice-host/GPU-alice"}) {
        auto res = Get(server.Url("/api/usage?gpu=" + gpu), Bearer(bob));
        EXPECT_EQ(res.status, 404) << res.body;
        EXPECT_EQ(res.Json().at("code"), "NOT_FOUND");
    }
    EXPECT_EQ(Get(server.Url("/api/gpus"), Bearer(bob)).Json().at("count"), 0);
    EXPECT_EQ(Get(server.Url("/api/savings"), Bearer(bob)).Json().at("gpus").as_array().size(), 0u);
    EXPECT_EQ(Get(server.Url("/api/usage?gpu=GPU-alice"), Bearer(alice)).status, 200);
    EXPECT_EQ(Get(server.Url("/api/gpus"), Bearer(alice)).Json().at("count"), 1);
}

TEST(Analysis, BadQueriesAreRefusedNamingTheParameter) {
    RunningServer server(FastJobs());
    const std::string key = server.Signup("queries@example.com");
    struct Case {
        std::string path;
        int status;
        std::string field;
    };
    for (const auto& c : std::vector<Case>{{"/api/savings?range=forever", 400, "range"},
                                           {"/api/savings?range=90d", 400, "range"},  // the free plan keeps 30 days
                                           {"/api/savings?range=0d", 400, "range"},
                                           {"/api/savings?range=7d&from=2026-11-01T00:00:00Z", 400, "range"},
                                           {"/api/usage?from=yesterday", 400, "from"},
                                           {"/api/usage?from=2030-01-01T00:00:00Z", 400, "from"},
                                           {"/api/usage?step=1ms", 400, "step"},
                                           {"/api/usage?range=7d&step=1s", 400, "step"},
                                           {"/api/usage?range=10d&step=5m", 400, "step"},
                                           {"/api/usage?gpu=", 400, "gpu"},
                                           {"/api/usage?a=%zz", 400, "query"},
                                           {"/api/recommendations?range=1y", 400, "range"},
                                           {"/api/usage?gpu=GPU-nobody", 404, ""}}) {
        auto res = Get(server.Url(c.path), Bearer(key));
        EXPECT_EQ(res.status, c.status) << c.path << " " << res.body;
        if (!c.field.empty()) {
            EXPECT_TRUE(res.Json().at("details").as_object().contains(c.field)) << c.path << " " << res.body;
        }
    }
    EXPECT_EQ(Get(server.Url("/api/gpus")).status, 401);
    EXPECT_EQ(Get(server.Url("/api/savings"), Bearer("gopt_wrongwrongwrongwrongwro")).status, 401);
}

TEST(Analysis, RecommendationsArePricedAndPlansDecideWhichShow) {
    RunningServer server(FastJobs());
    const std::string key = server.Signup("recs@example.com");
    // Two days of one A100 at 25 % peaking at 9 GB (right-size), and one idle the whole time while a
    // notebook holds 30 GB (stop, naming the notebook).
    const auto end = UtcNow() - std::chrono::minutes(1);
    for (int m = 0; m < 2 * 24 * 60; m += 1) {
        const auto t = end - std::chrono::minutes(m);
        boost::json::object a{{"gpu_index", 0},     {"uuid", "GPU-r"},          {"gpu_name", "NVIDIA A100-SXM4-40GB"},
                              {"gpu_util", 25},     {"idle_fraction", 0},       {"mem_used", m == 100 ? 9216 : 6000},
                              {"mem_total", 40960}, {"cost_per_hour", 2.744705}};
        boost::json::object b{{"gpu_index", 1},
                              {"uuid", "GPU-s"},
                              {"gpu_name", "NVIDIA A100-SXM4-40GB"},
                              {"gpu_util", 0},
                              {"idle_fraction", 1},
                              {"idle_held_fraction", 1},
                              {"mem_used", 30720},
                              {"mem_total", 40960},
                              {"cost_per_hour", 2.744705},
                              {"processes", boost::json::array{{{"pid", 4121},
                                                                {"name", "jupyter-lab"},
                                                                {"used_mem", 30700},
                                                                {"uid", 1000},
                                                                {"user", "alice"},
                                                                {"container", "4f1c2d3e5a6b"},
                                                                {"pod", "nb-0"},
                                                                {"namespace", "research"}}}}};
        boost::json::object body{
            {"report_id", "r:" + std::to_string(m)},
            {"agent", {{"id", "h"}, {"hostname", "h"}, {"version", "t"}}},
            {"window", {{"start", FormatUtc(t - std::chrono::seconds(60))}, {"end", FormatUtc(t)}}},
            {"gpu_data", boost::json::array{a, b}}};
        Post(server, key, boost::json::serialize(body));
    }
    auto free = Get(server.Url("/api/recommendations?range=3d"), Bearer(key)).Json().as_object();
    ASSERT_EQ(free.at("recommendations").as_array().size(), 1u) << boost::json::serialize(free);
    EXPECT_EQ(free.at("recommendations").at(0).at("type"), "stop_idle_gpu");
    EXPECT_EQ(free.at("more_with_upgrade"), 1);
    EXPECT_GT(Num(free.at("total_monthly_savings_with_upgrade")), Num(free.at("total_monthly_savings")));
    Upgrade(server, "recs@example.com", key);
    auto paid = Get(server.Url("/api/recommendations?range=3d"), Bearer(key)).Json().as_object();
    const auto& recs = paid.at("recommendations").as_array();
    ASSERT_EQ(recs.size(), 2u) << boost::json::serialize(paid);
    // Highest savings first: stopping the idle GPU (2.744705 × 720 × 2/3 coverage)...
    EXPECT_EQ(recs[0].at("type"), "stop_idle_gpu");
    EXPECT_EQ(recs[0].at("target"), "h/GPU-s");
    EXPECT_EQ(recs[0].at("gpus"), boost::json::array{"h/GPU-s"});
    EXPECT_NEAR(Num(recs[0].at("monthly_savings")), std::round(2.744705 * 720 * 48 / 72 * 100) / 100, 0.011);
    // ...naming the notebook that held its memory while it sat idle.
    const auto& held = recs[0].at("held_by").at("processes").at(0);
    EXPECT_EQ(held.at("pid"), 4121);
    EXPECT_EQ(held.at("name"), "jupyter-lab");
    EXPECT_EQ(Num(held.at("used_mem")), 30700);
    EXPECT_EQ(held.at("user"), "alice");
    EXPECT_EQ(held.at("namespace"), "research");
    EXPECT_NE(std::string(recs[0].at("summary").as_string())
                  .find("jupyter-lab (pid 4121, user alice, pod nb-0 in research) held 30700 MiB"),
              std::string::npos)
        << recs[0].at("summary");
    // Releasing the memory is an alternative with its own figure, not added to the total.
    const auto& alternatives = recs[0].at("alternatives").as_array();
    ASSERT_EQ(alternatives.size(), 1u);
    EXPECT_EQ(alternatives[0].at("type"), "release_idle_memory");
    // Right-sizing at 25 %: 1555 GB/s × 0.25 = 389 GB/s is more than an L4 or a T4 can give at 80 %, so
    // the L40S, at (2.744705 - 2.24208) × 720 × 2/3 coverage.
    EXPECT_EQ(recs[1].at("type"), "right_size");
    EXPECT_NE(std::string(recs[1].at("summary").as_string()).find("L40S 48GB"), std::string::npos);
    EXPECT_NEAR(Num(recs[1].at("monthly_savings")), std::round((2.744705 - 2.24208) * 720 * 48 / 72 * 100) / 100,
                0.011);
    EXPECT_TRUE(recs[1].at("evidence").as_object().contains("bandwidth_needed"));
    EXPECT_EQ(recs[1].at("confidence"), "low");
    EXPECT_FALSE(recs[1].at("confidence_reasons").as_array().empty());
    EXPECT_NEAR(Num(paid.at("total_monthly_savings")),
                Num(recs[0].at("monthly_savings")) + Num(recs[1].at("monthly_savings")), 0.011);
    EXPECT_LE(Num(paid.at("total_monthly_savings")), Num(paid.at("fleet_monthly_cost")));
    EXPECT_LE(Num(paid.at("total_range_savings")), Num(paid.at("fleet_range_cost")));
    EXPECT_FALSE(paid.contains("more_with_upgrade"));
    EXPECT_TRUE(paid.at("realized").as_array().empty());  // nothing acted on yet

    // Who holds idle GPUs: over the range in /api/savings, right now in /api/gpus.
    auto savings = Get(server.Url("/api/savings?range=3d"), Bearer(key)).Json().as_object();
    const auto& by_user = savings.at("idle_held_by").at("users").as_array();
    ASSERT_EQ(by_user.size(), 1u) << boost::json::serialize(savings.at("idle_held_by"));
    EXPECT_EQ(by_user[0].at("user"), "alice");
    EXPECT_EQ(by_user[0].at("gpus"), 1);
    EXPECT_NEAR(Num(by_user[0].at("idle_held_hours")), 48, 0.02);
    EXPECT_NEAR(Num(by_user[0].at("idle_held_cost")), std::round(48 * 2.744705 * 100) / 100, 0.02);
    EXPECT_EQ(savings.at("idle_held_by").at("namespaces").at(0).at("namespace"), "research");
    EXPECT_EQ(savings.at("idle_held_by").at("containers").at(0).at("container"), "4f1c2d3e5a6b");
    // A report now, in the agent's own order (the history above was posted newest first).
    Post(server, key,
         R"({"report_id":"now","agent":{"id":"h","hostname":"h","version":"t"},"gpu_data":[{"gpu_index":1,)"
         R"("uuid":"GPU-s","gpu_name":"NVIDIA A100-SXM4-40GB","gpu_util":0,"idle_fraction":1,"idle_held_fraction":1,)"
         R"("mem_used":30720,"mem_total":40960,"cost_per_hour":2.744705,"processes":[{"pid":4121,"name":"jupyter-lab",)"
         R"("used_mem":30700,"user":"alice","namespace":"research"}]}]})");
    auto fleet = Get(server.Url("/api/gpus"), Bearer(key)).Json().as_object();
    const auto& now_held = fleet.at("idle_held_by").at("users").as_array();
    ASSERT_EQ(now_held.size(), 1u) << boost::json::serialize(fleet);
    EXPECT_EQ(now_held[0].at("user"), "alice");
    EXPECT_EQ(Num(now_held[0].at("held_mib_max")), 30700);
    EXPECT_EQ(Num(paid.at("total_realized_monthly")), 0);

    // The job that follows recommendations (every second here) records when each was first made.
    boost::json::object followed;
    ASSERT_TRUE(WaitFor([&] {
        followed = Get(server.Url("/api/recommendations?range=3d"), Bearer(key)).Json().as_object();
        for (const auto& r : followed.at("recommendations").as_array()) {
            if (!r.as_object().contains("first_recommended")) return false;
        }
        return true;
    })) << boost::json::serialize(followed);
    const auto first =
        gpuopt::ParseUtc(std::string(followed.at("recommendations").at(0).at("first_recommended").as_string()));
    ASSERT_TRUE(first);
    EXPECT_LE(*first, gpuopt::UtcNow());
    EXPECT_GE(*first, gpuopt::UtcNow() - std::chrono::minutes(5));
}

TEST(Analysis, AnIdleGpuAlertsOnceToTheWebhook) {
    std::mutex mu;
    std::vector<std::string> received;
    FakeHttpServer slack([&](const FakeRequest& r) {
        std::lock_guard lock(mu);
        received.push_back(r.body);
        return FakeResponse{200, "ok", {{"Content-Type", "text/plain"}}};
    });
    RunningServer server(FastJobs({{"ENCRYPTION_KEY", kEncryptionKey}}));
    const std::string key = server.Signup("alerts@example.com");
    const std::string webhook = R"({"webhook_url":")" + slack.Url("/services/T000/B000/xyz") + R"(","idle_minutes":5})";
    auto free_try = Send({"PUT",
                          server.Url("/api/me/alerts"),
                          webhook,
                          {"Content-Type: application/json", "Authorization: Bearer " + key}});
    EXPECT_EQ(free_try.status, 403) << free_try.body;  // a paid feature
    Upgrade(server, "alerts@example.com", key);
    auto bad = Send({"PUT",
                     server.Url("/api/me/alerts"),
                     R"({"webhook_url":"ftp://x"})",
                     {"Content-Type: application/json", "Authorization: Bearer " + key}});
    EXPECT_EQ(bad.status, 400);
    auto put = Send({"PUT",
                     server.Url("/api/me/alerts"),
                     webhook,
                     {"Content-Type: application/json", "Authorization: Bearer " + key}});
    ASSERT_EQ(put.status, 200) << put.body;
    EXPECT_EQ(put.Json().at("enabled"), true);
    EXPECT_EQ(std::string(put.Json().at("webhook_url").as_string()).find("xyz"), std::string::npos);  // shown masked

    // Idle for the last ten minutes, with a notebook holding 30 GB.
    const auto now = UtcNow();
    for (int m = 9; m >= 0; --m) {
        Post(server, key,
             Window("al:" + std::to_string(m), "box", "GPU-idle", now - std::chrono::minutes(m), 0.5, 1, 1, 30720));
    }
    ASSERT_TRUE(WaitFor([&] {
        std::lock_guard lock(mu);
        return !received.empty();
    }));
    {
        std::lock_guard lock(mu);
        auto text = boost::json::parse(received[0]).at("text").as_string();
        EXPECT_NE(std::string(text).find("NVIDIA A100-SXM4-40GB"), std::string::npos) << text;
        EXPECT_NE(std::string(text).find("box"), std::string::npos) << text;
        EXPECT_NE(std::string(text).find("30720 MiB"), std::string::npos) << text;
    }
    // Still idle: no second alert while the first is open.
    Post(server, key, Window("al:next", "box", "GPU-idle", now + std::chrono::minutes(1), 0.5, 1, 1, 30720));
    auto alerts = [&] { return Get(server.Url("/api/me/alerts"), Bearer(key)).Json(); };
    ASSERT_TRUE(WaitFor([&] { return alerts().at("alerts").at(0).at("delivery") == "delivered"; }));
    // Two more runs of the alert job (counted in /metrics) see the GPU still idle.
    auto alert_runs = [&] {
        const std::string text = Get(server.Url("/metrics")).body;
        const std::string key_text = "gpuopt_job_runs_total{job=\"idle-alerts\"} ";
        const size_t at = text.find(key_text);
        return at == std::string::npos ? 0L : std::atol(text.c_str() + at + key_text.size());
    };
    const long runs_before = alert_runs();
    ASSERT_TRUE(WaitFor([&] { return alert_runs() >= runs_before + 2; }));
    {
        std::lock_guard lock(mu);
        EXPECT_EQ(received.size(), 1u);
    }
    // Busy again: the alert closes, so the next idle stretch may alert.
    Post(server, key, Window("al:busy", "box", "GPU-idle", now + std::chrono::minutes(2), 97, 0, 0, 30720));
    ASSERT_TRUE(WaitFor([&] { return !alerts().at("alerts").at(0).at("closed_at").is_null(); }));
    EXPECT_EQ(alerts().at("alerts").as_array().size(), 1u);
    // The Slack URL was stored encrypted (ENCRYPTION_KEY), yet the alert reached it.
    EXPECT_EQ(StoredBytes(server).find("/services/T000/B000/xyz"), std::string::npos);
}

TEST(Analysis, MetricsShowTheServerAndEachGpuForTheOperatorOnly) {
    RunningServer server(FastJobs({{"TRUSTED_PROXIES", "127.0.0.1"}}));
    const std::string key = server.Signup("metrics@example.com");
    Post(server, key, Window("m:1", "node-7", "GPU-m", UtcNow() - std::chrono::seconds(30), 42, 0, 0, 1234));
    auto res = Get(server.Url("/metrics"));
    ASSERT_EQ(res.status, 200) << res.body;
    EXPECT_NE(res.Header("content-type").find("text/plain"), std::string::npos);
    const std::string& text = res.body;
    EXPECT_NE(text.find(R"(gpuopt_http_requests_total{route="/api/track-usage",method="POST",code="2xx"} 1)"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("gpuopt_http_request_duration_seconds_bucket{route=\"/api/signup\""), std::string::npos)
        << text;
    EXPECT_NE(text.find("gpuopt_reports_stored_total 1"), std::string::npos) << text;
    EXPECT_NE(
        text.find(
            R"(DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-m",pci_bus_id="",device="nvidia0",modelName="NVIDIA A100-SXM4-40GB",Hostname="node-7",DCGM_FI_DRIVER_VERSION="",customer=")"),
        std::string::npos)
        << text;
    EXPECT_NE(text.find("# TYPE DCGM_FI_DEV_FB_USED gauge"), std::string::npos);
    EXPECT_EQ(text.find("DCGM_FI_DEV_POWER_USAGE{"), std::string::npos);  // not reported: no series, no sentinel
    // From elsewhere (through a trusted proxy): only with the operator token.
    const std::vector<std::string> remote{"X-Forwarded-For: 203.0.113.9"};
    EXPECT_EQ(Get(server.Url("/metrics"), remote).status, 403);
    auto with_token = remote;
    with_token.push_back(std::string("Authorization: Bearer ") + kAdminToken);
    EXPECT_EQ(Get(server.Url("/metrics"), with_token).status, 200);
}

TEST(Analysis, MetricsBehindAProxyOnTheSameHostNeedTheToken) {
    // No TRUSTED_PROXIES: a reverse proxy on this host makes every client look like loopback, but it says
    // that it forwarded the request.
    RunningServer server;
    EXPECT_EQ(Get(server.Url("/metrics")).status, 200);
    for (const char* header :
         {"X-Forwarded-For: 203.0.113.9", "Forwarded: for=203.0.113.9", "X-Real-IP: 203.0.113.9"}) {
        auto res = Get(server.Url("/metrics"), {header});
        EXPECT_EQ(res.status, 403) << header;
        EXPECT_EQ(res.body.find("DCGM_"), std::string::npos);
    }
    EXPECT_EQ(Get(server.Url("/metrics"),
                  {"X-Forwarded-For: 203.0.113.9", std::string("Authorization: Bearer ") + kAdminToken})
                  .status,
              200);
    EXPECT_NE(
        server.server->Log().find("metrics (/metrics): the ADMIN_TOKEN bearer, or loopback clients whose requests"),
        std::string::npos);
}

}  // namespace
}  // namespace gpuopt::testing
