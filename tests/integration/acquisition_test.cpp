// Acquisition against the real server, on SQLite and PostgreSQL, with the real SMTP server and the fake
// GitHub and Reddit: the audit form's double opt-in (nothing but the confirmation before the click, the
// consent recorded), RFC 8058 unsubscribe (headers, a harmless GET, a POST that unsubscribes, the
// suppression list), referral codes credited at signup, GitHub discovery that resumes, honours rate limits
// and keeps no address, Reddit's read-only search, SendGrid's signed events, and the operator's actions on
// leads, sequences and the suppression list.
#include <boost/json/serialize.hpp>

#include <chrono>
#include <fstream>
#include <memory>

#include "integration/fixture.hpp"
#include "integration/operator.hpp"
#include "support/ec_key.hpp"
#include "support/fake_sources.hpp"
#include "support/smtp_server.hpp"

namespace gpuopt::testing {
namespace {

constexpr const char* kPassword = "correct horse battery staple";
constexpr const char* kOps = "ops@example.com";

// Sends at any hour on any day, without jitter, so that the suite need not wait for working hours.
constexpr const char* kSettings = R"json({
  "github": {"queries": [{"name": "gpu", "q": "topic:cuda"}], "max_pages": 3, "per_page": 2},
  "reddit": {"subreddits": ["mlops"], "queries": ["GPU cost"], "keywords": ["idle"], "max_pages": 5},
  "sending": {"daily_cap": 50, "domain_interval_minutes": 0, "jitter_minutes": 0,
              "window": {"start_hour": 0, "end_hour": 24,
                         "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}},
  "audit": {"data_hours": 24, "link_valid_hours": 72, "consent_text": "I agree to receive my free audit."},
  "sequences": [
    {"name": "audit", "segment": "audit_confirmed", "goal": "activated",
     "steps": [{"delay_hours": 0, "subject": "Your audit: the one step it needs", "text": "Sign up: {{signup_url}}"},
               {"delay_hours": 72, "subject": "Your audit is waiting", "text": "{{agent_url}}"}]},
    {"name": "activation", "segment": "signup_no_agent", "goal": "activated",
     "steps": [{"delay_hours": 0, "subject": "Your GPUs have not reported yet", "text": "{{agent_url}}"}]}
  ]})json";

std::string Body(const boost::json::object& o) { return boost::json::serialize(o); }

struct Acquisition : ::testing::Test {
    void SetUp() override {
        smtp = std::make_unique<SmtpServer>();
        ASSERT_TRUE(smtp->Started());
        settings_file = settings_dir.path() + "/acquisition.json";
        std::ofstream(settings_file) << kSettings;
    }

    Env MailEnv() const {
        return {{"SMTP_SERVER", "127.0.0.1"},
                {"SMTP_PORT", std::to_string(smtp->port())},
                {"SMTP_TLS", "starttls"},
                {"SMTP_CA_FILE", smtp->CaFile()},
                {"SENDER_EMAIL", "hello@gpuopt.test"},
                {"MAIL_INTERVAL_SECONDS", "1"},
                {"SEQUENCE_INTERVAL_SECONDS", "1"},
                {"SECRET_KEY", "acquisition-suite-secret-0123456789abcdef"},
                {"POSTAL_ADDRESS", "1 Main St, Springfield"},
                {"ACQUISITION_CONFIG", settings_file},
                // The form's bad inputs below come from one address, faster than people would.
                {"SIGNUP_RATE_LIMIT", "100"}};
    }

