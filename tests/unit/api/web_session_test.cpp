// The web session's HTTP rules without a server: the cookie's name and flags for http and https, finding it
// among other cookies, the cross-site test (Fetch Metadata, then Origin), and the CSRF check.
#include "api/web_session.hpp"

#include <gtest/gtest.h>

namespace gpuopt::api {
namespace {

Config WithBase(const std::string& base_url) {
    std::map<std::string, ConfigValue> values;
    values["BASE_URL"] = ConfigValue{base_url, ConfigOrigin::kEnvironment, ""};
    return BuildConfig(values).value();
}

http::Request Post(std::vector<std::pair<std::string, std::string>> headers) {
    http::Request req{http::bhttp::verb::post, "/api/me/reports", 11};
    for (auto& [name, value] : headers) req.set(name, value);
    return req;
}

const std::string kValue(43, 'x');

TEST(WebSession, TheCookieIsHostOnlyAndSecureOverHttpsAndHttpOnlyLaxAlways) {
    const auto https = WithBase("https://gpuopt.example.com");
    EXPECT_EQ(SessionCookieName(https), "__Host-gpuopt_session");
    EXPECT_EQ(SessionSetCookie(https, kValue, std::chrono::hours(12)),
              "__Host-gpuopt_session=" + kValue + "; Path=/; Max-Age=43200; HttpOnly; SameSite=Lax; Secure");
    const auto http = WithBase("http://127.0.0.1:5000");
    EXPECT_EQ(SessionCookieName(http), "gpuopt_session");
    EXPECT_EQ(SessionSetCookie(http, kValue, std::chrono::seconds(60)),
              "gpuopt_session=" + kValue + "; Path=/; Max-Age=60; HttpOnly; SameSite=Lax");
    EXPECT_EQ(SessionClearCookie(http), "gpuopt_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
}

TEST(WebSession, FindsItsCookieAmongOthersAndIgnoresWhatIsNotOne) {
    const auto c = WithBase("http://127.0.0.1:5000");
    EXPECT_EQ(SessionCookieValue(c, Post({{"Cookie", "a=1; gpuopt_session=" + kValue + "; b=2"}})), kValue);
    EXPECT_EQ(SessionCookieValue(c, Post({{"Cookie", "gpuopt_session=" + kValue}})), kValue);
    EXPECT_EQ(SessionCookieValue(c, Post({{"Cookie", "gpuopt_session=short"}})), std::nullopt);
    EXPECT_EQ(SessionCookieValue(c, Post({{"Cookie", "xgpuopt_session=" + kValue}})), std::nullopt);
    EXPECT_EQ(SessionCookieValue(c, Post({{"Cookie", "__Host-gpuopt_session=" + kValue}})), std::nullopt)
        << "the https name on an http server";
    EXPECT_EQ(SessionCookieValue(c, Post({})), std::nullopt);
}

TEST(WebSession, CrossSiteByFetchMetadataElseByOrigin) {
    const auto c = WithBase("https://gpuopt.example.com");
    EXPECT_TRUE(IsCrossSite(c, Post({{"Sec-Fetch-Site", "cross-site"}})));
    EXPECT_FALSE(IsCrossSite(c, Post({{"Sec-Fetch-Site", "same-origin"}})));
    EXPECT_FALSE(IsCrossSite(c, Post({{"Sec-Fetch-Site", "none"}})));  // typed or bookmarked
    // Fetch Metadata decides when present, whatever Origin says.
    EXPECT_TRUE(IsCrossSite(c, Post({{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://gpuopt.example.com"}})));
    // Without it: Origin against BASE_URL's origin, or the request's own host.
    EXPECT_FALSE(IsCrossSite(c, Post({{"Origin", "https://GPUopt.example.com"}})));
    EXPECT_FALSE(IsCrossSite(c, Post({{"Origin", "http://10.0.0.5:5000"}, {"Host", "10.0.0.5:5000"}})));
    EXPECT_TRUE(IsCrossSite(c, Post({{"Origin", "https://evil.example"}, {"Host", "gpuopt.example.com"}})));
    EXPECT_TRUE(IsCrossSite(c, Post({{"Origin", "null"}})));
    EXPECT_FALSE(IsCrossSite(c, Post({})));  // curl, agents: no browser sent it
}

TEST(WebSession, TheCsrfTokenMustMatchAndTheRequestMustNotBeCrossSite) {
    const auto c = WithBase("http://127.0.0.1:5000");
    store::Session session;
    session.csrf_token = "token-0123456789abcdef0123456789ab";
    EXPECT_TRUE(CheckCsrf(c, Post({{"X-CSRF-Token", session.csrf_token}}), session).ok());
    for (const auto& headers : std::vector<std::vector<std::pair<std::string, std::string>>>{
             {},
             {{"X-CSRF-Token", ""}},
             {{"X-CSRF-Token", "token-0123456789abcdef0123456789aX"}},
             {{"X-CSRF-Token", session.csrf_token}, {"Sec-Fetch-Site", "cross-site"}}}) {
        auto r = CheckCsrf(c, Post(headers), session);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, ErrorCode::kForbidden);
    }
    EXPECT_FALSE(ChangesState(http::Request{http::bhttp::verb::get, "/", 11}));
    EXPECT_FALSE(ChangesState(http::Request{http::bhttp::verb::head, "/", 11}));
    EXPECT_TRUE(ChangesState(http::Request{http::bhttp::verb::delete_, "/", 11}));
    EXPECT_TRUE(ChangesState(http::Request{http::bhttp::verb::put, "/", 11}));
}

}  // namespace
}  // namespace gpuopt::api
