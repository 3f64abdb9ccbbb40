// The acquisition engine running by itself for a simulated month, on every store backend, against the fake
// GitHub and Reddit and the real SMTP server: prospects found and scored (no GitHub address ever kept or
// mailed), conversations found, referral codes credited, audits requested, confirmed and delivered, the
// activation and upgrade sequences sent inside their windows and under the daily cap and the domain spacing,
// every exit rule firing, nothing sent twice across a crash, a restart and two servers running at once,
// and the funnel agreeing with what happened.
//
// This header defines tests: include it from exactly one .cpp file per test binary.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "acquisition/audits.hpp"
#include "acquisition/outreach.hpp"
#include "acquisition/sequencer.hpp"
#include "acquisition/settings.hpp"
#include "acquisition/sources.hpp"
#include "common/crypto.hpp"
#include "mail/outbox.hpp"
#include "mail/transport.hpp"
#include "store/acquisition.hpp"
#include "support/db_snapshot.hpp"
#include "support/fake_sources.hpp"
#include "support/smtp_server.hpp"
#include "unit/store/store_fixture.hpp"

namespace gpuopt::store::contract {

// Monday 2 November 2026, midnight UTC: the month starts.
inline const SysSeconds kMonthStart = sys_days{2026y / 11 / 2};

inline constexpr const char* kMonthSettings = R"json({
  "github": {"queries": [{"name": "gpu", "q": "topic:cuda pushed:>{since}"}], "max_pages": 2, "per_page": 2,
             "profiles_per_run": 10},
  "reddit": {"subreddits": ["mlops"], "queries": ["GPU cost"], "keywords": ["idle", "cost"], "max_pages": 3},
  "sending": {"daily_cap": 5, "domain_interval_minutes": 60, "jitter_minutes": 10,
              "window": {"start_hour": 9, "end_hour": 17, "days": ["mon", "tue", "wed", "thu", "fri"]}},
  "audit": {"data_hours": 24, "link_valid_hours": 72, "consent_text": "I agree to receive my audit."},
  "sequences": [
    {"name": "activation", "segment": "signup_no_agent", "goal": "activated",
     "steps": [{"delay_hours": 24, "subject": "Your GPUs have not reported yet", "text": "Hi {{first_name|there}}"},
               {"delay_hours": 72, "subject": "A last note about your dashboard", "text": "Install: {{agent_url}}"}]},
    {"name": "upgrade", "segment": "free_at_limit", "goal": "paid",
     "steps": [{"delay_hours": 2, "subject": "You reached {{gpu_limit}} GPUs", "text": "{{gpus}} GPUs on {{plan}}"},
               {"delay_hours": 168, "subject": "Still at the limit", "text": "Plans: {{pricing_url}}"}]},
    {"name": "audit", "segment": "audit_confirmed", "goal": "activated",
     "steps": [{"delay_hours": 0, "subject": "Your audit: the one step it needs", "text": "{{signup_url}}"},
               {"delay_hours": 72, "subject": "Your audit is waiting for data", "text": "{{agent_url}}"}]}
  ]})json";

