// Signing in to the web app against the real server: a sign-in link arrives by mail for a known address
// (and the answer is the same for an unknown one), opening it uses nothing, posting it signs in once; the
// session cookie's flags; a state-changing request without the CSRF token (or from another site) is refused
// and changes nothing; sessions end when idle, at their absolute end, on sign-out and sign-out everywhere;
// failed sign-ins block the address; and one customer's session sees nothing of another's on any endpoint
// the API description says a session may call.
#include <fstream>
#include <regex>

#include "common/time.hpp"
#include "integration/fixture.hpp"

namespace gpuopt::testing {
namespace {

std::string LinkToken(const std::string& mail_text) {
    std::smatch m;
    if (!std::regex_search(mail_text, m, std::regex("/login/link\\?token=([A-Za-z0-9]{43})"))) return {};
    return m[1];
}

// The newest sign-in mail to `email`, as the outbox holds it.
std::string NewestSignInMail(const RunningServer& s, const std::string& email) {
    auto texts = QueryColumn(s.DbPath(), "SELECT body_text FROM outbox WHERE kind = 'sign_in' AND to_address = '" +
                                             email + "' ORDER BY id DESC");
    return texts.empty() ? std::string() : texts.front();
}

struct Signed {
    std::string cookie;  // "Cookie: name=value"
    std::string csrf;
};

Signed SignInWithKey(const RunningServer& s, const std::string& key) {
    auto res = PostJson(s.Url("/api/login/key"), "{\"api_key\":\"" + key + "\"}");
    EXPECT_EQ(res.status, 200) << res.body;
    if (res.status != 200) return {};
    return {"Cookie: " + CookiePair(res.Header("set-cookie")), std::string(res.Json().at("csrf_token").as_string())};
}

TEST(WebSession, ASignInLinkWorksOnceTheCookieIsHttpOnlyAndWritesNeedTheCsrfToken) {
    RunningServer s;
    const std::string key = s.Signup("ada@example.com");

    // Known and unknown addresses get the same answer; only the known one gets a mail.
    auto unknown = PostJson(s.Url("/api/login"), R"({"email":"nobody@example.com"})");
    auto known = PostJson(s.Url("/api/login"), R"({"email":"  Ada@Example.com "})");
    ASSERT_EQ(unknown.status, 200) << unknown.body;
    ASSERT_EQ(known.status, 200) << known.body;
    EXPECT_EQ(unknown.body, known.body);
    EXPECT_EQ(CountRows(s.DbPath(), "SELECT COUNT(*) FROM outbox WHERE kind = 'sign_in'"), 1);
    EXPECT_EQ(PostJson(s.Url("/api/login"), R"({"email":"not an address"})").status, 400);
    const std::string token = LinkToken(NewestSignInMail(s, "ada@example.com"));
    ASSERT_EQ(token.size(), 43u) << NewestSignInMail(s, "ada@example.com");
    // Only its hash is kept.
    EXPECT_EQ(CountRows(s.DbPath(), "SELECT COUNT(*) FROM sign_in_links WHERE token_hash = ?1", token), 0);

    // Opening the link (a mail scanner does, with HEAD and GET) shows a button and uses nothing.
    EXPECT_EQ(Send({"HEAD", s.Url("/login/link?token=" + token), "", {}}).status, 200);
    auto page = Get(s.Url("/login/link?token=" + token));
    ASSERT_EQ(page.status, 200);
    EXPECT_NE(page.body.find(R"(action="/api/login/link?token=)" + token + "\""), std::string::npos) << page.body;
    EXPECT_EQ(page.Header("referrer-policy"), "no-referrer");
    EXPECT_EQ(CountRows(s.DbPath(), "SELECT COUNT(*) FROM sign_in_links WHERE used_at IS NOT NULL"), 0);

    // Another site's page cannot sign the visitor in with it (login CSRF).
    auto cross = Send({"POST", s.Url("/api/login/link?token=" + token), "", {"Sec-Fetch-Site: cross-site"}});
    EXPECT_EQ(cross.status, 403) << cross.body;

