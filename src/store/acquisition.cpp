// The acquisition store (store/acquisition.hpp), once for both backends over portable SQL.
#include "store/acquisition.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <memory>

#include "common/crypto.hpp"
#include "common/email.hpp"
#include "common/json.hpp"
#include "store/panel_sql.hpp"

namespace gpuopt::store {

namespace {

constexpr std::array<LeadStatus, 7> kLeadStatuses{
    LeadStatus::kPending,    LeadStatus::kActive,  LeadStatus::kUnsubscribed, LeadStatus::kBounced,
    LeadStatus::kComplained, LeadStatus::kReplied, LeadStatus::kErased};

// Mailbox providers whose domain says nothing about a company: no company-wide stop through them.
constexpr std::array<std::string_view, 28> kPublicMailDomains{
    "gmail.com",  "googlemail.com", "yahoo.com",  "yahoo.co.uk", "ymail.com", "outlook.com",  "hotmail.com",
    "live.com",   "msn.com",        "icloud.com", "me.com",      "mac.com",   "aol.com",      "proton.me",
    "pm.me",      "protonmail.com", "gmx.de",     "gmx.net",     "web.de",    "mail.ru",      "yandex.ru",
    "yandex.com", "qq.com",         "163.com",    "126.com",     "zoho.com",  "fastmail.com", "hey.com"};

std::string DomainOf(std::string_view email) {
    const auto at = email.rfind('@');
    return at == std::string_view::npos ? std::string() : std::string(email.substr(at + 1));
}

std::string CompanyKeyOf(const std::string& domain) {
    if (domain.empty()) return {};
    return std::find(kPublicMailDomains.begin(), kPublicMailDomains.end(), domain) == kPublicMailDomains.end()
               ? domain
               : std::string();
}

// ---- Reading and writing through the runner -------------------------------------------------------------

template <class T, class Work>
Result<T> ReadWith(SqlRunner& runner, Work work) {
    std::optional<T> out;
    auto r = runner.Read([&](SqlSession& s) -> Result<void> {
        auto v = work(s);
        if (!v) return v.error();
        out.emplace(std::move(*v));
        return {};
    });
    if (!r) return r.error();
    return std::move(*out);
}

template <class T, class Work>
void WriteWith(SqlRunner& runner, Work work, Callback<T> done) {
    auto out = std::make_shared<std::optional<T>>();
    runner.Write(
        [work = std::move(work), out](SqlSession& s) -> Result<void> {
            auto v = work(s);
            if (!v) return v.error();
            out->emplace(std::move(*v));
            return {};
        },
        [out, done = std::move(done)](Result<void> r) {
            if (!r) return done(r.error());
            done(std::move(**out));
        });
}

// `text` for LIKE ... ESCAPE '\': its own % and _ match themselves.
std::string LikeText(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    return out;
}

Error NotFound(std::string what) { return Error{ErrorCode::kNotFound, std::move(what), {}}; }
Error Conflict(std::string what) { return Error{ErrorCode::kConflict, std::move(what), {}}; }

// ---- Leads ----------------------------------------------------------------------------------------------

constexpr const char* kLeadColumns =
    "id, email, domain, company_key, name, company, source, referral_code, basis, status, account_id,"
    " utc_offset_minutes, consent_text, consent_ip, consent_at, created_at, confirmed_at, signed_up_at,"
    " activated_at, paid_at, audit_sent_at";

std::string LeadSelect(std::string_view where) {
    return std::string("SELECT ") + kLeadColumns + " FROM leads " + std::string(where);
}

Lead ReadLead(const SqlRows& r, size_t i, size_t first = 0) {
    const size_t c = first;
    Lead l;
    l.id = r.Int(i, c);
    l.email = r.Text(i, c + 1);
    l.domain = r.Text(i, c + 2);
    l.company_key = r.Text(i, c + 3);
    l.name = r.Text(i, c + 4);
    l.company = r.Text(i, c + 5);
    l.source = r.Text(i, c + 6);
    l.referral_code = r.Text(i, c + 7);
    l.basis = r.Text(i, c + 8);
    l.status = LeadStatusNamed(r.Text(i, c + 9)).value_or(LeadStatus::kActive);
    l.account_id = r.OptInt(i, c + 10);
    if (auto offset = r.OptInt(i, c + 11)) l.utc_offset_minutes = static_cast<int>(*offset);
    l.consent_text = r.Text(i, c + 12);
    l.consent_ip = r.Text(i, c + 13);
    l.consent_at = r.OptTime(i, c + 14);
    l.created_at = r.Time(i, c + 15);
    l.confirmed_at = r.OptTime(i, c + 16);
    l.signed_up_at = r.OptTime(i, c + 17);
    l.activated_at = r.OptTime(i, c + 18);
    l.paid_at = r.OptTime(i, c + 19);
    l.audit_sent_at = r.OptTime(i, c + 20);
    return l;
}

Result<std::optional<Lead>> LeadWhere(SqlSession& s, std::string_view where, const SqlArgs& args) {
    auto rows = s.Query(LeadSelect(where), args);
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<Lead>();
    return std::optional<Lead>(ReadLead(*rows, 0));
}

Result<Lead> ExistingLead(SqlSession& s, int64_t id) {
    auto lead = LeadWhere(s, "WHERE id = ?1", SqlArgs().Add(id));
    if (!lead) return lead.error();
    if (!*lead) return NotFound("no such lead");
    return std::move(**lead);
}

Result<void> AddEvent(SqlSession& s, int64_t lead_id, std::string_view kind, SysSeconds at,
                      std::string_view sequence = {}, int step = -1, std::string_view detail = {}) {
    auto r = s.Query(
        "INSERT INTO lead_events (lead_id, at, kind, source, sequence, step, detail)"
        " SELECT id, CAST(?2 AS BIGINT), ?3, source, ?4, CAST(?5 AS INTEGER), ?6 FROM leads WHERE id = ?1",
        SqlArgs().Add(lead_id).Add(at).Add(kind).Add(sequence).Add(step).Add(detail));
    if (!r) return r.error();
    return {};
}

Result<bool> SuppressedIn(SqlSession& s, std::string_view email) {
    const std::string address = NormalizeEmail(email);
    auto rows = s.Query(
        "SELECT 1 FROM suppressions WHERE (kind = 'address' AND hash = ?1) OR (kind = 'domain' AND hash = ?2)"
        " LIMIT 1",
        SqlArgs().Add(SuppressionHash(address)).Add(SuppressionHash(DomainOf(address))));
    if (!rows) return rows.error();
    return !rows->empty();
}

// Adds the entry unless its (kind, hash) is there; answers whether it was new.
Result<bool> InsertSuppression(SqlSession& s, const Suppression& e) {
    auto rows = s.Query(
        "INSERT INTO suppressions (kind, value, hash, reason, source, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        " ON CONFLICT (kind, hash) DO NOTHING RETURNING id",
        SqlArgs().Add(e.kind).Add(e.value).Add(e.hash).Add(e.reason).Add(e.source).Add(e.created_at));
    if (!rows) return rows.error();
    return !rows->empty();
}

Result<void> SuppressAddress(SqlSession& s, std::string_view email, std::string_view reason, std::string_view source,
                             SysSeconds now) {
    const std::string address = NormalizeEmail(email);
    Suppression e{0, "address", address, SuppressionHash(address), std::string(reason), std::string(source), now};
    auto r = InsertSuppression(s, e);
    if (!r) return r.error();
    return {};
}

// Stops the active enrollments the WHERE clause (over `enrollments`) selects, each with its history line.
Result<int64_t> StopEnrollments(SqlSession& s, std::string_view where, SqlArgs args, std::string_view reason,
                                SysSeconds now, std::string_view state = "stopped") {
    const size_t n = args.values().size();
    const std::string sql = "UPDATE enrollments SET state = ?" + std::to_string(n + 1) + ", stop_reason = ?" +
                            std::to_string(n + 2) + ", updated_at = ?" + std::to_string(n + 3) +
                            " WHERE state = 'active' AND " + std::string(where) + " RETURNING lead_id, sequence, step";
    args.Add(state).Add(reason).Add(now);
    auto rows = s.Query(sql, args);
    if (!rows) return rows.error();
    for (size_t i = 0; i < rows->size(); ++i) {
        if (auto r = AddEvent(s, rows->Int(i, 0), state == "done" ? "finished" : "stopped", now, rows->Text(i, 1),
                              static_cast<int>(rows->Int(i, 2)), reason);
            !r) {
            return r.error();
        }
    }
    return static_cast<int64_t>(rows->size());
}

Result<std::string> SourceOfCode(SqlSession& s, const std::string& code) {
    if (code.empty()) return std::string();
    auto rows = s.Query("SELECT source FROM referral_codes WHERE code = ?1", SqlArgs().Add(code));
    if (!rows) return rows.error();
    if (rows->empty()) return std::string();
    return rows->Text(0, 0);
}

Result<Lead> SignupIn(SqlSession& s, const SignupLead& signup) {
    const std::string email = NormalizeEmail(signup.email);
    auto source = SourceOfCode(s, signup.referral_code);
    if (!source) return source.error();
    const std::string code = source->empty() ? std::string() : signup.referral_code;
    auto existing = LeadWhere(s, "WHERE email_hash = ?1", SqlArgs().Add(SuppressionHash(email)));
    if (!existing) return existing.error();
    int64_t id = 0;
    if (*existing) {
        id = (*existing)->id;
        auto r = s.Query(
            "UPDATE leads SET account_id = ?2, signed_up_at = COALESCE(signed_up_at, ?3),"
            " referral_code = CASE WHEN referral_code = '' THEN ?4 ELSE referral_code END,"
            " utc_offset_minutes = COALESCE(utc_offset_minutes, CAST(?5 AS INTEGER)) WHERE id = ?1",
            SqlArgs().Add(id).Add(signup.account_id).Add(signup.now).Add(code).Add(signup.utc_offset_minutes));
        if (!r) return r.error();
        if (!(*existing)->signed_up_at) {
            if (auto e = AddEvent(s, id, "signed_up", signup.now); !e) return e.error();
        }
    } else {
        const std::string domain = DomainOf(email);
        auto rows = s.Query(
            "INSERT INTO leads (email, email_hash, domain, company_key, source, referral_code, basis, status,"
            " account_id, utc_offset_minutes, created_at, signed_up_at)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'customer', 'active', ?7, ?8, ?9, ?9) RETURNING id",
            SqlArgs()
                .Add(email)
                .Add(SuppressionHash(email))
                .Add(domain)
                .Add(CompanyKeyOf(domain))
                .Add(source->empty() ? std::string("signup") : *source)
                .Add(code)
                .Add(signup.account_id)
                .Add(signup.utc_offset_minutes)
                .Add(signup.now));
        if (!rows) return rows.error();
        id = rows->Int(0, 0);
        if (auto e = AddEvent(s, id, "created", signup.now, {}, -1, "signup"); !e) return e.error();
        if (auto e = AddEvent(s, id, "signed_up", signup.now); !e) return e.error();
    }
    return ExistingLead(s, id);
}

Result<void> EraseIn(SqlSession& s, const Lead& lead, std::string_view why, SysSeconds now) {
    if (!lead.email.empty()) {
        const std::string hash = SuppressionHash(lead.email);
        // The entry keeps the hash alone: the person is never written to, nor imported, again.
        auto r = s.Query(
            "INSERT INTO suppressions (kind, value, hash, reason, source, created_at)"
            " VALUES ('address', '', ?1, 'erased', ?2, ?3) ON CONFLICT (kind, hash) DO UPDATE SET value = ''",
            SqlArgs().Add(hash).Add(why).Add(now));
        if (!r) return r.error();
        // Marketing mail still waiting for them is not sent; what went out keeps no address.
        r = s.Query(
            "UPDATE outbox SET status = 'failed', last_error = 'erased' WHERE to_address = ?1 AND status = 'pending'"
            " AND kind LIKE 'sequence:%'",
            SqlArgs().Add(lead.email));
        if (!r) return r.error();
        r = s.Query(
            "UPDATE outbox SET to_address = '', subject = '', body_text = '', body_html = '', headers = '{}'"
            " WHERE to_address = ?1 AND status <> 'pending' AND (kind LIKE 'sequence:%' OR kind LIKE 'audit%')",
            SqlArgs().Add(lead.email));
        if (!r) return r.error();
    }
    if (auto r = StopEnrollments(s, "lead_id = ?1", SqlArgs().Add(lead.id), "erased", now); !r) return r.error();
    auto r = s.Query(
        "UPDATE leads SET email = NULL, email_hash = NULL, domain = '', company_key = '', name = '', company = '',"
        " consent_text = '', consent_ip = '', confirm_token_hash = NULL, status = 'erased' WHERE id = ?1",
        SqlArgs().Add(lead.id));
    if (!r) return r.error();
    r = s.Query("UPDATE lead_events SET detail = '' WHERE lead_id = ?1", SqlArgs().Add(lead.id));
    if (!r) return r.error();
    return AddEvent(s, lead.id, "erased", now);
}

// bounced, complained, replied, unsubscribed: the lead's status, its suppression, its sequences stopped.
Result<Lead> MarkIn(SqlSession& s, const Lead& lead, LeadStatus status, std::string_view detail, SysSeconds now) {
    auto r = s.Query("UPDATE leads SET status = ?2 WHERE id = ?1", SqlArgs().Add(lead.id).Add(NameOf(status)));
    if (!r) return r.error();
    if (status != LeadStatus::kReplied && !lead.email.empty()) {
        if (auto e = SuppressAddress(s, lead.email, NameOf(status), detail.empty() ? "operator" : detail, now); !e) {
            return e.error();
        }
    }
    if (auto e = StopEnrollments(s, "lead_id = ?1", SqlArgs().Add(lead.id), NameOf(status), now); !e) {
        return e.error();
    }
    if (status == LeadStatus::kReplied && !lead.company_key.empty()) {
        // Apollo's rule: when someone at a company answers, the others there are not written to.
        if (auto e = StopEnrollments(s, "lead_id IN (SELECT id FROM leads WHERE company_key = ?1 AND id <> ?2)",
                                     SqlArgs().Add(lead.company_key).Add(lead.id), "company replied", now);
            !e) {
            return e.error();
        }
    }
    if (auto e = AddEvent(s, lead.id, NameOf(status), now, {}, -1, detail); !e) return e.error();
    return ExistingLead(s, lead.id);
}

// ---- Sources ------------------------------------------------------------------------------------------

std::string StringsJson(const std::vector<std::string>& values) {
    boost::json::array a;
    for (const auto& v : values) a.emplace_back(v);
    return ToJson(a);
}

std::vector<std::string> StringsFrom(const std::string& text) {
    std::vector<std::string> out;
    auto v = ParseJson(text);
    if (!v || !v->is_array()) return out;
    for (const auto& e : v->get_array()) {
        if (e.is_string()) out.emplace_back(e.get_string());
    }
    return out;
}

std::string ReposJson(const std::vector<ProspectRepo>& repos) {
    boost::json::array a;
    for (const auto& r : repos) {
        boost::json::object o;
        o["full_name"] = r.full_name;
        o["html_url"] = r.html_url;
        o["description"] = r.description;
        o["stars"] = r.stars;
        o["forks"] = r.forks;
        if (r.pushed_at) o["pushed_at"] = r.pushed_at->time_since_epoch().count();
        boost::json::array topics;
        for (const auto& t : r.topics) topics.emplace_back(t);
        o["topics"] = std::move(topics);
        a.push_back(std::move(o));
    }
    return ToJson(a);
}

std::vector<ProspectRepo> ReposFrom(const std::string& text) {
    std::vector<ProspectRepo> out;
    auto v = ParseJson(text);
    if (!v || !v->is_array()) return out;
    for (const auto& e : v->get_array()) {
        if (!e.is_object()) continue;
        const auto& o = e.get_object();
        ProspectRepo r;
        auto str = [&](const char* k) {
            const auto* f = o.if_contains(k);
            return f != nullptr && f->is_string() ? std::string(f->get_string()) : std::string();
        };
        auto num = [&](const char* k) -> std::optional<int64_t> {
            const auto* f = o.if_contains(k);
            if (f == nullptr || !f->is_int64()) return std::nullopt;
            return f->get_int64();
        };
        r.full_name = str("full_name");
        r.html_url = str("html_url");
        r.description = str("description");
        r.stars = num("stars").value_or(0);
        r.forks = num("forks").value_or(0);
        if (auto p = num("pushed_at")) r.pushed_at = SysSeconds(std::chrono::seconds(*p));
        if (const auto* t = o.if_contains("topics"); t != nullptr && t->is_array()) {
            for (const auto& topic : t->get_array()) {
                if (topic.is_string()) r.topics.emplace_back(topic.get_string());
            }
        }
        out.push_back(std::move(r));
    }
    return out;
}

constexpr const char* kProspectColumns =
    "id, login, kind, html_url, name, website, repos, stars, forks, last_pushed_at, score, reasons, status, note,"
    " decided_by, decided_at, referral_code, first_seen, updated_at, profile_checked_at";

Prospect ReadProspect(const SqlRows& r, size_t i) {
    Prospect p;
    p.id = r.Int(i, 0);
    p.login = r.Text(i, 1);
    p.kind = r.Text(i, 2);
    p.html_url = r.Text(i, 3);
    p.name = r.Text(i, 4);
    p.website = r.Text(i, 5);
    p.repos = ReposFrom(r.Text(i, 6));
    p.stars = r.Int(i, 7);
    p.forks = r.Int(i, 8);
    p.last_pushed_at = r.OptTime(i, 9);
    p.score = r.Double(i, 10);
    p.reasons = StringsFrom(r.Text(i, 11));
    p.status = r.Text(i, 12);
    p.note = r.Text(i, 13);
    p.decided_by = r.Text(i, 14);
    p.decided_at = r.OptTime(i, 15);
    p.referral_code = r.Text(i, 16);
    p.first_seen = r.Time(i, 17);
    p.updated_at = r.Time(i, 18);
    p.profile_checked_at = r.OptTime(i, 19);
    return p;
}

Result<std::optional<Prospect>> ProspectWhere(SqlSession& s, std::string_view where, const SqlArgs& args) {
    auto rows = s.Query(std::string("SELECT ") + kProspectColumns + " FROM prospects " + std::string(where), args);
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<Prospect>();
    return std::optional<Prospect>(ReadProspect(*rows, 0));
}

constexpr const char* kConversationColumns =
    "id, post_id, subreddit, title, url, posted_at, score, comments, query, reasons, status, note, decided_by,"
    " decided_at, referral_code, found_at";

Conversation ReadConversation(const SqlRows& r, size_t i) {
    Conversation c;
    c.id = r.Int(i, 0);
    c.post_id = r.Text(i, 1);
    c.subreddit = r.Text(i, 2);
    c.title = r.Text(i, 3);
    c.url = r.Text(i, 4);
    c.posted_at = r.Time(i, 5);
    c.score = r.Int(i, 6);
    c.comments = r.Int(i, 7);
    c.query = r.Text(i, 8);
    c.reasons = StringsFrom(r.Text(i, 9));
    c.status = r.Text(i, 10);
    c.note = r.Text(i, 11);
    c.decided_by = r.Text(i, 12);
    c.decided_at = r.OptTime(i, 13);
    c.referral_code = r.Text(i, 14);
    c.found_at = r.Time(i, 15);
    return c;
}

Result<std::optional<Conversation>> ConversationWhere(SqlSession& s, std::string_view where, const SqlArgs& args) {
    auto rows =
        s.Query(std::string("SELECT ") + kConversationColumns + " FROM conversations " + std::string(where), args);
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<Conversation>();
    return std::optional<Conversation>(ReadConversation(*rows, 0));
}

// A referral code for a prospect or conversation an operator reached out to; kept when it exists.
Result<void> EnsureCode(SqlSession& s, const std::string& code, std::string_view source,
                        std::optional<int64_t> prospect_id, std::optional<int64_t> conversation_id,
                        std::string_view label, SysSeconds now) {
    auto r = s.Query(
        "INSERT INTO referral_codes (code, source, prospect_id, conversation_id, label, created_at)"
        " VALUES (?1, ?2, CAST(?3 AS BIGINT), CAST(?4 AS BIGINT), ?5, ?6) ON CONFLICT (code) DO NOTHING",
        SqlArgs().Add(code).Add(source).Add(prospect_id).Add(conversation_id).Add(label).Add(now));
    if (!r) return r.error();
    return {};
}

std::string CodeFragment(std::string_view text) {
    std::string out;
    for (char c : text) {
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
            out.push_back(c);
        } else if (c >= 'A' && c <= 'Z') {
            out.push_back(static_cast<char>(c - 'A' + 'a'));
        } else if (c == '_' || c == '.') {
            out.push_back('-');
        }
    }
    return out.substr(0, 40);
}

// ---- Sequences ----------------------------------------------------------------------------------------

constexpr const char* kEnrollmentColumns =
    "id, lead_id, sequence, step, next_at, state, stop_reason, enrolled_at, updated_at";

Enrollment ReadEnrollment(const SqlRows& r, size_t i, size_t c = 0) {
    Enrollment e;
    e.id = r.Int(i, c);
    e.lead_id = r.Int(i, c + 1);
    e.sequence = r.Text(i, c + 2);
    e.step = static_cast<int>(r.Int(i, c + 3));
    e.next_at = r.Time(i, c + 4);
    e.state = r.Text(i, c + 5);
    e.stop_reason = r.Text(i, c + 6);
    e.enrolled_at = r.Time(i, c + 7);
    e.updated_at = r.Time(i, c + 8);
    return e;
}

// SQL over `leads l` selecting the leads a segment holds; free_at_limit's takes the GPU limit as ?4.
std::optional<std::string> SegmentWhere(std::string_view segment) {
    if (segment == "signup_no_agent") {
        return std::string("l.account_id IS NOT NULL AND l.activated_at IS NULL AND l.paid_at IS NULL");
    }
    if (segment == "free_at_limit") {
        return std::string(
            "l.account_id IS NOT NULL AND l.paid_at IS NULL AND EXISTS (SELECT 1 FROM accounts a WHERE a.id ="
            " l.account_id AND a.tier = 'free') AND (SELECT COUNT(*) FROM gpus_seen g WHERE g.account_id ="
            " l.account_id) >= CAST(?4 AS BIGINT)");
    }
    if (segment == "audit_confirmed") {
        return std::string("l.basis = 'consent' AND l.confirmed_at IS NOT NULL AND l.paid_at IS NULL");
    }
    return std::nullopt;
}

// Rejections inside SendStep, undone with the rest of the step's statements.
constexpr std::string_view kCapSpent = "cap spent";
constexpr std::string_view kDomainBusy = "domain busy";
constexpr std::string_view kStepGone = "step gone";

}  // namespace

