// The web app's sessions as the HTTP layer sees them: the cookie that carries one, the CSRF rule every
// state-changing request made with one must pass, and the live session a request stands for.
//
// The cookie is `__Host-gpuopt_session` (Secure, so only over https) when BASE_URL is https, else
// `gpuopt_session`; always HttpOnly, SameSite=Lax, Path=/. Its value is 43 random base62 characters (about
// 256 bits); the store keeps only its SHA-256. A session ends when idle for SESSION_TIMEOUT, at
// SESSION_MAX_AGE after sign-in whatever the activity, or on sign-out (docs/decisions/0022-web-sessions.md).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "api/api.hpp"
#include "http/await.hpp"
#include "http/types.hpp"
#include "store/accounts.hpp"
#include "store/sessions.hpp"

namespace gpuopt::api {

// The session cookie's name for this server's BASE_URL.
std::string SessionCookieName(const Config& config);

// The Set-Cookie value that hands `value` to the browser until `max_age` from now.
std::string SessionSetCookie(const Config& config, const std::string& value, std::chrono::seconds max_age);

// The Set-Cookie value that removes the session cookie.
std::string SessionClearCookie(const Config& config);

// The session cookie's value in the request's Cookie headers, if any.
std::optional<std::string> SessionCookieValue(const Config& config, const http::Request& req);

// The value of cookie `name` in the request's Cookie headers when it is `length` characters long (the
// only length this server hands out), else nullopt.
std::optional<std::string> CookieValue(const http::Request& req, std::string_view name, size_t length);

// True for a request a browser sent from another site: Sec-Fetch-Site: cross-site, or, from a browser that
// does not send Fetch Metadata, an Origin that is neither BASE_URL's nor the request's own host.
bool IsCrossSite(const Config& config, const http::Request& req);

// True for the methods that may change state (anything but GET, HEAD and OPTIONS).
bool ChangesState(const http::Request& req);

// A live session and its account.
struct WebSession {
    store::Session session;
    store::Account account;
};

// The live session the request's cookie names: nullopt without a cookie or when the session has ended
// (unknown, revoked, idle too long, past its absolute end). Reads the store on the read pool, and records
// the session's activity at most once a minute.
boost::asio::awaitable<Result<std::optional<WebSession>>> FindWebSession(Services& s, const http::RequestContext& ctx);

// The CSRF rule for a state-changing request made with `session`: not cross-site, and an X-CSRF-Token header
// equal to the session's token. kForbidden when it fails (the request must change nothing).
Result<void> CheckCsrf(const Config& config, const http::Request& req, const store::Session& session);

// Starts a session for `account_id` (a fresh id: nothing a browser held before signs in) and answers the
// Set-Cookie value for it and its CSRF token.
struct NewWebSession {
    std::string set_cookie;
    std::string csrf_token;
    SysSeconds expires_at;
};
boost::asio::awaitable<Result<NewWebSession>> StartWebSession(Services& s, int64_t account_id);

}  // namespace gpuopt::api