    // The button's post signs in once: a browser goes on to the dashboard with the cookie.
    auto signed_in = Send({"POST", s.Url("/api/login/link?token=" + token), "", {"Accept: text/html"}});
    ASSERT_EQ(signed_in.status, 303) << signed_in.body;
    EXPECT_EQ(signed_in.Header("location"), "/dashboard");
    const std::string set_cookie = signed_in.Header("set-cookie");
    EXPECT_TRUE(set_cookie.starts_with("gpuopt_session=")) << set_cookie;
    EXPECT_NE(set_cookie.find("; HttpOnly"), std::string::npos) << set_cookie;
    EXPECT_NE(set_cookie.find("; SameSite=Lax"), std::string::npos) << set_cookie;
    EXPECT_NE(set_cookie.find("; Path=/"), std::string::npos) << set_cookie;
    EXPECT_EQ(set_cookie.find("Secure"), std::string::npos) << "BASE_URL is http here: " << set_cookie;
    auto again = Send({"POST", s.Url("/api/login/link?token=" + token), "", {}});
    EXPECT_EQ(again.status, 400) << again.body;
    EXPECT_EQ(again.Header("set-cookie"), "");
    const std::string cookie = "Cookie: " + CookiePair(set_cookie);

    // The session stands for the account wherever a key does.
    auto session = Get(s.Url("/api/session"), {cookie});
    ASSERT_EQ(session.status, 200) << session.body;
    EXPECT_EQ(session.Json().at("email"), "ada@example.com");
    const std::string csrf(session.Json().at("csrf_token").as_string());
    auto me = Get(s.Url("/api/me"), {cookie});
    ASSERT_EQ(me.status, 200) << me.body;
    EXPECT_EQ(me.Json().at("email"), "ada@example.com");
    auto with_key = Get(s.Url("/api/session"), {"Authorization: Bearer " + key});
    EXPECT_EQ(with_key.status, 200);
    EXPECT_EQ(with_key.Json().at("signed_in"), false) << "a key is not a session";
    EXPECT_EQ(session.Json().at("signed_in"), true);

    // A write without the token, with a wrong one, or from another site: 403, and nothing changes.
    const std::string before = DatabaseSnapshot(s.DbPath());
    for (const auto& extra :
         std::vector<std::vector<std::string>>{{},
                                               {"X-CSRF-Token: wrong"},
                                               {"X-CSRF-Token: " + csrf, "Sec-Fetch-Site: cross-site"},
                                               {"X-CSRF-Token: " + csrf, "Origin: https://evil.example"}}) {
        std::vector<std::string> headers = extra;
        headers.push_back(cookie);
        auto refused = Call(s, "PUT", "/api/me/reports", R"({"weekly":false})", headers);
        EXPECT_EQ(refused.status, 403) << refused.body;
        EXPECT_EQ(refused.Json().at("code"), "FORBIDDEN");
        EXPECT_EQ(refused.Json().at("status"), "error");
        auto logout_all = Call(s, "POST", "/api/logout-all", "", headers);
        EXPECT_EQ(logout_all.status, 403) << logout_all.body;
    }
    EXPECT_EQ(DatabaseSnapshot(s.DbPath()), before);
    // With it (and from our own page): done.
    auto saved = Call(s, "PUT", "/api/me/reports", R"({"weekly":false})",
                      {cookie, "X-CSRF-Token: " + csrf, "Sec-Fetch-Site: same-origin", "Origin: " + s.Url("")});
    ASSERT_EQ(saved.status, 200) << saved.body;
    EXPECT_EQ(saved.Json().at("weekly"), false);
    // A key needs no CSRF token (scripts and agents): nothing changes for them.
    EXPECT_EQ(Call(s, "PUT", "/api/me/reports", R"({"weekly":true})", {"Authorization: Bearer " + key}).status, 200);

