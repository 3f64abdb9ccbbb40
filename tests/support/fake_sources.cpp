#include "support/fake_sources.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <optional>

namespace gpuopt::testing {

namespace {

namespace json = boost::json;

int Hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string Decode(const std::string& in) {
    std::string out;
    for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '+') {
            out.push_back(' ');
        } else if (in[i] == '%' && i + 2 < in.size() && Hex(in[i + 1]) >= 0 && Hex(in[i + 2]) >= 0) {
            out.push_back(static_cast<char>(Hex(in[i + 1]) * 16 + Hex(in[i + 2])));
            i += 2;
        } else {
            out.push_back(in[i]);
        }
    }
    return out;
}

std::string PathOf(const std::string& target) { return target.substr(0, target.find('?')); }

std::map<std::string, std::string> QueryOf(const std::string& target) {
    std::map<std::string, std::string> out;
    const auto q = target.find('?');
    if (q == std::string::npos) return out;
    size_t pos = q + 1;
    while (pos <= target.size()) {
        size_t end = target.find('&', pos);
        if (end == std::string::npos) end = target.size();
        const std::string pair = target.substr(pos, end - pos);
        const auto eq = pair.find('=');
        if (eq != std::string::npos) out[Decode(pair.substr(0, eq))] = Decode(pair.substr(eq + 1));
        pos = end + 1;
    }
    return out;
}

// The scripted answer due now, if any (counting down the normal calls before it).
std::optional<ScriptedAnswer> Due(std::deque<ScriptedAnswer>& script) {
    if (script.empty()) return std::nullopt;
    if (script.front().after_calls > 0) {
        --script.front().after_calls;
        return std::nullopt;
    }
    auto a = script.front();
    script.pop_front();
    return a;
}

FakeResponse Answer(const ScriptedAnswer& a) {
    FakeResponse r;
    r.status = a.status;
    r.headers = a.headers;
    r.headers.emplace("Content-Type", "application/json");
    r.body = a.body;
    return r;
}

FakeResponse JsonAnswer(int status, const json::value& body) {
    FakeResponse r;
    r.status = status;
    r.headers["Content-Type"] = "application/json";
    r.body = json::serialize(body);
    return r;
}

int64_t EpochNow() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

// ---- GitHub ---------------------------------------------------------------------------------------------

FakeGithub::FakeGithub() : server_([this](const FakeRequest& r) { return Handle(r); }) {}

void FakeGithub::AddRepo(Repo repo) {
    std::lock_guard lock(mu_);
    repos_.push_back(std::move(repo));
}

void FakeGithub::SetProfile(const std::string& login, Profile profile) {
    std::lock_guard lock(mu_);
    profiles_[login] = std::move(profile);
}

void FakeGithub::ScriptSearch(ScriptedAnswer answer) {
    std::lock_guard lock(mu_);
    search_script_.push_back(std::move(answer));
}

void FakeGithub::ScriptProfile(ScriptedAnswer answer) {
    std::lock_guard lock(mu_);
    profile_script_.push_back(std::move(answer));
}

void FakeGithub::SetSearchRemaining(int remaining, int64_t reset_epoch) {
    std::lock_guard lock(mu_);
    search_remaining_ = remaining;
    search_reset_ = reset_epoch;
}

void FakeGithub::SetIncompleteResults(bool incomplete) {
    std::lock_guard lock(mu_);
    incomplete_ = incomplete;
}

size_t FakeGithub::SearchCalls() const {
    std::lock_guard lock(mu_);
    return search_calls_;
}

size_t FakeGithub::ProfileCalls() const {
    std::lock_guard lock(mu_);
    return profile_calls_;
}

std::vector<std::string> FakeGithub::PagesServed() const {
    std::lock_guard lock(mu_);
    return pages_;
}

FakeResponse FakeGithub::Handle(const FakeRequest& req) {
    if (req.Header("user-agent").empty()) {
        return JsonAnswer(403, json::object{{"message",
                                             "Request forbidden by administrative rules. Please make sure "
                                             "your request has a User-Agent header"}});
    }
    if (req.Header("authorization") != std::string("Bearer ") + kToken) {
        return JsonAnswer(401, json::object{{"message", "Bad credentials"}, {"status", "401"}});
    }
    if (req.method != "GET") return JsonAnswer(404, json::object{{"message", "Not Found"}});
    const std::string path = PathOf(req.target);
    if (path == "/search/repositories") return Search(req);
    for (const char* prefix : {"/users/", "/orgs/"}) {
        const std::string p(prefix);
        if (path.rfind(p, 0) == 0) return Account(req, Decode(path.substr(p.size())));
    }
    return JsonAnswer(404, json::object{{"message", "Not Found"}});
}

