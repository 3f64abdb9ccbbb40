// What the acquisition engine keeps (SPEC §9, decision 0030): leads (people who signed up or asked for an
// audit, with the basis on which we may write to them), GitHub prospects and Reddit conversations for a
// person to review, where each source's search stands today, referral codes, sequences with each lead's
// place in them and every step sent, the suppression list, mail events, and each lead's history.
//
// Written once for both backends over portable SQL (store/sql_session.hpp). A change that an operator makes
// takes its audit row in the same transaction; a change that finds nothing to change answers kNotFound or
// kConflict and writes nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "common/time.hpp"
#include "store/admin.hpp"
#include "store/callback.hpp"
#include "store/outbox.hpp"
#include "store/sql_session.hpp"

namespace gpuopt::store {

// pending: an audit request waiting for its confirmation link; active: may be written to; the rest end
// every sequence for good. erased: the person asked us to forget them; only a hash stays, suppressed.
enum class LeadStatus { kPending, kActive, kUnsubscribed, kBounced, kComplained, kReplied, kErased };
std::string_view NameOf(LeadStatus status);
std::optional<LeadStatus> LeadStatusNamed(std::string_view name);

// Where a lead came from: "signup", "audit", or the source of the referral code it arrived with
// ("github", "reddit", "referral").
struct Lead {
    int64_t id = 0;
    std::string email;  // "" once erased
    std::string domain;
    std::string company_key;  // the address's domain, "" for public mailbox providers (gmail.com ...)
    std::string name;
    std::string company;
    std::string source;
    std::string referral_code;
    std::string basis;  // "customer" (a signup: the customer relationship), "consent" (a confirmed audit request)
    LeadStatus status = LeadStatus::kActive;
    std::optional<int64_t> account_id;
    std::optional<int> utc_offset_minutes;  // the browser's, when it told us
    std::string consent_text;               // what the person agreed to, word for word
    std::string consent_ip;
    std::optional<SysSeconds> consent_at;
    SysSeconds created_at;
    std::optional<SysSeconds> confirmed_at;
    std::optional<SysSeconds> signed_up_at;
    std::optional<SysSeconds> activated_at;  // the account's agent first reported
    std::optional<SysSeconds> paid_at;       // the account first held a paid plan: converted
    std::optional<SysSeconds> audit_sent_at;
};

struct AuditRequest {
    std::string email;
    std::string name;
    std::string company;
    std::string consent_text;
    std::string ip;
    std::optional<int> utc_offset_minutes;
    std::string referral_code;       // unknown codes are dropped
    std::string confirm_token_hash;  // SHA-256 of the link's token
    SysSeconds now;
    OutboxMessage confirmation;  // sent in the same transaction, unless nothing is to be sent
};

enum class AuditRequestOutcome {
    kCreated,           // a new pending lead, its confirmation queued
    kResent,            // pending already: a new link queued (the old one no longer works)
    kAlreadyConfirmed,  // nothing sent
    kSuppressed,        // the address or its domain is suppressed: nothing stored, nothing sent
    kTooSoon,           // pending, and a link was sent within the last 10 minutes: nothing sent
};

struct SignupLead {
    int64_t account_id = 0;
    std::string email;
    std::string referral_code;
    std::optional<int> utc_offset_minutes;
    SysSeconds now;
};

// A confirmed audit request whose account has data: the audit covers its first hours from `data_from`.
struct DueAudit {
    Lead lead;
    SysSeconds data_from;
};

struct LeadQuery {
    std::string source;  // "" for all
    std::optional<LeadStatus> status;
    std::string email_contains;
    std::optional<int64_t> before_id;
    size_t limit = 50;
};

// One line of a lead's history. Erasing a lead keeps its events (the funnel's counts) without detail.
struct LeadEvent {
    int64_t id = 0;
    int64_t lead_id = 0;
    SysSeconds at;
    std::string kind;  // created, confirmed, signed_up, activated, paid, enrolled, sent, stopped,
                       // unsubscribed, bounced, complained, replied, audit_sent, erased
    std::string source;
    std::string sequence;
    int step = -1;
    std::string detail;
};

struct Enrollment {
    int64_t id = 0;
    int64_t lead_id = 0;
    std::string sequence;
    int step = 0;  // the next step to send
    SysSeconds next_at;
    std::string state;  // active, done, stopped
    std::string stop_reason;
    SysSeconds enrolled_at;
    SysSeconds updated_at;
};

struct LeadHistory {
    Lead lead;
    std::vector<LeadEvent> events;
    std::vector<Enrollment> enrollments;
};

// ---- Sources ------------------------------------------------------------------------------------------

struct ProspectRepo {
    std::string full_name;
    std::string html_url;
    std::string description;
    int64_t stars = 0;
    int64_t forks = 0;
    std::optional<SysSeconds> pushed_at;
    std::vector<std::string> topics;
};

// A GitHub account (organisation or user) whose public repositories match the queries. No e-mail address
// is ever kept: GitHub's Acceptable Use Policies forbid using it for unsolicited mail.
struct Prospect {
    int64_t id = 0;
    std::string login;
    std::string kind;  // "Organization" or "User"
    std::string html_url;
    std::string name;
    std::string website;  // the organisation's own site, where a person may find how to reach them
    std::vector<ProspectRepo> repos;
    int64_t stars = 0;
    int64_t forks = 0;
    std::optional<SysSeconds> last_pushed_at;
    double score = 0;
    std::vector<std::string> reasons;
    std::string status = "new";  // new, contacted, dismissed, converted
    std::string note;            // what the operator did
    std::string decided_by;
    std::optional<SysSeconds> decided_at;
    std::string referral_code;
    SysSeconds first_seen;
    SysSeconds updated_at;
    std::optional<SysSeconds> profile_checked_at;
};

// A public Reddit post about GPU cost, for a person to answer by hand. The author's name is not kept.
struct Conversation {
    int64_t id = 0;
    std::string post_id;  // t3_...
    std::string subreddit;
    std::string title;
    std::string url;
    SysSeconds posted_at;
    int64_t score = 0;
    int64_t comments = 0;
    std::string query;  // the search that found it
    std::vector<std::string> reasons;
    std::string status = "new";  // new, answered, dismissed, converted
    std::string note;
    std::string decided_by;
    std::optional<SysSeconds> decided_at;
    std::string referral_code;
    SysSeconds found_at;
};

// Prospects come best first (score), conversations newest first.
struct SourceItemQuery {
    std::string status;  // "" for all
    size_t offset = 0;
    size_t limit = 50;
};

// How far one query of one source got on one UTC day: a page is never fetched twice in a day.
struct DiscoveryCursor {
    std::string source;
    std::string query;
    int64_t day = 0;   // days since 1970-01-01 (UTC)
    std::string next;  // where to continue ("" with done: finished)
    bool done = false;
    int64_t pages = 0;
    int64_t items = 0;
    SysSeconds updated_at;
};

struct SourceState {
    std::string source;
    std::optional<SysSeconds> wait_until;  // a rate limit: nothing is asked before then
    std::optional<SysSeconds> last_run_at;
    std::string last_result;
};

struct ReferralCode {
    std::string code;
    std::string source;  // github, reddit, referral
    std::optional<int64_t> prospect_id;
    std::optional<int64_t> conversation_id;
    std::string label;
    SysSeconds created_at;
    int64_t leads = 0;  // read only
    int64_t paid = 0;   // read only
};

// ---- Sequences ----------------------------------------------------------------------------------------

// What the sync asks of each sequence (acquisition/settings.hpp has the whole definition).
struct SequenceRule {
    std::string name;
    std::string segment;  // signup_no_agent, free_at_limit, audit_confirmed
    std::string goal;     // activated, paid
    int64_t first_delay_seconds = 0;
    int steps = 0;  // an enrollment past the last step (the sequence was shortened) is finished
};

// With `enroll` false (sequences are off) the sync keeps leads and their milestones up to date and applies
// the exit rules, but nobody joins a sequence and none is taken for removed.
struct SyncRules {
    std::vector<SequenceRule> sequences;
    bool enroll = true;
    int free_gpu_limit = 2;  // a free account with this many GPUs has hit its limit
};

struct SyncOutcome {
    int64_t leads_created = 0;
    int64_t activated = 0;
    int64_t paid = 0;
    int64_t erased = 0;
    int64_t enrolled = 0;
    int64_t stopped = 0;
};

struct DueStep {
    Enrollment enrollment;
    Lead lead;
};

// One step to send: the enrollment moves on, the send is recorded and the mail queued, all in one
// transaction, or nothing happens. The dedup key (sequence, step, lead) makes a second attempt, by this
// server after a restart or by another, find the step sent.
struct StepSend {
    int64_t enrollment_id = 0;
    int step = 0;
    bool last = false;
    SysSeconds next_at;  // the following step's time, when not last
    std::string sender;  // the sending address its daily cap counts against
    int daily_cap = 0;
    int64_t day = 0;  // the sender's day
    std::string domain;
    int64_t domain_interval_seconds = 0;
    OutboxMessage message;
    SysSeconds now;
};

enum class StepOutcome {
    kQueued,
    kGone,             // the enrollment moved on or stopped meanwhile (sent elsewhere): nothing done
    kSuppressed,       // the address or domain is suppressed: the enrollment stopped
    kCapReached,       // the sender's cap for the day is spent: nothing done
    kDomainThrottled,  // the recipient's domain had a mail too recently: nothing done
};

struct SequenceState {
    std::string name;
    bool paused = false;
    std::string updated_by;
    std::optional<SysSeconds> updated_at;
};

// ---- Suppression and mail events -----------------------------------------------------------------------

struct Suppression {
    int64_t id = 0;
    std::string kind;    // address, domain
    std::string value;   // "" once the person was erased
    std::string hash;    // SuppressionHash(value)
    std::string reason;  // unsubscribed, bounced, complained, manual, erased
    std::string source;  // link, one-click, mailto, operator, sendgrid, ...
    SysSeconds created_at;
};

// SHA-256 (hex) of the value lowercased: what a suppression entry keeps after erasure.
std::string SuppressionHash(std::string_view value);

struct SuppressionQuery {
    std::string kind;  // "" for all
    std::optional<int64_t> before_id;
    size_t limit = 100;
};

// An event a mail provider reported (SendGrid's Event Webhook), kept once per event id.
struct MailEvent {
    std::string provider;
    std::string event_id;
    std::string kind;  // bounce, dropped, spamreport, unsubscribe, group_unsubscribe, ...
    std::string email;
    SysSeconds at;
    std::string detail;
};

// ---- The funnel ----------------------------------------------------------------------------------------

struct FunnelCounts {
    int64_t leads = 0;
    int64_t confirmed = 0;
    int64_t signed_up = 0;
    int64_t activated = 0;
    int64_t paid = 0;
    int64_t sent = 0;
    int64_t unsubscribed = 0;
    int64_t bounced = 0;
    int64_t complained = 0;
    int64_t replied = 0;
};

struct FunnelSource {
    std::string source;
    FunnelCounts counts;
};

struct FunnelSequence {
    std::string sequence;
    int64_t enrolled = 0;
    int64_t active = 0;
    int64_t sent = 0;
    int64_t stopped = 0;
    int64_t finished = 0;
    int64_t paid = 0;  // leads enrolled in it that converted
    int64_t unsubscribed = 0;
};

struct FunnelDay {
    int64_t day = 0;
    std::string source;
    FunnelCounts counts;
};

// How many leads of a source are in a status now (not bound to the period).
struct FunnelStatus {
    std::string source;
    std::string status;
    int64_t leads = 0;
};

struct Funnel {
    std::vector<FunnelSource> sources;
    std::vector<FunnelStatus> statuses;
    std::vector<FunnelSequence> sequences;
    std::vector<FunnelDay> days;
    int64_t prospects = 0;
    int64_t prospects_contacted = 0;
    int64_t conversations = 0;
    int64_t conversations_answered = 0;
};

// ---- The repository ------------------------------------------------------------------------------------

class AcquisitionStore {
public:
    explicit AcquisitionStore(SqlRunner& runner) : runner_(runner) {}