std::string_view NameOf(LeadStatus status) {
    switch (status) {
        case LeadStatus::kPending:
            return "pending";
        case LeadStatus::kActive:
            return "active";
        case LeadStatus::kUnsubscribed:
            return "unsubscribed";
        case LeadStatus::kBounced:
            return "bounced";
        case LeadStatus::kComplained:
            return "complained";
        case LeadStatus::kReplied:
            return "replied";
        case LeadStatus::kErased:
            return "erased";
    }
    return "active";
}

std::optional<LeadStatus> LeadStatusNamed(std::string_view name) {
    for (auto s : kLeadStatuses) {
        if (NameOf(s) == name) return s;
    }
    return std::nullopt;
}

std::string SuppressionHash(std::string_view value) { return HashApiKey(NormalizeEmail(value)); }

// ---- Leads ----------------------------------------------------------------------------------------------

void AcquisitionStore::RequestAudit(AuditRequest request, Callback<AuditRequestOutcome> done) {
    WriteWith<AuditRequestOutcome>(
        runner_,
        [request = std::move(request)](SqlSession& s) -> Result<AuditRequestOutcome> {
            const std::string email = NormalizeEmail(request.email);
            auto suppressed = SuppressedIn(s, email);
            if (!suppressed) return suppressed.error();
            if (*suppressed) return AuditRequestOutcome::kSuppressed;
            auto rows = s.Query("SELECT id, status, confirm_sent_at FROM leads WHERE email_hash = ?1",
                                SqlArgs().Add(SuppressionHash(email)));
            if (!rows) return rows.error();
            if (!rows->empty()) {
                if (rows->Text(0, 1) != "pending") return AuditRequestOutcome::kAlreadyConfirmed;
                const auto sent = rows->OptTime(0, 2);
                if (sent && *sent > request.now - std::chrono::minutes(10)) return AuditRequestOutcome::kTooSoon;
                auto r = s.Query(
                    "UPDATE leads SET confirm_token_hash = ?2, confirm_sent_at = ?3, consent_text = ?4,"
                    " consent_ip = ?5, name = CASE WHEN ?6 = '' THEN name ELSE ?6 END,"
                    " company = CASE WHEN ?7 = '' THEN company ELSE ?7 END WHERE id = ?1",
                    SqlArgs()
                        .Add(rows->Int(0, 0))
                        .Add(request.confirm_token_hash)
                        .Add(request.now)
                        .Add(request.consent_text)
                        .Add(request.ip)
                        .Add(request.name)
                        .Add(request.company));
                if (!r) return r.error();
                auto queued = s.EnqueueMail(request.confirmation, request.now);
                if (!queued) return queued.error();
                return AuditRequestOutcome::kResent;
            }
            auto source = SourceOfCode(s, request.referral_code);
            if (!source) return source.error();
            const std::string domain = DomainOf(email);
            auto inserted = s.Query(
                "INSERT INTO leads (email, email_hash, domain, company_key, name, company, source, referral_code,"
                " basis, status, utc_offset_minutes, consent_text, consent_ip, confirm_token_hash, confirm_sent_at,"
                " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'consent', 'pending', ?9, ?10, ?11, ?12, ?13,"
                " ?13) RETURNING id",
                SqlArgs()
                    .Add(email)
                    .Add(SuppressionHash(email))
                    .Add(domain)
                    .Add(CompanyKeyOf(domain))
                    .Add(request.name)
                    .Add(request.company)
                    .Add(source->empty() ? std::string("audit") : *source)
                    .Add(source->empty() ? std::string() : request.referral_code)
                    .Add(request.utc_offset_minutes)
                    .Add(request.consent_text)
                    .Add(request.ip)
                    .Add(request.confirm_token_hash)
                    .Add(request.now));
            if (!inserted) return inserted.error();
            if (auto e = AddEvent(s, inserted->Int(0, 0), "created", request.now, {}, -1, "audit request"); !e) {
                return e.error();
            }
            auto queued = s.EnqueueMail(request.confirmation, request.now);
            if (!queued) return queued.error();
            return AuditRequestOutcome::kCreated;
        },
        std::move(done));
}

