// Transactional mail: the messages themselves (RFC 5322 headers, MIME, UTF-8), the templates (no key in
// clear), one contract run against every transport (files, a real SMTP server with STARTTLS, the fake
// SendGrid), and the outbox worker's retries.
// GCC 12 reports a false -Wmaybe-uninitialized inside libstdc++'s <regex> at -O1 with sanitizers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <gtest/gtest.h>
#include <sodium.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "common/crypto.hpp"
#include "mail/message.hpp"
#include "mail/outbox.hpp"
#include "mail/templates.hpp"
#include "mail/transport.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/wait.hpp"
#include "support/fake_gateways.hpp"
#include "support/smtp_server.hpp"
#include "support/test_dir.hpp"

namespace gpuopt::mail {
namespace {

using namespace std::chrono;
const SysSeconds kNow = sys_days{2026y / 11 / 26} + 9h + 5min + 7s;

std::string Unbase64(const std::string& text) {
    std::string out(text.size(), '\0');
    size_t len = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), " \r\n\t",
                          &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
        return "<not base64>";
    }
    out.resize(len);
    return out;
}

// The decoded body of the part with `content_type` in a multipart message.
std::string Part(const std::string& mime, const std::string& content_type) {
    const size_t at = mime.find("Content-Type: " + content_type);
    if (at == std::string::npos) return "<no part>";
    size_t body = mime.find("\r\n\r\n", at);
    if (body == std::string::npos) body = mime.find("\n\n", at);
    const size_t end = mime.find("--", body);
    return Unbase64(mime.substr(body, end - body));
}

// Decodes RFC 2047 encoded words ("=?UTF-8?B?...?=" runs, folded).
std::string DecodeHeader(const std::string& value) {
    std::string out;
    std::regex word(R"(=\?UTF-8\?B\?([A-Za-z0-9+/=]+)\?=)");
    bool any = false;
    for (std::sregex_iterator it(value.begin(), value.end(), word), end; it != end; ++it) {
        out += Unbase64((*it)[1]);
        any = true;
    }
    return any ? out : value;
}

store::OutboxMessage Sample() {
    store::OutboxMessage m;
    m.dedup_key = "test:1";
    m.account_id = 7;
    m.to = "rene@example.com";  // addresses are ASCII (sign-up accepts no others); names and text need not be
    m.subject =
        "Re\xC3\xA7u de paiement \xE2\x80\x94 GPUOptimizer r\xC3\xA9sum\xC3\xA9 with a subject long enough to need "
        "several encoded words";
    m.text = "Bonjour Ren\xC3\xA9,\n\nMontant : 49.00 USD \xE2\x80\x94 merci.\n" + std::string(300, 'x') + "\n";
    m.html = "<p>Bonjour Ren\xC3\xA9</p>";
    m.kind = "receipt";
    return m;
}

TEST(MailMessage, HasTheHeadersAMailboxProviderExpects) {
    InitCrypto();
    auto built = BuildMessage(Sample(), {"billing@gpuopt.example", "GPUOptimizer"}, kNow);
    const std::string& mime = built.mime;
    EXPECT_EQ(testing::MailHeader(mime, "Date"), "Thu, 26 Nov 2026 09:05:07 +0000");
    EXPECT_EQ(testing::MailHeader(mime, "From"), "GPUOptimizer <billing@gpuopt.example>");
    EXPECT_EQ(testing::MailHeader(mime, "MIME-Version"), "1.0");
    EXPECT_TRUE(std::regex_match(built.message_id, std::regex(R"(<[0-9a-f]{32}@gpuopt\.example>)")))
        << built.message_id;
    EXPECT_EQ(testing::MailHeader(mime, "Message-ID"), built.message_id);
    EXPECT_EQ(DecodeHeader(testing::MailHeader(mime, "Subject")), Sample().subject);
    // Every line ends in CRLF and none passes 998 octets; nothing but ASCII in the message.
    size_t pos = 0;
    while (pos < mime.size()) {
        const size_t nl = mime.find('\n', pos);
        ASSERT_NE(nl, std::string::npos);
        ASSERT_GT(nl, pos);
        EXPECT_EQ(mime[nl - 1], '\r');
        EXPECT_LE(nl - pos, 998u);
        pos = nl + 1;
    }
    for (unsigned char c : mime) ASSERT_LT(c, 0x80);
    EXPECT_NE(mime.find("Content-Type: multipart/alternative; boundary="), std::string::npos);
    EXPECT_LT(mime.find("Content-Type: text/plain; charset=UTF-8"),
              mime.find("Content-Type: text/html; charset=UTF-8"));
    EXPECT_EQ(Part(mime, "text/plain"), Sample().text);
    EXPECT_EQ(Part(mime, "text/html"), Sample().html);
    // Two builds never share a Message-ID.
    EXPECT_NE(BuildMessage(Sample(), {}, kNow).message_id, built.message_id);
}