    // A newer link closes the older one; an expired one signs nobody in.
    ASSERT_EQ(PostJson(s.Url("/api/login"), R"({"email":"ada@example.com"})").status, 200);
    const std::string older = LinkToken(NewestSignInMail(s, "ada@example.com"));
    ASSERT_EQ(PostJson(s.Url("/api/login"), R"({"email":"ada@example.com"})").status, 200);
    const std::string newest = LinkToken(NewestSignInMail(s, "ada@example.com"));
    ASSERT_NE(older, newest);
    EXPECT_EQ(Send({"POST", s.Url("/api/login/link?token=" + older), "", {}}).status, 400);
    Execute(s.DbPath(), "UPDATE sign_in_links SET expires_at = '2026-01-01T00:00:00Z' WHERE used_at IS NULL");
    EXPECT_EQ(Send({"POST", s.Url("/api/login/link?token=" + newest), "", {}}).status, 400);

    // At most five links an hour for one account: the sixth request answers the same and mails nothing.
    for (int i = 0; i < 3; ++i) ASSERT_EQ(PostJson(s.Url("/api/login"), R"({"email":"ada@example.com"})").status, 200);
    EXPECT_EQ(CountRows(s.DbPath(), "SELECT COUNT(*) FROM outbox WHERE kind = 'sign_in'"), 5);
    auto sixth = PostJson(s.Url("/api/login"), R"({"email":"ada@example.com"})");
    EXPECT_EQ(sixth.body, known.body);
    EXPECT_EQ(CountRows(s.DbPath(), "SELECT COUNT(*) FROM outbox WHERE kind = 'sign_in'"), 5);