FakeResponse FakeGithub::Search(const FakeRequest& req) {
    std::lock_guard lock(mu_);
    ++search_calls_;
    if (auto a = Due(search_script_)) return Answer(*a);
    const int64_t reset = search_reset_ != 0 ? search_reset_ : EpochNow() + 60;
    std::map<std::string, std::string> limits{
        {"x-ratelimit-limit", "30"}, {"x-ratelimit-resource", "search"}, {"x-ratelimit-reset", std::to_string(reset)}};
    if (search_remaining_ <= 0) {
        limits["x-ratelimit-remaining"] = "0";
        limits["x-ratelimit-used"] = "30";
        auto r = JsonAnswer(403, json::object{{"message", "API rate limit exceeded for user ID 1."},
                                              {"documentation_url", "https://docs.github.com/rest/rate-limit"}});
        r.headers.insert(limits.begin(), limits.end());
        return r;
    }
    --search_remaining_;
    limits["x-ratelimit-remaining"] = std::to_string(search_remaining_);
    limits["x-ratelimit-used"] = "1";
    auto query = QueryOf(req.target);
    if (query["q"].empty()) {
        auto r = JsonAnswer(422, json::object{{"message", "Validation Failed"}});
        r.headers.insert(limits.begin(), limits.end());
        return r;
    }
    const size_t per_page =
        std::clamp<size_t>(static_cast<size_t>(std::stoul(query.count("per_page") ? query["per_page"] : "30")), 1, 100);
    const size_t page = std::max<size_t>(1, static_cast<size_t>(std::stoul(query.count("page") ? query["page"] : "1")));
    pages_.push_back(std::to_string(page));
    json::array items;
    const size_t first = (page - 1) * per_page;
    for (size_t i = first; i < repos_.size() && i < first + per_page; ++i) {
        const auto& r = repos_[i];
        json::array topics;
        for (const auto& t : r.topics) topics.emplace_back(t);
        items.push_back(json::object{
            {"id", static_cast<int64_t>(1000 + i)},
            {"name", r.name},
            {"full_name", r.owner + "/" + r.name},
            {"html_url", "https://github.com/" + r.owner + "/" + r.name},
            {"description", "Repository " + r.name},
            {"fork", r.fork},
            {"archived", false},
            {"stargazers_count", r.stars},
            {"forks_count", r.forks},
            {"pushed_at", r.pushed_at},
            {"topics", std::move(topics)},
            {"owner",
             json::object{{"login", r.owner}, {"type", r.owner_type}, {"html_url", "https://github.com/" + r.owner}}}});
    }
    const size_t last = repos_.empty() ? 1 : (repos_.size() + per_page - 1) / per_page;
    auto r = JsonAnswer(200, json::object{{"total_count", static_cast<int64_t>(repos_.size())},
                                          {"incomplete_results", incomplete_},
                                          {"items", std::move(items)}});
    r.headers.insert(limits.begin(), limits.end());
    auto link_to = [&](size_t p) {
        std::string target = req.target;
        size_t pos = target.find("&page=");  // not "per_page="
        if (pos == std::string::npos) pos = target.find("?page=");
        if (pos == std::string::npos) {
            target += "&page=" + std::to_string(p);
        } else {
            const size_t value = pos + 6;
            const size_t end = target.find('&', value);
            target = target.substr(0, value) + std::to_string(p) + (end == std::string::npos ? "" : target.substr(end));
        }
        return "<" + server_.Url(target) + ">";
    };
    std::string link;
    if (page < last) link = link_to(page + 1) + "; rel=\"next\", " + link_to(last) + "; rel=\"last\"";
    if (page > 1) link += std::string(link.empty() ? "" : ", ") + link_to(page - 1) + "; rel=\"prev\"";
    if (!link.empty()) r.headers["Link"] = link;
    return r;
}

FakeResponse FakeGithub::Account(const FakeRequest& req, const std::string& login) {
    (void)req;
    std::lock_guard lock(mu_);
    ++profile_calls_;
    if (auto a = Due(profile_script_)) return Answer(*a);
    auto it = profiles_.find(login);
    const bool org = std::any_of(repos_.begin(), repos_.end(),
                                 [&](const Repo& r) { return r.owner == login && r.owner_type == "Organization"; });
    const Profile p = it == profiles_.end() ? Profile{} : it->second;
    auto r = JsonAnswer(200, json::object{{"login", login},
                                          {"id", 42},
                                          {"type", org ? "Organization" : "User"},
                                          {"html_url", "https://github.com/" + login},
                                          {"name", p.name},
                                          {"company", "@" + login},
                                          {"blog", p.blog},
                                          {"location", "Berlin"},
                                          {"email", p.email.empty() ? json::value(nullptr) : json::value(p.email)},
                                          {"hireable", nullptr},
                                          {"bio", "ML infra"},
                                          {"public_repos", 31},
                                          {"followers", 540}});
    r.headers["x-ratelimit-limit"] = "5000";
    r.headers["x-ratelimit-remaining"] = "4999";
    r.headers["x-ratelimit-resource"] = "core";
    r.headers["x-ratelimit-reset"] = std::to_string(EpochNow() + 3600);
    return r;
}

// ---- Reddit ---------------------------------------------------------------------------------------------