TEST(MailMessage, LineBreaksInHeaderValuesCannotInjectHeaders) {
    InitCrypto();
    auto m = Sample();
    m.subject = "Hello\r\nBcc: victim@example.com";
    m.to = "a@example.com\r\nBcc: victim@example.com";
    auto built = BuildMessage(m, {}, kNow);
    EXPECT_EQ(testing::MailHeader(built.mime, "Bcc"), "");
}

TEST(MailTemplates, TheWelcomeMailNamesTheKeyPrefixButNeverTheKey) {
    InitCrypto();
    const std::string key = GenerateApiKey();
    store::Account a{42, "new@example.com", Tier::kFree, key.substr(0, 9), "2026-11-26T09:00:00Z"};
    auto m = Welcome({"GPUOptimizer", "https://gpuopt.example"}, a);
    EXPECT_EQ(m.kind, "welcome");
    EXPECT_EQ(m.dedup_key, "welcome:42");
    EXPECT_NE(m.text.find(key.substr(0, 9)), std::string::npos);
    EXPECT_EQ(m.text.find(key), std::string::npos);
    EXPECT_EQ(m.html.find(key), std::string::npos);
    EXPECT_NE(m.text.find("https://gpuopt.example"), std::string::npos);
}

TEST(MailTemplates, ReceiptsCarryTheFiguresAndHtmlIsEscaped) {
    store::Payment p;
    p.id = 9;
    p.account_id = 3;
    p.reference = "gpo_<script>";
    p.tier = Tier::kProfessional;
    p.gateway = "flutterwave";
    p.amount = 49;
    p.currency = "USD";
    store::CompletionOutcome o;
    o.period_start = kNow;
    o.period_end = sys_days{2026y / 12 / 26} + 9h;
    auto m = Receipt({}, "a@example.com", p, o, 49, "USD");
    EXPECT_EQ(m.dedup_key, "receipt:9");
    EXPECT_NE(m.text.find("49.00 USD"), std::string::npos);
    EXPECT_NE(m.text.find("2026-11-26 to 2026-12-26"), std::string::npos);
    EXPECT_EQ(m.html.find("<script>"), std::string::npos);
    EXPECT_NE(m.html.find("gpo_&lt;script&gt;"), std::string::npos);
}

// ---- One contract, every transport ------------------------------------------------------------

class TransportContract : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        InitCrypto();
        dir_ = testing::FreshTestDir("mail");
        if (GetParam() == "file") {
            transport_ = std::make_unique<FileTransport>((dir_ / "outbox").string());
        } else if (GetParam() == "smtp") {
            smtp_ = std::make_unique<testing::SmtpServer>();
            ASSERT_TRUE(smtp_->Started());
            SmtpSettings s;
            s.server = "127.0.0.1";
            s.port = smtp_->port();
            s.tls = "starttls";
            s.ca_file = smtp_->CaFile();
            s.envelope_from = "bounce@gpuopt.example";
            s.timeout = seconds(15);
            transport_ = std::make_unique<SmtpTransport>(s);
        } else {
            transport_ =
                std::make_unique<SendGridTransport>(SendGridSettings{sendgrid_.BaseUrl(),
                                                                     testing::FakeSendGrid::kApiKey,
                                                                     {"billing@gpuopt.example", "GPUOptimizer"},
                                                                     seconds(5)});
        }
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    // What the receiving side got: subject (decoded), recipient, plain text.
    struct Received {
        std::string subject, to, text, html;
    };
    std::vector<Received> ReceivedMail(size_t want) {
        std::vector<Received> out;
        if (GetParam() == "file") {
            testing::WaitFor([&] {
                size_t n = 0;
                for (auto& e : std::filesystem::directory_iterator(dir_ / "outbox"))
                    n += e.path().extension() == ".eml";
                return n >= want;
            });
            for (auto& e : std::filesystem::directory_iterator(dir_ / "outbox")) {
                if (e.path().extension() != ".eml") continue;
                std::ifstream in(e.path(), std::ios::binary);
                std::stringstream ss;
                ss << in.rdbuf();
                const std::string raw = ss.str();
                out.push_back({DecodeHeader(testing::MailHeader(raw, "Subject")), testing::MailHeader(raw, "To"),
                               Part(raw, "text/plain"), Part(raw, "text/html")});
            }
        } else if (GetParam() == "smtp") {
            for (const auto& raw : smtp_->WaitForMessages(want)) {
                out.push_back({DecodeHeader(testing::MailHeader(raw, "Subject")), testing::MailHeader(raw, "X-RcptTo"),
                               Part(raw, "text/plain"), Part(raw, "text/html")});
            }
        } else {
            for (const auto& req : sendgrid_.Accepted()) {
                auto v = boost::json::parse(req.body).as_object();
                const auto& content = v.at("content").as_array();
                out.push_back(
                    {std::string(v.at("subject").as_string()),
                     std::string(v.at("personalizations").as_array()[0].at("to").as_array()[0].at("email").as_string()),
                     std::string(content[0].at("value").as_string()),
                     content.size() > 1 ? std::string(content[1].at("value").as_string()) : ""});
                EXPECT_EQ(content[0].at("type").as_string(), "text/plain");
                EXPECT_EQ(v.at("from").at("email").as_string(), "billing@gpuopt.example");
            }
        }
        return out;
    }

    std::filesystem::path dir_;
    std::unique_ptr<testing::SmtpServer> smtp_;
    testing::FakeSendGrid sendgrid_;
    std::unique_ptr<Transport> transport_;
};