void AcquisitionStore::ConfirmAudit(std::string token_hash, SysSeconds now, SysSeconds oldest_link,
                                    Callback<std::optional<Lead>> done) {
    WriteWith<std::optional<Lead>>(
        runner_,
        [=, token_hash = std::move(token_hash)](SqlSession& s) -> Result<std::optional<Lead>> {
            auto rows = s.Query("SELECT id, status, confirm_sent_at FROM leads WHERE confirm_token_hash = ?1",
                                SqlArgs().Add(token_hash));
            if (!rows) return rows.error();
            if (rows->empty()) return std::optional<Lead>();
            const int64_t id = rows->Int(0, 0);
            if (rows->Text(0, 1) == "pending") {
                const auto sent = rows->OptTime(0, 2);
                if (!sent || *sent < oldest_link) return std::optional<Lead>();
                auto r = s.Query("UPDATE leads SET status = 'active', confirmed_at = ?2, consent_at = ?2 WHERE id = ?1",
                                 SqlArgs().Add(id).Add(now));
                if (!r) return r.error();
                if (auto e = AddEvent(s, id, "confirmed", now); !e) return e.error();
            }
            auto lead = ExistingLead(s, id);
            if (!lead) return lead.error();
            return std::optional<Lead>(std::move(*lead));
        },
        std::move(done));
}

void AcquisitionStore::RecordSignup(SignupLead signup, Callback<Lead> done) {
    WriteWith<Lead>(
        runner_, [signup = std::move(signup)](SqlSession& s) { return SignupIn(s, signup); }, std::move(done));
}

Result<std::optional<Lead>> AcquisitionStore::GetLead(int64_t id) {
    return ReadWith<std::optional<Lead>>(
        runner_, [&](SqlSession& s) { return LeadWhere(s, "WHERE id = ?1", SqlArgs().Add(id)); });
}

Result<std::optional<Lead>> AcquisitionStore::FindLead(std::string_view email) {
    return ReadWith<std::optional<Lead>>(runner_, [&](SqlSession& s) {
        return LeadWhere(s, "WHERE email_hash = ?1", SqlArgs().Add(SuppressionHash(email)));
    });
}

Result<std::vector<Lead>> AcquisitionStore::ListLeads(const LeadQuery& query) {
    return ReadWith<std::vector<Lead>>(runner_, [&](SqlSession& s) -> Result<std::vector<Lead>> {
        auto rows = s.Query(LeadSelect("WHERE (?1 = '' OR source = ?1) AND (?2 = '' OR status = ?2)"
                                       " AND (?3 = '' OR email LIKE '%' || ?3 || '%' ESCAPE '\\') AND (CAST(?4 AS "
                                       "BIGINT) IS NULL OR id < CAST(?4 AS"
                                       " BIGINT)) ORDER BY id DESC LIMIT CAST(?5 AS BIGINT)"),
                            SqlArgs()
                                .Add(query.source)
                                .Add(query.status ? NameOf(*query.status) : std::string_view())
                                .Add(LikeText(NormalizeEmail(query.email_contains)))
                                .Add(query.before_id)
                                .Add(static_cast<int64_t>(query.limit)));
        if (!rows) return rows.error();
        std::vector<Lead> out;
        for (size_t i = 0; i < rows->size(); ++i) out.push_back(ReadLead(*rows, i));
        return out;
    });
}

