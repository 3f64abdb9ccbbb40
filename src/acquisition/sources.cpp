#include "acquisition/sources.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <mutex>
#include <set>

#include "common/json.hpp"
#include "store/wait.hpp"

namespace gpuopt::acquisition {

namespace {

namespace json = boost::json;

constexpr int64_t kDay = 86400;
constexpr const char* kUserAgent = "gpuopt-acquisition/" GPUOPT_VERSION;

int64_t DayOf(SysSeconds t) { return t.time_since_epoch().count() / kDay; }

std::string Header(const net::HttpAnswer& a, const std::string& name) {
    auto it = a.headers.find(name);
    return it == a.headers.end() ? std::string() : it->second;
}

std::optional<double> Number(const std::string& text) {
    if (text.empty()) return std::nullopt;
    char* end = nullptr;
    const double d = std::strtod(text.c_str(), &end);
    if (end == text.c_str()) return std::nullopt;
    return d;
}

std::string Str(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

int64_t Int(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (v == nullptr) return 0;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
    if (v->is_double()) return static_cast<int64_t>(v->get_double());
    return 0;
}

bool Bool(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v != nullptr && v->is_bool() && v->get_bool();
}

std::string Lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string DateOf(SysSeconds t) { return FormatUtc(t).substr(0, 10); }

// The source's state, written at once: a restart honours a wait as this run did.
Result<void> SaveState(store::AcquisitionStore& store, store::SourceState state) {
    return store::Wait<void>(
        [&](store::Callback<void> done) { store.SaveSourceState(std::move(state), std::move(done)); });
}

// Whether a wait still runs; the remaining time when it does.
Result<std::optional<store::SourceState>> StateOf(store::AcquisitionStore& store, const std::string& source) {
    return store.GetSourceState(source);
}

bool Waiting(const std::optional<store::SourceState>& state, SysSeconds now) {
    return state && state->wait_until && *state->wait_until > now;
}

std::optional<std::chrono::seconds> PreviousWait(const std::optional<store::SourceState>& state) {
    if (!state || !state->wait_until || !state->last_run_at) return std::nullopt;
    if (state->last_result.rfind("secondary", 0) != 0) return std::nullopt;
    return std::chrono::duration_cast<std::chrono::seconds>(*state->wait_until - *state->last_run_at);
}

// Records a rate limit from `answer` (or a spent budget) and says whether there was one.
Result<bool> NoteLimit(store::AcquisitionStore& store, const std::string& source, const net::HttpAnswer& answer,
                       SysSeconds now, const std::optional<store::SourceState>& before) {
    auto until = RateLimitUntil(answer, now, PreviousWait(before));
    if (!until) return false;
    const bool secondary = Header(answer, "x-ratelimit-remaining") != "0" && !net::RetryAfter(answer);
    std::string why = secondary ? "secondary rate limit" : "rate limit";
    why += " (HTTP " + std::to_string(answer.status) + "): waiting until " + FormatUtc(*until);
    spdlog::warn("{}: {}", source, why);
    if (auto r = SaveState(store, store::SourceState{source, *until, now, why}); !r) return r.error();
    return true;
}

// A URL the source gave us that we may call with our token: on the API's own origin.
bool SameOrigin(const std::string& url, const std::string& base) {
    std::string origin = base;
    while (!origin.empty() && origin.back() == '/') origin.pop_back();
    return url.size() > origin.size() && url.compare(0, origin.size(), origin) == 0 && url[origin.size()] == '/';
}

std::string Base64(std::string_view in) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const uint32_t n = (uint32_t{static_cast<unsigned char>(in[i])} << 16) |
                           (uint32_t{static_cast<unsigned char>(in[i + 1])} << 8) |
                           static_cast<unsigned char>(in[i + 2]);
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += kAlphabet[(n >> 6) & 63];
        out += kAlphabet[n & 63];
    }
    if (i < in.size()) {
        uint32_t n = uint32_t{static_cast<unsigned char>(in[i])} << 16;
        if (i + 1 < in.size()) n |= uint32_t{static_cast<unsigned char>(in[i + 1])} << 8;
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

// ---- GitHub ---------------------------------------------------------------------------------------------

net::HttpAnswer GithubGet(const GithubAccess& access, const std::string& url) {
    net::HttpCall call;
    call.url = url;
    call.timeout = access.timeout;
    call.user_agent = kUserAgent;
    call.headers = {"Accept: application/vnd.github+json", "X-GitHub-Api-Version: 2022-11-28",
                    "Authorization: Bearer " + access.token};
    return net::Fetch(call);
}

// Only an http(s) site, as the account wrote it ("acme.ai" becomes "https://acme.ai").
std::string Website(std::string blog) {
    while (!blog.empty() && std::isspace(static_cast<unsigned char>(blog.back()))) blog.pop_back();
    if (blog.empty() || blog.size() > 200) return {};
    if (blog.find("://") == std::string::npos) blog = "https://" + blog;
    if (blog.rfind("https://", 0) != 0 && blog.rfind("http://", 0) != 0) return {};
    if (blog.find_first_of(" \"<>'") != std::string::npos) return {};
    return blog;
}

struct FoundRepo {
    std::string login;
    std::string kind;
    std::string owner_url;
    store::ProspectRepo repo;
};

std::vector<FoundRepo> ReposOf(const json::value& body) {
    std::vector<FoundRepo> out;
    if (!body.is_object()) return out;
    const auto* items = body.get_object().if_contains("items");
    if (items == nullptr || !items->is_array()) return out;
    for (const auto& item : items->get_array()) {
        if (!item.is_object()) continue;
        const auto& o = item.get_object();
        if (Bool(o, "fork") || Bool(o, "archived")) continue;
        const auto* owner = o.if_contains("owner");
        if (owner == nullptr || !owner->is_object()) continue;
        FoundRepo f;
        f.login = Str(owner->get_object(), "login");
        f.kind = Str(owner->get_object(), "type");
        f.owner_url = Str(owner->get_object(), "html_url");
        if (f.login.empty() || f.login.size() > 100) continue;
        f.repo.full_name = Str(o, "full_name");
        f.repo.html_url = Str(o, "html_url");
        f.repo.description = Str(o, "description").substr(0, 300);
        f.repo.stars = Int(o, "stargazers_count");
        f.repo.forks = Int(o, "forks_count");
        f.repo.pushed_at = ParseUtc(Str(o, "pushed_at"));
        if (const auto* topics = o.if_contains("topics"); topics != nullptr && topics->is_array()) {
            for (const auto& t : topics->get_array()) {
                if (t.is_string() && f.repo.topics.size() < 20) f.repo.topics.emplace_back(t.get_string());
            }
        }
        out.push_back(std::move(f));
    }
    return out;
}

// The prospect with the repositories found now merged in: the ten with the most stars are kept.
store::Prospect Merge(std::optional<store::Prospect> existing, const std::vector<FoundRepo>& found, SysSeconds now) {
    store::Prospect p = existing ? std::move(*existing) : store::Prospect{};
    if (!existing) {
        p.login = found.front().login;
        p.first_seen = now;
    }
    p.kind = found.front().kind == "Organization" ? "Organization" : "User";
    if (!found.front().owner_url.empty()) p.html_url = found.front().owner_url;
    for (const auto& f : found) {
        auto it = std::find_if(p.repos.begin(), p.repos.end(),
                               [&](const store::ProspectRepo& r) { return r.full_name == f.repo.full_name; });
        if (it == p.repos.end()) {
            p.repos.push_back(f.repo);
        } else {
            *it = f.repo;
        }
    }
    std::sort(p.repos.begin(), p.repos.end(),
              [](const store::ProspectRepo& a, const store::ProspectRepo& b) { return a.stars > b.stars; });
    if (p.repos.size() > 10) p.repos.resize(10);
    p.stars = 0;
    p.forks = 0;
    p.last_pushed_at.reset();
    for (const auto& r : p.repos) {
        p.stars += r.stars;
        p.forks += r.forks;
        if (r.pushed_at && (!p.last_pushed_at || *r.pushed_at > *p.last_pushed_at)) p.last_pushed_at = r.pushed_at;
    }
    p.updated_at = now;
    return p;
}

// The account's name and website. Its e-mail address, when public, is not read.
enum class Profile { kRead, kLimited, kFailed };
Profile ReadProfile(store::AcquisitionStore& store, const GithubAccess& access, store::Prospect& p, SysSeconds now,
                    const std::optional<store::SourceState>& core) {
    const std::string path = (p.kind == "Organization" ? "/orgs/" : "/users/") + net::UrlEncode(p.login);
    const auto answer = GithubGet(access, net::JoinUrl(access.api_url, path));
    auto limited = NoteLimit(store, "github:core", answer, now, core);
    if (limited && *limited) return Profile::kLimited;
    if (answer.status == 404) {
        p.profile_checked_at = now;  // gone since the search: nothing more to learn today
        return Profile::kRead;
    }
    if (!answer.Ok()) return Profile::kFailed;
    auto body = ParseJson(answer.body);
    if (!body || !body->is_object()) return Profile::kFailed;
    const auto& o = body->get_object();
    p.name = Str(o, "name").substr(0, 200);
    p.website = Website(Str(o, "blog"));
    p.profile_checked_at = now;
    return Profile::kRead;
}

// ---- Reddit ---------------------------------------------------------------------------------------------

struct RedditToken {
    std::mutex mu;
    std::string client_id;
    std::string token;
    SysSeconds expires;
};

RedditToken& TokenCache() {
    static RedditToken cache;
    return cache;
}

// An application-only token (client credentials), reused until a minute before it expires.
Result<std::string> RedditBearer(const RedditAccess& access, SysSeconds now) {
    RedditToken& cache = TokenCache();
    std::lock_guard lock(cache.mu);
    if (cache.client_id == access.client_id && !cache.token.empty() && cache.expires > now + std::chrono::seconds(60)) {
        return cache.token;
    }
    net::HttpCall call;
    call.method = "POST";
    call.url = net::JoinUrl(access.auth_url, "/api/v1/access_token");
    call.timeout = access.timeout;
    call.user_agent = access.user_agent;
    call.headers = {"Authorization: Basic " + Base64(access.client_id + ":" + access.client_secret),
                    "Content-Type: application/x-www-form-urlencoded"};
    call.body = "grant_type=client_credentials";
    const auto answer = net::Fetch(call);
    if (!answer.Ok()) {
        return Error{
            ErrorCode::kUnavailable, "Reddit refused a token (HTTP " + std::to_string(answer.status) + ")", {}};
    }
    auto body = ParseJson(answer.body);
    if (!body || !body->is_object()) return Error{ErrorCode::kUnavailable, "Reddit's token answer is not JSON", {}};
    const auto& o = body->get_object();
    // Reddit answers some refusals with 200 and an "error" field.
    if (o.if_contains("error") != nullptr) {
        return Error{ErrorCode::kUnavailable, "Reddit refused a token: " + ToJson(o.at("error")), {}};
    }
    const std::string token = Str(o, "access_token");
    if (token.empty()) return Error{ErrorCode::kUnavailable, "Reddit's token answer has no access_token", {}};
    const int64_t expires_in = std::max<int64_t>(Int(o, "expires_in"), 120);
    cache.client_id = access.client_id;
    cache.token = token;
    cache.expires = now + std::chrono::seconds(expires_in);
    return token;
}

void ForgetRedditToken() {
    RedditToken& cache = TokenCache();
    std::lock_guard lock(cache.mu);
    cache.token.clear();
}

}  // namespace

GithubAccess GithubAccessOf(const Config& c) {
    return GithubAccess{c.acquisition.github_api_url, c.acquisition.github_token, std::chrono::seconds(20)};
}

RedditAccess RedditAccessOf(const Config& c) {
    const auto& a = c.acquisition;
    return RedditAccess{a.reddit_api_url,       a.reddit_auth_url,   a.reddit_client_id,
                        a.reddit_client_secret, a.reddit_user_agent, std::chrono::seconds(20)};
}

void ScoreProspect(store::Prospect& p, SysSeconds now) {
    double score = 0;
    std::vector<std::string> reasons;
    if (p.kind == "Organization") {
        score += 15;
        reasons.emplace_back("an organisation (+15)");
    }
    if (p.stars > 0) {
        const double s = std::min(30.0, 10 * std::log10(1 + static_cast<double>(p.stars)));
        score += s;
        reasons.push_back(std::to_string(p.stars) + " stars across matching repositories (+" +
                          std::to_string(static_cast<int>(std::lround(s))) + ")");
    }
    if (p.forks > 0) {
        const double f = std::min(10.0, 4 * std::log10(1 + static_cast<double>(p.forks)));
        score += f;
        reasons.push_back(std::to_string(p.forks) + " forks (+" + std::to_string(static_cast<int>(std::lround(f))) +
                          ")");
    }
    if (p.last_pushed_at) {
        const auto age = now - *p.last_pushed_at;
        if (age <= std::chrono::days(14)) {
            score += 20;
            reasons.emplace_back("pushed within the last 2 weeks (+20)");
        } else if (age <= std::chrono::days(60)) {
            score += 10;
            reasons.emplace_back("pushed within the last 2 months (+10)");
        }
    }
    if (p.repos.size() > 1) {
        const double r = std::min(15.0, 5.0 * static_cast<double>(p.repos.size() - 1));
        score += r;
        reasons.push_back(std::to_string(p.repos.size()) + " matching repositories (+" +
                          std::to_string(static_cast<int>(r)) + ")");
    }
    static const std::set<std::string> kGpuTopics{
        "cuda",      "gpu",    "pytorch", "tensorflow",           "jax",  "llm",   "deep-learning",        "training",
        "inference", "triton", "nccl",    "distributed-training", "vllm", "mlops", "large-language-models"};
    std::set<std::string> topics;
    for (const auto& r : p.repos) {
        for (const auto& t : r.topics) {
            if (kGpuTopics.count(Lower(t)) != 0) topics.insert(Lower(t));
        }
    }
    if (!topics.empty()) {
        const double t = std::min(20.0, 4.0 * static_cast<double>(topics.size()));
        score += t;
        std::string list;
        for (const auto& name : topics) list += (list.empty() ? "" : ", ") + name;
        reasons.push_back("GPU topics: " + list + " (+" + std::to_string(static_cast<int>(t)) + ")");
    }
    if (!p.website.empty()) {
        score += 5;
        reasons.emplace_back("a website to reach them through (+5)");
    }
    p.score = std::round(score * 10) / 10;
    p.reasons = std::move(reasons);
}

std::optional<SysSeconds> RateLimitUntil(const net::HttpAnswer& answer, SysSeconds now,
                                         std::optional<std::chrono::seconds> previous) {
    const std::string remaining = Header(answer, "x-ratelimit-remaining");
    const auto reset = Number(Header(answer, "x-ratelimit-reset"));
    const bool refused = answer.status == 403 || answer.status == 429;
    // GitHub's reset is an epoch time; Reddit's counts seconds from now.
    auto reset_at = [&]() -> SysSeconds {
        if (!reset) return now + std::chrono::seconds(60);
        const auto value = static_cast<int64_t>(std::ceil(*reset));
        if (value > 1'000'000'000)
            return std::max(now + std::chrono::seconds(1), SysSeconds(std::chrono::seconds(value)));
        return now + std::chrono::seconds(std::max<int64_t>(value, 1));
    };
    if (refused) {
        if (auto retry = net::RetryAfter(answer)) return now + std::max(*retry, std::chrono::seconds(1));
        if (auto left = Number(remaining); left && *left < 1) return reset_at();
        // A secondary limit without a hint: at least a minute, doubled each time it strikes again.
        if (answer.status == 429 || answer.body.find("rate limit") != std::string::npos) {
            auto wait = std::chrono::seconds(60);
            if (previous) wait = std::min(std::chrono::seconds(3600), std::max(wait, *previous * 2));
            return now + wait;
        }
        return std::nullopt;
    }
    if (answer.Ok()) {
        if (auto left = Number(remaining); left && *left < 1) return reset_at();
    }
    return std::nullopt;
}

std::string NextLink(std::string_view header) {
    size_t pos = 0;
    while (pos < header.size()) {
        const size_t open = header.find('<', pos);
        if (open == std::string_view::npos) return {};
        const size_t close = header.find('>', open);
        if (close == std::string_view::npos) return {};
        size_t end = header.find(',', close);
        if (end == std::string_view::npos) end = header.size();
        const std::string_view params = header.substr(close + 1, end - close - 1);
        if (params.find("rel=\"next\"") != std::string_view::npos ||
            params.find("rel=next") != std::string_view::npos) {
            return std::string(header.substr(open + 1, close - open - 1));
        }
        pos = end + 1;
    }
    return {};
}

Result<DiscoveryRun> DiscoverGithub(store::AcquisitionStore& store, const GithubSettings& settings,
                                    const GithubAccess& access, SysSeconds now) {
    DiscoveryRun run;
    if (access.token.empty()) {
        run.stopped = "GITHUB_TOKEN is not set";
        return run;
    }
    const int64_t day = DayOf(now);
    int profiles_left = settings.profiles_per_run;
    for (const auto& query : settings.queries) {
        auto search = StateOf(store, "github:search");
        if (!search) return search.error();
        if (Waiting(*search, now)) {
            run.waiting = true;
            run.stopped = "search rate limit until " + FormatUtc(*(*search)->wait_until);
            return run;
        }
        auto cursor = store.GetCursor("github", query.name, day);
        if (!cursor) return cursor.error();
        store::DiscoveryCursor c =
            cursor->value_or(store::DiscoveryCursor{"github", query.name, day, "", false, 0, 0, now});
        if (c.done) continue;
        std::string url = c.next;
        if (url.empty()) {
            std::string q = query.q;
            if (auto at = q.find("{since}"); at != std::string::npos) {
                q.replace(at, 7, DateOf(now - std::chrono::days(settings.recent_days)));
            }
            url = net::JoinUrl(access.api_url, "/search/repositories") + "?q=" + net::UrlEncode(q) +
                  "&sort=" + query.sort + "&order=desc&per_page=" + std::to_string(settings.per_page) + "&page=1";
        }
        while (!c.done) {
            if (!SameOrigin(url, access.api_url)) {
                spdlog::warn("github: a next page outside {} was not followed", access.api_url);
                c.done = true;
                break;
            }
            const auto answer = GithubGet(access, url);
            auto limited = NoteLimit(store, "github:search", answer, now, *search);
            if (!limited) return limited.error();
            if (*limited && !answer.Ok()) {
                run.waiting = true;
                run.stopped = "search rate limit";
                return run;  // the cursor still points at this page
            }
            if (answer.status == 422) {
                spdlog::error("github: query {} refused (422): {}", query.name, answer.body.substr(0, 300));
                c.done = true;
                break;
            }
            if (!answer.Ok()) {
                run.stopped = "GitHub answered HTTP " + std::to_string(answer.status) +
                              (answer.error.empty() ? "" : " (" + answer.error + ")");
                return run;  // tried again at the next run, from this page
            }
            auto body = ParseJson(answer.body);
            if (!body) {
                run.stopped = "GitHub's answer is not JSON";
                return run;
            }
            const auto found = ReposOf(*body);
            ++run.pages;
            run.items += static_cast<int>(found.size());
            std::map<std::string, std::vector<FoundRepo>> by_owner;
            for (const auto& f : found) by_owner[f.login].push_back(f);
            for (auto& [login, repos] : by_owner) {
                auto existing = store.FindProspect(login);
                if (!existing) return existing.error();
                store::Prospect p = Merge(std::move(*existing), repos, now);
                const bool stale = !p.profile_checked_at || *p.profile_checked_at <= now - std::chrono::days(1);
                if (stale && profiles_left > 0) {
                    auto core = StateOf(store, "github:core");
                    if (!core) return core.error();
                    if (!Waiting(*core, now)) {
                        --profiles_left;
                        if (ReadProfile(store, access, p, now, *core) == Profile::kRead) ++run.profiles;
                    }
                }
                ScoreProspect(p, now);
                auto saved = store::Wait<store::Prospect>(
                    [&](store::Callback<store::Prospect> done) { store.SaveProspect(std::move(p), std::move(done)); });
                if (!saved) return saved.error();
                ++run.saved;
            }
            ++c.pages;
            c.items += static_cast<int64_t>(found.size());
            c.next = NextLink(Header(answer, "link"));
            c.done = c.next.empty() || c.pages >= settings.max_pages;
            c.updated_at = now;
            if (auto r = store::Wait<void>([&](store::Callback<void> done) { store.SaveCursor(c, std::move(done)); });
                !r) {
                return r.error();
            }
            if (*limited) {
                run.waiting = true;
                run.stopped = "search budget spent";
                return run;
            }
            url = c.next;
        }
        if (c.done) {
            c.updated_at = now;
            if (auto r = store::Wait<void>([&](store::Callback<void> done) { store.SaveCursor(c, std::move(done)); });
                !r) {
                return r.error();
            }
        }
    }
    if (auto r = SaveState(store, store::SourceState{"github:search", std::nullopt, now, "ok"}); !r) return r.error();
    return run;
}

Result<DiscoveryRun> DiscoverReddit(store::AcquisitionStore& store, const RedditSettings& settings,
                                    const RedditAccess& access, SysSeconds now) {
    DiscoveryRun run;
    if (access.client_id.empty() || access.client_secret.empty() || access.user_agent.empty()) {
        run.stopped = "REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET and REDDIT_USER_AGENT are not all set";
        return run;
    }
    const int64_t day = DayOf(now);
    for (const auto& sub : settings.subreddits) {
        for (const auto& q : settings.queries) {
            auto state = StateOf(store, "reddit");
            if (!state) return state.error();
            if (Waiting(*state, now)) {
                run.waiting = true;
                run.stopped = "rate limit until " + FormatUtc(*(*state)->wait_until);
                return run;
            }
            const std::string key = sub + "|" + q;
            auto cursor = store.GetCursor("reddit", key, day);
            if (!cursor) return cursor.error();
            store::DiscoveryCursor c =
                cursor->value_or(store::DiscoveryCursor{"reddit", key, day, "", false, 0, 0, now});
            while (!c.done) {
                auto token = RedditBearer(access, now);
                if (!token) {
                    run.stopped = token.error().message;
                    return run;
                }
                net::HttpCall call;
                call.url = net::JoinUrl(access.api_url, "/r/" + sub + "/search") + "?q=" + net::UrlEncode(q) +
                           "&restrict_sr=1&sort=new&t=" + settings.time +
                           "&limit=" + std::to_string(settings.per_page) + "&raw_json=1" +
                           (c.next.empty() ? "" : "&after=" + net::UrlEncode(c.next));
                call.timeout = access.timeout;
                call.user_agent = access.user_agent;
                call.headers = {"Authorization: bearer " + *token};
                const auto answer = net::Fetch(call);
                if (answer.status == 401) ForgetRedditToken();
                auto limited = NoteLimit(store, "reddit", answer, now, *state);
                if (!limited) return limited.error();
                if (*limited && !answer.Ok()) {
                    run.waiting = true;
                    run.stopped = "rate limit";
                    return run;
                }
                if (!answer.Ok()) {
                    run.stopped = "Reddit answered HTTP " + std::to_string(answer.status);
                    return run;
                }
                auto body = ParseJson(answer.body);
                if (!body || !body->is_object()) {
                    run.stopped = "Reddit's answer is not JSON";
                    return run;
                }
                const auto* data = body->get_object().if_contains("data");
                if (data == nullptr || !data->is_object()) {
                    run.stopped = "Reddit's answer is not a listing";
                    return run;
                }
                const auto& listing = data->get_object();
                ++run.pages;
                if (const auto* children = listing.if_contains("children");
                    children != nullptr && children->is_array()) {
                    for (const auto& child : children->get_array()) {
                        if (!child.is_object()) continue;
                        const auto* d = child.get_object().if_contains("data");
                        if (d == nullptr || !d->is_object()) continue;
                        const auto& post = d->get_object();
                        ++run.items;
                        if (Bool(post, "over_18")) continue;
                        store::Conversation conv;
                        conv.post_id = Str(post, "name");
                        if (conv.post_id.rfind("t3_", 0) != 0 || conv.post_id.size() > 20) continue;
                        conv.subreddit = Str(post, "subreddit").substr(0, 50);
                        conv.title = Str(post, "title").substr(0, 300);
                        const std::string permalink = Str(post, "permalink");
                        if (permalink.empty() || permalink.front() != '/') continue;
                        conv.url = "https://www.reddit.com" + permalink;
                        const auto* created = post.if_contains("created_utc");
                        conv.posted_at =
                            SysSeconds(std::chrono::seconds(created != nullptr && created->is_number()
                                                                ? static_cast<int64_t>(created->to_number<double>())
                                                                : 0));
                        conv.score = Int(post, "score");
                        conv.comments = Int(post, "num_comments");
                        conv.query = q;
                        conv.found_at = now;
                        const std::string text = Lower(conv.title + " " + Str(post, "selftext"));
                        for (const auto& k : settings.keywords) {
                            if (text.find(k) != std::string::npos) conv.reasons.push_back("mentions \"" + k + "\"");
                        }
                        if (!settings.keywords.empty() && conv.reasons.empty()) continue;
                        conv.reasons.insert(conv.reasons.begin(), "found by \"" + q + "\" in r/" + sub);
                        auto saved = store::Wait<store::Conversation>([&](store::Callback<store::Conversation> done) {
                            store.SaveConversation(std::move(conv), std::move(done));
                        });
                        if (!saved) return saved.error();
                        ++run.saved;
                    }
                }
                ++c.pages;
                c.next = Str(listing, "after");
                c.done = c.next.empty() || c.pages >= settings.max_pages;
                c.updated_at = now;
                if (auto r =
                        store::Wait<void>([&](store::Callback<void> done) { store.SaveCursor(c, std::move(done)); });
                    !r) {
                    return r.error();
                }
                if (*limited) {
                    run.waiting = true;
                    run.stopped = "rate limit";
                    return run;
                }
            }
        }
    }
    if (auto r = SaveState(store, store::SourceState{"reddit", std::nullopt, now, "ok"}); !r) return r.error();
    return run;
}

}  // namespace gpuopt::acquisition