template <class Backend>
class AcquisitionMonth : public StoreContract<Backend> {
protected:
    void SetUp() override {
        StoreContract<Backend>::SetUp();
        if (this->HasFatalFailure()) return;
        InitCrypto();
        this->db().admin().SetAuditKey("test audit key");
        auto parsed = acquisition::ParseSettings(kMonthSettings, "month.json");
        ASSERT_TRUE(parsed.ok()) << parsed.error().details.begin()->second;
        settings_ = *parsed;
        outreach_.base_url = "https://gpuopt.test";
        outreach_.postal_address = "1 Main St, Springfield";
        outreach_.secret_key = "month secret";
        outreach_.sender = "hello@gpuopt.test";
        smtp_ = std::make_unique<testing::SmtpServer>();
        ASSERT_TRUE(smtp_->Started());
        mail::SmtpSettings s;
        s.server = "127.0.0.1";
        s.port = smtp_->port();
        s.tls = "starttls";
        s.ca_file = smtp_->CaFile();
        s.envelope_from = "bounce@gpuopt.test";
        s.timeout = seconds(15);
        transport_ = std::make_unique<mail::SmtpTransport>(s);
        auto catalog = PriceCatalog::Load("", "");
        ASSERT_TRUE(catalog.ok());
        catalog_ = std::make_unique<PriceCatalog>(std::move(*catalog));
        auto config = BuildConfig({});
        ASSERT_TRUE(config.ok());
        config_ = *config;
        report_.plan = [this](Tier tier) { return config_.FindPlan(tier); };
        report_.brand.base_url = outreach_.base_url;
    }

    AcquisitionStore& acq() { return this->db().acquisition(); }

    static AuditEntry Audit(std::string action) {
        AuditEntry e;
        e.at = kMonthStart;
        e.actor_type = "admin";
        e.actor = "ops@example.com";
        e.action = std::move(action);
        return e;
    }

    // One tick of the engine, as the server's jobs run it.
    void Tick(SysSeconds now, Database* db = nullptr, bool send = true) {
        Database& d = db != nullptr ? *db : this->db();
        auto run = acquisition::RunSequences(d, settings_, outreach_, now, random_);
        ASSERT_TRUE(run.ok()) << run.error().message;
        auto audits = acquisition::RunAudits(d, *catalog_, report_, settings_, outreach_, now);
        ASSERT_TRUE(audits.ok()) << audits.error().message;
        if (send) SendMail(now, d);
    }
    void SendMail(SysSeconds now, Database& d) {
        const mail::SuppressedCheck suppressed = [&d](const OutboxMessage& m) -> Result<bool> {
            if (!acquisition::IsMarketingMail(m.kind)) return false;
            return d.acquisition().IsSuppressed(m.to);
        };
        auto sent = mail::RunOutbox(d.outbox(), *transport_, mail::Sender{"hello@gpuopt.test", "GPUOptimizer"}, now,
                                    suppressed);
        ASSERT_TRUE(sent.ok()) << sent.error().message;
        ASSERT_EQ(sent->retried, 0) << smtp_->Log();
    }
    void Discover(SysSeconds now) {
        acquisition::GithubAccess gh{github_.BaseUrl(), testing::FakeGithub::kToken, seconds(5)};
        acquisition::RedditAccess rd{reddit_.BaseUrl(),
                                     reddit_.BaseUrl(),
                                     testing::FakeReddit::kClientId,
                                     testing::FakeReddit::kClientSecret,
                                     "linux:test.gpuopt:1.0 (by /u/gpuopt)",
                                     seconds(5)};
        auto found = acquisition::DiscoverGithub(acq(), settings_.github, gh, now);
        ASSERT_TRUE(found.ok()) << found.error().message;
        auto talked = acquisition::DiscoverReddit(acq(), settings_.reddit, rd, now);
        ASSERT_TRUE(talked.ok()) << talked.error().message;
    }
    Lead Signup(const std::string& email, SysSeconds now, const std::string& ref = "") {
        auto account = this->Create(email, "hash-" + email, now);
        EXPECT_TRUE(account.ok());
        auto lead = Wait<Lead>([&](Callback<Lead> done) {
            acq().RecordSignup({account.ok() ? account->id : 0, email, ref, std::nullopt, now}, std::move(done));
        });
        EXPECT_TRUE(lead.ok());
        return lead.ok() ? *lead : Lead{};
    }
    void RequestAudit(const std::string& email, const std::string& token, SysSeconds now) {
        AuditRequest r;
        r.email = email;
        r.consent_text = settings_.audit.consent_text;
        r.ip = "198.51.100.7";
        r.confirm_token_hash = HashApiKey(token);
        r.now = now;
        r.confirmation = this->Mail("audit-confirm:" + token, 0, "audit_confirm", email);
        r.confirmation.subject = "Confirm your GPU cost audit request";
        ASSERT_EQ(Wait<AuditRequestOutcome>([&](Callback<AuditRequestOutcome> done) {
                      acq().RequestAudit(std::move(r), std::move(done));
                  }).value(),
                  AuditRequestOutcome::kCreated);
    }
    void Confirm(const std::string& token, SysSeconds now) {
        ASSERT_TRUE(Wait<std::optional<Lead>>([&](Callback<std::optional<Lead>> done) {
                        acq().ConfirmAudit(HashApiKey(token), now, now - hours(72), std::move(done));
                    })
                        .value()
                        .has_value());
    }
    // An hour of one GPU's data ending at `now`, mostly idle.
    void Report(int64_t account, const std::string& gpu, SysSeconds now) {
        UsageReport r;
        r.report_id = gpu + "@" + FormatUtc(now);
        r.agent_id = "agent";
        r.hostname = "host";
        r.window_start = now - hours(1);
        r.window_end = now;
        r.samples = 360;
        GpuWindow g;
        g.uuid = gpu;
        g.gpu_key = "host/" + gpu;
        g.name = "A100";
        g.util_avg = 2;
        g.mem_used_mib = 10;
        g.mem_total_mib = 40000;
        g.cost_per_hour = 3.6;
        g.processes_json = "[]";
        r.gpus.push_back(g);
        ASSERT_TRUE(this->Ingest(account, std::move(r), std::nullopt, now).ok());
    }