Result<std::optional<LeadHistory>> AcquisitionStore::GetLeadHistory(int64_t id) {
    return ReadWith<std::optional<LeadHistory>>(runner_, [&](SqlSession& s) -> Result<std::optional<LeadHistory>> {
        auto lead = LeadWhere(s, "WHERE id = ?1", SqlArgs().Add(id));
        if (!lead) return lead.error();
        if (!*lead) return std::optional<LeadHistory>();
        LeadHistory h;
        h.lead = std::move(**lead);
        auto events = s.Query(
            "SELECT id, lead_id, at, kind, source, sequence, step, detail FROM lead_events WHERE lead_id = ?1"
            " ORDER BY id",
            SqlArgs().Add(id));
        if (!events) return events.error();
        for (size_t i = 0; i < events->size(); ++i) {
            h.events.push_back(LeadEvent{events->Int(i, 0), events->Int(i, 1), events->Time(i, 2), events->Text(i, 3),
                                         events->Text(i, 4), events->Text(i, 5), static_cast<int>(events->Int(i, 6)),
                                         events->Text(i, 7)});
        }
        auto enrollments =
            s.Query(std::string("SELECT ") + kEnrollmentColumns + " FROM enrollments WHERE lead_id = ?1 ORDER BY id",
                    SqlArgs().Add(id));
        if (!enrollments) return enrollments.error();
        for (size_t i = 0; i < enrollments->size(); ++i) h.enrollments.push_back(ReadEnrollment(*enrollments, i));
        return std::optional<LeadHistory>(std::move(h));
    });
}

void AcquisitionStore::Unsubscribe(int64_t lead_id, std::string source, SysSeconds now, Callback<bool> done) {
    WriteWith<bool>(
        runner_,
        [=, source = std::move(source)](SqlSession& s) -> Result<bool> {
            auto lead = ExistingLead(s, lead_id);
            if (!lead) return lead.error();
            if (lead->status == LeadStatus::kErased) return false;
            bool changed = false;
            if (!lead->email.empty()) {
                auto added = InsertSuppression(s, Suppression{0, "address", lead->email, SuppressionHash(lead->email),
                                                              "unsubscribed", source, now});
                if (!added) return added.error();
                changed = *added;
            }
            if (lead->status == LeadStatus::kActive || lead->status == LeadStatus::kPending ||
                lead->status == LeadStatus::kReplied) {
                auto r = s.Query("UPDATE leads SET status = 'unsubscribed' WHERE id = ?1", SqlArgs().Add(lead_id));
                if (!r) return r.error();
                changed = true;
            }
            auto stopped = StopEnrollments(s, "lead_id = ?1", SqlArgs().Add(lead_id), "unsubscribed", now);
            if (!stopped) return stopped.error();
            if (changed) {
                if (auto e = AddEvent(s, lead_id, "unsubscribed", now, {}, -1, source); !e) return e.error();
            }
            return changed;
        },
        std::move(done));
}

void AcquisitionStore::MarkLead(int64_t lead_id, LeadStatus status, std::string detail, std::optional<AuditEntry> audit,
                                SysSeconds now, Callback<Lead> done) {
    if (status != LeadStatus::kBounced && status != LeadStatus::kComplained && status != LeadStatus::kReplied &&
        status != LeadStatus::kUnsubscribed) {
        return done(Error::Validation("status", "must be bounced, complained, replied or unsubscribed"));
    }
    WriteWith<Lead>(
        runner_,
        [=, detail = std::move(detail), audit = std::move(audit)](SqlSession& s) -> Result<Lead> {
            auto lead = ExistingLead(s, lead_id);
            if (!lead) return lead.error();
            if (lead->status == LeadStatus::kErased) return Conflict("the lead was erased");
            if (lead->status == status) return Conflict("the lead is " + std::string(NameOf(status)) + " already");
            auto marked = MarkIn(s, *lead, status, detail, now);
            if (!marked) return marked.error();
            if (audit) {
                if (auto r = s.AppendAudit(*audit); !r) return r.error();
            }
            return marked;
        },
        std::move(done));
}

void AcquisitionStore::EraseLead(int64_t lead_id, AuditEntry audit, SysSeconds now, Callback<void> done) {
    WriteWith<bool>(
        runner_,
        [=, audit = std::move(audit)](SqlSession& s) -> Result<bool> {
            auto lead = ExistingLead(s, lead_id);
            if (!lead) return lead.error();
            if (lead->status == LeadStatus::kErased) return Conflict("the lead was erased already");
            if (auto r = EraseIn(s, *lead, "operator", now); !r) return r.error();
            if (auto r = s.AppendAudit(audit); !r) return r.error();
            return true;
        },
        Callback<bool>([done = std::move(done)](Result<bool> r) {
            if (!r) return done(r.error());
            done(Result<void>{});
        }));
}

Result<std::vector<DueAudit>> AcquisitionStore::DueAudits(SysSeconds data_since, size_t limit) {
    return ReadWith<std::vector<DueAudit>>(runner_, [&](SqlSession& s) -> Result<std::vector<DueAudit>> {
        // gpus_seen keeps its times as RFC 3339 text, which sorts as time does.
        static const std::string sql = std::string("SELECT ") + kLeadColumns +
                                       ", (SELECT MIN(g.first_seen) FROM gpus_seen g WHERE g.account_id ="
                                       " leads.account_id) AS first_data FROM leads WHERE basis = 'consent' AND"
                                       " status = 'active' AND audit_sent_at IS NULL AND account_id IS NOT NULL"
                                       " AND (SELECT MIN(g.first_seen) FROM gpus_seen g WHERE g.account_id ="
                                       " leads.account_id) <= ?1 ORDER BY id LIMIT CAST(?2 AS BIGINT)";
        auto rows = s.Query(sql, SqlArgs().Add(FormatUtc(data_since)).Add(static_cast<int64_t>(limit)));
        if (!rows) return rows.error();
        std::vector<DueAudit> out;
        for (size_t i = 0; i < rows->size(); ++i) {
            out.push_back(DueAudit{ReadLead(*rows, i), ParseUtc(rows->Text(i, 21)).value_or(data_since)});
        }
        return out;
    });
}

void AcquisitionStore::MarkAuditSent(int64_t lead_id, OutboxMessage report, SysSeconds now, Callback<bool> done) {
    WriteWith<bool>(
        runner_,
        [=, report = std::move(report)](SqlSession& s) -> Result<bool> {
            auto rows = s.Query(
                "UPDATE leads SET audit_sent_at = ?2 WHERE id = ?1 AND audit_sent_at IS NULL AND status = 'active'"
                " RETURNING id",
                SqlArgs().Add(lead_id).Add(now));
            if (!rows) return rows.error();
            if (rows->empty()) return false;
            auto queued = s.EnqueueMail(report, now);
            if (!queued) return queued.error();
            if (auto e = AddEvent(s, lead_id, "audit_sent", now); !e) return e.error();
            return true;
        },
        std::move(done));
}

// ---- Sources ------------------------------------------------------------------------------------------

Result<std::optional<Prospect>> AcquisitionStore::FindProspect(std::string_view login) {
    return ReadWith<std::optional<Prospect>>(
        runner_, [&](SqlSession& s) { return ProspectWhere(s, "WHERE login = ?1", SqlArgs().Add(login)); });
}

Result<std::optional<Prospect>> AcquisitionStore::GetProspect(int64_t id) {
    return ReadWith<std::optional<Prospect>>(
        runner_, [&](SqlSession& s) { return ProspectWhere(s, "WHERE id = ?1", SqlArgs().Add(id)); });
}

Result<std::vector<Prospect>> AcquisitionStore::ListProspects(const SourceItemQuery& query) {
    return ReadWith<std::vector<Prospect>>(runner_, [&](SqlSession& s) -> Result<std::vector<Prospect>> {
        // The review queue: the best first.
        auto rows = s.Query(
            std::string("SELECT ") + kProspectColumns +
                " FROM prospects WHERE (?1 = '' OR status = ?1) ORDER BY score DESC, id DESC"
                " LIMIT CAST(?2 AS BIGINT) OFFSET CAST(?3 AS BIGINT)",
            SqlArgs().Add(query.status).Add(static_cast<int64_t>(query.limit)).Add(static_cast<int64_t>(query.offset)));
        if (!rows) return rows.error();
        std::vector<Prospect> out;
        for (size_t i = 0; i < rows->size(); ++i) out.push_back(ReadProspect(*rows, i));
        return out;
    });
}

void AcquisitionStore::SaveProspect(Prospect p, Callback<Prospect> done) {
    WriteWith<Prospect>(
        runner_,
        [p = std::move(p)](SqlSession& s) -> Result<Prospect> {
            auto r = s.Query(
                "INSERT INTO prospects (login, kind, html_url, name, website, repos, stars, forks, last_pushed_at,"
                " score, reasons, status, first_seen, updated_at, profile_checked_at)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, CAST(?9 AS BIGINT), ?10, ?11, 'new', ?12, ?12,"
                " CAST(?13 AS BIGINT)) ON CONFLICT (login) DO UPDATE SET kind = excluded.kind, html_url ="
                " excluded.html_url, name = excluded.name, website = excluded.website, repos = excluded.repos,"
                " stars = excluded.stars, forks = excluded.forks, last_pushed_at = excluded.last_pushed_at,"
                " score = excluded.score, reasons = excluded.reasons, updated_at = excluded.updated_at,"
                " profile_checked_at = COALESCE(excluded.profile_checked_at, prospects.profile_checked_at)",
                SqlArgs()
                    .Add(p.login)
                    .Add(p.kind)
                    .Add(p.html_url)
                    .Add(p.name)
                    .Add(p.website)
                    .Add(ReposJson(p.repos))
                    .Add(p.stars)
                    .Add(p.forks)
                    .Add(p.last_pushed_at)
                    .Add(p.score)
                    .Add(StringsJson(p.reasons))
                    .Add(p.updated_at)
                    .Add(p.profile_checked_at));
            if (!r) return r.error();
            auto saved = ProspectWhere(s, "WHERE login = ?1", SqlArgs().Add(p.login));
            if (!saved) return saved.error();
            if (!*saved) return Error{ErrorCode::kInternal, "a saved prospect is missing", {}};
            return std::move(**saved);
        },
        std::move(done));
}