    // Sign-out ends this session and clears the cookie.
    auto logout = Call(s, "POST", "/api/logout", "", {cookie, "X-CSRF-Token: " + csrf});
    ASSERT_EQ(logout.status, 200) << logout.body;
    EXPECT_EQ(logout.Json().at("sessions_revoked"), 1);
    EXPECT_NE(logout.Header("set-cookie").find("Max-Age=0"), std::string::npos) << logout.Header("set-cookie");
    auto ended = Get(s.Url("/api/me"), {cookie});
    EXPECT_EQ(ended.status, 401);
    EXPECT_EQ(ended.Json().at("code"), "INVALID_API_KEY");
}

TEST(WebSession, SessionsEndWhenIdleAtTheirAbsoluteEndAndEverywhereAtOnce) {
    RunningServer s(Env{{"SESSION_TIMEOUT", "600"}});
    const std::string key = s.Signup("grace@example.com");
    EXPECT_EQ(PostJson(s.Url("/api/login/key"), R"({"api_key":"gopt_AAAAAAAAAAAAAAAAAAAAAAA"})").status, 401);
    const Signed laptop = SignInWithKey(s, key);
    const Signed phone = SignInWithKey(s, key);
    const Signed tablet = SignInWithKey(s, key);
    ASSERT_NE(laptop.cookie, phone.cookie) << "every sign-in starts a fresh session";
    for (const auto* device : {&laptop, &phone, &tablet})
        EXPECT_EQ(Get(s.Url("/api/me"), {device->cookie}).status, 200);

    // Idle past SESSION_TIMEOUT: ended.
    Execute(s.DbPath(), "UPDATE web_sessions SET last_seen_at = '2026-01-01T00:00:00Z' WHERE csrf_token = ?1",
            tablet.csrf);
    EXPECT_EQ(Get(s.Url("/api/me"), {tablet.cookie}).status, 401);
    // Past its absolute end, however active: ended.
    Execute(s.DbPath(), "UPDATE web_sessions SET expires_at = '2026-01-01T00:00:00Z' WHERE csrf_token = ?1",
            phone.csrf);
    EXPECT_EQ(Get(s.Url("/api/me"), {phone.cookie}).status, 401);

    // Sign out everywhere, from a key (a lost laptop): every session of the account ends.
    const Signed again = SignInWithKey(s, key);
    auto all = Call(s, "POST", "/api/logout-all", "", {"Authorization: Bearer " + key});
    ASSERT_EQ(all.status, 200) << all.body;
    // Every session of the account not revoked before, lapsed ones too (the tablet's and the phone's).
    EXPECT_EQ(all.Json().at("sessions_revoked"), 4);
    EXPECT_EQ(Get(s.Url("/api/me"), {laptop.cookie}).status, 401);
    EXPECT_EQ(Get(s.Url("/api/me"), {again.cookie}).status, 401);
    EXPECT_EQ(Get(s.Url("/api/me"), {"Authorization: Bearer " + key}).status, 200) << "the key still works";
}

TEST(WebSession, HttpsCookiesAreSecureHostOnlyAndFailedSignInsBlockTheAddress) {
    RunningServer s(Env{{"BASE_URL", "https://gpuopt.example.com"}, {"AUTH_FAILURE_LIMIT", "5"}});
    const std::string key = s.Signup("hopper@example.com");
    auto res = PostJson(s.Url("/api/login/key"), "{\"api_key\":\"" + key + "\"}");
    ASSERT_EQ(res.status, 200) << res.body;
    const std::string set_cookie = res.Header("set-cookie");
    EXPECT_TRUE(set_cookie.starts_with("__Host-gpuopt_session=")) << set_cookie;
    EXPECT_NE(set_cookie.find("; Secure"), std::string::npos) << set_cookie;
    EXPECT_NE(set_cookie.find("; Path=/"), std::string::npos) << set_cookie;
    EXPECT_EQ(set_cookie.find("Domain"), std::string::npos) << set_cookie;
    EXPECT_EQ(Get(s.Url("/api/me"), {"Cookie: " + CookiePair(set_cookie)}).status, 200);
    // The link in the mail is built from BASE_URL, never from the request's Host.
    ASSERT_EQ(PostJson(s.Url("/api/login"), R"({"email":"hopper@example.com"})", {"Host: evil.example"}).status, 200);
    EXPECT_NE(NewestSignInMail(s, "hopper@example.com").find("https://gpuopt.example.com/login/link?token="),
              std::string::npos);

    // Guessing links: five failures block the address, on every door.
    const std::string guess(43, 'A');
    for (int i = 0; i < 5; ++i) {
        ASSERT_EQ(Send({"POST", s.Url("/api/login/link?token=" + guess), "", {}}).status, 400) << i;
    }
    EXPECT_EQ(Send({"POST", s.Url("/api/login/link?token=" + guess), "", {}}).status, 429);
    EXPECT_EQ(PostJson(s.Url("/api/login/key"), "{\"api_key\":\"" + key + "\"}").status, 429);
    EXPECT_EQ(CountRows(s.DbPath(), "SELECT COUNT(*) FROM security_events WHERE kind = 'address_blocked'"), 1);
}

// API keys managed from a session: several, named, shown once; a rotated or revoked key is refused at
// once while the others keep working; last use is recorded.
TEST(WebSession, KeysAreMadeRotatedAndRevokedAndTheOldOneIsRefusedAtOnce) {
    RunningServer s(Env{{"RATE_LIMIT_FREE", "0"}});
    const std::string first = s.Signup("keys@example.com");
    const Signed web = SignInWithKey(s, first);
    const std::vector<std::string> writes = {web.cookie, "X-CSRF-Token: " + web.csrf};
    auto listed = Get(s.Url("/api/me/keys"), {web.cookie});
    ASSERT_EQ(listed.status, 200) << listed.body;
    auto keys = listed.Json().at("keys").as_array();
    ASSERT_EQ(keys.size(), 1u);
    EXPECT_EQ(keys[0].at("name"), "default");
    EXPECT_FALSE(keys[0].at("last_used_at").is_null()) << "the sign-in used it";
    EXPECT_EQ(listed.body.find(first), std::string::npos) << "a key is never shown again";
    const int64_t default_id = keys[0].at("id").as_int64();

    EXPECT_EQ(Call(s, "POST", "/api/me/keys", R"({"name":""})", writes).status, 400);
    EXPECT_EQ(Call(s, "POST", "/api/me/keys", R"({"name":"ci runner"})", {web.cookie}).status, 403) << "no CSRF token";
    auto made = Call(s, "POST", "/api/me/keys", R"({"name":"ci runner"})", writes);
    ASSERT_EQ(made.status, 200) << made.body;
    const std::string ci(made.Json().at("api_key").as_string());
    const int64_t ci_id = made.Json().at("id").as_int64();
    ASSERT_EQ(Get(s.Url("/api/me"), Bearer(ci)).status, 200);
    EXPECT_EQ(Get(s.Url("/api/me"), Bearer(ci)).Json().at("key_prefix").as_string(), ci.substr(0, 9));

    // Rotated: the new key works, the old one is refused at once; the other key is untouched.
    auto rotated = Call(s, "POST", "/api/me/keys/" + std::to_string(ci_id) + "/rotate", "", writes);
    ASSERT_EQ(rotated.status, 200) << rotated.body;
    const std::string ci2(rotated.Json().at("api_key").as_string());
    EXPECT_EQ(rotated.Json().at("name"), "ci runner");
    EXPECT_EQ(rotated.Json().at("replaces").as_int64(), ci_id);
    auto old = Get(s.Url("/api/me"), Bearer(ci));
    EXPECT_EQ(old.status, 401);
    EXPECT_EQ(old.Json().at("code"), "INVALID_API_KEY");
    EXPECT_EQ(Get(s.Url("/api/me"), Bearer(ci2)).status, 200);
    EXPECT_EQ(Get(s.Url("/api/me"), Bearer(first)).status, 200);
    EXPECT_EQ(Call(s, "POST", "/api/me/keys/" + std::to_string(ci_id) + "/rotate", "", writes).status, 404)
        << "a revoked key cannot be rotated";

    // Revoked with the key itself: it stops; the session (and the other key) go on.
    auto revoked = Call(s, "DELETE", "/api/me/keys/" + std::to_string(default_id), "", Bearer(first));
    ASSERT_EQ(revoked.status, 200) << revoked.body;
    EXPECT_EQ(Get(s.Url("/api/me"), Bearer(first)).status, 401);
    EXPECT_EQ(Get(s.Url("/api/me"), {web.cookie}).status, 200);
    EXPECT_EQ(Call(s, "DELETE", "/api/me/keys/" + std::to_string(default_id), "", writes).status, 404);
    keys = Get(s.Url("/api/me/keys"), {web.cookie}).Json().at("keys").as_array();
    ASSERT_EQ(keys.size(), 3u);
    EXPECT_EQ(keys[0].at("active"), true);
    EXPECT_EQ(keys[1].at("active"), false);
    EXPECT_EQ(keys[2].at("active"), false);
}

// Every operation docs/openapi.json says a session may call, with a customer's session: nothing of the
// other customer's appears, and what names the other's objects is not found.
TEST(WebSession, ACustomersSessionNeverSeesAnotherCustomersDataOnAnyEndpoint) {
    RunningServer s(Env{{"RATE_LIMIT_FREE", "0"}});
    const std::string key_a = s.Signup("alice@example.com");
    const std::string key_b = s.Signup("bob@example.com");
    // A day of Alice's idle GPU, an hour a report: enough for the plan to recommend stopping it.
    const auto start = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    for (int h = 24; h >= 1; --h) {
        auto report = boost::json::parse(FullReport("a-" + std::to_string(h), "alice-host", 1)).as_object();
        report["window"] = {{"start", FormatUtc(start - std::chrono::hours(h))},
                            {"end", FormatUtc(start - std::chrono::hours(h - 1))},
                            {"samples", 360}};
        ASSERT_EQ(PostJson(s.Url("/api/track-usage"), boost::json::serialize(report), Bearer(key_a)).status, 200);
    }
    ASSERT_EQ(PostJson(s.Url("/api/track-usage"), FullReport("b-1", "bob-host", 2), Bearer(key_b)).status, 200);
    const Signed alice = SignInWithKey(s, key_a);

    std::ifstream in(std::string(GPUOPT_SOURCE_DIR) + "/docs/openapi.json");
    std::stringstream text;
    text << in.rdbuf();
    const auto api = boost::json::parse(text.str()).as_object();
    int tried = 0;
    for (const auto& [path, ops] : api.at("paths").as_object()) {
        for (const auto& [method, op] : ops.as_object()) {
            const auto* security = op.as_object().if_contains("security");
            if (security == nullptr) continue;
            bool session = false;
            for (const auto& s_req : security->as_array())
                session = session || s_req.as_object().contains("sessionCookie");
            if (!session) continue;
            // Ids in the path name Bob's objects (his default API key is id 2): never Alice's to touch.
            std::string target = std::regex_replace(std::string(path), std::regex("\\{[a-z_]+\\}"), "2");
            std::string verb(method);
            for (auto& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            if (target == "/api/logout" || target == "/api/logout-all") continue;  // tried in the other tests
            const std::string body = verb == "GET" || verb == "DELETE" ? "" : "{}";
            auto res = Call(s, verb, target, body, {alice.cookie, "X-CSRF-Token: " + alice.csrf});
            ++tried;
            EXPECT_NE(res.status, 401) << verb << " " << target << ": the session was not accepted: " << res.body;
            EXPECT_LT(res.status, 500) << verb << " " << target << ": " << res.body;
            for (const char* other : {"bob@example.com", "bob-host", "GPU-bob-host"}) {
                EXPECT_EQ(res.body.find(other), std::string::npos) << verb << " " << target << " shows " << other;
            }
        }
    }
    EXPECT_GE(tried, 15);
    EXPECT_EQ(Get(s.Url("/api/me"), Bearer(key_b)).status, 200) << "Bob's key survived Alice's session";

    // Marking a recommendation: only one the plan makes for the caller's own GPUs.
    auto recs = Get(s.Url("/api/recommendations"), {alice.cookie});
    ASSERT_EQ(recs.status, 200) << recs.body;
    const auto list = recs.Json().at("recommendations").as_array();
    ASSERT_FALSE(list.empty()) << recs.body;
    const std::string type(list[0].at("type").as_string()), target(list[0].at("target").as_string());
    const std::string body = R"({"type":")" + type + R"(","target":")" + target + R"(","state":"dismissed"})";
    const Signed bob = SignInWithKey(s, key_b);
    auto refused = Call(s, "PUT", "/api/recommendations/mark", body, {bob.cookie, "X-CSRF-Token: " + bob.csrf});
    EXPECT_EQ(refused.status, 404) << refused.body;
    EXPECT_EQ(CountRows(s.DbPath(), "SELECT COUNT(*) FROM recommendation_marks"), 0);
    auto marked = Call(s, "PUT", "/api/recommendations/mark", body, {alice.cookie, "X-CSRF-Token: " + alice.csrf});
    ASSERT_EQ(marked.status, 200) << marked.body;
    auto now = Get(s.Url("/api/recommendations"), {alice.cookie}).Json();
    EXPECT_EQ(now.at("recommendations").as_array().size(), list.size() - 1);
    ASSERT_EQ(now.at("marked").as_array().size(), 1u);
    EXPECT_EQ(now.at("marked").as_array()[0].at("state"), "dismissed");
    EXPECT_EQ(Get(s.Url("/api/recommendations"), {bob.cookie}).Json().at("marked").as_array().size(), 0u);
    // Opened again by Bob: not his to open.
    const std::string reopen = R"({"type":")" + type + R"(","target":")" + target + R"(","state":"open"})";
    EXPECT_EQ(Call(s, "PUT", "/api/recommendations/mark", reopen, {bob.cookie, "X-CSRF-Token: " + bob.csrf}).status,
              404);
    EXPECT_EQ(CountRows(s.DbPath(), "SELECT COUNT(*) FROM recommendation_marks"), 1);
    // Alice's own data is there: the session is hers.
    EXPECT_NE(Get(s.Url("/api/gpus"), {alice.cookie}).body.find("alice-host"), std::string::npos);
}

}  // namespace
}  // namespace gpuopt::testing