TEST_P(TransportContract, DeliversTheMessageIntact) {
    auto m = Sample();
    m.to = "customer@example.com";
    auto r = transport_->Send(m, BuildMessage(m, {"billing@gpuopt.example", "GPUOptimizer"}, kNow));
    ASSERT_TRUE(r.sent) << r.error << (smtp_ ? smtp_->Log() : "");
    EXPECT_FALSE(r.provider_id.empty());
    auto got = ReceivedMail(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].subject, m.subject);
    EXPECT_NE(got[0].to.find("customer@example.com"), std::string::npos) << got[0].to;
    EXPECT_EQ(got[0].text, m.text);
    EXPECT_EQ(got[0].html, m.html);
}

TEST_P(TransportContract, SendsManyInARow) {
    for (int i = 0; i < 5; ++i) {
        auto m = Sample();
        m.to = "c" + std::to_string(i) + "@example.com";
        m.subject = "Message " + std::to_string(i);
        ASSERT_TRUE(transport_->Send(m, BuildMessage(m, {"billing@gpuopt.example"}, kNow)).sent);
    }
    EXPECT_EQ(ReceivedMail(5).size(), 5u);
}

INSTANTIATE_TEST_SUITE_P(Transports, TransportContract, ::testing::Values("file", "smtp", "sendgrid"),
                         [](const auto& p) { return p.param; });

TEST(SmtpTransport, RefusesToSendWithoutTlsItCannotVerify) {
    InitCrypto();
    testing::SmtpServer smtp;
    ASSERT_TRUE(smtp.Started());
    SmtpSettings s;
    s.server = "127.0.0.1";
    s.port = smtp.port();
    s.tls = "starttls";  // but no CA for the server's self-signed certificate
    s.ca_file = "/nonexistent/ca.pem";
    s.envelope_from = "bounce@gpuopt.example";
    s.timeout = seconds(10);
    SmtpTransport t(s);
    auto m = Sample();
    m.to = "customer@example.com";
    auto r = t.Send(m, BuildMessage(m, {}, kNow));
    EXPECT_FALSE(r.sent);
    EXPECT_FALSE(r.permanent);  // a configuration matter: the outbox retries once it is fixed
    EXPECT_TRUE(smtp.Messages().empty());
}

TEST(SmtpTransport, AnUnreachableServerIsATemporaryFailure) {
    SmtpSettings s;
    s.server = "127.0.0.1";
    s.port = 1;  // nothing listens
    s.envelope_from = "bounce@gpuopt.example";
    s.timeout = seconds(5);
    auto m = Sample();
    auto r = SmtpTransport(s).Send(m, BuildMessage(m, {}, kNow));
    EXPECT_FALSE(r.sent);
    EXPECT_FALSE(r.permanent);
    EXPECT_FALSE(r.error.empty());
}

TEST(SendGridTransport, RateLimitsAreRetriedAndBadRequestsAreNot) {
    InitCrypto();
    testing::FakeSendGrid sg;
    SendGridTransport t({sg.BaseUrl(), testing::FakeSendGrid::kApiKey, {"billing@gpuopt.example"}, seconds(5)});
    auto m = Sample();
    sg.FailNext(429);
    auto r = t.Send(m, BuildMessage(m, {}, kNow));
    EXPECT_FALSE(r.sent);
    EXPECT_FALSE(r.permanent);
    sg.FailNext(400);
    r = t.Send(m, BuildMessage(m, {}, kNow));
    EXPECT_FALSE(r.sent);
    EXPECT_TRUE(r.permanent);
    SendGridTransport wrong({sg.BaseUrl(), "SG.wrong", {"billing@gpuopt.example"}, seconds(5)});
    EXPECT_FALSE(wrong.Send(m, BuildMessage(m, {}, kNow)).sent);
    EXPECT_TRUE(t.Send(m, BuildMessage(m, {}, kNow)).sent);
    EXPECT_EQ(sg.Accepted().size(), 1u);
}