void AcquisitionStore::DecideProspect(int64_t id, std::string status, std::string note, AuditEntry audit,
                                      SysSeconds now, Callback<Prospect> done) {
    if (status != "contacted" && status != "dismissed" && status != "new") {
        return done(Error::Validation("status", "must be contacted, dismissed or new"));
    }
    WriteWith<Prospect>(
        runner_,
        [=, status = std::move(status), note = std::move(note),
         audit = std::move(audit)](SqlSession& s) -> Result<Prospect> {
            auto before = ProspectWhere(s, "WHERE id = ?1", SqlArgs().Add(id));
            if (!before) return before.error();
            if (!*before) return NotFound("no such prospect");
            if ((*before)->status == status) return Conflict("the prospect is " + status + " already");
            std::string code = (*before)->referral_code;
            if (status == "contacted" && code.empty()) {
                code = "gh-" + CodeFragment((*before)->login);
                if (auto r = EnsureCode(s, code, "github", id, std::nullopt, (*before)->login, now); !r) {
                    return r.error();
                }
            }
            auto r = s.Query(
                "UPDATE prospects SET status = ?2, note = ?3, decided_by = ?4, decided_at = ?5, referral_code = ?6"
                " WHERE id = ?1",
                SqlArgs().Add(id).Add(status).Add(note).Add(audit.actor).Add(now).Add(code));
            if (!r) return r.error();
            if (auto a = s.AppendAudit(audit); !a) return a.error();
            auto after = ProspectWhere(s, "WHERE id = ?1", SqlArgs().Add(id));
            if (!after) return after.error();
            return std::move(**after);
        },
        std::move(done));
}

Result<std::vector<Conversation>> AcquisitionStore::ListConversations(const SourceItemQuery& query) {
    return ReadWith<std::vector<Conversation>>(runner_, [&](SqlSession& s) -> Result<std::vector<Conversation>> {
        auto rows = s.Query(
            std::string("SELECT ") + kConversationColumns +
                " FROM conversations WHERE (?1 = '' OR status = ?1) ORDER BY posted_at DESC, id DESC"
                " LIMIT CAST(?2 AS BIGINT) OFFSET CAST(?3 AS BIGINT)",
            SqlArgs().Add(query.status).Add(static_cast<int64_t>(query.limit)).Add(static_cast<int64_t>(query.offset)));
        if (!rows) return rows.error();
        std::vector<Conversation> out;
        for (size_t i = 0; i < rows->size(); ++i) out.push_back(ReadConversation(*rows, i));
        return out;
    });
}

Result<std::optional<Conversation>> AcquisitionStore::GetConversation(int64_t id) {
    return ReadWith<std::optional<Conversation>>(
        runner_, [&](SqlSession& s) { return ConversationWhere(s, "WHERE id = ?1", SqlArgs().Add(id)); });
}

void AcquisitionStore::SaveConversation(Conversation c, Callback<Conversation> done) {
    WriteWith<Conversation>(
        runner_,
        [c = std::move(c)](SqlSession& s) -> Result<Conversation> {
            auto r = s.Query(
                "INSERT INTO conversations (post_id, subreddit, title, url, posted_at, score, comments, query, reasons,"
                " status, found_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'new', ?10) ON CONFLICT (post_id) DO"
                " UPDATE SET title = excluded.title, score = excluded.score, comments = excluded.comments",
                SqlArgs()
                    .Add(c.post_id)
                    .Add(c.subreddit)
                    .Add(c.title)
                    .Add(c.url)
                    .Add(c.posted_at)
                    .Add(c.score)
                    .Add(c.comments)
                    .Add(c.query)
                    .Add(StringsJson(c.reasons))
                    .Add(c.found_at));
            if (!r) return r.error();
            auto saved = ConversationWhere(s, "WHERE post_id = ?1", SqlArgs().Add(c.post_id));
            if (!saved) return saved.error();
            if (!*saved) return Error{ErrorCode::kInternal, "a saved conversation is missing", {}};
            return std::move(**saved);
        },
        std::move(done));
}

void AcquisitionStore::DecideConversation(int64_t id, std::string status, std::string note, AuditEntry audit,
                                          SysSeconds now, Callback<Conversation> done) {
    if (status != "answered" && status != "dismissed" && status != "new") {
        return done(Error::Validation("status", "must be answered, dismissed or new"));
    }
    WriteWith<Conversation>(
        runner_,
        [=, status = std::move(status), note = std::move(note),
         audit = std::move(audit)](SqlSession& s) -> Result<Conversation> {
            auto before = ConversationWhere(s, "WHERE id = ?1", SqlArgs().Add(id));
            if (!before) return before.error();
            if (!*before) return NotFound("no such conversation");
            if ((*before)->status == status) return Conflict("the conversation is " + status + " already");
            std::string code = (*before)->referral_code;
            if (status == "answered" && code.empty()) {
                std::string_view post = (*before)->post_id;
                if (post.rfind("t3_", 0) == 0) post.remove_prefix(3);
                code = "rd-" + CodeFragment(post);
                if (auto r = EnsureCode(s, code, "reddit", std::nullopt, id, (*before)->title.substr(0, 80), now); !r) {
                    return r.error();
                }
            }
            auto r = s.Query(
                "UPDATE conversations SET status = ?2, note = ?3, decided_by = ?4, decided_at = ?5,"
                " referral_code = ?6 WHERE id = ?1",
                SqlArgs().Add(id).Add(status).Add(note).Add(audit.actor).Add(now).Add(code));
            if (!r) return r.error();
            if (auto a = s.AppendAudit(audit); !a) return a.error();
            auto after = ConversationWhere(s, "WHERE id = ?1", SqlArgs().Add(id));
            if (!after) return after.error();
            return std::move(**after);
        },
        std::move(done));
}

Result<std::optional<DiscoveryCursor>> AcquisitionStore::GetCursor(std::string_view source, std::string_view query,
                                                                   int64_t day) {
    return ReadWith<std::optional<DiscoveryCursor>>(
        runner_, [&](SqlSession& s) -> Result<std::optional<DiscoveryCursor>> {
            auto rows = s.Query(
                "SELECT next, done, pages, items, updated_at FROM discovery_cursors WHERE source = ?1 AND query = ?2"
                " AND day = ?3",
                SqlArgs().Add(source).Add(query).Add(day));
            if (!rows) return rows.error();
            if (rows->empty()) return std::optional<DiscoveryCursor>();
            return std::optional<DiscoveryCursor>(DiscoveryCursor{std::string(source), std::string(query), day,
                                                                  rows->Text(0, 0), rows->Int(0, 1) != 0,
                                                                  rows->Int(0, 2), rows->Int(0, 3), rows->Time(0, 4)});
        });
}

void AcquisitionStore::SaveCursor(DiscoveryCursor c, Callback<void> done) {
    WriteWith<bool>(
        runner_,
        [c = std::move(c)](SqlSession& s) -> Result<bool> {
            auto r = s.Query(
                "INSERT INTO discovery_cursors (source, query, day, next, done, pages, items, updated_at)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (source, query, day) DO UPDATE SET"
                " next = excluded.next, done = excluded.done, pages = excluded.pages, items = excluded.items,"
                " updated_at = excluded.updated_at",
                SqlArgs()
                    .Add(c.source)
                    .Add(c.query)
                    .Add(c.day)
                    .Add(c.next)
                    .Add(c.done ? 1 : 0)
                    .Add(c.pages)
                    .Add(c.items)
                    .Add(c.updated_at));
            if (!r) return r.error();
            // Cursors of earlier days are history nobody reads.
            r = s.Query("DELETE FROM discovery_cursors WHERE source = ?1 AND day < ?2",
                        SqlArgs().Add(c.source).Add(c.day - 7));
            if (!r) return r.error();
            return true;
        },
        Callback<bool>([done = std::move(done)](Result<bool> r) {
            if (!r) return done(r.error());
            done(Result<void>{});
        }));
}

Result<std::optional<SourceState>> AcquisitionStore::GetSourceState(std::string_view source) {
    return ReadWith<std::optional<SourceState>>(runner_, [&](SqlSession& s) -> Result<std::optional<SourceState>> {
        auto rows = s.Query("SELECT wait_until, last_run_at, last_result FROM discovery_sources WHERE source = ?1",
                            SqlArgs().Add(source));
        if (!rows) return rows.error();
        if (rows->empty()) return std::optional<SourceState>();
        return std::optional<SourceState>(
            SourceState{std::string(source), rows->OptTime(0, 0), rows->OptTime(0, 1), rows->Text(0, 2)});
    });
}

void AcquisitionStore::SaveSourceState(SourceState state, Callback<void> done) {
    WriteWith<bool>(
        runner_,
        [state = std::move(state)](SqlSession& s) -> Result<bool> {
            auto r = s.Query(
                "INSERT INTO discovery_sources (source, wait_until, last_run_at, last_result) VALUES (?1,"
                " CAST(?2 AS BIGINT), CAST(?3 AS BIGINT), ?4) ON CONFLICT (source) DO UPDATE SET wait_until ="
                " excluded.wait_until, last_run_at = excluded.last_run_at, last_result = excluded.last_result",
                SqlArgs().Add(state.source).Add(state.wait_until).Add(state.last_run_at).Add(state.last_result));
            if (!r) return r.error();
            return true;
        },
        Callback<bool>([done = std::move(done)](Result<bool> r) {
            if (!r) return done(r.error());
            done(Result<void>{});
        }));
}

