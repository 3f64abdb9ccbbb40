#include "acquisition/settings.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include "acquisition/templates.hpp"
#include "common/json.hpp"

namespace gpuopt::acquisition {

// Defined in the generated acquisition_data.cpp (src/acquisition/CMakeLists.txt).
extern const char* const kBuiltinAcquisition;

namespace {

namespace json = boost::json;

// Reads one object's fields, each checked; the first problem names its place ("sequences[1].steps[0].subject").
class Reader {
public:
    Reader(const json::object& o, std::string where) : o_(o), where_(std::move(where)) {}

    Result<std::string> Text(std::string_view key, bool required, size_t max = 2000) const {
        const json::value* v = o_.if_contains(key);
        if (v == nullptr || v->is_null()) {
            if (required) return Error::Validation(Name(key), "is required");
            return std::string();
        }
        if (!v->is_string()) return Error::Validation(Name(key), "must be a string");
        if (v->get_string().size() > max) {
            return Error::Validation(Name(key), "must be at most " + std::to_string(max) + " characters");
        }
        return std::string(v->get_string());
    }

    Result<int> Int(std::string_view key, int fallback, int lo, int hi) const {
        const json::value* v = o_.if_contains(key);
        if (v == nullptr || v->is_null()) return fallback;
        if (!v->is_int64() || v->get_int64() < lo || v->get_int64() > hi) {
            return Error::Validation(Name(key),
                                     "must be a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
        }
        return static_cast<int>(v->get_int64());
    }

    Result<std::vector<std::string>> Strings(std::string_view key, size_t max_each) const {
        std::vector<std::string> out;
        const json::value* v = o_.if_contains(key);
        if (v == nullptr || v->is_null()) return out;
        if (!v->is_array()) return Error::Validation(Name(key), "must be a list of strings");
        for (const auto& e : v->get_array()) {
            if (!e.is_string() || e.get_string().empty() || e.get_string().size() > max_each) {
                return Error::Validation(Name(key), "must be a list of non-empty strings of at most " +
                                                        std::to_string(max_each) + " characters");
            }
            out.emplace_back(e.get_string());
        }
        return out;
    }

    // The array under `key` ([] when absent), each element an object.
    Result<std::vector<Reader>> Objects(std::string_view key) const {
        std::vector<Reader> out;
        const json::value* v = o_.if_contains(key);
        if (v == nullptr || v->is_null()) return out;
        if (!v->is_array()) return Error::Validation(Name(key), "must be a list");
        size_t i = 0;
        for (const auto& e : v->get_array()) {
            const std::string where = Name(key) + "[" + std::to_string(i++) + "]";
            if (!e.is_object()) return Error::Validation(where, "must be an object");
            out.emplace_back(e.get_object(), where);
        }
        return out;
    }

    Result<std::optional<Reader>> Object(std::string_view key) const {
        const json::value* v = o_.if_contains(key);
        if (v == nullptr || v->is_null()) return std::optional<Reader>();
        if (!v->is_object()) return Error::Validation(Name(key), "must be an object");
        return std::optional<Reader>(Reader(v->get_object(), Name(key)));
    }

    Result<void> OnlyKnown(std::initializer_list<std::string_view> keys) const {
        for (const auto& [k, v] : o_) {
            if (std::find(keys.begin(), keys.end(), std::string_view(k)) == keys.end()) {
                return Error::Validation(Name(k), "is not a known setting");
            }
        }
        return {};
    }

    std::string Name(std::string_view key) const {
        return where_.empty() ? std::string(key) : where_ + "." + std::string(key);
    }
    const std::string& where() const { return where_; }

private:
    const json::object& o_;
    std::string where_;
};

#define TRY_SET(target, expr)                           \
    do {                                                \
        auto tryset_value = (expr);                     \
        if (!tryset_value) return tryset_value.error(); \
        (target) = std::move(*tryset_value);            \
    } while (false)

bool IsName(std::string_view s) {
    if (s.empty() || s.size() > 40) return false;
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'; });
}

std::string Lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

Result<void> CheckTemplate(const std::string& where, const std::string& text) {
    auto names = TemplateNames(text);
    if (!names) return Error::Validation(where, names.error().details.begin()->second);
    const auto& known = TemplateVariables();
    for (const auto& n : *names) {
        if (std::find(known.begin(), known.end(), n) == known.end()) {
            return Error::Validation(where, "uses {{" + n + "}}, which is not a template variable");
        }
    }
    return {};
}

Result<void> ReadGithub(const Reader& r, GithubSettings& g) {
    if (auto k = r.OnlyKnown({"queries", "recent_days", "max_pages", "per_page", "profiles_per_run"}); !k) {
        return k.error();
    }
    TRY_SET(g.recent_days, r.Int("recent_days", g.recent_days, 1, 3650));
    TRY_SET(g.max_pages, r.Int("max_pages", g.max_pages, 1, 10));
    TRY_SET(g.per_page, r.Int("per_page", g.per_page, 1, 100));
    TRY_SET(g.profiles_per_run, r.Int("profiles_per_run", g.profiles_per_run, 0, 1000));
    std::vector<Reader> queries;
    TRY_SET(queries, r.Objects("queries"));
    std::set<std::string> names;
    for (const auto& q : queries) {
        if (auto k = q.OnlyKnown({"name", "q", "sort"}); !k) return k.error();
        GithubQuery out;
        TRY_SET(out.name, q.Text("name", true, 40));
        if (!IsName(out.name)) return Error::Validation(q.Name("name"), "must be a-z, 0-9, - and _");
        if (!names.insert(out.name).second) return Error::Validation(q.Name("name"), "is used twice");
        TRY_SET(out.q, q.Text("q", true, 256));
        if (out.q.empty()) return Error::Validation(q.Name("q"), "must not be empty");
        TRY_SET(out.sort, q.Text("sort", false, 20));
        if (out.sort.empty()) out.sort = "updated";
        if (out.sort != "updated" && out.sort != "stars" && out.sort != "forks") {
            return Error::Validation(q.Name("sort"), "must be updated, stars or forks");
        }
        g.queries.push_back(std::move(out));
    }
    return {};
}

Result<void> ReadReddit(const Reader& r, RedditSettings& s) {
    if (auto k = r.OnlyKnown({"subreddits", "queries", "time", "max_pages", "per_page", "keywords"}); !k) {
        return k.error();
    }
    TRY_SET(s.subreddits, r.Strings("subreddits", 50));
    for (const auto& sub : s.subreddits) {
        if (!std::all_of(sub.begin(), sub.end(),
                         [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; })) {
            return Error::Validation(r.Name("subreddits"), "must be subreddit names (letters, digits, _)");
        }
    }
    TRY_SET(s.queries, r.Strings("queries", 200));
    TRY_SET(s.keywords, r.Strings("keywords", 60));
    for (auto& k : s.keywords) k = Lower(k);
    std::string time;
    TRY_SET(time, r.Text("time", false, 10));
    if (!time.empty()) s.time = time;
    static const std::array<std::string_view, 6> kTimes{"hour", "day", "week", "month", "year", "all"};
    if (std::find(kTimes.begin(), kTimes.end(), s.time) == kTimes.end()) {
        return Error::Validation(r.Name("time"), "must be hour, day, week, month, year or all");
    }
    TRY_SET(s.max_pages, r.Int("max_pages", s.max_pages, 1, 10));
    TRY_SET(s.per_page, r.Int("per_page", s.per_page, 1, 100));
    return {};
}

Result<void> ReadSending(const Reader& r, SendingSettings& s) {
    if (auto k = r.OnlyKnown(
            {"daily_cap", "domain_interval_minutes", "window", "default_utc_offset_minutes", "jitter_minutes"});
        !k) {
        return k.error();
    }
    TRY_SET(s.daily_cap, r.Int("daily_cap", s.daily_cap, 1, 100000));
    TRY_SET(s.domain_interval_minutes, r.Int("domain_interval_minutes", s.domain_interval_minutes, 0, 7 * 24 * 60));
    TRY_SET(s.default_utc_offset_minutes,
            r.Int("default_utc_offset_minutes", s.default_utc_offset_minutes, -14 * 60, 14 * 60));
    TRY_SET(s.jitter_minutes, r.Int("jitter_minutes", s.jitter_minutes, 0, 24 * 60));
    auto found = r.Object("window");
    if (!found) return found.error();
    if (const auto& window = *found) {
        if (auto k = window->OnlyKnown({"start_hour", "end_hour", "days"}); !k) return k.error();
        TRY_SET(s.window.start_hour, window->Int("start_hour", s.window.start_hour, 0, 23));
        TRY_SET(s.window.end_hour, window->Int("end_hour", s.window.end_hour, 1, 24));
        if (s.window.end_hour <= s.window.start_hour) {
            return Error::Validation(window->Name("end_hour"), "must be after start_hour");
        }
        std::vector<std::string> days;
        TRY_SET(days, window->Strings("days", 3));
        if (!days.empty()) {
            static const std::array<std::string_view, 7> kDays{"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
            s.window.days.fill(false);
            for (const auto& d : days) {
                auto it = std::find(kDays.begin(), kDays.end(), Lower(d));
                if (it == kDays.end()) return Error::Validation(window->Name("days"), "must be mon, tue ... sun");
                s.window.days[static_cast<size_t>(it - kDays.begin())] = true;
            }
        }
    }
    return {};
}

Result<void> ReadAudit(const Reader& r, AuditSettings& a) {
    if (auto k = r.OnlyKnown({"data_hours", "link_valid_hours", "consent_text"}); !k) return k.error();
    TRY_SET(a.data_hours, r.Int("data_hours", a.data_hours, 1, 24 * 14));
    TRY_SET(a.link_valid_hours, r.Int("link_valid_hours", a.link_valid_hours, 1, 24 * 30));
    TRY_SET(a.consent_text, r.Text("consent_text", true, 1000));
    if (a.consent_text.empty()) return Error::Validation(r.Name("consent_text"), "must not be empty");
    return {};
}

Result<void> ReadSequences(const Reader& root, std::vector<Sequence>& out) {
    std::vector<Reader> sequences;
    TRY_SET(sequences, root.Objects("sequences"));
    std::set<std::string> names;
    for (const auto& r : sequences) {
        if (auto k = r.OnlyKnown({"name", "description", "segment", "goal", "steps"}); !k) return k.error();
        Sequence seq;
        TRY_SET(seq.name, r.Text("name", true, 40));
        if (!IsName(seq.name)) return Error::Validation(r.Name("name"), "must be a-z, 0-9, - and _");
        if (!names.insert(seq.name).second) return Error::Validation(r.Name("name"), "is used twice");
        TRY_SET(seq.description, r.Text("description", false, 500));
        TRY_SET(seq.segment, r.Text("segment", true, 40));
        if (seq.segment != "signup_no_agent" && seq.segment != "free_at_limit" && seq.segment != "audit_confirmed") {
            return Error::Validation(r.Name("segment"), "must be signup_no_agent, free_at_limit or audit_confirmed");
        }
        TRY_SET(seq.goal, r.Text("goal", true, 20));
        if (seq.goal != "activated" && seq.goal != "paid") {
            return Error::Validation(r.Name("goal"), "must be activated or paid");
        }
        std::vector<Reader> steps;
        TRY_SET(steps, r.Objects("steps"));
        if (steps.empty() || steps.size() > 20) return Error::Validation(r.Name("steps"), "must hold 1 to 20 steps");
        for (const auto& st : steps) {
            if (auto k = st.OnlyKnown({"delay_hours", "subject", "text"}); !k) return k.error();
            Step step;
            int hours = 0;
            TRY_SET(hours, st.Int("delay_hours", 0, 0, 24 * 365));
            step.delay_seconds = int64_t{hours} * 3600;
            TRY_SET(step.subject, st.Text("subject", true, 150));
            TRY_SET(step.text, st.Text("text", true, 20000));
            if (step.subject.empty() || step.text.empty()) {
                return Error::Validation(st.Name("subject"), "and text must not be empty");
            }
            // Honest copy: a first mail is not a reply nor a forward.
            const std::string lower = Lower(step.subject);
            if (lower.rfind("re:", 0) == 0 || lower.rfind("fw:", 0) == 0 || lower.rfind("fwd:", 0) == 0) {
                return Error::Validation(st.Name("subject"), "must not pretend to be a reply or a forward");
            }
            if (auto c = CheckTemplate(st.Name("subject"), step.subject); !c) return c.error();
            if (auto c = CheckTemplate(st.Name("text"), step.text); !c) return c.error();
            seq.steps.push_back(std::move(step));
        }
        out.push_back(std::move(seq));
    }
    return {};
}

}  // namespace

const Sequence* Settings::FindSequence(std::string_view name) const {
    for (const auto& s : sequences) {
        if (s.name == name) return &s;
    }
    return nullptr;
}

const std::vector<std::string_view>& TemplateVariables() {
    static const std::vector<std::string_view> names{"first_name", "company",     "email_domain", "dashboard_url",
                                                     "signup_url", "pricing_url", "agent_url",    "gpus",
                                                     "gpu_limit",  "plan",        "product"};
    return names;
}

Result<Settings> ParseSettings(std::string_view text, std::string_view file_name) {
    auto fail = [&](const Error& e) {
        Error out{e.code, e.message, {}};
        for (const auto& [field, what] : e.details) out.details.emplace(std::string(file_name) + ": " + field, what);
        if (out.details.empty()) out.details.emplace(std::string(file_name), e.message);
        return out;
    };
    auto parsed = ParseJson(text);
    if (!parsed) return fail(parsed.error());
    if (!parsed->is_object()) return fail(Error::Validation("(top)", "must be a JSON object"));
    const Reader root(parsed->get_object(), "");
    if (auto k = root.OnlyKnown({"github", "reddit", "sending", "audit", "sequences"}); !k) return fail(k.error());
    Settings s;
    auto section = [&](std::string_view key, auto read) -> Result<void> {
        auto r = root.Object(key);
        if (!r) return r.error();
        if (*r) return read(**r);
        return {};
    };
    if (auto r = section("github", [&](const Reader& x) { return ReadGithub(x, s.github); }); !r)
        return fail(r.error());
    if (auto r = section("reddit", [&](const Reader& x) { return ReadReddit(x, s.reddit); }); !r)
        return fail(r.error());
    if (auto r = section("sending", [&](const Reader& x) { return ReadSending(x, s.sending); }); !r) {
        return fail(r.error());
    }
    auto audit = root.Object("audit");
    if (!audit) return fail(audit.error());
    if (!*audit) return fail(Error::Validation("audit", "is required (its consent_text is shown on the audit form)"));
    if (auto r = ReadAudit(**audit, s.audit); !r) return fail(r.error());
    if (auto r = ReadSequences(root, s.sequences); !r) return fail(r.error());
    return s;
}

Result<Settings> LoadSettings(const std::string& path) {
    if (path.empty()) return ParseSettings(kBuiltinAcquisition, "catalog/acquisition.json");
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error::Validation("ACQUISITION_CONFIG", "cannot read " + path);
    std::ostringstream text;
    text << in.rdbuf();
    if (text.str().size() > 1024 * 1024) return Error::Validation("ACQUISITION_CONFIG", path + " is over 1 MiB");
    return ParseSettings(text.str(), path);
}

}  // namespace gpuopt::acquisition