    // Leads.
    void RequestAudit(AuditRequest request, Callback<AuditRequestOutcome> done);
    // The lead the token confirms (consent recorded now); nullopt for an unknown or expired token.
    void ConfirmAudit(std::string token_hash, SysSeconds now, SysSeconds oldest_link,
                      Callback<std::optional<Lead>> done);
    // A new account is a lead (or an audit lead becomes a customer): the referral code credits its source.
    void RecordSignup(SignupLead signup, Callback<Lead> done);
    Result<std::optional<Lead>> GetLead(int64_t id);
    Result<std::optional<Lead>> FindLead(std::string_view email);
    Result<std::vector<Lead>> ListLeads(const LeadQuery& query);
    Result<std::optional<LeadHistory>> GetLeadHistory(int64_t id);
    // The lead leaves every sequence and its address is suppressed (source: link, one-click, mailto, ...).
    // Answers false when it had unsubscribed already.
    void Unsubscribe(int64_t lead_id, std::string source, SysSeconds now, Callback<bool> done);
    // bounced, complained, replied or unsubscribed by an operator (audited), or by a provider's event.
    void MarkLead(int64_t lead_id, LeadStatus status, std::string detail, std::optional<AuditEntry> audit,
                  SysSeconds now, Callback<Lead> done);
    // Keeps only a hashed suppression entry and the funnel's counts.
    void EraseLead(int64_t lead_id, AuditEntry audit, SysSeconds now, Callback<void> done);
    // Leads whose audit report is due: their account's agent first reported before `data_since`.
    Result<std::vector<DueAudit>> DueAudits(SysSeconds data_since, size_t limit);
    void MarkAuditSent(int64_t lead_id, OutboxMessage report, SysSeconds now, Callback<bool> done);