TEST(MakeTransport, PicksSendGridThenSmtpThenFiles) {
    auto build = [](std::map<std::string, std::string> env) {
        std::map<std::string, ConfigValue> values;
        for (auto& [k, v] : env) values[k] = {v, ConfigOrigin::kEnvironment, ""};
        return BuildConfig(values).value();
    };
    EXPECT_NE(MakeTransport(build({}))->Describe().find("files in"), std::string::npos);
    EXPECT_NE(MakeTransport(build({{"SMTP_SERVER", "smtp.example.com"}}))
                  ->Describe()
                  .find("SMTP smtp.example.com:587 (starttls)"),
              std::string::npos);
    EXPECT_NE(MakeTransport(build({{"SMTP_SERVER", "smtp.example.com"}, {"SENDGRID_API_KEY", "SG.x"}}))
                  ->Describe()
                  .find("SendGrid"),
              std::string::npos);
}

// ---- The outbox worker ------------------------------------------------------------------------

class OutboxTest : public ::testing::Test {
protected:
    void SetUp() override {
        InitCrypto();
        dir_ = testing::FreshTestDir("outbox");
        store_ = store::sqlite::SqliteStore::Open({(dir_ / "gpuopt.db").string()}).value();
    }
    void TearDown() override {
        store_.reset();
        std::filesystem::remove_all(dir_);
    }
    bool Enqueue(const store::OutboxMessage& m) {
        return store::Wait<bool>(
                   [&](store::Callback<bool> done) { store_->outbox().EnqueueMail(m, kNow, std::move(done)); })
            .value();
    }
    std::filesystem::path dir_;
    std::unique_ptr<store::Database> store_;
};

TEST_F(OutboxTest, AMessageIsEnqueuedOnceAndSentOnce) {
    testing::FakeSendGrid sg;
    SendGridTransport t({sg.BaseUrl(), testing::FakeSendGrid::kApiKey, {"billing@gpuopt.example"}, seconds(5)});
    EXPECT_TRUE(Enqueue(Sample()));
    EXPECT_FALSE(Enqueue(Sample()));  // same dedup key
    EXPECT_EQ(RunOutbox(store_->outbox(), t, {}, kNow).value().sent, 1);
    EXPECT_EQ(RunOutbox(store_->outbox(), t, {}, kNow + hours(1)).value().sent, 0);
    EXPECT_EQ(sg.Accepted().size(), 1u);
}

TEST_F(OutboxTest, FailuresAreRetriedWithBackoffAndPermanentOnesStop) {
    testing::FakeSendGrid sg;
    SendGridTransport t({sg.BaseUrl(), testing::FakeSendGrid::kApiKey, {"billing@gpuopt.example"}, seconds(5)});
    Enqueue(Sample());
    sg.FailNext(503, 2);
    EXPECT_EQ(RunOutbox(store_->outbox(), t, {}, kNow).value().retried, 1);
    EXPECT_EQ(RunOutbox(store_->outbox(), t, {}, kNow + seconds(30)).value().retried, 0);  // next in 1 min
    EXPECT_EQ(RunOutbox(store_->outbox(), t, {}, kNow + minutes(1)).value().retried, 1);
    EXPECT_EQ(RunOutbox(store_->outbox(), t, {}, kNow + minutes(2)).value().sent, 0);  // next in 2 min after the 2nd
    EXPECT_EQ(RunOutbox(store_->outbox(), t, {}, kNow + minutes(3)).value().sent, 1);
    EXPECT_EQ(sg.Accepted().size(), 1u);

    auto m = Sample();
    m.dedup_key = "test:2";
    Enqueue(m);
    sg.FailNext(400);
    EXPECT_EQ(RunOutbox(store_->outbox(), t, {}, kNow + hours(1)).value().failed, 1);
    EXPECT_EQ(RunOutbox(store_->outbox(), t, {}, kNow + days(30)).value().sent, 0);
}

TEST_F(OutboxTest, GivesUpAfterEightAttempts) {
    testing::FakeSendGrid sg;
    sg.SetMode(testing::FakeMode::kUnavailable);
    SendGridTransport t({sg.BaseUrl(), testing::FakeSendGrid::kApiKey, {"billing@gpuopt.example"}, seconds(5)});
    Enqueue(Sample());
    int attempts = 0, failed = 0;
    for (int hour = 0; hour < 24 * 7 && failed == 0; ++hour) {
        auto run = RunOutbox(store_->outbox(), t, {}, kNow + hours(hour)).value();
        attempts += run.retried + run.failed;
        failed += run.failed;
    }
    EXPECT_EQ(attempts, 8);
    EXPECT_EQ(failed, 1);
}

}  // namespace
}  // namespace gpuopt::mail
