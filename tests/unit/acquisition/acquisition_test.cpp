// The acquisition engine's rules that need no store: the settings and what they refuse, templates, send
// windows, the prospect score, GitHub's Link header, rate-limit waits, and the marketing mail's parts.
#include <gtest/gtest.h>

#include "acquisition/outreach.hpp"
#include "acquisition/sendgrid.hpp"
#include "acquisition/sequencer.hpp"
#include "acquisition/settings.hpp"
#include "acquisition/sources.hpp"
#include "acquisition/templates.hpp"
#include "support/ec_key.hpp"

namespace gpuopt::acquisition {
namespace {

using namespace std::chrono;

// Wednesday 2026-11-25, 12:00 UTC.
const SysSeconds kWed = sys_days{2026y / 11 / 25} + 12h;

std::string Settings(const std::string& sequences, const std::string& extra = "") {
    return R"json({"audit": {"consent_text": "I agree."}, "sequences": )json" + sequences + extra + "}";
}

std::string FirstDetail(const Error& e) {
    return e.details.empty() ? e.message : e.details.begin()->first + " " + e.details.begin()->second;
}

TEST(AcquisitionSettings, TheShippedSettingsLoadWithTheirThreeSequences) {
    auto s = LoadSettings("");
    ASSERT_TRUE(s.ok()) << FirstDetail(s.error());
    ASSERT_NE(s->FindSequence("activation"), nullptr);
    ASSERT_NE(s->FindSequence("upgrade"), nullptr);
    ASSERT_NE(s->FindSequence("audit"), nullptr);
    EXPECT_EQ(s->FindSequence("activation")->segment, "signup_no_agent");
    EXPECT_EQ(s->FindSequence("upgrade")->goal, "paid");
    EXPECT_EQ(s->FindSequence("audit")->steps.front().delay_seconds, 0);
    EXPECT_FALSE(s->github.queries.empty());
    EXPECT_FALSE(s->reddit.subreddits.empty());
    EXPECT_FALSE(s->audit.consent_text.empty());
    EXPECT_EQ(s->sending.window.start_hour, 9);
    EXPECT_FALSE(s->sending.window.days[5]) << "no Saturday";
}

TEST(AcquisitionSettings, DishonestOrBrokenSequencesAreRefusedWithTheirPlace) {
    const std::string step = R"json({"delay_hours": 1, "subject": "Hello", "text": "Hi {{first_name|there}}"})json";
    auto seq = [&](const std::string& fields, const std::string& steps) {
        return "[{\"name\": \"s\", \"segment\": \"signup_no_agent\", \"goal\": \"activated\"" + fields +
               ", \"steps\": [" + steps + "]}]";
    };
    ASSERT_TRUE(ParseSettings(Settings(seq("", step)), "t.json").ok());

    auto reply = ParseSettings(Settings(seq("", R"json({"subject": "RE: your GPUs", "text": "x"})json")), "t.json");
    ASSERT_FALSE(reply.ok());
    EXPECT_NE(FirstDetail(reply.error()).find("sequences[0].steps[0].subject"), std::string::npos);
    EXPECT_NE(FirstDetail(reply.error()).find("reply"), std::string::npos);
    EXPECT_FALSE(ParseSettings(Settings(seq("", R"json({"subject": "Fwd: x", "text": "x"})json")), "t").ok());

    auto unknown = ParseSettings(Settings(seq("", R"json({"subject": "x", "text": "{{revenue}}"})json")), "t");
    ASSERT_FALSE(unknown.ok());
    EXPECT_NE(FirstDetail(unknown.error()).find("{{revenue}}"), std::string::npos);
    EXPECT_FALSE(ParseSettings(Settings(seq("", R"json({"subject": "x", "text": "{{first_name"})json")), "t").ok());
    EXPECT_FALSE(ParseSettings(Settings(seq(", \"segment2\": 1", step)), "t").ok()) << "unknown key";
    EXPECT_FALSE(ParseSettings(Settings(seq("", "")), "t").ok()) << "no steps";
    auto segment = ParseSettings(
        Settings(R"json([{"name": "s", "segment": "everyone", "goal": "paid", "steps": [)json" + step + "]}]"), "t");
    ASSERT_FALSE(segment.ok());
    EXPECT_NE(FirstDetail(segment.error()).find("segment"), std::string::npos);
    auto twice = ParseSettings(Settings("[" + seq("", step).substr(1, seq("", step).size() - 2) + ", " +
                                        seq("", step).substr(1, seq("", step).size() - 2) + "]"),
                               "t");
    EXPECT_FALSE(twice.ok()) << "a name used twice";
    EXPECT_FALSE(ParseSettings(R"json({"sequences": []})json", "t").ok()) << "the audit's consent text is required";
    EXPECT_FALSE(
        ParseSettings(Settings("[]", R"json(, "sending": {"window": {"start_hour": 17, "end_hour": 9}})json"), "t")
            .ok());
    EXPECT_FALSE(
        ParseSettings(Settings("[]", R"json(, "github": {"queries": [{"name": "a b", "q": "cuda"}]})json"), "t").ok());
    auto file = ParseSettings("{", "broken.json");
    ASSERT_FALSE(file.ok());
    EXPECT_NE(FirstDetail(file.error()).find("broken.json"), std::string::npos);
}

TEST(AcquisitionTemplates, VariablesFallBackWhenEmptyOrUnknown) {
    const TemplateValues v{{"first_name", "Ada"}, {"company", ""}};
    EXPECT_EQ(Render("Hi {{first_name|there}}, {{ company | your team }}.", v), "Hi Ada,  your team .");
    EXPECT_EQ(Render("{{plan|Free}} {{gpus}}!", v), "Free !");
    EXPECT_EQ(Render("no placeholders", v), "no placeholders");
    EXPECT_EQ(TemplateNames("{{a}} and {{b|x}}").value(), (std::vector<std::string>{"a", "b"}));
    EXPECT_FALSE(TemplateNames("{{}}").ok());
    EXPECT_FALSE(TemplateNames("{{open").ok());
}

TEST(AcquisitionWindow, AStepWaitsForTheLeadsWorkingHours) {
    SendWindow w;  // 09-17, Monday to Friday
    EXPECT_EQ(NextInWindow(kWed, 0, w), kWed) << "Wednesday noon is inside";
    EXPECT_EQ(NextInWindow(sys_days{2026y / 11 / 25} + 7h, 0, w), sys_days{2026y / 11 / 25} + 9h);
    EXPECT_EQ(NextInWindow(sys_days{2026y / 11 / 25} + 17h, 0, w), sys_days{2026y / 11 / 26} + 9h)
        << "17:00 is past the end";
    EXPECT_EQ(NextInWindow(sys_days{2026y / 11 / 27} + 18h, 0, w), sys_days{2026y / 11 / 30} + 9h)
        << "Friday evening waits for Monday";
    // A lead at UTC-8: 12:00 UTC is 04:00 there; 09:00 there is 17:00 UTC.
    EXPECT_EQ(NextInWindow(kWed, -8 * 60, w), sys_days{2026y / 11 / 25} + 17h);
    // A lead at UTC+9: 12:00 UTC is 21:00 there; Thursday 09:00 there is Thursday 00:00 UTC.
    EXPECT_EQ(NextInWindow(kWed, 9 * 60, w), sys_days{2026y / 11 / 26} + 0h);
    w.days = {false, false, false, false, false, true, true};
    EXPECT_EQ(NextInWindow(kWed, 0, w), sys_days{2026y / 11 / 28} + 9h) << "weekends only";
}

TEST(AcquisitionScore, AnActiveOrganisationWithGpuTopicsScoresHigherAndSaysWhy) {
    store::Prospect org;
    org.kind = "Organization";
    org.website = "https://acme.ai";
    org.repos = {{"acme/a", "", "", 900, 80, kWed - days(3), {"cuda", "pytorch"}},
                 {"acme/b", "", "", 99, 0, kWed - days(40), {"llm"}}};
    org.stars = 999;
    org.forks = 80;
    org.last_pushed_at = kWed - days(3);
    ScoreProspect(org, kWed);
    store::Prospect user;
    user.kind = "User";
    user.repos = {{"solo/x", "", "", 3, 0, kWed - days(200), {}}};
    user.stars = 3;
    user.last_pushed_at = kWed - days(200);
    ScoreProspect(user, kWed);
    // 15 (organisation) + 30 (999 stars: 10 log10(1000)) + 7.6 (80 forks) + 20 (pushed) + 5 (two repos)
    // + 12 (cuda, llm, pytorch) + 5 (website)
    EXPECT_NEAR(org.score, 94.6, 0.05);
    EXPECT_NEAR(user.score, 6.0, 0.05) << "3 stars only";
    ASSERT_EQ(org.reasons.size(), 7u);
    EXPECT_EQ(org.reasons[0], "an organisation (+15)");
    EXPECT_EQ(org.reasons[5], "GPU topics: cuda, llm, pytorch (+12)");
    EXPECT_EQ(user.reasons, (std::vector<std::string>{"3 stars across matching repositories (+6)"}));
}

TEST(AcquisitionSources, TheNextPageIsTheOneTheLinkHeaderNames) {
    EXPECT_EQ(NextLink(R"(<https://api.github.com/search/repositories?q=a&page=2>; rel="next", )"
                       R"(<https://api.github.com/search/repositories?q=a&page=34>; rel="last")"),
              "https://api.github.com/search/repositories?q=a&page=2");
    EXPECT_EQ(NextLink(R"(<https://x/?page=1>; rel="prev", <https://x/?page=3>; rel="next")"), "https://x/?page=3");
    EXPECT_EQ(NextLink(R"(<https://x/?page=1>; rel="first", <https://x/?page=1>; rel="prev")"), "");
    EXPECT_EQ(NextLink(""), "");
}

net::HttpAnswer Answer(long status, std::map<std::string, std::string> headers, std::string body = "") {
    net::HttpAnswer a;
    a.status = status;
    a.headers = std::move(headers);
    a.body = std::move(body);
    return a;
}

TEST(AcquisitionSources, RateLimitsWaitAsTheServiceSays) {
    const SysSeconds reset = kWed + minutes(7);
    const std::string epoch = std::to_string(reset.time_since_epoch().count());
    // Primary: 403 with nothing left waits for the reset (GitHub's is an epoch time).
    EXPECT_EQ(
        RateLimitUntil(Answer(403, {{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", epoch}}), kWed, std::nullopt),
        reset);
    // Retry-After wins.
    EXPECT_EQ(RateLimitUntil(Answer(429, {{"retry-after", "30"}, {"x-ratelimit-remaining", "0"}}), kWed, std::nullopt),
              kWed + seconds(30));
    // Secondary, with no hint: a minute, then double the last wait.
    const auto secondary = Answer(403, {{"x-ratelimit-remaining", "12"}},
                                  R"({"message":"You have exceeded a )"
                                  R"(secondary rate limit"})");
    EXPECT_EQ(RateLimitUntil(secondary, kWed, std::nullopt), kWed + seconds(60));
    EXPECT_EQ(RateLimitUntil(secondary, kWed, seconds(60)), kWed + seconds(120));
    EXPECT_EQ(RateLimitUntil(secondary, kWed, seconds(3000)), kWed + seconds(3600)) << "an hour at most";
    // A success that spent the budget: wait before the next call. Reddit's reset counts seconds from now.
    EXPECT_EQ(RateLimitUntil(Answer(200, {{"x-ratelimit-remaining", "0.0"}, {"x-ratelimit-reset", "42"}}), kWed,
                             std::nullopt),
              kWed + seconds(42));
    EXPECT_FALSE(RateLimitUntil(Answer(200, {{"x-ratelimit-remaining", "599.0"}}), kWed, std::nullopt).has_value());
    EXPECT_FALSE(
        RateLimitUntil(Answer(403, {}, R"({"message":"Resource not accessible"})"), kWed, std::nullopt).has_value())
        << "a refusal that is not a limit";
    EXPECT_FALSE(RateLimitUntil(Answer(404, {}), kWed, std::nullopt).has_value());
}

TEST(AcquisitionOutreach, EveryMarketingMailCarriesOneClickUnsubscribeAndThePostalAddress) {
    Outreach o;
    o.base_url = "https://gpuopt.example";
    o.postal_address = "1 Main St, Springfield";
    o.secret_key = "k";
    o.sender = "hello@gpuopt.example";
    EXPECT_EQ(SequencesOff(o), "");
    const std::string token = UnsubscribeToken("k", 42);
    EXPECT_EQ(token.size(), 32u);
    EXPECT_NE(token, UnsubscribeToken("k", 43));
    EXPECT_NE(token, UnsubscribeToken("other", 42));
    EXPECT_TRUE(UnsubscribeTokenValid("k", 42, token));
    EXPECT_FALSE(UnsubscribeTokenValid("k", 43, token));
    EXPECT_FALSE(UnsubscribeTokenValid("", 42, token));
    auto headers = MarketingHeaders(o, 42);
    EXPECT_EQ(headers.at("List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
    EXPECT_EQ(headers.at("List-Unsubscribe"), "<https://gpuopt.example/unsubscribe?l=42&t=" + token +
                                                  ">, <mailto:hello@gpuopt.example?subject=unsubscribe%2042%20" +
                                                  token + ">");
    o.unsubscribe_email = "optout@gpuopt.example";
    EXPECT_NE(MarketingHeaders(o, 42).at("List-Unsubscribe").find("mailto:optout@gpuopt.example"), std::string::npos);
    const std::string footer = MarketingFooterText(o, 42, "you asked for a GPU cost audit");
    EXPECT_NE(footer.find("https://gpuopt.example/unsubscribe?l=42&t=" + token), std::string::npos);
    EXPECT_NE(footer.find("1 Main St, Springfield"), std::string::npos);
    EXPECT_NE(MarketingFooterHtml(o, 42, "x").find("1 Main St, Springfield"), std::string::npos);
    EXPECT_EQ(TextToHtml("a <b>\n&c\n\nd"), "<p>a &lt;b&gt;<br>&amp;c</p><p>d</p>");

    o.postal_address.clear();
    EXPECT_NE(SequencesOff(o).find("POSTAL_ADDRESS"), std::string::npos);
    o.postal_address = "x";
    o.secret_key.clear();
    EXPECT_NE(SequencesOff(o).find("SECRET_KEY"), std::string::npos);
}

TEST(AcquisitionSendgrid, OnlyTheKeysSignatureOverTimestampAndBodyIsAccepted) {
    const testing::EcKey sendgrid;
    const testing::EcKey other;
    const std::string body = R"([{"email":"a@b.example","event":"bounce","sg_event_id":"e1","timestamp":1}])";
    const std::string ts = std::to_string(kWed.time_since_epoch().count());
    EXPECT_TRUE(VerifySendgridSignature(sendgrid.PublicKey(), sendgrid.Sign(ts + body), ts, body, kWed).ok());
    EXPECT_TRUE(
        VerifySendgridSignature(sendgrid.PublicKey(), sendgrid.Sign(ts + body), ts, body, kWed + minutes(9)).ok());
    auto refused = [&](const std::string& key, const std::string& sig, const std::string& t, const std::string& b,
                       SysSeconds now) {
        auto r = VerifySendgridSignature(key, sig, t, b, now);
        return !r.ok() && r.error().code == ErrorCode::kUnauthenticated;
    };
    EXPECT_TRUE(refused(sendgrid.PublicKey(), other.Sign(ts + body), ts, body, kWed)) << "another key's signature";
    EXPECT_TRUE(refused(sendgrid.PublicKey(), sendgrid.Sign(ts + body), ts, body + " ", kWed)) << "the body changed";
    EXPECT_TRUE(refused(sendgrid.PublicKey(), sendgrid.Sign(body), ts, body, kWed)) << "the timestamp not signed";
    EXPECT_TRUE(refused(sendgrid.PublicKey(), sendgrid.Sign(ts + body), ts, body, kWed + minutes(11))) << "a replay";
    EXPECT_TRUE(refused(sendgrid.PublicKey(), "not base64!", ts, body, kWed));
    EXPECT_TRUE(refused("bm90IGEga2V5", sendgrid.Sign(ts + body), ts, body, kWed)) << "not a key";
    EXPECT_TRUE(refused(sendgrid.PublicKey(), "", ts, body, kWed));
    EXPECT_TRUE(refused(sendgrid.PublicKey(), sendgrid.Sign(ts + body), "12x", body, kWed));
}

TEST(AcquisitionSendgrid, EventsAreReadWithTheirIdsAndBlockedBouncesKeptApart) {
    auto events = ParseSendgridEvents(
        R"([{"email":"a@b.example","timestamp":1740824430,"event":"bounce","type":"bounce","status":"5.1.1",)"
        R"("reason":"550 user unknown","sg_event_id":"e1"},)"
        R"({"email":"c@d.example","timestamp":1740824431,"event":"bounce","type":"blocked","sg_event_id":"e2"},)"
        R"({"email":"c@d.example","event":"spamreport","sg_event_id":"e3"},)"
        R"({"email":"x@y.example","event":"open"},)"
        R"("not an event"])");
    ASSERT_TRUE(events.ok());
    ASSERT_EQ(events->size(), 3u) << "an event without its id is skipped";
    EXPECT_EQ((*events)[0].kind, "bounce");
    EXPECT_EQ((*events)[0].detail, "5.1.1 550 user unknown");
    EXPECT_EQ((*events)[0].at, SysSeconds(seconds(1740824430)));
    EXPECT_EQ((*events)[1].kind, "blocked");
    EXPECT_EQ((*events)[2].kind, "spamreport");
    EXPECT_FALSE(ParseSendgridEvents(R"({"event":"bounce"})").ok()) << "a batch is an array";
    EXPECT_EQ(DecodeBase64("aGVsbG8=").value(), "hello");
    EXPECT_EQ(DecodeBase64("aGVsbG8").value(), "hello");
    EXPECT_FALSE(DecodeBase64("a$b=").has_value());
}

}  // namespace
}  // namespace gpuopt::acquisition