    // A message's recipient: the address inside To's angle brackets.
    static std::string Recipient(const std::string& raw) {
        std::string to = testing::MailHeader(raw, "To");
        const auto open = to.find('<');
        const auto close = to.find('>', open == std::string::npos ? 0 : open);
        if (open != std::string::npos && close != std::string::npos) to = to.substr(open + 1, close - open - 1);
        return to;
    }

    // The marketing mails received, by recipient.
    std::map<std::string, std::vector<std::string>> MarketingBySubject() {
        std::map<std::string, std::vector<std::string>> out;
        for (const auto& raw : smtp_->Messages()) {
            if (testing::MailHeader(raw, "List-Unsubscribe").empty()) continue;
            out[Recipient(raw)].push_back(testing::MailHeader(raw, "Subject"));
        }
        return out;
    }
    size_t marketing_count(const std::string& to) {
        auto all = MarketingBySubject();
        return all.count(to) != 0 ? all.at(to).size() : 0;
    }
    size_t MailsTo(const std::string& to) {
        size_t n = 0;
        for (const auto& raw : smtp_->Messages()) n += Recipient(raw) == to ? 1 : 0;
        return n;
    }
    std::vector<LeadEvent> Events(int64_t lead) { return acq().GetLeadHistory(lead).value()->events; }
    std::string StopReason(int64_t lead, const std::string& sequence) {
        const auto history = acq().GetLeadHistory(lead).value();
        for (const auto& e : history->enrollments) {
            if (e.sequence == sequence) return e.state + ":" + e.stop_reason;
        }
        return "";
    }

    acquisition::Settings settings_;
    acquisition::Outreach outreach_;
    std::unique_ptr<testing::SmtpServer> smtp_;
    std::unique_ptr<mail::Transport> transport_;
    std::unique_ptr<PriceCatalog> catalog_;
    Config config_;
    jobs::ReportRules report_;
    std::mt19937_64 random_{20261102};
    testing::FakeGithub github_;
    testing::FakeReddit reddit_;
};

TYPED_TEST_SUITE_P(AcquisitionMonth);

