#include "api/web_session.hpp"

#include <spdlog/spdlog.h>

#include "api/auth.hpp"
#include "common/crypto.hpp"

namespace gpuopt::api {

namespace {

constexpr size_t kSessionChars = 43;  // base62: about 256 bits
constexpr size_t kCsrfChars = 32;
constexpr auto kTouchEvery = std::chrono::seconds(60);

bool Https(const Config& config) { return config.base_url.starts_with("https://"); }

// "scheme://host[:port]" of a URL (its origin as a browser writes it).
std::string_view OriginOf(std::string_view url) {
    const size_t scheme = url.find("://");
    if (scheme == std::string_view::npos) return url;
    const size_t path = url.find('/', scheme + 3);
    return path == std::string_view::npos ? url : url.substr(0, path);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    }
    return true;
}

}  // namespace

std::string SessionCookieName(const Config& config) {
    return Https(config) ? "__Host-gpuopt_session" : "gpuopt_session";
}

std::string SessionSetCookie(const Config& config, const std::string& value, std::chrono::seconds max_age) {
    std::string out = SessionCookieName(config) + "=" + value + "; Path=/; Max-Age=" + std::to_string(max_age.count()) +
                      "; HttpOnly; SameSite=Lax";
    if (Https(config)) out += "; Secure";
    return out;
}

std::string SessionClearCookie(const Config& config) { return SessionSetCookie(config, "", std::chrono::seconds(0)); }

std::optional<std::string> SessionCookieValue(const Config& config, const http::Request& req) {
    return CookieValue(req, SessionCookieName(config), kSessionChars);
}

std::optional<std::string> CookieValue(const http::Request& req, std::string_view name, size_t length) {
    auto [begin, end] = req.equal_range(http::bhttp::field::cookie);
    for (auto it = begin; it != end; ++it) {
        std::string_view rest = it->value();
        while (!rest.empty()) {
            const size_t semi = rest.find(';');
            std::string_view pair = rest.substr(0, semi);
            rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
            while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
            const size_t eq = pair.find('=');
            if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
            std::string_view value = pair.substr(eq + 1);
            while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
            if (value.size() != length) return std::nullopt;  // not one of ours
            return std::string(value);
        }
    }
    return std::nullopt;
}

bool IsCrossSite(const Config& config, const http::Request& req) {
    if (auto site = req.find("Sec-Fetch-Site"); site != req.end()) return site->value() == "cross-site";
    auto origin = req.find(http::bhttp::field::origin);
    if (origin == req.end()) return false;  // not a browser's cross-site request (they send Origin on those)
    const std::string_view value = origin->value();
    if (EqualsIgnoreCase(value, OriginOf(config.base_url))) return false;
    const size_t scheme = value.find("://");
    if (auto host = req.find(http::bhttp::field::host); host != req.end() && scheme != std::string_view::npos) {
        if (EqualsIgnoreCase(value.substr(scheme + 3), host->value())) return false;
    }
    return true;
}

bool ChangesState(const http::Request& req) {
    using http::bhttp::verb;
    return req.method() != verb::get && req.method() != verb::head && req.method() != verb::options;
}

boost::asio::awaitable<Result<std::optional<WebSession>>> FindWebSession(Services& s, const http::RequestContext& ctx) {
    auto cookie = SessionCookieValue(s.config, ctx.request);
    if (!cookie) co_return std::optional<WebSession>();
    const std::string id_hash = HashApiKey(*cookie);
    const auto now = UtcNow();
    const std::function<Result<std::optional<WebSession>>()> find = [&s, &id_hash,
                                                                     now]() -> Result<std::optional<WebSession>> {
        auto session =
            s.store.sessions().FindSession(id_hash, now, std::chrono::seconds(s.config.session_timeout_seconds));
        if (!session) return session.error();
        if (!*session) return std::optional<WebSession>();
        auto account = s.store.accounts().GetAccount((*session)->account_id);
        if (!account) {
            if (account.error().code == ErrorCode::kNotFound) return std::optional<WebSession>();  // deleted
            return account.error();
        }
        return std::optional<WebSession>(WebSession{std::move(**session), std::move(*account)});
    };
    auto found = co_await OffloadRead<std::optional<WebSession>>(s, find);
    if (found && *found && now - (*found)->session.last_seen_at >= kTouchEvery) {
        s.store.sessions().TouchSession(id_hash, now, [](Result<void> r) {
            if (!r) spdlog::warn("session activity not recorded: {}", r.error().message);
        });
    }
    co_return found;
}

Result<void> CheckCsrf(const Config& config, const http::Request& req, const store::Session& session) {
    if (IsCrossSite(config, req)) {
        return Error{ErrorCode::kForbidden, "Cross-site requests cannot change anything with a session", {}};
    }
    auto token = req.find("X-CSRF-Token");
    if (token == req.end() || !ConstantTimeEquals(token->value(), session.csrf_token)) {
        return Error{ErrorCode::kForbidden,
                     "CSRF token missing or wrong: send X-CSRF-Token with the token from GET /api/session",
                     {}};
    }
    return {};
}

boost::asio::awaitable<Result<NewWebSession>> StartWebSession(Services& s, int64_t account_id) {
    const std::string value = RandomBase62(kSessionChars);
    const auto now = UtcNow();
    const auto max_age = std::chrono::seconds(s.config.session_max_age_seconds);
    store::Session session{HashApiKey(value), account_id, RandomBase62(kCsrfChars), now, now, now + max_age};
    NewWebSession out{SessionSetCookie(s.config, value, max_age), session.csrf_token, session.expires_at};
    auto write = [&](store::Callback<void> done) {
        s.store.sessions().CreateSession(std::move(session), std::move(done));
    };
    auto created = co_await http::AwaitCallback<void>(std::move(write));
    if (!created) co_return created.error();
    co_return out;
}

}  // namespace gpuopt::api