namespace {

constexpr const char* kReferralSelect =
    "SELECT r.code, r.source, r.prospect_id, r.conversation_id, r.label, r.created_at,"
    " (SELECT COUNT(*) FROM leads l WHERE l.referral_code = r.code),"
    " (SELECT COUNT(*) FROM leads l WHERE l.referral_code = r.code AND l.paid_at IS NOT NULL)"
    " FROM referral_codes r ";

ReferralCode ReadReferral(const SqlRows& r, size_t i) {
    return ReferralCode{r.Text(i, 0), r.Text(i, 1), r.OptInt(i, 2), r.OptInt(i, 3),
                        r.Text(i, 4), r.Time(i, 5), r.Int(i, 6),    r.Int(i, 7)};
}

}  // namespace

Result<std::vector<ReferralCode>> AcquisitionStore::ListReferralCodes() {
    return ReadWith<std::vector<ReferralCode>>(runner_, [&](SqlSession& s) -> Result<std::vector<ReferralCode>> {
        auto rows = s.Query(std::string(kReferralSelect) + "ORDER BY r.created_at DESC, r.code");
        if (!rows) return rows.error();
        std::vector<ReferralCode> out;
        for (size_t i = 0; i < rows->size(); ++i) out.push_back(ReadReferral(*rows, i));
        return out;
    });
}

Result<std::optional<ReferralCode>> AcquisitionStore::GetReferralCode(std::string_view code) {
    return ReadWith<std::optional<ReferralCode>>(runner_, [&](SqlSession& s) -> Result<std::optional<ReferralCode>> {
        auto rows = s.Query(std::string(kReferralSelect) + "WHERE r.code = ?1", SqlArgs().Add(code));
        if (!rows) return rows.error();
        if (rows->empty()) return std::optional<ReferralCode>();
        return std::optional<ReferralCode>(ReadReferral(*rows, 0));
    });
}

void AcquisitionStore::CreateReferralCode(ReferralCode code, AuditEntry audit, Callback<ReferralCode> done) {
    WriteWith<ReferralCode>(
        runner_,
        [code = std::move(code), audit = std::move(audit)](SqlSession& s) -> Result<ReferralCode> {
            auto r = s.Query(
                "INSERT INTO referral_codes (code, source, label, created_at) VALUES (?1, ?2, ?3, ?4)"
                " ON CONFLICT (code) DO NOTHING RETURNING code",
                SqlArgs().Add(code.code).Add(code.source).Add(code.label).Add(code.created_at));
            if (!r) return r.error();
            if (r->empty()) return Error{ErrorCode::kAlreadyExists, "the referral code exists", {}};
            if (auto a = s.AppendAudit(audit); !a) return a.error();
            auto rows = s.Query(std::string(kReferralSelect) + "WHERE r.code = ?1", SqlArgs().Add(code.code));
            if (!rows) return rows.error();
            return ReadReferral(*rows, 0);
        },
        std::move(done));
}

// ---- Sequences ----------------------------------------------------------------------------------------

void AcquisitionStore::SyncLeads(SyncRules rules, SysSeconds now, Callback<SyncOutcome> done) {
    WriteWith<SyncOutcome>(
        runner_,
        [rules = std::move(rules), now](SqlSession& s) -> Result<SyncOutcome> {
            SyncOutcome out;
            // Every account is a lead: one made at sign-up, or here for one that was missed.
            auto missing = s.Query(
                "SELECT a.id, a.email FROM accounts a WHERE a.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM"
                " leads l WHERE l.account_id = a.id) ORDER BY a.id LIMIT 500");
            if (!missing) return missing.error();
            for (size_t i = 0; i < missing->size(); ++i) {
                auto lead = SignupIn(s, SignupLead{missing->Int(i, 0), missing->Text(i, 1), {}, std::nullopt, now});
                if (!lead) return lead.error();
                ++out.leads_created;
            }
            // A deleted account's lead is erased with it.
            auto deleted = s.Query(
                "SELECT l.id FROM leads l JOIN accounts a ON a.id = l.account_id WHERE a.deleted_at IS NOT NULL"
                " AND l.status <> 'erased' LIMIT 500");
            if (!deleted) return deleted.error();
            for (size_t i = 0; i < deleted->size(); ++i) {
                auto lead = ExistingLead(s, deleted->Int(i, 0));
                if (!lead) return lead.error();
                if (auto r = EraseIn(s, *lead, "account deleted", now); !r) return r.error();
                ++out.erased;
            }
            // Milestones, seen from the accounts.
            auto activated = s.Query(
                "UPDATE leads SET activated_at = ?1 WHERE activated_at IS NULL AND account_id IS NOT NULL AND"
                " status <> 'erased' AND EXISTS (SELECT 1 FROM gpus_seen g WHERE g.account_id = leads.account_id)"
                " RETURNING id",
                SqlArgs().Add(now));
            if (!activated) return activated.error();
            for (size_t i = 0; i < activated->size(); ++i) {
                if (auto e = AddEvent(s, activated->Int(i, 0), "activated", now); !e) return e.error();
            }
            out.activated = static_cast<int64_t>(activated->size());
            auto paid = s.Query(
                "UPDATE leads SET paid_at = ?1 WHERE paid_at IS NULL AND status <> 'erased' AND account_id IN"
                " (SELECT id FROM accounts WHERE tier <> 'free' AND deleted_at IS NULL) RETURNING id",
                SqlArgs().Add(now));
            if (!paid) return paid.error();
            for (size_t i = 0; i < paid->size(); ++i) {
                if (auto e = AddEvent(s, paid->Int(i, 0), "paid", now); !e) return e.error();
            }
            out.paid = static_cast<int64_t>(paid->size());

            // Who leaves: first the rules for every sequence, then each sequence's goal.
            struct Stop {
                const char* where;
                const char* reason;
            };
            static constexpr std::array<Stop, 6> kStops{{
                {"lead_id IN (SELECT id FROM leads WHERE paid_at IS NOT NULL)", "converted"},
                {"lead_id IN (SELECT id FROM leads WHERE status <> 'active')", "lead not active"},
                {"lead_id IN (SELECT l.id FROM leads l JOIN accounts a ON a.id = l.account_id WHERE"
                 " a.disabled_at IS NOT NULL)",
                 "account disabled"},
                {"lead_id IN (SELECT l.id FROM leads l WHERE l.company_key <> '' AND EXISTS (SELECT 1 FROM leads o"
                 " WHERE o.company_key = l.company_key AND o.id <> l.id AND o.paid_at IS NOT NULL))",
                 "company converted"},
                {"lead_id IN (SELECT l.id FROM leads l WHERE l.company_key <> '' AND EXISTS (SELECT 1 FROM leads o"
                 " WHERE o.company_key = l.company_key AND o.id <> l.id AND o.status = 'replied'))",
                 "company replied"},
                {"lead_id IN (SELECT id FROM leads WHERE email IS NULL)", "lead erased"},
            }};
            for (const auto& stop : kStops) {
                auto n = StopEnrollments(s, stop.where, SqlArgs(), stop.reason, now);
                if (!n) return n.error();
                out.stopped += *n;
            }
            if (!rules.enroll) return out;
            std::string known;
            SqlArgs names;
            for (size_t i = 0; i < rules.sequences.size(); ++i) {
                known += (i == 0 ? "?" : ", ?") + std::to_string(i + 1);
                names.Add(rules.sequences[i].name);
            }
            if (!known.empty()) {
                auto n = StopEnrollments(s, "sequence NOT IN (" + known + ")", names, "sequence removed", now);
                if (!n) return n.error();
                out.stopped += *n;
            } else {
                auto n = StopEnrollments(s, "1 = 1", SqlArgs(), "sequence removed", now);
                if (!n) return n.error();
                out.stopped += *n;
            }
            for (const auto& seq : rules.sequences) {
                auto past = StopEnrollments(s, "sequence = ?1 AND step >= CAST(?2 AS INTEGER)",
                                            SqlArgs().Add(seq.name).Add(seq.steps), "finished", now, "done");
                if (!past) return past.error();
                out.stopped += *past;
                if (seq.goal == "activated" || seq.goal == "paid") {
                    const std::string where = "sequence = ?1 AND lead_id IN (SELECT id FROM leads WHERE " +
                                              std::string(seq.goal == "activated" ? "activated_at" : "paid_at") +
                                              " IS NOT NULL)";
                    auto n = StopEnrollments(s, where, SqlArgs().Add(seq.name), "goal reached", now, "done");
                    if (!n) return n.error();
                    out.stopped += *n;
                }
            }

            // Who joins: the leads each segment holds, once per sequence for good.
            for (const auto& seq : rules.sequences) {
                auto where = SegmentWhere(seq.segment);
                if (!where) continue;
                auto enrolled = s.Query(
                    "INSERT INTO enrollments (lead_id, sequence, step, next_at, state, enrolled_at, updated_at)"
                    " SELECT l.id, ?1, 0, CAST(?2 AS BIGINT), 'active', CAST(?3 AS BIGINT), CAST(?3 AS BIGINT)"
                    " FROM leads l WHERE l.status = 'active' AND l.email IS"
                    " NOT NULL AND " +
                        *where +
                        " AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.lead_id = l.id AND e.sequence = ?1)"
                        " AND NOT (l.company_key <> '' AND EXISTS (SELECT 1 FROM leads o WHERE o.company_key ="
                        " l.company_key AND o.id <> l.id AND (o.paid_at IS NOT NULL OR o.status = 'replied')))"
                        " AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = l.account_id AND a.disabled_at IS"
                        " NOT NULL) ORDER BY l.id LIMIT 1000 RETURNING lead_id",
                    seq.segment == "free_at_limit"
                        ? SqlArgs()
                              .Add(seq.name)
                              .Add(now + std::chrono::seconds(seq.first_delay_seconds))
                              .Add(now)
                              .Add(static_cast<int64_t>(rules.free_gpu_limit))
                        : SqlArgs().Add(seq.name).Add(now + std::chrono::seconds(seq.first_delay_seconds)).Add(now));
                if (!enrolled) return enrolled.error();
                for (size_t i = 0; i < enrolled->size(); ++i) {
                    if (auto e = AddEvent(s, enrolled->Int(i, 0), "enrolled", now, seq.name); !e) return e.error();
                }
                out.enrolled += static_cast<int64_t>(enrolled->size());
            }
            return out;
        },
        std::move(done));
}

