// The sources of prospects and conversations (SPEC §9): GitHub's repository search (prospect accounts, with
// a score and its reasons) and Reddit's subreddit search (posts for a person to answer). Both read only,
// honour the services' rate limits (a wait is kept in the store, so a restart does not ask early), page
// with the links the services give, and keep each query's place for the day: a run resumes where the last
// one stopped and never asks for the same page twice in a day. No e-mail address is taken from either.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "acquisition/settings.hpp"
#include "common/config.hpp"
#include "common/result.hpp"
#include "common/time.hpp"
#include "net/http_client.hpp"
#include "store/acquisition.hpp"

namespace gpuopt::acquisition {

struct GithubAccess {
    std::string api_url = "https://api.github.com";
    std::string token;  // GITHUB_TOKEN; without it the source is off
    std::chrono::seconds timeout{20};
};

struct RedditAccess {
    std::string api_url = "https://oauth.reddit.com";
    std::string auth_url = "https://www.reddit.com";
    std::string client_id;  // all three set, or the source is off
    std::string client_secret;
    std::string user_agent;
    std::chrono::seconds timeout{20};
};

// The access a server's configuration gives (GITHUB_*, REDDIT_*).
GithubAccess GithubAccessOf(const Config& config);
RedditAccess RedditAccessOf(const Config& config);

struct DiscoveryRun {
    int pages = 0;
    int items = 0;         // repositories or posts read
    int saved = 0;         // prospects or conversations written
    int profiles = 0;      // GitHub accounts looked up
    bool waiting = false;  // a rate limit stopped the run (or was still running)
    std::string stopped;   // why the run ended early, "" when every query is done for the day
};

// The score of a prospect and why, from its repositories and account (documented in docs/acquisition.md).
void ScoreProspect(store::Prospect& prospect, SysSeconds now);

// Where a 403/429 (or a spent budget) says to wait until; nullopt when the answer is not a rate limit.
// `previous` is the wait this source had last time, doubled for a repeated secondary limit.
std::optional<SysSeconds> RateLimitUntil(const net::HttpAnswer& answer, SysSeconds now,
                                         std::optional<std::chrono::seconds> previous);

// The rel="next" URL of a Link header, "" when there is none.
std::string NextLink(std::string_view link_header);

Result<DiscoveryRun> DiscoverGithub(store::AcquisitionStore& store, const GithubSettings& settings,
                                    const GithubAccess& access, SysSeconds now);
Result<DiscoveryRun> DiscoverReddit(store::AcquisitionStore& store, const RedditSettings& settings,
                                    const RedditAccess& access, SysSeconds now);

}  // namespace gpuopt::acquisition