TYPED_TEST_P(AcquisitionMonth, TheFunnelRunsByItselfForAMonthWithinItsRules) {
    const SysSeconds t0 = kMonthStart;
    auto at = [&](int day, int hour, int minute = 0) { return t0 + days(day) + hours(hour) + minutes(minute); };
    // The sources: five repositories of three owners (one with a public address), two Reddit posts.
    this->github_.AddRepo({"acme-ai", "Organization", "trainer", 800, 70, "2026-10-28T10:00:00Z", {"cuda", "pytorch"}});
    this->github_.AddRepo({"acme-ai", "Organization", "serve", 120, 9, "2026-10-30T10:00:00Z", {"inference"}});
    this->github_.AddRepo({"solo-dev", "User", "cuda-notes", 3, 0, "2026-06-01T10:00:00Z", {}});
    this->github_.AddRepo({"beta-lab", "Organization", "llm-train", 400, 30, "2026-10-01T10:00:00Z", {"llm"}});
    this->github_.AddRepo({"beta-lab", "Organization", "forked", 5, 0, "2026-10-01T10:00:00Z", {}, true});
    this->github_.SetProfile("acme-ai", {"Acme AI", "acme.ai", "founder@acme-ai.example"});
    this->github_.SetProfile("solo-dev", {"Solo Dev", "", "solo@dev.example"});
    this->reddit_.AddPost({"mlops", "p1", "Our A100 bill doubled", "half of them idle", 1762000000, 57, 23});
    this->reddit_.AddPost({"mlops", "p2", "Best YAML linter?", "unrelated", 1762000100, 5, 1});

    // Day 0, 06:00: the sources. The operator reaches acme-ai through its site and answers the post.
    this->Discover(at(0, 6));
    auto prospects = this->acq().ListProspects({}).value();
    ASSERT_EQ(prospects.size(), 3u) << "forks are left out; one prospect per owner";
    EXPECT_EQ(prospects[0].login, "acme-ai") << "the best scored first";
    EXPECT_EQ(prospects[0].website, "https://acme.ai");
    EXPECT_EQ(prospects[0].repos.size(), 2u);
    EXPECT_EQ(prospects.back().login, "solo-dev");
    EXPECT_EQ(this->github_.PagesServed(), (std::vector<std::string>{"1", "2"})) << "max_pages 2 of 3";
    auto conversations = this->acq().ListConversations({}).value();
    ASSERT_EQ(conversations.size(), 1u) << "the linter post mentions no keyword";
    EXPECT_EQ(conversations[0].url, "https://www.reddit.com/r/mlops/comments/p1/post/");
    auto contacted = Wait<Prospect>([&](Callback<Prospect> done) {
        this->acq().DecideProspect(prospects[0].id, "contacted", "contact form on acme.ai", this->Audit("p"), at(0, 7),
                                   std::move(done));
    });
    ASSERT_TRUE(contacted.ok());
    auto answered = Wait<Conversation>([&](Callback<Conversation> done) {
        this->acq().DecideConversation(conversations[0].id, "answered", "replied in the thread", this->Audit("c"),
                                       at(0, 7), std::move(done));
    });
    ASSERT_TRUE(answered.ok());
    // Asked again the same day: nothing fetched twice.
    const size_t searches = this->github_.SearchCalls();
    this->Discover(at(0, 12));
    EXPECT_EQ(this->github_.SearchCalls(), searches);

    // Day 0, 08:00: signups (two credited to the sources) and audit requests.
    std::map<std::string, Lead> lead;
    for (const std::string name : {"ann@acme.io", "ben@acme.io", "eve@delta.example", "fay@echo.example",
                                   "gus@foxtrot.example", "hal@golf.example", "ivy@hotel.example"}) {
        lead[name] = this->Signup(name, at(0, 8));
    }
    lead["cat@bravo.example"] = this->Signup("cat@bravo.example", at(0, 8), answered->referral_code);
    lead["dan@charlie.example"] = this->Signup("dan@charlie.example", at(0, 8), contacted->referral_code);
    EXPECT_EQ(lead["cat@bravo.example"].source, "reddit");
    EXPECT_EQ(lead["dan@charlie.example"].source, "github");
    this->RequestAudit("kim@juliet.example", "token-kim", at(0, 8));
    this->RequestAudit("lee@kilo.example", "token-lee", at(0, 8));
    this->RequestAudit("mia@lima.example", "token-mia", at(0, 8));
    this->Confirm("token-kim", at(0, 9));
    this->Confirm("token-mia", at(0, 9));
    lead["kim@juliet.example"] = *this->acq().FindLead("kim@juliet.example").value();
    lead["lee@kilo.example"] = *this->acq().FindLead("lee@kilo.example").value();

    // The month, hour by hour, with what people do.
    int64_t mia_account = 0;
    int64_t fay_account = *lead["fay@echo.example"].account_id;
    for (int hour = 9; hour < 30 * 24; ++hour) {
        const SysSeconds now = t0 + hours(hour);
        const int day = hour / 24;
        const int h = hour % 24;
        if (h == 6) this->Discover(now);
        if (day == 1 && h == 8) {
            lead["mia@lima.example"] = this->Signup("mia@lima.example", now);
            mia_account = *lead["mia@lima.example"].account_id;
            // fay's agents report two GPUs: the free plan's limit.
            this->Report(fay_account, "GPU-f1", now);
            this->Report(fay_account, "GPU-f2", now);
            this->Report(*lead["gus@foxtrot.example"].account_id, "GPU-g1", now);
        }
        if (mia_account != 0 && day >= 1 && day <= 2 && h >= 10) this->Report(mia_account, "GPU-m1", now);
        if (day == 2 && h == 11) {
            ASSERT_TRUE(Wait<Lead>([&](Callback<Lead> done) {
                            this->acq().MarkLead(lead["ann@acme.io"].id, LeadStatus::kReplied, "asked for a call",
                                                 this->Audit("lead.mark"), now, std::move(done));
                        }).ok());
        }
        if (day == 3 && h == 10) {
            ASSERT_TRUE(Wait<bool>([&](Callback<bool> done) {
                            this->acq().Unsubscribe(lead["hal@golf.example"].id, "one-click", now, std::move(done));
                        }).value());
            ASSERT_TRUE(Wait<bool>([&](Callback<bool> done) {
                            this->acq().RecordMailEvent(
                                {"sendgrid", "ev-ivy", "bounce", "ivy@hotel.example", now, "550 5.1.1 user unknown"},
                                std::move(done));
                        }).value());
        }
        if (day == 4 && h == 12) {
            ASSERT_TRUE(Wait<Account>([&](Callback<Account> done) {
                            this->db().accounts().SetTier("fay@echo.example", Tier::kProfessional, std::move(done));
                        }).ok());
        }
        if (day == 9 && h == 10) {
            for (const std::string name : {"sam@romeo.example", "tom@sierra.example"})
                lead[name] = this->Signup(name, now);
        }
        if (day == 10 && h == 10) {
            // A crash after steps were queued (sam's and tom's first) and before they were sent; then a restart.
            this->Tick(now, nullptr, false);
            ASSERT_EQ(this->MailsTo("sam@romeo.example"), 0u);
            this->Reopen();
            this->SendMail(now, this->db());
            continue;
        }
        if (day == 11 && h == 8) {
            for (const std::string name : {"nan@mike.example", "oli@november.example", "pat@oscar.example",
                                           "quinn@papa.example", "ray@quebec.example"}) {
                lead[name] = this->Signup(name, now);
            }
        }
        if (day == 14 && (h >= 9 && h < 17)) {
            // Two servers on the same database at the same moment (Monday the 16th).
            auto other = this->backend_.Open();
            ASSERT_TRUE(other.ok()) << other.error().message;
            std::mt19937_64 r1(h), r2(h + 100);
            std::thread a(
                [&] { (void)acquisition::RunSequences(this->db(), this->settings_, this->outreach_, now, r1); });
            std::thread b([&] { (void)acquisition::RunSequences(**other, this->settings_, this->outreach_, now, r2); });
            a.join();
            b.join();
            (*other)->Close();
            this->SendMail(now, this->db());
            continue;
        }
        this->Tick(now);
    }

    EXPECT_EQ(this->marketing_count("sam@romeo.example"), 2u) << "queued before the crash, sent once after it";
    if (::testing::Test::HasFailure() || std::getenv("GPUOPT_MONTH_TRACE") != nullptr) {
        for (const auto& raw : this->smtp_->Messages()) {
            std::cerr << testing::MailHeader(raw, "To") << " | " << testing::MailHeader(raw, "Subject") << "\n";
        }
    }
    // Nothing twice: one mail per (recipient, subject), whatever crashed, restarted or ran twice.
    const auto marketing = this->MarketingBySubject();
    size_t marketing_mails = 0;
    for (const auto& [to, subjects] : marketing) {
        std::set<std::string> unique(subjects.begin(), subjects.end());
        EXPECT_EQ(unique.size(), subjects.size()) << to << " got a mail twice";
        marketing_mails += subjects.size();
    }
    // Every marketing mail: one-click unsubscribe, a visible link and the postal address.
    for (const auto& raw : this->smtp_->Messages()) {
        if (testing::MailHeader(raw, "List-Unsubscribe").empty()) continue;
        EXPECT_EQ(testing::MailHeader(raw, "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
        const std::string text = testing::MailPart(raw, "text/plain");
        EXPECT_NE(text.find("1 Main St, Springfield"), std::string::npos);
        EXPECT_NE(text.find("https://gpuopt.test/unsubscribe?l="), std::string::npos);
        EXPECT_EQ(testing::MailHeader(raw, "Subject").rfind("Re:", 0), std::string::npos);
    }
    // Nobody mailed who should not be: never the GitHub addresses; the unconfirmed audit request got its
    // confirmation alone.
    EXPECT_EQ(this->MailsTo("founder@acme-ai.example"), 0u);
    EXPECT_EQ(this->MailsTo("solo@dev.example"), 0u);
    EXPECT_EQ(this->MailsTo("lee@kilo.example"), 1u);
    const std::string dump = testing::DatabaseSnapshot(this->backend_.Location());
    EXPECT_EQ(dump.find("founder@acme-ai.example"), std::string::npos) << "a GitHub address was stored";
    EXPECT_EQ(dump.find("solo@dev.example"), std::string::npos);

    // Windows, caps and spacing, from what the store recorded as sent.
    std::map<int64_t, int> per_day;
    std::map<std::string, std::vector<SysSeconds>> per_domain;
    int sent_events = 0;
    for (const auto& [email, l] : lead) {
        for (const auto& e : this->Events(l.id)) {
            if (e.kind != "sent") continue;
            ++sent_events;
            const int64_t s = e.at.time_since_epoch().count();
            ++per_day[s / 86400];
            const int hour_of_day = static_cast<int>((s % 86400) / 3600);
            const int64_t weekday = ((s / 86400) + 3) % 7;  // Monday = 0
            EXPECT_GE(hour_of_day, 9) << email << " at " << FormatUtc(e.at);
            EXPECT_LT(hour_of_day, 17) << email << " at " << FormatUtc(e.at);
            EXPECT_LT(weekday, 5) << email << " on a weekend: " << FormatUtc(e.at);
            per_domain[l.domain].push_back(e.at);
        }
    }
    for (const auto& [day, n] : per_day) EXPECT_LE(n, 5) << "day " << day;
    for (auto& [domain, times] : per_domain) {
        std::sort(times.begin(), times.end());
        for (size_t i = 1; i < times.size(); ++i) EXPECT_GE(times[i] - times[i - 1], minutes(60)) << domain;
    }
    EXPECT_EQ(static_cast<size_t>(sent_events) + 1, marketing_mails) << "every step sent is a mail, plus the audit";

    // Every exit rule fired.
    EXPECT_EQ(this->StopReason(lead["ann@acme.io"].id, "activation"), "stopped:replied");
    EXPECT_EQ(this->StopReason(lead["ben@acme.io"].id, "activation"), "stopped:company replied");
    EXPECT_EQ(this->StopReason(lead["hal@golf.example"].id, "activation"), "stopped:unsubscribed");
    EXPECT_EQ(this->StopReason(lead["ivy@hotel.example"].id, "activation"), "stopped:bounced");
    EXPECT_EQ(this->StopReason(lead["gus@foxtrot.example"].id, "activation"), "done:goal reached");
    EXPECT_EQ(this->StopReason(lead["fay@echo.example"].id, "upgrade"), "stopped:converted");
    EXPECT_EQ(this->StopReason(lead["eve@delta.example"].id, "activation"), "done:finished");
    for (const std::string name : {"hal@golf.example", "ivy@hotel.example"}) {
        for (const auto& subject : marketing.count(name) != 0 ? marketing.at(name) : std::vector<std::string>{}) {
            EXPECT_NE(subject, "A last note about your dashboard") << name << " was mailed after leaving";
        }
    }
    ASSERT_EQ(marketing.count("fay@echo.example"), 1u);
    EXPECT_EQ(marketing.at("fay@echo.example"), (std::vector<std::string>{"You reached 2 GPUs"}))
        << "the upgrade nudge, before fay paid; no activation: her agents reported first";

    // The audit: mia's after 24 hours of data, once; kim (no account, no data) had the reminders only.
    const auto mia = this->acq().GetLead(lead["mia@lima.example"].id).value();
    ASSERT_TRUE(mia->audit_sent_at.has_value());
    EXPECT_GE(*mia->audit_sent_at, at(1, 10) + hours(24));
    size_t audits = 0;
    for (const auto& s : marketing.at("mia@lima.example")) audits += s.rfind("Your GPU cost audit:", 0) == 0 ? 1 : 0;
    EXPECT_EQ(audits, 1u);
    EXPECT_EQ(marketing.at("kim@juliet.example"),
              (std::vector<std::string>{"Your audit: the one step it needs", "Your audit is waiting for data"}));

    // The funnel agrees with all of this.
    auto f = this->acq().GetFunnel(t0, t0 + days(30)).value();
    std::map<std::string, FunnelCounts> by;
    for (const auto& s : f.sources) by[s.source] = s.counts;
    EXPECT_EQ(by["github"].leads, 1);
    EXPECT_EQ(by["reddit"].leads, 1);
    EXPECT_EQ(by["audit"].leads, 3);
    EXPECT_EQ(by["audit"].confirmed, 2);
    EXPECT_EQ(by["audit"].signed_up, 1);
    EXPECT_EQ(by["signup"].leads, 14);
    EXPECT_EQ(by["signup"].paid, 1);
    EXPECT_EQ(by["signup"].unsubscribed, 1);
    EXPECT_EQ(by["signup"].bounced, 1);
    EXPECT_EQ(by["signup"].replied, 1);
    int64_t sent_in_funnel = 0;
    for (const auto& [source, counts] : by) sent_in_funnel += counts.sent;
    EXPECT_EQ(sent_in_funnel, sent_events);
    EXPECT_EQ(f.prospects, 3);
    EXPECT_EQ(f.prospects_contacted, 1);
    EXPECT_EQ(f.conversations, 1);
    EXPECT_EQ(f.conversations_answered, 1);
}

REGISTER_TYPED_TEST_SUITE_P(AcquisitionMonth, TheFunnelRunsByItselfForAMonthWithinItsRules);

}  // namespace gpuopt::store::contract