    // Sources.
    Result<std::optional<Prospect>> FindProspect(std::string_view login);
    Result<std::optional<Prospect>> GetProspect(int64_t id);
    Result<std::vector<Prospect>> ListProspects(const SourceItemQuery& query);
    void SaveProspect(Prospect prospect, Callback<Prospect> done);  // by login; keeps the operator's decision
    // contacted (a referral code is made for it), dismissed; `note` says what was done.
    void DecideProspect(int64_t id, std::string status, std::string note, AuditEntry audit, SysSeconds now,
                        Callback<Prospect> done);
    Result<std::vector<Conversation>> ListConversations(const SourceItemQuery& query);
    Result<std::optional<Conversation>> GetConversation(int64_t id);
    void SaveConversation(Conversation conversation, Callback<Conversation> done);  // by post id
    void DecideConversation(int64_t id, std::string status, std::string note, AuditEntry audit, SysSeconds now,
                            Callback<Conversation> done);
    Result<std::optional<DiscoveryCursor>> GetCursor(std::string_view source, std::string_view query, int64_t day);
    void SaveCursor(DiscoveryCursor cursor, Callback<void> done);
    Result<std::optional<SourceState>> GetSourceState(std::string_view source);
    void SaveSourceState(SourceState state, Callback<void> done);
    Result<std::vector<ReferralCode>> ListReferralCodes();
    Result<std::optional<ReferralCode>> GetReferralCode(std::string_view code);
    void CreateReferralCode(ReferralCode code, AuditEntry audit, Callback<ReferralCode> done);