FakeReddit::FakeReddit() : server_([this](const FakeRequest& r) { return Handle(r); }) {}

void FakeReddit::AddPost(Post post) {
    std::lock_guard lock(mu_);
    posts_.push_back(std::move(post));
}

void FakeReddit::ScriptToken(ScriptedAnswer answer) {
    std::lock_guard lock(mu_);
    token_script_.push_back(std::move(answer));
}

void FakeReddit::ScriptSearch(ScriptedAnswer answer) {
    std::lock_guard lock(mu_);
    search_script_.push_back(std::move(answer));
}

size_t FakeReddit::TokenCalls() const {
    std::lock_guard lock(mu_);
    return token_calls_;
}

size_t FakeReddit::SearchCalls() const {
    std::lock_guard lock(mu_);
    return search_calls_;
}

std::vector<std::string> FakeReddit::Calls() const {
    std::lock_guard lock(mu_);
    return calls_;
}

FakeResponse FakeReddit::Handle(const FakeRequest& req) {
    std::lock_guard lock(mu_);
    calls_.push_back(req.method + " " + PathOf(req.target));
    const std::string ua = req.Header("user-agent");
    if (ua.empty() || ua.find("curl") != std::string::npos) {
        return JsonAnswer(429, json::object{{"message", "Too Many Requests"}, {"error", 429}});
    }
    const std::string path = PathOf(req.target);
    if (req.method == "POST" && path == "/api/v1/access_token") {
        ++token_calls_;
        if (auto a = Due(token_script_)) return Answer(*a);
        // Basic base64("reddit-client-id:reddit-client-secret")
        if (req.Header("authorization") != "Basic cmVkZGl0LWNsaWVudC1pZDpyZWRkaXQtY2xpZW50LXNlY3JldA==") {
            return JsonAnswer(401, json::object{{"message", "Unauthorized"}, {"error", 401}});
        }
        if (req.body != "grant_type=client_credentials") {
            return JsonAnswer(200, json::object{{"error", "unsupported_grant_type"}});
        }
        ++tokens_issued_;
        return JsonAnswer(200, json::object{{"access_token", "token-" + std::to_string(tokens_issued_)},
                                            {"token_type", "bearer"},
                                            {"expires_in", 3600},
                                            {"scope", "*"}});
    }
    if (req.method != "GET") return JsonAnswer(405, json::object{{"message", "read only"}});
    if (req.Header("authorization").rfind("bearer token-", 0) != 0) {
        return JsonAnswer(401, json::object{{"message", "Unauthorized"}, {"error", 401}});
    }
    // /r/{sub}/search
    if (path.rfind("/r/", 0) != 0 || path.size() < 10 || path.substr(path.size() - 7) != "/search") {
        return JsonAnswer(404, json::object{{"message", "Not Found"}, {"error", 404}});
    }
    ++search_calls_;
    if (auto a = Due(search_script_)) return Answer(*a);
    const std::string sub = path.substr(3, path.size() - 3 - 7);
    auto query = QueryOf(req.target);
    std::vector<const Post*> matching;
    for (const auto& p : posts_) {
        if (p.subreddit == sub) matching.push_back(&p);
    }
    size_t start = 0;
    if (!query["after"].empty()) {
        for (size_t i = 0; i < matching.size(); ++i) {
            if ("t3_" + matching[i]->id == query["after"]) start = i + 1;
        }
    }
    json::array children;
    std::string after;
    for (size_t i = start; i < matching.size() && i < start + page_size_; ++i) {
        const Post& p = *matching[i];
        children.push_back(json::object{
            {"kind", "t3"},
            {"data", json::object{{"id", p.id},
                                  {"name", "t3_" + p.id},
                                  {"title", p.title},
                                  {"selftext", p.selftext},
                                  {"author", p.author},
                                  {"permalink", "/r/" + p.subreddit + "/comments/" + p.id + "/post/"},
                                  {"url", "https://www.reddit.com/r/" + p.subreddit + "/comments/" + p.id + "/post/"},
                                  {"created_utc", static_cast<double>(p.created_utc)},
                                  {"score", p.score},
                                  {"num_comments", p.comments},
                                  {"subreddit", p.subreddit},
                                  {"over_18", p.over_18},
                                  {"is_self", true}}}});
        if (i + 1 < matching.size() && i + 1 == start + page_size_) after = "t3_" + p.id;
    }
    auto r = JsonAnswer(
        200, json::object{{"kind", "Listing"},
                          {"data", json::object{{"after", after.empty() ? json::value(nullptr) : json::value(after)},
                                                {"before", nullptr},
                                                {"dist", static_cast<int64_t>(children.size())},
                                                {"children", std::move(children)}}}});
    r.headers["X-Ratelimit-Used"] = std::to_string(search_calls_);
    r.headers["X-Ratelimit-Remaining"] = std::to_string(600 - static_cast<int>(search_calls_)) + ".0";
    r.headers["X-Ratelimit-Reset"] = "420";
    return r;
}

}  // namespace gpuopt::testing
