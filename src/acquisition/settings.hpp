// What the acquisition engine looks for and what it sends (SPEC §9): the GitHub queries, the subreddits and
// searches, the sending discipline (a daily cap per sending address, spacing per recipient domain, send
// windows in the lead's local time, jitter), the audit, and the sequences with their steps and templates.
// Read from ACQUISITION_CONFIG (JSON) or the shipped catalog/acquisition.json; checked whole at start-up.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace gpuopt::acquisition {

struct GithubQuery {
    std::string name;  // the cursor's key: stable across restarts
    std::string q;     // GitHub search syntax; "{since}" becomes the date `recent_days` ago
    std::string sort = "updated";
};

struct GithubSettings {
    std::vector<GithubQuery> queries;
    int recent_days = 90;
    int max_pages = 3;  // per query per day (GitHub serves 1,000 results per query at most)
    int per_page = 50;
    int profiles_per_run = 30;  // account look-ups (their website) per run
};

struct RedditSettings {
    std::vector<std::string> subreddits;
    std::vector<std::string> queries;
    std::string time = "week";  // hour, day, week, month, year, all
    int max_pages = 2;
    int per_page = 50;
    std::vector<std::string> keywords;  // a post matches when its title or text has one (reasons)
};

struct SendWindow {
    int start_hour = 9;  // [start, end) in the lead's local time
    int end_hour = 17;
    std::array<bool, 7> days{true, true, true, true, true, false, false};  // Monday first
};

struct SendingSettings {
    int daily_cap = 50;  // per sending address per UTC day, across every sequence
    int domain_interval_minutes = 60;
    SendWindow window;
    int default_utc_offset_minutes = 0;  // for leads whose browser did not tell us
    int jitter_minutes = 20;
};

struct AuditSettings {
    int data_hours = 24;        // the audit reports this much of the lead's first data
    int link_valid_hours = 72;  // a confirmation link works this long
    std::string consent_text;   // shown beside the form's checkbox and recorded with each request
};

struct Step {
    int64_t delay_seconds = 0;  // after enrolment (the first step) or the step before
    std::string subject;
    std::string text;
};

struct Sequence {
    std::string name;
    std::string description;
    std::string segment;  // signup_no_agent, free_at_limit, audit_confirmed
    std::string goal;     // activated, paid
    std::vector<Step> steps;
};

struct Settings {
    GithubSettings github;
    RedditSettings reddit;
    SendingSettings sending;
    AuditSettings audit;
    std::vector<Sequence> sequences;

    const Sequence* FindSequence(std::string_view name) const;
};

// The variables a template may use: {{first_name}}, {{first_name|there}} ...
const std::vector<std::string_view>& TemplateVariables();

Result<Settings> ParseSettings(std::string_view json, std::string_view file_name);
// `path` empty: the shipped settings.
Result<Settings> LoadSettings(const std::string& path);

}  // namespace gpuopt::acquisition
