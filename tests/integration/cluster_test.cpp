// Three `gpuopt serve` processes on one PostgreSQL and one Redis, with nginx in front (SPEC §12, decision
// 0016), clients and agents through nginx:
//  - kill -9 of one server while reports stream: every report ends up stored exactly once;
//  - a free key's hourly budget holds across the three servers (REDIS_URL, SPEC §11);
//  - 20 concurrent copies of one payment webhook over the servers: one upgrade, one ledger row, one mail;
//  - each periodic job runs once per interval across the cluster, and again after its holder is killed.
// Each check prints its figures ("[cluster] ..."). In service_tests: it needs the services fixture's
// PostgreSQL and Redis, and nginx (scripts/setup --test); without nginx it is skipped.
#include <algorithm>
#include <array>
#include <atomic>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "common/time.hpp"
#include "integration/fixture.hpp"
#include "support/fake_gateways.hpp"
#include "support/nginx.hpp"
#include "support/pg_database.hpp"
#include "support/smtp_server.hpp"

namespace gpuopt::testing {
namespace {

using std::chrono::seconds;

constexpr int kServers = 3;
// Every periodic job that runs at least once a second here (their *_INTERVAL_SECONDS below). The retention
// job runs every max(60 s, 10 x the roll-up interval): longer than this test.
const std::vector<std::string> kJobs = {"rollup", "idle-alerts", "billing-events", "billing-lifecycle", "mail"};
// What store/leases.hpp promises and jobs/leased.cpp takes: three intervals, at least 30 s.
constexpr seconds kLeaseTtl{30};

void Say(const std::string& line) { std::cout << "[cluster] " << line << std::endl; }

std::string ReadLine(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

void PollPause() {
    struct timespec ts {
        0, 100'000'000
    };
    nanosleep(&ts, nullptr);
}

struct JobRunRow {
    int64_t id = 0;
    std::string job;
    int64_t token = 0;
    SysSeconds started;
    SysSeconds finished;
    bool fenced = false;
    std::string holder;
};

class Cluster : public ::testing::Test {
protected:
    void SetUp() override {
        if (!NginxProcess::Available()) GTEST_SKIP() << "nginx is not installed (scripts/setup --test)";
        ASSERT_TRUE(smtp_.Started()) << smtp_.Log();
        const char* services = std::getenv("GPUOPT_TEST_SERVICES");
        redis_url_ = services == nullptr ? "" : ReadLine(std::string(services) + "/redis/url");
        ASSERT_FALSE(redis_url_.empty()) << "no test Redis: no URL in $GPUOPT_TEST_SERVICES/redis/url (run through "
                                            "CTest, which starts tests/services/redis.sh)";
    }

    // The database, three servers on it and nginx in front; `extra` over the defaults below.
    void Start(const Env& extra = {}) {
        db_ = std::make_unique<PgTestDatabase>();
        ASSERT_TRUE(db_->Ready());
        Env env{{"DATABASE_URL", db_->Url()},
                {"REDIS_URL", redis_url_},
                {"TRUSTED_PROXIES", "127.0.0.1/32"},
                {"ADMIN_TOKEN", kAdminToken},
                {"BASE_URL", "https://app.example.test"},
                {"FLUTTERWAVE_SECRET_KEY", FakeFlutterwave::kSecretKey},
                {"FLUTTERWAVE_SECRET_HASH", FakeFlutterwave::kSecretHash},
                {"FLUTTERWAVE_BASE_URL", flw_.BaseUrl()},
                {"GATEWAY_TIMEOUT_SECONDS", "1"},
                {"SMTP_SERVER", "127.0.0.1"},
                {"SMTP_PORT", std::to_string(smtp_.port())},
                {"SMTP_CA_FILE", smtp_.CaFile()},
                {"SENDER_EMAIL", "billing@gpuopt.example"},
                {"ROLLUP_INTERVAL_SECONDS", "1"},
                {"ALERT_INTERVAL_SECONDS", "1"},
                {"BILLING_INTERVAL_SECONDS", "1"},
                {"LIFECYCLE_INTERVAL_SECONDS", "1"},
                {"MAIL_INTERVAL_SECONDS", "1"},
                // Everything comes from 127.0.0.1: no per-address limit may get in the way of the checks.
                {"AUTH_FAILURE_LIMIT", "0"},
                {"SIGNUP_RATE_LIMIT", "0"},
                {"RATE_LIMIT_FREE", "0"},
                {"RATE_LIMIT_PROFESSIONAL", "0"},
                {"FREE_GPU_LIMIT", "1000"},
                {"REPORTS_PER_HOST_PER_HOUR", "1000000"}};
        for (const auto& [k, v] : extra) env[k] = v;
        for (int i = 0; i < kServers; ++i) {
            dirs_.push_back(std::make_unique<TempDir>());
            servers_.push_back(std::make_unique<ServerProcess>(ServerProcess::Options{dirs_.back()->path(), env, {}}));
            ASSERT_NE(servers_.back()->port(), 0) << servers_.back()->Log();
        }
        // A key's limit is counted in Redis under its account's id, and every test's database starts its ids
        // at 1, while the Redis lives as long as the CTest run: the accounts here take ids no other run has.
        const int64_t now_s =
            std::chrono::duration_cast<seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
        const int64_t first_id = 1000 + (now_s % 1'000'000) * 1000 + ::getpid() % 1000;
        ASSERT_EQ(CountRows(db_->Url(), "SELECT setval(pg_get_serial_sequence('accounts', 'id'), " +
                                            std::to_string(first_id) + ")"),
                  first_id);
        std::vector<uint16_t> ports;
        for (const auto& s : servers_) ports.push_back(s->port());
        nginx_ = std::make_unique<NginxProcess>(ports);
        ASSERT_TRUE(nginx_->Started()) << nginx_->Log();
        ASSERT_EQ(Get(nginx_->Url("/api/health")).status, 200) << nginx_->Log();
    }

    std::string Url(const std::string& path) const { return nginx_->Url(path); }

    std::string Signup(const std::string& email) const { return SignupAt(Url("/api/signup"), email); }

    // The key's tier as one server sees it (-1: through nginx, whichever server it picks).
    std::string Tier(const std::string& key, int server = -1) const {
        const auto res = Get(server < 0 ? Url("/api/me") : servers_[server]->Url("/api/me"), Bearer(key));
        const auto me = res.Json();
        return me.is_object() && me.as_object().contains("tier") ? std::string(me.at("tier").as_string())
                                                                 : "(HTTP " + std::to_string(res.status) + ")";
    }

    // Which server answered a response that came through nginx: 0, 1, 2, or -1.
    int AnsweredBy(const HttpResponse& res) const {
        const uint16_t port = NginxProcess::AnsweredBy(res.Header("x-upstream"));
        for (int i = 0; i < kServers; ++i) {
            if (port != 0 && servers_[i]->port() == port) return i;  // a killed server keeps its port()
        }
        return -1;
    }

    // The server whose lease holder name ("<host>:<data dir>", jobs/leased.hpp) this is, or -1.
    int ServerOfHolder(const std::string& holder) const {
        for (int i = 0; i < kServers; ++i) {
            std::error_code ec;
            const std::string dir = std::filesystem::weakly_canonical(dirs_[i]->path(), ec).string();
            if (holder.size() > dir.size() && holder.compare(holder.size() - dir.size(), dir.size(), dir) == 0 &&
                holder[holder.size() - dir.size() - 1] == ':') {
                return i;
            }
        }
        return -1;
    }

    std::vector<JobRunRow> JobRuns() const {
        std::vector<JobRunRow> out;
        for (const auto& line : QueryColumn(db_->Url(),
                                            "SELECT concat_ws('|', id, job, token, started, finished, fenced, holder)"
                                            " FROM job_runs ORDER BY id")) {
            std::vector<std::string> f;
            size_t at = 0;
            for (int i = 0; i < 6; ++i) {
                const size_t bar = line.find('|', at);
                f.push_back(line.substr(at, bar - at));
                at = bar + 1;
            }
            JobRunRow r;
            r.id = std::stoll(f[0]);
            r.job = f[1];
            r.token = std::stoll(f[2]);
            r.started = ParseUtc(f[3]).value_or(SysSeconds{});
            r.finished = ParseUtc(f[4]).value_or(SysSeconds{});
            r.fenced = f[5] != "0";
            r.holder = line.substr(at);
            out.push_back(std::move(r));
        }
        return out;
    }

    // gpuopt_job_runs_total{job="<job>"} of one server: its scheduler's ticks, the skipped ones included.
    int64_t Ticks(int server, const std::string& job) const {
        const auto body = Get(servers_[server]->Url("/metrics"), Bearer(kAdminToken)).body;
        const std::string needle = "gpuopt_job_runs_total{job=\"" + job + "\"} ";
        const size_t at = body.find(needle);
        return at == std::string::npos ? -1 : std::atoll(body.c_str() + at + needle.size());
    }

    std::vector<std::string> MailsWithSubject(const std::string& needle) const {
        std::vector<std::string> out;
        for (auto& m : smtp_.Messages()) {
            if (MailHeader(m, "Subject").find(needle) != std::string::npos) out.push_back(m);
        }
        return out;
    }

    std::string ServerLogs() const {
        std::string out;
        for (size_t i = 0; i < servers_.size(); ++i) {
            out += "--- server " + std::to_string(i) + " ---\n" + servers_[i]->Log();
        }
        return out + "--- nginx ---\n" + (nginx_ ? nginx_->Log() : std::string());
    }

    FakeFlutterwave flw_;
    SmtpServer smtp_;
    std::string redis_url_;
    std::unique_ptr<PgTestDatabase> db_;
    std::vector<std::unique_ptr<TempDir>> dirs_;  // before servers_: a server stops before its folder goes
    std::vector<std::unique_ptr<ServerProcess>> servers_;
    std::unique_ptr<NginxProcess> nginx_;
};

// Agents through nginx; one server killed a third of the way through. A report answered anything but 200
// (nginx's 502 for a request the dead server had, or no answer at all) is sent again, as the agent does
// from its spool, until it is answered 200. Afterwards every report is in PostgreSQL exactly once.
TEST_F(Cluster, ReportsStreamedWhileAServerIsKilledAreStoredExactlyOnce) {
    ASSERT_NO_FATAL_FAILURE(Start());
    const std::string key = Signup("stream@example.com");
    ASSERT_FALSE(key.empty());

    constexpr int kThreads = 6;
    constexpr int kPerThread = 100;
    constexpr int kTotal = kThreads * kPerThread;
    const int victim = 1;
    std::atomic<int> answered{0}, resent_reports{0}, duplicates_answered{0}, gave_up{0};
    std::atomic<bool> killed{false};
    std::mutex mu;
    std::map<long, int> failures;                       // status (0: no answer) -> attempts
    std::array<std::array<int, kServers>, 2> spread{};  // answers per server, before and after the kill
    std::set<std::string> sent;
    std::vector<std::thread> agents;
    for (int t = 0; t < kThreads; ++t) {
        agents.emplace_back([&, t] {
            for (int i = 0; i < kPerThread && gave_up.load() == 0; ++i) {  // one report given up: all stop
                const std::string id = "cl-" + std::to_string(t) + "-" + std::to_string(i);
                const std::string body = FullReport(id, "cluster-host-" + std::to_string(t), 2);
                {
                    std::lock_guard lock(mu);
                    sent.insert(id);
                }
                const auto deadline = std::chrono::steady_clock::now() + seconds(60);
                for (int attempt = 1;; ++attempt) {
                    auto r = PostJson(Url("/api/track-usage"), body, Bearer(key));
                    if (r.status == 200) {
                        ++answered;
                        if (attempt > 1) ++resent_reports;
                        auto v = r.Json();
                        if (v.is_object() && v.as_object().contains("duplicate") && v.at("duplicate").as_bool())
                            ++duplicates_answered;
                        const int by = AnsweredBy(r);
                        std::lock_guard lock(mu);
                        if (by >= 0) ++spread[killed ? 1 : 0][by];
                        break;
                    }
                    {
                        std::lock_guard lock(mu);
                        ++failures[r.status];
                    }
                    if (r.status != 0 && r.status < 500) ADD_FAILURE() << id << ": " << r.status << " " << r.body;
                    if (std::chrono::steady_clock::now() > deadline) {
                        ++gave_up;
                        break;
                    }
                    PollPause();  // the agent's back-off, shortened
                }
            }
        });
    }
    const bool a_third =
        WaitFor([&] { return answered.load() >= kTotal / 3 || gave_up.load() > 0; }, std::chrono::seconds(90));
    const int answered_at_kill = answered.load();
    servers_[victim]->Kill9();  // mid-stream: requests are in flight on it
    killed = true;
    for (auto& a : agents) a.join();
    ASSERT_TRUE(a_third) << ServerLogs();

    const std::string db = db_->Url();
    const int64_t stored = CountRows(db, "SELECT COUNT(*) FROM usage_reports WHERE report_id LIKE 'cl-%'");
    const int64_t distinct =
        CountRows(db, "SELECT COUNT(DISTINCT report_id) FROM usage_reports WHERE report_id LIKE 'cl-%'");
    const int64_t duplicated =
        CountRows(db,
                  "SELECT COUNT(*) FROM (SELECT report_id FROM usage_reports WHERE report_id LIKE "
                  "'cl-%' GROUP BY account_id, report_id HAVING COUNT(*) > 1) d");
    const int64_t windows = CountRows(db,
                                      "SELECT COUNT(*) FROM gpu_windows g JOIN usage_reports r ON r.id = g.report_pk"
                                      " WHERE r.report_id LIKE 'cl-%'");
    const auto ids = QueryColumn(db, "SELECT report_id FROM usage_reports WHERE report_id LIKE 'cl-%'");
    const std::set<std::string> stored_ids(ids.begin(), ids.end());
    int failed_attempts = 0;
    std::string by_status;
    for (const auto& [status, n] : failures) {
        failed_attempts += n;
        by_status += (by_status.empty() ? "" : ", ") + std::to_string(n) + "x " +
                     (status == 0 ? std::string("no answer") : std::to_string(status));
    }
    std::ostringstream line;
    line << "streamed " << kTotal << " reports through nginx from " << kThreads << " agents; server " << victim
         << " killed after " << answered_at_kill << " were answered; answers per server before the kill "
         << spread[0][0] << "/" << spread[0][1] << "/" << spread[0][2] << ", after " << spread[1][0] << "/"
         << spread[1][1] << "/" << spread[1][2] << "; " << failed_attempts << " attempts failed ("
         << (by_status.empty() ? "none" : by_status) << "), " << resent_reports.load()
         << " reports answered 200 only when resent (" << duplicates_answered.load()
         << " of them as duplicates: stored by the dead server before it could answer), " << gave_up.load()
         << " given up; stored " << stored << " (" << distinct << " distinct ids, " << windows
         << " GPU windows), duplicates " << duplicated;
    Say(line.str());
    RecordProperty("reports_sent", kTotal);
    RecordProperty("reports_stored", static_cast<int>(stored));
    RecordProperty("failed_attempts", failed_attempts);
    RecordProperty("duplicates_stored", static_cast<int>(duplicated));

    EXPECT_EQ(gave_up.load(), 0);
    EXPECT_EQ(answered.load(), kTotal);
    EXPECT_EQ(sent.size(), static_cast<size_t>(kTotal));
    EXPECT_EQ(stored, kTotal);
    EXPECT_EQ(distinct, kTotal);
    EXPECT_EQ(duplicated, 0);
    EXPECT_EQ(windows, 2 * kTotal);
    EXPECT_TRUE(stored_ids == sent) << "stored ids differ from the ids sent";
    for (int i = 0; i < kServers; ++i) EXPECT_GT(spread[0][i], 0) << "server " << i << " answered nothing";
}

// RATE_LIMIT_FREE requests an hour for a free key, counted in Redis for the three servers together: nginx
// sends the requests round-robin, so with counters kept per process each server would allow the whole
// budget (three times it in all).
TEST_F(Cluster, AFreeKeysHourlyBudgetHoldsAcrossTheServers) {
    constexpr int kBudget = 30;
    constexpr int kRequests = 4 * kBudget;
    ASSERT_NO_FATAL_FAILURE(Start({{"RATE_LIMIT_FREE", std::to_string(kBudget)}}));
    const std::string key = Signup("budget@example.com");
    ASSERT_FALSE(key.empty());

    int ok = 0, limited = 0, other = 0;
    std::array<std::array<int, kServers>, 2> spread{};  // [0]: 200 per server, [1]: 429 per server
    for (int i = 0; i < kRequests; ++i) {
        auto res = Get(Url("/api/me"), Bearer(key));
        const int by = AnsweredBy(res);
        if (res.status == 200) {
            ++ok;
            if (by >= 0) ++spread[0][by];
        } else if (res.status == 429) {
            ++limited;
            if (by >= 0) ++spread[1][by];
            EXPECT_FALSE(res.Header("retry-after").empty());
        } else {
            ++other;
            ADD_FAILURE() << res.status << " " << res.body << res.error;
        }
    }
    std::ostringstream line;
    line << "free key, RATE_LIMIT_FREE=" << kBudget << "/h, " << kRequests << " GET /api/me through nginx: " << ok
         << " answered 200 (per server " << spread[0][0] << "/" << spread[0][1] << "/" << spread[0][2] << "), "
         << limited << " answered 429 (per server " << spread[1][0] << "/" << spread[1][1] << "/" << spread[1][2]
         << "), " << other << " other; want " << kBudget << " and " << kRequests - kBudget;
    Say(line.str());
    RecordProperty("budget_allowed", ok);
    RecordProperty("budget_refused", limited);
    EXPECT_EQ(ok, kBudget) << "each server counts alone: the budget is not shared (REDIS_URL)";
    EXPECT_EQ(limited, kRequests - kBudget);
    EXPECT_EQ(other, 0);
    for (int i = 0; i < kServers; ++i) {
        EXPECT_GT(spread[0][i] + spread[1][i], 0) << "server " << i << " got none of the requests";
    }
}

// One signed Flutterwave webhook, 20 copies at once through nginx, which spreads them over the three
// servers: each server records it or finds it recorded, and the billing job's one holder applies it once.
TEST_F(Cluster, TwentyCopiesOfOneWebhookOverTheServersUpgradeOnce) {
    ASSERT_NO_FATAL_FAILURE(Start());
    const std::string key = Signup("hook@example.com");
    ASSERT_FALSE(key.empty());
    auto checkout =
        PostJson(Url("/api/upgrade"), R"({"tier":"professional","payment_method":"flutterwave"})", Bearer(key));
    ASSERT_EQ(checkout.status, 200) << checkout.body;
    const auto checkout_json = checkout.Json();
    const std::string reference(checkout_json.at("payment_id").as_string());
    const std::string back = flw_.PayOnHostedPage(std::string(checkout_json.at("payment_url").as_string()));
    auto t = flw_.FindTransaction(std::stoll(back.substr(back.find("transaction_id=") + 15))).value();

    constexpr int kCopies = 20;
    std::vector<HttpRequest> copies(kCopies);
    for (auto& r : copies) {
        r.method = "POST";
        r.url = Url("/payment/flutterwave/webhook");
        r.body = FakeFlutterwave::WebhookBody(t);
        r.headers = {"Content-Type: application/json", std::string("verif-hash: ") + FakeFlutterwave::kSecretHash};
    }
    int answered = 0, recorded = 0;
    std::array<int, kServers> spread{};
    for (const auto& res : SendParallel(copies)) {
        EXPECT_EQ(res.status, 200) << res.body << res.error;
        if (res.status != 200) continue;
        ++answered;
        auto v = res.Json();
        if (v.is_object() && v.as_object().contains("duplicate") && !v.at("duplicate").as_bool()) ++recorded;
        if (const int by = AnsweredBy(res); by >= 0) ++spread[by];
    }

    // Applied by one server; each server remembers an account for up to 5 s (PgStore's account cache), so
    // the others show the new tier within that.
    const auto sent_at = std::chrono::steady_clock::now();
    const bool upgraded = WaitFor(
        [&] {
            for (int i = 0; i < kServers; ++i) {
                if (Tier(key, i) != "professional") {
                    PollPause();
                    return false;
                }
            }
            return true;
        },
        seconds(30));
    const double upgraded_after = std::chrono::duration<double>(std::chrono::steady_clock::now() - sent_at).count();
    const bool mailed = WaitFor([&] { return !MailsWithSubject("receipt " + reference).empty(); }, seconds(30));
    const bool settled = WaitFor(
        [&] {
            return CountRows(db_->Url(), "SELECT COUNT(*) FROM outbox WHERE status = 'pending'") == 0 &&
                   CountRows(db_->Url(), "SELECT COUNT(*) FROM gateway_events WHERE state = 'pending'") == 0;
        },
        seconds(30));
    const std::string db = db_->Url();
    const int64_t events = CountRows(db, "SELECT COUNT(*) FROM gateway_events");
    const int64_t upgrades = CountRows(db, "SELECT COUNT(*) FROM revenue_events WHERE kind = 'upgrade'");
    const int64_t payments = CountRows(db, "SELECT COUNT(*) FROM revenue_events WHERE kind = 'payment'");
    const int64_t completed = CountRows(db, "SELECT COUNT(*) FROM payments WHERE status = 'completed'");
    const size_t receipts = MailsWithSubject("receipt " + reference).size();
    const size_t plan_mails = MailsWithSubject("plan is now").size();
    std::string tier = Tier(key, 0);
    for (int i = 1; i < kServers; ++i) {
        if (Tier(key, i) != tier) tier += "/" + Tier(key, i);
    }
    std::ostringstream line;
    line << kCopies << " copies of one signed webhook at once through nginx: " << answered
         << " answered 200 (per server " << spread[0] << "/" << spread[1] << "/" << spread[2] << "), " << recorded
         << " recorded as new; gateway events " << events << ", payments completed " << completed
         << ", ledger rows (revenue_events) upgrade " << upgrades << " + payment " << payments << ", tier " << tier
         << " on every server " << std::fixed << std::setprecision(1) << upgraded_after
         << " s after the webhooks, receipt mails " << receipts << ", plan mails " << plan_mails;
    Say(line.str());
    RecordProperty("webhook_upgrades", static_cast<int>(upgrades));
    RecordProperty("webhook_receipts", static_cast<int>(receipts));

    EXPECT_TRUE(upgraded) << ServerLogs();
    EXPECT_TRUE(mailed) << smtp_.Log();
    EXPECT_TRUE(settled);
    EXPECT_EQ(answered, kCopies);
    EXPECT_EQ(recorded, 1);
    EXPECT_EQ(tier, "professional");
    EXPECT_EQ(events, 1);
    EXPECT_EQ(completed, 1);
    EXPECT_EQ(upgrades, 1);
    EXPECT_EQ(payments, 1);
    EXPECT_EQ(receipts, 1u);
    EXPECT_LE(plan_mails, 1u);
    for (int i = 0; i < kServers; ++i) EXPECT_GT(spread[i], 0) << "server " << i << " got none of the copies";
}

int64_t Secs(SysSeconds t) { return t.time_since_epoch().count(); }

// Checks one job's runs (oldest first): never two at once, never two in one interval, none fenced.
void ExpectOncePerInterval(const std::string& job, const std::vector<JobRunRow>& runs, seconds interval) {
    for (size_t i = 0; i < runs.size(); ++i) {
        EXPECT_FALSE(runs[i].fenced) << job << ": run " << runs[i].id << " was fenced off";
        if (i == 0) continue;
        EXPECT_GE(Secs(runs[i].started), Secs(runs[i - 1].finished))
            << job << ": runs " << runs[i - 1].id << " and " << runs[i].id << " overlap";
        EXPECT_GE(Secs(runs[i].started) - Secs(runs[i - 1].started), interval.count())
            << job << ": runs " << runs[i - 1].id << " and " << runs[i].id << " in one interval";
        EXPECT_GE(runs[i].token, runs[i - 1].token) << job;
    }
}

// One job's runs recorded after `after_id`, oldest first.
std::vector<JobRunRow> RunsOf(const std::vector<JobRunRow>& all, const std::string& job, int64_t after_id = 0) {
    std::vector<JobRunRow> out;
    for (const auto& r : all) {
        if (r.job == job && r.id > after_id) out.push_back(r);
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const JobRunRow& a, const JobRunRow& b) { return a.started < b.started; });
    return out;
}

// From job_runs (decision 0016): over a few intervals, each job ran, once per interval, on one server; the
// three servers' schedulers all ticked, the others skipping. Then the holder of the roll-up is killed: its
// leases run out (30 s) and another server runs each of its jobs from then on, once per interval again.
TEST_F(Cluster, EachJobRunsOncePerIntervalAndMovesWhenItsHolderIsKilled) {
    ASSERT_NO_FATAL_FAILURE(Start());
    const seconds interval{1};
    constexpr size_t kRuns = 5;
    // Whether every job has `n` runs after `after_id` by servers other than `not_server`.
    auto enough = [&](const std::vector<JobRunRow>& all, int64_t after_id, size_t n, int not_server) {
        for (const auto& job : kJobs) {
            size_t count = 0;
            for (const auto& r : RunsOf(all, job, after_id)) count += ServerOfHolder(r.holder) != not_server;
            if (count < n) return false;
        }
        return true;
    };
    std::vector<JobRunRow> before;
    ASSERT_TRUE(WaitFor([&] { return enough(before = JobRuns(), 0, kRuns, -1); }, seconds(40))) << ServerLogs();

    std::map<std::string, int> holder_of;
    std::map<std::string, int64_t> token_of;
    for (const auto& job : kJobs) {
        const auto runs = RunsOf(before, job);
        std::set<std::string> holders;
        std::set<int64_t> tokens;
        int64_t max_gap = 0;
        for (size_t i = 0; i < runs.size(); ++i) {
            holders.insert(runs[i].holder);
            tokens.insert(runs[i].token);
            if (i > 0) max_gap = std::max(max_gap, Secs(runs[i].started) - Secs(runs[i - 1].started));
        }
        int64_t ticks = 0;
        for (int s = 0; s < kServers; ++s) ticks += std::max<int64_t>(0, Ticks(s, job));
        holder_of[job] = ServerOfHolder(runs.back().holder);
        token_of[job] = runs.back().token;
        const int64_t span = Secs(runs.back().started) - Secs(runs.front().started);
        std::ostringstream line;
        line << "job " << job << ": " << runs.size() << " runs in " << span << " s (interval " << interval.count()
             << " s, longest gap " << max_gap << " s) by " << holders.size() << " holder (server " << holder_of[job]
             << ", token " << token_of[job] << "); the 3 servers' schedulers ticked " << ticks << " times in all";
        Say(line.str());
        EXPECT_EQ(holders.size(), 1u) << job;
        EXPECT_EQ(tokens.size(), 1u) << job;
        EXPECT_GE(holder_of[job], 0) << job << ": holder " << runs.back().holder << " is none of the servers";
        EXPECT_LE(static_cast<int64_t>(runs.size()), span / interval.count() + 1) << job;
        EXPECT_LE(max_gap, 10) << job << ": a run missed several intervals";
        ExpectOncePerInterval(job, runs, interval);
    }
    ASSERT_GE(holder_of["rollup"], 0);

    // Kill the roll-up's holder; its other jobs move with it, the others stay where they are.
    const int victim = holder_of["rollup"];
    int64_t last_id = 0;
    for (const auto& r : before) last_id = std::max(last_id, r.id);
    const auto victims_jobs =
        std::count_if(kJobs.begin(), kJobs.end(), [&](const std::string& j) { return holder_of[j] == victim; });
    const SysSeconds killed_at = UtcNow();
    const auto kill_steady = std::chrono::steady_clock::now();
    servers_[victim]->Kill9();
    Say("killed server " + std::to_string(victim) + " (kill -9), the holder of " + std::to_string(victims_jobs) +
        " of the " + std::to_string(kJobs.size()) + " jobs; waiting for their leases (" +
        std::to_string(kLeaseTtl.count()) + " s) to run out");
    std::vector<JobRunRow> after;
    ASSERT_TRUE(WaitFor([&] { return enough(after = JobRuns(), last_id, 3, victim); }, kLeaseTtl + seconds(30)))
        << ServerLogs();
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - kill_steady).count();