Result<std::vector<DueStep>> AcquisitionStore::DueSteps(SysSeconds now, size_t limit) {
    return ReadWith<std::vector<DueStep>>(runner_, [&](SqlSession& s) -> Result<std::vector<DueStep>> {
        static const std::string sql =
            "SELECT " + QualifiedColumns(kEnrollmentColumns, "e") + ", " + QualifiedColumns(kLeadColumns, "l") +
            " FROM enrollments e JOIN leads l ON l.id = e.lead_id LEFT JOIN sequence_states ss ON"
            " ss.name = e.sequence WHERE e.state = 'active' AND e.next_at <= ?1 AND l.status ="
            " 'active' AND l.email IS NOT NULL AND COALESCE(ss.paused, 0) = 0 ORDER BY e.next_at,"
            " e.id LIMIT CAST(?2 AS BIGINT)";
        auto rows = s.Query(sql, SqlArgs().Add(now).Add(static_cast<int64_t>(limit)));
        if (!rows) return rows.error();
        std::vector<DueStep> out;
        for (size_t i = 0; i < rows->size(); ++i)
            out.push_back(DueStep{ReadEnrollment(*rows, i), ReadLead(*rows, i, 9)});
        return out;
    });
}

void AcquisitionStore::SendStep(StepSend send, Callback<StepOutcome> done) {
    WriteWith<StepOutcome>(
        runner_,
        [send = std::move(send)](SqlSession& s) -> Result<StepOutcome> {
            auto rows = s.Query(
                "SELECT e.lead_id, e.sequence, l.email, l.status FROM enrollments e JOIN leads l ON l.id = e.lead_id"
                " WHERE e.id = ?1 AND e.step = ?2 AND e.state = 'active' AND e.next_at <= ?3",
                SqlArgs().Add(send.enrollment_id).Add(send.step).Add(send.now));
            if (!rows) return rows.error();
            if (rows->empty() || rows->Text(0, 3) != "active" || rows->IsNull(0, 2)) return StepOutcome::kGone;
            const int64_t lead_id = rows->Int(0, 0);
            const std::string sequence = rows->Text(0, 1);
            const std::string email = rows->Text(0, 2);
            // The suppression list, checked in the transaction that queues the mail.
            auto suppressed = SuppressedIn(s, email);
            if (!suppressed) return suppressed.error();
            if (*suppressed) {
                auto n = StopEnrollments(s, "id = ?1", SqlArgs().Add(send.enrollment_id), "suppressed", send.now);
                if (!n) return n.error();
                return StepOutcome::kSuppressed;
            }
            // The claim: whoever moves the enrollment on sends the step; a second attempt finds it moved.
            auto claimed = s.Query(
                "UPDATE enrollments SET step = step + 1, next_at = ?3, state = ?4, stop_reason = ?5, updated_at = ?6"
                " WHERE id = ?1 AND step = ?2 AND state = 'active' RETURNING id",
                SqlArgs()
                    .Add(send.enrollment_id)
                    .Add(send.step)
                    .Add(send.last ? send.now : send.next_at)
                    .Add(send.last ? "done" : "active")
                    .Add(send.last ? "finished" : "")
                    .Add(send.now));
            if (!claimed) return claimed.error();
            if (claimed->empty()) return StepOutcome::kGone;
            // The sender's cap and the domain's spacing, each taken in one statement, so that two servers
            // cannot both take the last one; a refusal undoes the claim with the rest.
            auto counted = s.Query(
                "INSERT INTO send_counts (sender, day, sent) VALUES (?1, ?2, 1) ON CONFLICT (sender, day) DO UPDATE"
                " SET sent = send_counts.sent + 1 WHERE send_counts.sent < ?3 RETURNING sent",
                SqlArgs().Add(send.sender).Add(send.day).Add(static_cast<int64_t>(send.daily_cap)));
            if (!counted) return counted.error();
            if (counted->empty() || counted->Int(0, 0) > send.daily_cap) {
                return Error{ErrorCode::kConflict, std::string(kCapSpent), {}};
            }
            if (send.domain_interval_seconds > 0) {
                auto spaced = s.Query(
                    "INSERT INTO domain_sends (domain, last_at) VALUES (?1, ?2) ON CONFLICT (domain) DO UPDATE SET"
                    " last_at = excluded.last_at WHERE domain_sends.last_at <= ?3 RETURNING domain",
                    SqlArgs()
                        .Add(send.domain)
                        .Add(send.now)
                        .Add(send.now - std::chrono::seconds(send.domain_interval_seconds)));
                if (!spaced) return spaced.error();
                if (spaced->empty()) return Error{ErrorCode::kConflict, std::string(kDomainBusy), {}};
            }
            auto recorded = s.Query(
                "INSERT INTO sequence_sends (sequence, step, lead_id, sender, domain, outbox_key, at)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                SqlArgs()
                    .Add(sequence)
                    .Add(send.step)
                    .Add(lead_id)
                    .Add(send.sender)
                    .Add(send.domain)
                    .Add(send.message.dedup_key)
                    .Add(send.now));
            if (!recorded) {
                if (recorded.error().code == ErrorCode::kAlreadyExists) {
                    return Error{ErrorCode::kConflict, std::string(kStepGone), {}};
                }
                return recorded.error();
            }
            OutboxMessage message = send.message;
            message.to = email;
            auto queued = s.EnqueueMail(message, send.now);
            if (!queued) return queued.error();
            if (!*queued) return Error{ErrorCode::kConflict, std::string(kStepGone), {}};
            if (auto e = AddEvent(s, lead_id, "sent", send.now, sequence, send.step); !e) return e.error();
            if (send.last) {
                if (auto e = AddEvent(s, lead_id, "finished", send.now, sequence, send.step, "finished"); !e) {
                    return e.error();
                }
            }
            return StepOutcome::kQueued;
        },
        Callback<StepOutcome>([done = std::move(done)](Result<StepOutcome> r) {
            if (!r && r.error().code == ErrorCode::kConflict) {
                if (r.error().message == kCapSpent) return done(StepOutcome::kCapReached);
                if (r.error().message == kDomainBusy) return done(StepOutcome::kDomainThrottled);
                if (r.error().message == kStepGone) return done(StepOutcome::kGone);
            }
            done(std::move(r));
        }));
}

void AcquisitionStore::Postpone(int64_t enrollment_id, int step, SysSeconds next_at, Callback<void> done) {
    WriteWith<bool>(
        runner_,
        [=](SqlSession& s) -> Result<bool> {
            auto r = s.Query("UPDATE enrollments SET next_at = ?3 WHERE id = ?1 AND step = ?2 AND state = 'active'",
                             SqlArgs().Add(enrollment_id).Add(step).Add(next_at));
            if (!r) return r.error();
            return true;
        },
        Callback<bool>([done = std::move(done)](Result<bool> r) {
            if (!r) return done(r.error());
            done(Result<void>{});
        }));
}

Result<std::vector<SequenceState>> AcquisitionStore::ListSequenceStates() {
    return ReadWith<std::vector<SequenceState>>(runner_, [&](SqlSession& s) -> Result<std::vector<SequenceState>> {
        auto rows = s.Query("SELECT name, paused, updated_by, updated_at FROM sequence_states ORDER BY name");
        if (!rows) return rows.error();
        std::vector<SequenceState> out;
        for (size_t i = 0; i < rows->size(); ++i) {
            out.push_back(SequenceState{rows->Text(i, 0), rows->Int(i, 1) != 0, rows->Text(i, 2), rows->OptTime(i, 3)});
        }
        return out;
    });
}

void AcquisitionStore::SetSequencePaused(std::string name, bool paused, AuditEntry audit, SysSeconds now,
                                         Callback<SequenceState> done) {
    WriteWith<SequenceState>(
        runner_,
        [=, name = std::move(name), audit = std::move(audit)](SqlSession& s) -> Result<SequenceState> {
            auto rows = s.Query("SELECT paused FROM sequence_states WHERE name = ?1", SqlArgs().Add(name));
            if (!rows) return rows.error();
            const bool was = !rows->empty() && rows->Int(0, 0) != 0;
            if (was == paused)
                return Conflict(paused ? "the sequence is paused already" : "the sequence is not paused");
            auto r = s.Query(
                "INSERT INTO sequence_states (name, paused, updated_by, updated_at) VALUES (?1, ?2, ?3, ?4)"
                " ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, updated_by = excluded.updated_by,"
                " updated_at = excluded.updated_at",
                SqlArgs().Add(name).Add(paused ? 1 : 0).Add(audit.actor).Add(now));
            if (!r) return r.error();
            if (auto a = s.AppendAudit(audit); !a) return a.error();
            return SequenceState{name, paused, audit.actor, now};
        },
        std::move(done));
}

Result<int64_t> AcquisitionStore::SentToday(std::string_view sender, int64_t day) {
    return ReadWith<int64_t>(runner_, [&](SqlSession& s) -> Result<int64_t> {
        auto rows =
            s.Query("SELECT sent FROM send_counts WHERE sender = ?1 AND day = ?2", SqlArgs().Add(sender).Add(day));
        if (!rows) return rows.error();
        return rows->empty() ? int64_t{0} : rows->Int(0, 0);
    });
}

// ---- Suppression and events ---------------------------------------------------------------------------