    std::unique_ptr<SmtpServer> smtp;
    TempDir settings_dir;
    std::string settings_file;
};

// The path and query of an absolute URL in a mail ("http://127.0.0.1:5000/unsubscribe?l=1&t=..").
std::string PathOf(const std::string& url) {
    const auto scheme = url.find("://");
    const auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    return slash == std::string::npos ? "/" : url.substr(slash);
}

std::string Between(const std::string& text, const std::string& from, const std::string& to) {
    const auto a = text.find(from);
    if (a == std::string::npos) return {};
    const auto b = text.find(to, a + from.size());
    return text.substr(a + from.size(), b == std::string::npos ? std::string::npos : b - a - from.size());
}

int64_t Rows(const RunningServer& s, const std::string& sql, const std::string& param = "") {
    return CountRows(s.DbPath(), sql, param);
}

// Runs of the sequences job recorded since the server started: each looked for due steps.
int64_t SequenceRuns(const RunningServer& s) {
    return Rows(s, "SELECT COUNT(*) FROM job_runs WHERE job = 'sequences'");
}

TEST_F(Acquisition, TheAuditFormIsDoubleOptInAndRecordsTheConsent) {
    RunningServer s(MailEnv());
    auto form = Get(s.Url("/api/audit-requests"));
    ASSERT_EQ(form.status, 200) << form.body;
    EXPECT_EQ(form.Json().at("consent_text").as_string(), "I agree to receive my free audit.");

    // Refused: nothing stored, nothing sent.
    for (const std::string bad :
         {R"({"email": "ada@acme.io"})", R"({"email": "ada@acme.io", "consent": false})",
          R"({"email": "not an address", "consent": true})",
          R"({"email": "ada@acme.io", "consent": true, "ref": "Bad Code"})",
          R"({"email": "ada@acme.io", "consent": true, "utc_offset_minutes": 5000})", R"([1, 2])"}) {
        auto res = PostJson(s.Url("/api/audit-requests"), bad);
        EXPECT_EQ(res.status, 400) << bad << " " << res.body;
        EXPECT_EQ(res.Json().at("status").as_string(), "error");
    }
    EXPECT_EQ(Send({"POST", s.Url("/api/audit-requests"), "email=ada@acme.io", {"Content-Type: text/plain"}}).status,
              415);
    EXPECT_EQ(Rows(s, "SELECT COUNT(*) FROM leads"), 0);

    auto asked = PostJson(s.Url("/api/audit-requests"),
                          R"({"email": "Ada@Acme.io", "name": "Ada Lovelace", "company": "Acme", "consent": true,
                              "utc_offset_minutes": 60})");
    ASSERT_EQ(asked.status, 202) << asked.body;
    auto mails = smtp->WaitForMessages(1);
    ASSERT_EQ(mails.size(), 1u);
    EXPECT_EQ(MailHeader(mails[0], "To"), "<ada@acme.io>");
    EXPECT_EQ(MailHeader(mails[0], "List-Unsubscribe"), "") << "a confirmation is not marketing";
    // Nothing else goes before the click, however often the sequences run.
    const int64_t runs = SequenceRuns(s);
    ASSERT_TRUE(WaitFor([&] { return SequenceRuns(s) >= runs + 3; }));
    EXPECT_EQ(smtp->Messages().size(), 1u);
    EXPECT_EQ(Rows(s, "SELECT COUNT(*) FROM leads WHERE status = 'pending' AND consent_at IS NULL"), 1);

    // The link's page changes nothing (mail scanners open links); its button confirms.
    const std::string link = Between(MailPart(mails[0], "text/plain"), "(it works for 72 hours):\n", "\n");
    ASSERT_NE(link.find("/audit/confirm?t="), std::string::npos) << MailPart(mails[0], "text/plain");
    auto page = Get(s.Url(PathOf(link)));
    ASSERT_EQ(page.status, 200);
    EXPECT_NE(page.body.find("<form"), std::string::npos);
    EXPECT_EQ(Rows(s, "SELECT COUNT(*) FROM leads WHERE status = 'pending'"), 1);
    EXPECT_EQ(Send({"POST", s.Url("/audit/confirm?t=0123456789abcdef0123456789abcdef"), "", {}}).status, 404);
    auto confirmed = Send({"POST", s.Url(PathOf(link)), "", {"Accept: text/html"}});
    ASSERT_EQ(confirmed.status, 200) << confirmed.body;
    EXPECT_EQ(Rows(s,
                   "SELECT COUNT(*) FROM leads WHERE status = 'active' AND consent_at IS NOT NULL AND consent_ip <> ''"
                   " AND consent_text = ?1",
                   "I agree to receive my free audit."),
              1);