    for (const auto& job : kJobs) {
        // The dead server's runs recorded after `before` was read started before it was killed.
        SysSeconds victims_last{};
        std::vector<JobRunRow> others;
        for (const auto& r : RunsOf(after, job)) {
            if (ServerOfHolder(r.holder) == victim) {
                EXPECT_LE(Secs(r.started), Secs(killed_at)) << job << ": run " << r.id << " by a killed server";
                victims_last = std::max(victims_last, r.started);
            } else if (r.id > last_id) {
                others.push_back(r);
            }
        }
        ASSERT_FALSE(others.empty()) << job;
        std::set<int> holders;
        for (const auto& r : others) holders.insert(ServerOfHolder(r.holder));
        EXPECT_EQ(holders.size(), 1u) << job << ": ran on several servers after the kill";
        const JobRunRow& first = others.front();
        std::ostringstream line;
        if (holder_of[job] == victim) {
            const int64_t since_last = Secs(first.started) - Secs(victims_last);
            line << "job " << job << ": taken over by server " << ServerOfHolder(first.holder) << " (token "
                 << token_of[job] << " -> " << first.token << ") " << Secs(first.started) - Secs(killed_at)
                 << " s after the kill, " << since_last << " s after the dead holder's last run; " << others.size()
                 << " runs since, once per interval";
            EXPECT_GT(first.token, token_of[job]) << job << ": a change of hands takes a greater token";
            // Not before the lease ran out (renewed at the dead holder's last run, perhaps once more after)...
            EXPECT_GE(since_last, kLeaseTtl.count()) << job << ": taken over while the lease still ran";
            // ... and soon after.
            EXPECT_LE(Secs(first.started) - Secs(killed_at), kLeaseTtl.count() + 10) << job;
        } else {
            line << "job " << job << ": stayed with server " << ServerOfHolder(first.holder) << " (token "
                 << first.token << "), " << others.size() << " runs since the kill";
            EXPECT_EQ(ServerOfHolder(first.holder), holder_of[job]) << job;
            EXPECT_EQ(first.token, token_of[job]) << job;
        }
        Say(line.str());
        ExpectOncePerInterval(job, RunsOf(after, job), interval);  // the whole history, across the change
    }
    std::ostringstream line;
    line.precision(1);
    line << std::fixed << "every job ran on a live server again within " << waited << " s of the kill";
    Say(line.str());
    RecordProperty("takeover_ms", static_cast<int>(waited * 1000));
}

}  // namespace
}  // namespace gpuopt::testing
