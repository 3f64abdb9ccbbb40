// Local fakes of the acquisition sources, following reference/external-apis.md §3 and §4: GitHub's
// repository search and account look-ups (Link paging, x-ratelimit-* headers, primary and secondary limits,
// 422, incomplete results; public e-mail addresses in profiles, which must never be used), and Reddit's
// application-only token and subreddit search (listing paging with `after`, X-Ratelimit-* headers, 429, a
// token refusal answered 200 with an "error" field). Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "support/fake_http_server.hpp"

namespace gpuopt::testing {

// An answer served once, in place of a normal one: after `after_calls` more calls were answered normally.
struct ScriptedAnswer {
    int status = 200;
    std::map<std::string, std::string> headers;
    std::string body;
    size_t after_calls = 0;
};

class FakeGithub {
public:
    static constexpr const char* kToken = "github_pat_test_0123456789";

    struct Repo {
        std::string owner;
        std::string owner_type = "Organization";  // or "User"
        std::string name;
        int64_t stars = 0;
        int64_t forks = 0;
        std::string pushed_at = "2026-11-20T10:00:00Z";
        std::vector<std::string> topics;
        bool fork = false;
    };
    struct Profile {
        std::string name;
        std::string blog;
        std::string email;  // public, and never to be used
    };

    FakeGithub();

    std::string BaseUrl() const { return server_.Url(); }
    const FakeHttpServer& server() const { return server_; }

    void AddRepo(Repo repo);
    void SetProfile(const std::string& login, Profile profile);
    // Answers the next search (or look-up) with this instead.
    void ScriptSearch(ScriptedAnswer answer);
    void ScriptProfile(ScriptedAnswer answer);
    // The search budget left in the window (x-ratelimit-remaining after each call); at 0 calls get 403.
    void SetSearchRemaining(int remaining, int64_t reset_epoch);
    void SetIncompleteResults(bool incomplete);

    size_t SearchCalls() const;
    size_t ProfileCalls() const;
    // The pages searched, in order ("1", "2", ...).
    std::vector<std::string> PagesServed() const;

private:
    FakeResponse Handle(const FakeRequest& req);
    FakeResponse Search(const FakeRequest& req);
    FakeResponse Account(const FakeRequest& req, const std::string& login);

    mutable std::mutex mu_;
    std::vector<Repo> repos_;
    std::map<std::string, Profile> profiles_;
    std::deque<ScriptedAnswer> search_script_;
    std::deque<ScriptedAnswer> profile_script_;
    int search_remaining_ = 100000;  // SetSearchRemaining makes a test run out
    int64_t search_reset_ = 0;
    bool incomplete_ = false;
    size_t search_calls_ = 0;
    size_t profile_calls_ = 0;
    std::vector<std::string> pages_;
    FakeHttpServer server_;
};

class FakeReddit {
public:
    static constexpr const char* kClientId = "reddit-client-id";
    static constexpr const char* kClientSecret = "reddit-client-secret";

    struct Post {
        std::string subreddit;
        std::string id;  // without t3_
        std::string title;
        std::string selftext;
        int64_t created_utc = 0;
        int64_t score = 0;
        int64_t comments = 0;
        std::string author = "some_user";
        bool over_18 = false;
    };

    FakeReddit();

    std::string BaseUrl() const { return server_.Url(); }
    const FakeHttpServer& server() const { return server_; }

    void AddPost(Post post);
    void ScriptToken(ScriptedAnswer answer);
    void ScriptSearch(ScriptedAnswer answer);
    void SetPageSize(size_t size) { page_size_ = size; }

    size_t TokenCalls() const;
    size_t SearchCalls() const;
    // Every request's method and target, for checking that nothing but reads reached Reddit.
    std::vector<std::string> Calls() const;

private:
    FakeResponse Handle(const FakeRequest& req);

    mutable std::mutex mu_;
    std::vector<Post> posts_;
    std::deque<ScriptedAnswer> token_script_;
    std::deque<ScriptedAnswer> search_script_;
    size_t page_size_ = 2;
    size_t token_calls_ = 0;
    size_t search_calls_ = 0;
    int tokens_issued_ = 0;
    std::vector<std::string> calls_;
    FakeHttpServer server_;
};

}  // namespace gpuopt::testing