    // Sequences.
    void SyncLeads(SyncRules rules, SysSeconds now, Callback<SyncOutcome> done);
    Result<std::vector<DueStep>> DueSteps(SysSeconds now, size_t limit);
    void SendStep(StepSend send, Callback<StepOutcome> done);
    // Moves a due step to a later time (outside the send window, over a cap) without sending it.
    void Postpone(int64_t enrollment_id, int step, SysSeconds next_at, Callback<void> done);
    Result<std::vector<SequenceState>> ListSequenceStates();
    void SetSequencePaused(std::string name, bool paused, AuditEntry audit, SysSeconds now,
                           Callback<SequenceState> done);
    Result<int64_t> SentToday(std::string_view sender, int64_t day);

    // Suppression and events.
    Result<bool> IsSuppressed(std::string_view email);
    Result<std::vector<Suppression>> ListSuppressions(const SuppressionQuery& query);
    // Answers false when the value was suppressed already.
    void Suppress(Suppression entry, std::optional<AuditEntry> audit, Callback<bool> done);
    // Answers false for an event seen before; bounces, complaints and unsubscribes suppress and end sequences.
    void RecordMailEvent(MailEvent event, Callback<bool> done);

    // The funnel between two times (lead and event times), by source, by sequence and by UTC day.
    Result<Funnel> GetFunnel(SysSeconds from, SysSeconds to);

private:
    SqlRunner& runner_;
};

}  // namespace gpuopt::store