    // Now the audit sequence starts: a marketing mail with one-click unsubscribe and the postal address.
    mails = smtp->WaitForMessages(2);
    ASSERT_EQ(mails.size(), 2u);
    EXPECT_EQ(MailHeader(mails[1], "Subject"), "Your audit: the one step it needs");
    EXPECT_EQ(MailHeader(mails[1], "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
    EXPECT_NE(MailHeader(mails[1], "List-Unsubscribe").find("mailto:hello@gpuopt.test?subject=unsubscribe"),
              std::string::npos);
    EXPECT_NE(MailPart(mails[1], "text/plain").find("1 Main St, Springfield"), std::string::npos);

    // Asking again after confirming sends nothing, and answers the same.
    auto again = PostJson(s.Url("/api/audit-requests"), R"({"email": "ada@acme.io", "consent": true})");
    EXPECT_EQ(again.status, 202);
    const int64_t later = SequenceRuns(s);
    ASSERT_TRUE(WaitFor([&] { return SequenceRuns(s) >= later + 2; }));
    EXPECT_EQ(smtp->Messages().size(), 2u);
}

TEST_F(Acquisition, OneClickUnsubscribeStopsEverySequenceAndAGetChangesNothing) {
    RunningServer s(MailEnv());
    ASSERT_FALSE(s.Signup("bob@bravo.example").empty());
    auto mails = smtp->WaitForMessages(2);  // the welcome, then activation's first step
    std::string marketing;
    for (const auto& m : mails) {
        if (!MailHeader(m, "List-Unsubscribe").empty()) marketing = m;
    }
    ASSERT_FALSE(marketing.empty());
    const std::string header = MailHeader(marketing, "List-Unsubscribe");
    const std::string url = Between(header, "<", ">");
    ASSERT_NE(url.find("/unsubscribe?l="), std::string::npos) << header;
    EXPECT_NE(MailPart(marketing, "text/plain").find(url), std::string::npos) << "the visible link is the same";

    // A link scanner's GET: a page, nothing changed.
    auto page = Get(s.Url(PathOf(url)));
    ASSERT_EQ(page.status, 200);
    EXPECT_NE(page.body.find("Unsubscribe"), std::string::npos);
    EXPECT_EQ(Rows(s, "SELECT COUNT(*) FROM leads WHERE status = 'active'"), 1);
    // A forged token: refused.
    std::string forged = PathOf(url);
    forged.back() = forged.back() == '0' ? '1' : '0';
    EXPECT_EQ(
        Send({"POST", s.Url(forged), "List-Unsubscribe=One-Click", {"Content-Type: application/x-www-form-urlencoded"}})
            .status,
        400);
    EXPECT_EQ(Rows(s, "SELECT COUNT(*) FROM suppressions"), 0);

    // The mail client's one-click POST (RFC 8058): no cookie, no sign-in.
    auto done = Send({"POST",
                      s.Url(PathOf(url)),
                      "List-Unsubscribe=One-Click",
                      {"Content-Type: application/x-www-form-urlencoded"}});
    ASSERT_EQ(done.status, 200) << done.body;
    EXPECT_EQ(Rows(s, "SELECT COUNT(*) FROM leads WHERE status = 'unsubscribed'"), 1);
    EXPECT_EQ(Rows(s, "SELECT COUNT(*) FROM suppressions WHERE kind = 'address' AND reason = 'unsubscribed'"), 1);
    EXPECT_EQ(Rows(s, "SELECT COUNT(*) FROM enrollments WHERE state = 'active'"), 0);
    EXPECT_EQ(Rows(s, "SELECT COUNT(*) FROM lead_events WHERE kind = 'unsubscribed' AND detail = 'one-click'"), 1);
    // Again: still fine, nothing more.
    EXPECT_EQ(Send({"POST", s.Url(PathOf(url)), "", {"Accept: text/html"}}).status, 200);
    EXPECT_EQ(Rows(s, "SELECT COUNT(*) FROM lead_events WHERE kind = 'unsubscribed'"), 1);
}

TEST_F(Acquisition, ReferralCodesAreCreditedAtSignupAndTheOperatorWorksTheLeads) {
    RunningServer s(MailEnv());
    std::string out;
    ASSERT_EQ(Admin(s, {"create-user", "--email", kOps, "--password-stdin"}, out, {}, kPassword), 0) << out;
    const Operator op = SignedIn(s, kOps, kPassword);
    auto made = OperatorCall(s, op, "POST", "/api/admin/acquisition/referrals",
                             Body({{"code", "launch-week"}, {"label", "the launch post"}}));
    ASSERT_EQ(made.status, 200) << made.body;
    EXPECT_EQ(OperatorCall(s, op, "POST", "/api/admin/acquisition/referrals", Body({{"code", "launch-week"}})).status,
              409);
    EXPECT_EQ(OperatorCall(s, op, "POST", "/api/admin/acquisition/referrals", Body({{"code", "Has Spaces"}})).status,
              400);
    EXPECT_EQ(Call(s, "POST", "/api/admin/acquisition/referrals", Body({{"code", "tok"}}), Bearer(kAdminToken)).status,
              403)
        << "the operator token reads only";

    auto signup = PostJson(s.Url("/api/signup"), R"({"email": "cyd@charlie.example", "ref": "launch-week"})");
    ASSERT_EQ(signup.status, 200) << signup.body;
    EXPECT_EQ(PostJson(s.Url("/api/signup"), R"({"email": "dee@delta.example", "ref": "NOT ok"})").status, 400);
    ASSERT_FALSE(s.Signup("eve@echo.example").empty());
    auto leads = Get(s.Url("/api/admin/acquisition/leads?source=referral"), Bearer(kAdminToken));
    ASSERT_EQ(leads.status, 200) << leads.body;
    ASSERT_EQ(leads.Json().at("leads").as_array().size(), 1u);
    const auto cyd = leads.Json().at("leads").as_array()[0];
    EXPECT_EQ(cyd.at("email").as_string(), "cyd@charlie.example");
    EXPECT_EQ(cyd.at("referral_code").as_string(), "launch-week");
    const int64_t cyd_id = cyd.at("id").as_int64();
    auto codes = Get(s.Url("/api/admin/acquisition/referrals"), Bearer(kAdminToken));
    EXPECT_EQ(codes.Json().at("referrals").as_array()[0].at("leads").as_int64(), 1);

    // Marked replied (an SMTP sender sees replies in its inbox): its sequences stop; the history shows it.
    EXPECT_EQ(OperatorCall(s, op, "POST", "/api/admin/acquisition/leads/" + std::to_string(cyd_id) + "/mark",
                           Body({{"status", "happy"}, {"reason", "a reply"}}))
                  .status,
              400);
    auto marked = OperatorCall(s, op, "POST", "/api/admin/acquisition/leads/" + std::to_string(cyd_id) + "/mark",
                               Body({{"status", "replied"}, {"reason", "asked for a demo"}}));
    ASSERT_EQ(marked.status, 200) << marked.body;
    auto history = Get(s.Url("/api/admin/acquisition/leads/" + std::to_string(cyd_id)), Bearer(kAdminToken));
    ASSERT_EQ(history.status, 200);
    bool replied = false;
    const auto events = history.Json();
    for (const auto& e : events.at("events").as_array()) replied = replied || e.at("kind").as_string() == "replied";
    EXPECT_TRUE(replied);

    // A sequence paused and resumed; unknown ones are not found.
    EXPECT_EQ(
        OperatorCall(s, op, "POST", "/api/admin/acquisition/sequences/nope/pause", Body({{"reason", "test"}})).status,
        404);
    ASSERT_EQ(OperatorCall(s, op, "POST", "/api/admin/acquisition/sequences/activation/pause",
                           Body({{"reason", "copy review"}}))
                  .status,
              200);
    EXPECT_EQ(
        OperatorCall(s, op, "POST", "/api/admin/acquisition/sequences/activation/pause", Body({{"reason", "again"}}))
            .status,
        409);
    auto seqs = Get(s.Url("/api/admin/acquisition/sequences"), Bearer(kAdminToken));
    ASSERT_EQ(seqs.status, 200);
    EXPECT_TRUE(seqs.Json().at("running").as_bool());
    EXPECT_TRUE(seqs.Json().at("sequences").as_array()[1].at("paused").as_bool());

    // A domain suppressed by hand, listed, exported (audited).
    EXPECT_EQ(OperatorCall(s, op, "POST", "/api/admin/acquisition/suppressions",
                           Body({{"kind", "domain"}, {"value", "not a domain"}, {"reason", "asked"}}))
                  .status,
              400);
    ASSERT_EQ(OperatorCall(s, op, "POST", "/api/admin/acquisition/suppressions",
                           Body({{"kind", "domain"}, {"value", "Competitor.example"}, {"reason", "never mail them"}}))
                  .status,
              200);
    EXPECT_EQ(OperatorCall(s, op, "POST", "/api/admin/acquisition/suppressions",
                           Body({{"kind", "domain"}, {"value", "competitor.example"}, {"reason", "twice"}}))
                  .status,
              409);
    auto csv = Get(s.Url("/api/admin/acquisition/suppressions.csv"), {op.cookie});
    ASSERT_EQ(csv.status, 200);
    EXPECT_NE(csv.body.find("domain,competitor.example,"), std::string::npos) << csv.body;

    // An audit request erased on request: a hashed entry stays; the address is nowhere in the data.
    ASSERT_EQ(PostJson(s.Url("/api/audit-requests"), R"({"email": "gone@foxtrot.example", "consent": true})").status,
              202);
    // Its confirmation went out (and is in the outbox's history) before the person asks to be forgotten.
    ASSERT_TRUE(WaitFor([&] { return Rows(s, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'") == 0; }));
    auto pending = Get(s.Url("/api/admin/acquisition/leads?status=pending"), Bearer(kAdminToken));
    ASSERT_EQ(pending.Json().at("leads").as_array().size(), 1u);
    const int64_t gone = pending.Json().at("leads").as_array()[0].at("id").as_int64();
    auto exported = Get(s.Url("/api/admin/acquisition/leads/" + std::to_string(gone) + "/export"), {op.cookie});
    ASSERT_EQ(exported.status, 200);
    EXPECT_NE(exported.Header("content-disposition").find("attachment"), std::string::npos);
    EXPECT_NE(exported.body.find("gone@foxtrot.example"), std::string::npos);
    EXPECT_EQ(OperatorCall(s, op, "DELETE", "/api/admin/acquisition/leads/" + std::to_string(gone), Body({})).status,
              400)
        << "a reason is required";
    ASSERT_EQ(OperatorCall(s, op, "DELETE", "/api/admin/acquisition/leads/" + std::to_string(gone),
                           Body({{"reason", "asked by email"}}))
                  .status,
              200);
    EXPECT_EQ(DatabaseSnapshot(s.DbPath()).find("gone@foxtrot.example"), std::string::npos);
    EXPECT_EQ(PostJson(s.Url("/api/audit-requests"), R"({"email": "gone@foxtrot.example", "consent": true})").status,
              202);
    EXPECT_EQ(Rows(s, "SELECT COUNT(*) FROM leads WHERE status = 'pending'"), 0) << "never imported again";

    // The same from a terminal.
    const Env env = MailEnv();
    ASSERT_EQ(RunGpuopt({"acquire", "leads", "--source", "referral", "--data-dir", s.dir.path()}, env, out), 0) << out;
    EXPECT_NE(out.find("cyd@charlie.example"), std::string::npos) << out;
    EXPECT_NE(out.find("1 lead(s)"), std::string::npos) << out;
    EXPECT_EQ(RunGpuopt({"acquire", "leads", "--status", "sleepy", "--data-dir", s.dir.path()}, env, out), 2);
    ASSERT_EQ(RunGpuopt({"acquire", "funnel", "--days", "7", "--data-dir", s.dir.path()}, env, out), 0) << out;
    EXPECT_NE(out.find("referral"), std::string::npos) << out;
    ASSERT_EQ(RunGpuopt({"acquire", "sequences", "--data-dir", s.dir.path()}, env, out), 0) << out;
    EXPECT_NE(out.find("activation (paused)"), std::string::npos) << out;
    EXPECT_NE(out.find("Sequences are on"), std::string::npos) << out;
    EXPECT_EQ(RunGpuopt({"acquire", "sequences", "--resume", "activation", "--data-dir", s.dir.path()}, env, out), 2)
        << "a reason is required";
    ASSERT_EQ(RunGpuopt({"acquire", "sequences", "--resume", "activation", "--reason", "copy approved", "--data-dir",
                         s.dir.path()},
                        env, out),
              0)
        << out;
    EXPECT_NE(out.find("activation is running"), std::string::npos) << out;

    const auto actions = AuditActions(s);
    for (const std::string want :
         {"referral.create success by admin", "lead.mark success by admin", "sequence.pause success by admin",
          "suppression.add success by admin", "export.suppressions success by admin", "lead.export success by admin",
          "lead.erase success by admin", "sequence.resume success by cli"}) {
        EXPECT_NE(std::find(actions.begin(), actions.end(), want), actions.end()) << want;
    }
}

TEST_F(Acquisition, GithubDiscoveryResumesHonoursRateLimitsAndKeepsNoAddress) {
    FakeGithub github;
    github.AddRepo({"acme-ai", "Organization", "trainer", 800, 70, "2026-11-20T10:00:00Z", {"cuda", "pytorch"}});
    github.AddRepo({"acme-ai", "Organization", "serve", 120, 9, "2026-11-20T10:00:00Z", {"inference"}});
    github.AddRepo({"solo-dev", "User", "cuda-notes", 3, 0, "2026-06-01T10:00:00Z", {}});
    github.AddRepo({"beta-lab", "Organization", "llm-train", 400, 30, "2026-10-01T10:00:00Z", {"llm"}});
    github.AddRepo({"gamma", "Organization", "kernels", 50, 4, "2026-11-01T10:00:00Z", {"cuda"}});
    github.AddRepo({"delta", "User", "notebooks", 9, 1, "2026-11-01T10:00:00Z", {}});
    github.AddRepo({"epsilon", "Organization", "ops", 20, 2, "2026-11-01T10:00:00Z", {}});
    github.SetProfile("acme-ai", {"Acme AI", "acme.ai", "founder@acme-ai.example"});
    github.SetProfile("solo-dev", {"Solo", "", "solo@dev.example"});
    Env env = MailEnv();
    env["GITHUB_TOKEN"] = FakeGithub::kToken;
    env["GITHUB_API_URL"] = github.BaseUrl();
    env["DISCOVERY_INTERVAL_SECONDS"] = "86400";  // the suite runs discovery itself, from the terminal
    RunningServer s(env);
    auto discover = [&] {
        std::string out;
        EXPECT_EQ(RunGpuopt({"acquire", "discover", "--data-dir", s.dir.path()}, env, out), 0) << out;
        return out;
    };
    // The clock moved past a wait: the stored wait of `source` put ten minutes into the past.
    auto time_passes = [&](const std::string& source) {
        ASSERT_EQ(
            Rows(s, "SELECT COUNT(*) FROM discovery_sources WHERE source = ?1 AND wait_until IS NOT NULL", source), 1);
        Execute(s.DbPath(), "UPDATE discovery_sources SET wait_until = wait_until - 600 WHERE source = ?1", source);
    };

    // The second page meets a secondary limit (429, Retry-After: 300): the run stops there and keeps the wait.
    github.ScriptSearch(
        {429, {{"retry-after", "300"}}, R"({"message":"You have exceeded a secondary rate limit"})", 1});
    auto out = discover();
    EXPECT_NE(out.find("stopped: search rate limit"), std::string::npos) << out;
    EXPECT_EQ(github.PagesServed(), (std::vector<std::string>{"1"}));
    EXPECT_EQ(github.SearchCalls(), 2u);
    // Within the wait, a new run (a new process: a restart) asks nothing.
    out = discover();
    EXPECT_EQ(github.SearchCalls(), 2u) << out;
    time_passes("github:search");

    // The budget runs out on the page it resumes with (x-ratelimit-remaining 0): it waits for the reset.
    const int64_t reset =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() +
        300;
    github.SetSearchRemaining(1, reset);
    out = discover();
    EXPECT_NE(out.find("search budget spent"), std::string::npos) << out;
    EXPECT_EQ(github.PagesServed(), (std::vector<std::string>{"1", "2"})) << "resumed at the page refused";
    const size_t calls = github.SearchCalls();
    out = discover();
    EXPECT_EQ(github.SearchCalls(), calls) << "nothing asked before the reset";
    time_passes("github:search");
    github.SetSearchRemaining(100000, 0);
    out = discover();
    EXPECT_EQ(github.PagesServed(), (std::vector<std::string>{"1", "2", "3"})) << "max_pages 3, each page once";
    // Done for the day: nothing fetched twice.
    const size_t searched = github.SearchCalls();
    const size_t looked_up = github.ProfileCalls();
    out = discover();
    EXPECT_EQ(github.SearchCalls(), searched);
    EXPECT_EQ(github.ProfileCalls(), looked_up);
    EXPECT_LE(looked_up, 6u) << "each account looked up once a day at most";

    auto prospects = Get(s.Url("/api/admin/acquisition/prospects"), Bearer(kAdminToken));
    ASSERT_EQ(prospects.status, 200) << prospects.body;
    const auto json = prospects.Json();
    const auto& list = json.at("prospects").as_array();
    ASSERT_EQ(list.size(), 5u) << "six owners, of which page 4's epsilon was not reached";
    EXPECT_EQ(list[0].at("login").as_string(), "acme-ai");
    EXPECT_EQ(list[0].at("website").as_string(), "https://acme.ai");
    EXPECT_FALSE(list[0].at("reasons").as_array().empty());
    EXPECT_FALSE(list[0].as_object().contains("email"));
    // No address taken from GitHub, anywhere in the data.
    const std::string dump = DatabaseSnapshot(s.DbPath());
    EXPECT_EQ(dump.find("founder@acme-ai.example"), std::string::npos);
    EXPECT_EQ(dump.find("solo@dev.example"), std::string::npos);
}

TEST_F(Acquisition, RedditIsSearchedReadOnlyWithItsTokenAndLimits) {
    FakeReddit reddit;
    reddit.AddPost({"mlops", "a1", "Idle A100s all weekend", "how do you track them", 1764000000, 40, 12});
    reddit.AddPost({"mlops", "a2", "Best YAML linter?", "unrelated", 1764000100, 3, 1});
    reddit.AddPost({"mlops", "a3", "GPU bill", "half our GPUs sit idle", 1764000200, 20, 8, "someone_else"});
    reddit.AddPost({"mlops", "a4", "idle chat", "nsfw", 1764000300, 1, 0, "x", true});
    reddit.AddPost({"mlops", "a5", "Cutting idle time on H100s", "", 1764000400, 9, 2});
    Env env = MailEnv();
    env["REDDIT_CLIENT_ID"] = FakeReddit::kClientId;
    env["REDDIT_CLIENT_SECRET"] = FakeReddit::kClientSecret;
    env["REDDIT_USER_AGENT"] = "linux:test.gpuopt:1.0 (by /u/gpuopt)";
    env["REDDIT_API_URL"] = reddit.BaseUrl();
    env["REDDIT_AUTH_URL"] = reddit.BaseUrl();
    env["DISCOVERY_INTERVAL_SECONDS"] = "86400";
    RunningServer s(env);
    auto discover = [&] {
        std::string out;
        EXPECT_EQ(RunGpuopt({"acquire", "discover", "--data-dir", s.dir.path()}, env, out), 0) << out;
        return out;
    };
    // Reddit refuses some tokens with 200 and an "error" field: no search is made with nothing.
    reddit.ScriptToken({200, {}, R"({"error": "invalid_grant"})"});
    auto out = discover();
    EXPECT_NE(out.find("refused a token"), std::string::npos) << out;
    EXPECT_EQ(reddit.SearchCalls(), 0u);
    // The second page is refused (429, nothing left until the window resets in 300 s).
    reddit.ScriptSearch({429, {{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", "300"}}, R"({"error": 429})", 1});
    out = discover();
    EXPECT_NE(out.find("stopped: rate limit"), std::string::npos) << out;
    EXPECT_EQ(reddit.SearchCalls(), 2u);
    out = discover();
    EXPECT_EQ(reddit.SearchCalls(), 2u) << "nothing asked during the wait";
    ASSERT_EQ(Rows(s, "SELECT COUNT(*) FROM discovery_sources WHERE source = 'reddit' AND wait_until IS NOT NULL"), 1);
    Execute(s.DbPath(), "UPDATE discovery_sources SET wait_until = wait_until - 600 WHERE source = 'reddit'");
    out = discover();
    EXPECT_EQ(reddit.SearchCalls(), 4u) << "the refused page again, then the last (pages of two posts): " << out;
    out = discover();
    EXPECT_EQ(reddit.SearchCalls(), 4u) << "done for the day";

    auto found = Get(s.Url("/api/admin/acquisition/conversations"), Bearer(kAdminToken));
    ASSERT_EQ(found.status, 200) << found.body;
    const auto json = found.Json();
    const auto& list = json.at("conversations").as_array();
    ASSERT_EQ(list.size(), 3u) << "the linter post names no keyword; the NSFW one is skipped";
    EXPECT_EQ(list[0].at("url").as_string(), "https://www.reddit.com/r/mlops/comments/a5/post/");
    bool mentions = false;
    for (const auto& r : list[0].at("reasons").as_array()) mentions = mentions || r.as_string() == "mentions \"idle\"";
    EXPECT_TRUE(mentions) << boost::json::serialize(list[0].at("reasons"));
    // Read only: a token and searches, nothing else; and no author kept.
    for (const auto& call : reddit.Calls()) {
        EXPECT_TRUE(call == "POST /api/v1/access_token" || call == "GET /r/mlops/search") << call;
    }
    EXPECT_EQ(DatabaseSnapshot(s.DbPath()).find("someone_else"), std::string::npos);
}

TEST_F(Acquisition, SendgridEventsAreVerifiedAppliedOnceAndEndTheLeadsSequences) {
    const EcKey sendgrid;
    Env env = MailEnv();
    env["SENDGRID_WEBHOOK_PUBLIC_KEY"] = sendgrid.PublicKey();
    RunningServer s(env);
    ASSERT_FALSE(s.Signup("kim@juliet.example").empty());
    ASSERT_TRUE(WaitFor([&] { return Rows(s, "SELECT COUNT(*) FROM enrollments") == 1; }));
    const std::string now = std::to_string(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    const std::string body =
        R"([{"email":"kim@juliet.example","timestamp":)" + now +
        R"(,"event":"bounce","type":"bounce","status":"5.1.1","reason":"550 5.1.1 user unknown","sg_event_id":"ev-1",)"
        R"("sg_message_id":"m-1"},{"email":"kim@juliet.example","timestamp":)" +
        now + R"(,"event":"delivered","sg_event_id":"ev-0","sg_message_id":"m-0"}])";
    auto post = [&](const std::string& payload, const std::string& timestamp, const std::string& signature) {
        return Send({"POST",
                     s.Url("/api/webhooks/sendgrid"),
                     payload,
                     {"Content-Type: application/json", "X-Twilio-Email-Event-Webhook-Signature: " + signature,
                      "X-Twilio-Email-Event-Webhook-Timestamp: " + timestamp}});
    };
    // Forged, altered, stale or unsigned: refused, recorded, nothing applied.
    const EcKey other;
    EXPECT_EQ(post(body, now, other.Sign(now + body)).status, 403);
    EXPECT_EQ(post(body + " ", now, sendgrid.Sign(now + body)).status, 403);
    const std::string stale = std::to_string(std::stoll(now) - 3600);
    EXPECT_EQ(post(body, stale, sendgrid.Sign(stale + body)).status, 403);
    EXPECT_EQ(Send({"POST", s.Url("/api/webhooks/sendgrid"), body, {"Content-Type: application/json"}}).status, 403);
    EXPECT_EQ(Rows(s, "SELECT COUNT(*) FROM mail_events"), 0);
    EXPECT_GE(Rows(s, "SELECT COUNT(*) FROM security_events WHERE kind = 'webhook_signature'"), 4);

    auto first = post(body, now, sendgrid.Sign(now + body));
    ASSERT_EQ(first.status, 200) << first.body;
    EXPECT_EQ(first.Json().at("new").as_int64(), 2);
    auto again = post(body, now, sendgrid.Sign(now + body));
    ASSERT_EQ(again.status, 200);
    EXPECT_EQ(again.Json().at("new").as_int64(), 0) << "each event applies once";
    EXPECT_EQ(Rows(s, "SELECT COUNT(*) FROM leads WHERE status = 'bounced'"), 1);
    EXPECT_EQ(Rows(s, "SELECT COUNT(*) FROM suppressions WHERE reason = 'bounced'"), 1);
    EXPECT_EQ(Rows(s, "SELECT COUNT(*) FROM enrollments WHERE state = 'active'"), 0);

    // A server without the key refuses every event.
    RunningServer unkeyed(MailEnv());
    EXPECT_EQ(
        Send({"POST",
              unkeyed.Url("/api/webhooks/sendgrid"),
              body,
              {"Content-Type: application/json", "X-Twilio-Email-Event-Webhook-Signature: " + sendgrid.Sign(now + body),
               "X-Twilio-Email-Event-Webhook-Timestamp: " + now}})
            .status,
        403);
}

}  // namespace
}  // namespace gpuopt::testing