Result<bool> AcquisitionStore::IsSuppressed(std::string_view email) {
    return ReadWith<bool>(runner_, [&](SqlSession& s) { return SuppressedIn(s, email); });
}

Result<std::vector<Suppression>> AcquisitionStore::ListSuppressions(const SuppressionQuery& query) {
    return ReadWith<std::vector<Suppression>>(runner_, [&](SqlSession& s) -> Result<std::vector<Suppression>> {
        auto rows = s.Query(
            "SELECT id, kind, value, hash, reason, source, created_at FROM suppressions WHERE (?1 = '' OR kind = ?1)"
            " AND (CAST(?2 AS BIGINT) IS NULL OR id < CAST(?2 AS BIGINT)) ORDER BY id DESC LIMIT CAST(?3 AS BIGINT)",
            SqlArgs().Add(query.kind).Add(query.before_id).Add(static_cast<int64_t>(query.limit)));
        if (!rows) return rows.error();
        std::vector<Suppression> out;
        for (size_t i = 0; i < rows->size(); ++i) {
            out.push_back(Suppression{rows->Int(i, 0), rows->Text(i, 1), rows->Text(i, 2), rows->Text(i, 3),
                                      rows->Text(i, 4), rows->Text(i, 5), rows->Time(i, 6)});
        }
        return out;
    });
}

void AcquisitionStore::Suppress(Suppression entry, std::optional<AuditEntry> audit, Callback<bool> done) {
    if (entry.kind != "address" && entry.kind != "domain") {
        return done(Error::Validation("kind", "must be address or domain"));
    }
    entry.value = NormalizeEmail(entry.value);
    if (entry.value.empty()) return done(Error::Validation("value", "is required"));
    entry.hash = SuppressionHash(entry.value);
    WriteWith<bool>(
        runner_,
        [entry = std::move(entry), audit = std::move(audit)](SqlSession& s) -> Result<bool> {
            auto added = InsertSuppression(s, entry);
            if (!added) return added.error();
            if (!*added) return false;
            const bool address = entry.kind == "address";
            auto n = StopEnrollments(s,
                                     address ? "lead_id IN (SELECT id FROM leads WHERE email_hash = ?1)"
                                             : "lead_id IN (SELECT id FROM leads WHERE domain = ?1)",
                                     SqlArgs().Add(address ? entry.hash : entry.value), "suppressed", entry.created_at);
            if (!n) return n.error();
            if (audit) {
                if (auto a = s.AppendAudit(*audit); !a) return a.error();
            }
            return true;
        },
        std::move(done));
}

void AcquisitionStore::RecordMailEvent(MailEvent event, Callback<bool> done) {
    WriteWith<bool>(
        runner_,
        [event = std::move(event)](SqlSession& s) -> Result<bool> {
            const std::string email = NormalizeEmail(event.email);
            auto inserted = s.Query(
                "INSERT INTO mail_events (provider, event_id, kind, email_hash, at, detail) VALUES (?1, ?2, ?3, ?4,"
                " ?5, ?6) ON CONFLICT (provider, event_id) DO NOTHING RETURNING id",
                SqlArgs()
                    .Add(event.provider)
                    .Add(event.event_id)
                    .Add(event.kind)
                    .Add(SuppressionHash(email))
                    .Add(event.at)
                    .Add(event.detail));
            if (!inserted) return inserted.error();
            if (inserted->empty()) return false;
            std::optional<LeadStatus> status;
            if (event.kind == "bounce" || event.kind == "dropped") status = LeadStatus::kBounced;
            if (event.kind == "spamreport") status = LeadStatus::kComplained;
            if (event.kind == "unsubscribe" || event.kind == "group_unsubscribe") status = LeadStatus::kUnsubscribed;
            if (!status || email.empty()) return true;
            if (auto r = SuppressAddress(s, email, NameOf(*status), event.provider, event.at); !r) return r.error();
            auto lead = LeadWhere(s, "WHERE email_hash = ?1", SqlArgs().Add(SuppressionHash(email)));
            if (!lead) return lead.error();
            if (*lead && (*lead)->status != *status && (*lead)->status != LeadStatus::kErased) {
                auto marked = MarkIn(s, **lead, *status, event.provider + ": " + event.detail, event.at);
                if (!marked) return marked.error();
            }
            return true;
        },
        std::move(done));
}

// ---- The funnel ---------------------------------------------------------------------------------------

namespace {

void Count(FunnelCounts& c, std::string_view kind, int64_t n) {
    if (kind == "created") c.leads += n;
    if (kind == "confirmed") c.confirmed += n;
    if (kind == "signed_up") c.signed_up += n;
    if (kind == "activated") c.activated += n;
    if (kind == "paid") c.paid += n;
    if (kind == "sent") c.sent += n;
    if (kind == "unsubscribed") c.unsubscribed += n;
    if (kind == "bounced") c.bounced += n;
    if (kind == "complained") c.complained += n;
    if (kind == "replied") c.replied += n;
}

}  // namespace

Result<Funnel> AcquisitionStore::GetFunnel(SysSeconds from, SysSeconds to) {
    return ReadWith<Funnel>(runner_, [&](SqlSession& s) -> Result<Funnel> {
        Funnel f;
        // Everything counts by when it happened (lead_events), so that a month's numbers stay the month's.
        auto days = s.Query(
            "SELECT at / 86400, source, kind, COUNT(*) FROM lead_events WHERE at >= ?1 AND at < ?2"
            " GROUP BY at / 86400, source, kind ORDER BY 1, 2",
            SqlArgs().Add(from).Add(to));
        if (!days) return days.error();
        for (size_t i = 0; i < days->size(); ++i) {
            const int64_t day = days->Int(i, 0);
            const std::string& source = days->Text(i, 1);
            if (f.days.empty() || f.days.back().day != day || f.days.back().source != source) {
                f.days.push_back(FunnelDay{day, source, {}});
            }
            Count(f.days.back().counts, days->Text(i, 2), days->Int(i, 3));
            auto it = std::find_if(f.sources.begin(), f.sources.end(),
                                   [&](const FunnelSource& x) { return x.source == source; });
            if (it == f.sources.end()) it = f.sources.insert(f.sources.end(), FunnelSource{source, {}});
            Count(it->counts, days->Text(i, 2), days->Int(i, 3));
        }
        std::sort(f.sources.begin(), f.sources.end(),
                  [](const FunnelSource& a, const FunnelSource& b) { return a.source < b.source; });

        auto statuses =
            s.Query("SELECT source, status, COUNT(*) FROM leads GROUP BY source, status ORDER BY source, status");
        if (!statuses) return statuses.error();
        for (size_t i = 0; i < statuses->size(); ++i) {
            f.statuses.push_back(FunnelStatus{statuses->Text(i, 0), statuses->Text(i, 1), statuses->Int(i, 2)});
        }

        auto seqs = s.Query(
            "SELECT sequence, kind, COUNT(*) FROM lead_events WHERE at >= ?1 AND at < ?2 AND sequence <> ''"
            " GROUP BY sequence, kind",
            SqlArgs().Add(from).Add(to));
        if (!seqs) return seqs.error();
        auto sequence = [&](const std::string& name) -> FunnelSequence& {
            auto it = std::find_if(f.sequences.begin(), f.sequences.end(),
                                   [&](const FunnelSequence& x) { return x.sequence == name; });
            if (it == f.sequences.end()) it = f.sequences.insert(f.sequences.end(), FunnelSequence{name});
            return *it;
        };
        for (size_t i = 0; i < seqs->size(); ++i) {
            auto& q = sequence(seqs->Text(i, 0));
            const std::string& kind = seqs->Text(i, 1);
            const int64_t n = seqs->Int(i, 2);
            if (kind == "enrolled") q.enrolled += n;
            if (kind == "sent") q.sent += n;
            if (kind == "stopped") q.stopped += n;
            if (kind == "finished") q.finished += n;
        }
        // A conversion or an unsubscribe belongs to each sequence the lead was in when it happened.
        auto credited = s.Query(
            "SELECT e.sequence, ev.kind, COUNT(DISTINCT ev.lead_id) FROM lead_events ev JOIN enrollments e ON"
            " e.lead_id = ev.lead_id AND e.enrolled_at <= ev.at WHERE ev.at >= ?1 AND ev.at < ?2 AND ev.kind IN"
            " ('paid', 'unsubscribed') GROUP BY e.sequence, ev.kind",
            SqlArgs().Add(from).Add(to));
        if (!credited) return credited.error();
        for (size_t i = 0; i < credited->size(); ++i) {
            auto& q = sequence(credited->Text(i, 0));
            (credited->Text(i, 1) == "paid" ? q.paid : q.unsubscribed) += credited->Int(i, 2);
        }
        auto active = s.Query("SELECT sequence, COUNT(*) FROM enrollments WHERE state = 'active' GROUP BY sequence");
        if (!active) return active.error();
        for (size_t i = 0; i < active->size(); ++i) sequence(active->Text(i, 0)).active = active->Int(i, 1);
        std::sort(f.sequences.begin(), f.sequences.end(),
                  [](const FunnelSequence& a, const FunnelSequence& b) { return a.sequence < b.sequence; });

        auto sources = s.Query(
            "SELECT (SELECT COUNT(*) FROM prospects WHERE first_seen >= ?1 AND first_seen < ?2),"
            " (SELECT COUNT(*) FROM prospects WHERE status = 'contacted' AND decided_at >= ?1 AND decided_at < ?2),"
            " (SELECT COUNT(*) FROM conversations WHERE found_at >= ?1 AND found_at < ?2),"
            " (SELECT COUNT(*) FROM conversations WHERE status = 'answered' AND decided_at >= ?1 AND decided_at < ?2)",
            SqlArgs().Add(from).Add(to));
        if (!sources) return sources.error();
        f.prospects = sources->Int(0, 0);
        f.prospects_contacted = sources->Int(0, 1);
        f.conversations = sources->Int(0, 2);
        f.conversations_answered = sources->Int(0, 3);
        return f;
    });
}

}  // namespace gpuopt::store
