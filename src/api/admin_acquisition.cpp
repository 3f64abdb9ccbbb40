// The operator's view of acquisition (api/admin.hpp, SPEC §9):
//   GET    /api/admin/acquisition/funnel?days=                  by source, by sequence, by day; sources' state
//   GET    /api/admin/acquisition/leads?source=&status=&q=&before=&limit=
//   GET    /api/admin/acquisition/leads/{id}                    the lead's whole history
//   GET    /api/admin/acquisition/leads/{id}/export             the same, as a JSON download (audited)
//   POST   /api/admin/acquisition/leads/{id}/mark {status, reason}   bounced, replied, complained, unsubscribed
//   DELETE /api/admin/acquisition/leads/{id} {reason}           erase: only a hashed suppression entry stays
//   GET    /api/admin/acquisition/prospects?status=&offset=&limit=   GitHub's review queue, best first
//   POST   /api/admin/acquisition/prospects/{id} {status, note}      contacted (how) or dismissed
//   GET    /api/admin/acquisition/conversations?status=&offset=&limit=
//   POST   /api/admin/acquisition/conversations/{id} {status, note}  answered or dismissed
//   GET    /api/admin/acquisition/sequences                     steps, state, counts
//   POST   /api/admin/acquisition/sequences/{name}/pause|resume {reason}
//   GET    /api/admin/acquisition/suppressions?kind=&before=&limit=
//   POST   /api/admin/acquisition/suppressions {kind, value, reason}
//   GET    /api/admin/acquisition/suppressions.csv              every entry (audited)
//   GET    /api/admin/acquisition/referrals; POST {code, label}
//   POST   /api/admin/acquisition/discover {reason}             look at the sources now
// Reads take an admin session or ADMIN_TOKEN; every change an admin session, and is audited in the
// transaction that makes it.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <charconv>

#include "acquisition/outreach.hpp"
#include "acquisition/settings.hpp"
#include "api/admin.hpp"
#include "api/admin_internal.hpp"
#include "api/auth.hpp"
#include "common/csv.hpp"
#include "common/email.hpp"
#include "common/json.hpp"
#include "http/await.hpp"
#include "http/error_response.hpp"
#include "store/acquisition.hpp"

namespace gpuopt::api {

namespace {

namespace json = boost::json;

json::value OptTime(const std::optional<SysSeconds>& t) { return TimeOrNull(t); }

json::array Strings(const std::vector<std::string>& values) {
    json::array a;
    for (const auto& v : values) a.emplace_back(v);
    return a;
}

json::object LeadJson(const store::Lead& l) {
    return json::object{
        {"id", l.id},
        {"email", l.email},
        {"name", l.name},
        {"company", l.company},
        {"domain", l.domain},
        {"source", l.source},
        {"referral_code", l.referral_code},
        {"basis", l.basis},
        {"status", store::NameOf(l.status)},
        {"account_id", l.account_id ? json::value(*l.account_id) : json::value(nullptr)},
        {"utc_offset_minutes", l.utc_offset_minutes ? json::value(*l.utc_offset_minutes) : json::value(nullptr)},
        {"consent_text", l.consent_text},
        {"consent_ip", l.consent_ip},
        {"consent_at", OptTime(l.consent_at)},
        {"created_at", FormatUtc(l.created_at)},
        {"confirmed_at", OptTime(l.confirmed_at)},
        {"signed_up_at", OptTime(l.signed_up_at)},
        {"activated_at", OptTime(l.activated_at)},
        {"paid_at", OptTime(l.paid_at)},
        {"audit_sent_at", OptTime(l.audit_sent_at)}};
}

json::object EnrollmentJson(const store::Enrollment& e) {
    return json::object{{"id", e.id},
                        {"sequence", e.sequence},
                        {"step", e.step},
                        {"next_at", FormatUtc(e.next_at)},
                        {"state", e.state},
                        {"stop_reason", e.stop_reason},
                        {"enrolled_at", FormatUtc(e.enrolled_at)},
                        {"updated_at", FormatUtc(e.updated_at)}};
}

json::object HistoryJson(const store::LeadHistory& h) {
    json::array events;
    for (const auto& e : h.events) {
        events.push_back(json::object{{"id", e.id},
                                      {"at", FormatUtc(e.at)},
                                      {"kind", e.kind},
                                      {"sequence", e.sequence},
                                      {"step", e.step},
                                      {"detail", e.detail}});
    }
    json::array enrollments;
    for (const auto& e : h.enrollments) enrollments.push_back(EnrollmentJson(e));
    return json::object{
        {"lead", LeadJson(h.lead)}, {"events", std::move(events)}, {"enrollments", std::move(enrollments)}};
}

json::object ProspectJson(const store::Prospect& p) {
    json::array repos;
    for (const auto& r : p.repos) {
        repos.push_back(json::object{{"full_name", r.full_name},
                                     {"html_url", r.html_url},
                                     {"description", r.description},
                                     {"stars", r.stars},
                                     {"forks", r.forks},
                                     {"pushed_at", OptTime(r.pushed_at)},
                                     {"topics", Strings(r.topics)}});
    }
    return json::object{{"id", p.id},
                        {"login", p.login},
                        {"kind", p.kind},
                        {"html_url", p.html_url},
                        {"name", p.name},
                        {"website", p.website},
                        {"repos", std::move(repos)},
                        {"stars", p.stars},
                        {"forks", p.forks},
                        {"last_pushed_at", OptTime(p.last_pushed_at)},
                        {"score", p.score},
                        {"reasons", Strings(p.reasons)},
                        {"status", p.status},
                        {"note", p.note},
                        {"decided_by", p.decided_by},
                        {"decided_at", OptTime(p.decided_at)},
                        {"referral_code", p.referral_code},
                        {"first_seen", FormatUtc(p.first_seen)},
                        {"updated_at", FormatUtc(p.updated_at)}};
}

json::object ConversationJson(const store::Conversation& c) {
    return json::object{{"id", c.id},
                        {"post_id", c.post_id},
                        {"subreddit", c.subreddit},
                        {"title", c.title},
                        {"url", c.url},
                        {"posted_at", FormatUtc(c.posted_at)},
                        {"score", c.score},
                        {"comments", c.comments},
                        {"query", c.query},
                        {"reasons", Strings(c.reasons)},
                        {"status", c.status},
                        {"note", c.note},
                        {"decided_by", c.decided_by},
                        {"decided_at", OptTime(c.decided_at)},
                        {"referral_code", c.referral_code},
                        {"found_at", FormatUtc(c.found_at)}};
}

json::object CountsJson(const store::FunnelCounts& c) {
    return json::object{
        {"leads", c.leads},
        {"confirmed", c.confirmed},
        {"signed_up", c.signed_up},
        {"activated", c.activated},
        {"paid", c.paid},
        {"sent", c.sent},
        {"unsubscribed", c.unsubscribed},
        {"bounced", c.bounced},
        {"complained", c.complained},
        {"replied", c.replied},
        // Paid leads over new leads in the period: the conversion rate per source.
        {"conversion_rate", c.leads > 0 ? static_cast<double>(c.paid) / static_cast<double>(c.leads) : 0.0}};
}

json::object SuppressionJson(const store::Suppression& e) {
    return json::object{{"id", e.id},
                        {"kind", e.kind},
                        {"value", e.value},
                        {"hash", e.hash},
                        {"reason", e.reason},
                        {"source", e.source},
                        {"created_at", FormatUtc(e.created_at)}};
}

// offset & limit for the review queues.
Result<std::pair<size_t, size_t>> OffsetLimit(const ListQuery& list) {
    size_t offset = 0;
    if (auto it = list.filters.find("offset"); it != list.filters.end() && !it->second.empty()) {
        auto n = PositiveInt(it->second);
        if (!n && it->second != "0") return Error::Validation("offset", "must be a whole number");
        offset = n ? static_cast<size_t>(*n) : 0;
    }
    return std::make_pair(offset, list.limit);
}

// A note or a reason: optional here, at most 500 characters, one line.
Result<std::string> NoteField(const json::object& body) {
    const auto* v = body.if_contains("note");
    if (v == nullptr || v->is_null()) return std::string();
    if (!v->is_string()) return Error::Validation("note", "must be a string");
    if (v->get_string().size() > 500) return Error::Validation("note", "must be at most 500 characters");
    return std::string(v->get_string());
}

std::string StatusField(const json::object& body) {
    const auto* v = body.if_contains("status");
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

boost::asio::awaitable<http::Response> Audited(Services& s, http::RequestContext& ctx, store::AuditEntry audit,
                                               json::object answer) {
    if (auto refused = co_await AppendAuditRow(s, std::move(audit), ctx.request.version()))
        co_return std::move(*refused);
    co_return OkJson(answer, ctx.request.version(), std::nullopt);
}

}  // namespace

http::Handler MakeAdminFunnelHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        auto list = ParseListQuery(ctx.query, {"days"});
        if (!list) co_return http::ErrorResponse(list.error(), version);
        int64_t days = 30;
        if (const auto& d = list->filters["days"]; !d.empty()) {
            auto n = PositiveInt(d);
            if (!n || *n > 400) co_return http::ErrorResponse(Error::Validation("days", "must be 1 to 400"), version);
            days = *n;
        }
        const SysSeconds now = UtcNow();
        const SysSeconds from = std::chrono::floor<std::chrono::days>(now) - std::chrono::days(days - 1);
        const std::function<Result<json::object>()> read = [&s, from, now]() -> Result<json::object> {
            auto& acq = s.store.acquisition();
            auto f = acq.GetFunnel(from, now + std::chrono::seconds(1));
            if (!f) return f.error();
            json::array sources;
            for (const auto& src : f->sources) {
                auto o = CountsJson(src.counts);
                o["source"] = src.source;
                sources.push_back(std::move(o));
            }
            json::array sequences;
            for (const auto& q : f->sequences) {
                sequences.push_back(json::object{
                    {"sequence", q.sequence},
                    {"enrolled", q.enrolled},
                    {"active", q.active},
                    {"sent", q.sent},
                    {"stopped", q.stopped},
                    {"finished", q.finished},
                    {"paid", q.paid},
                    {"unsubscribed", q.unsubscribed},
                    {"conversion_rate",
                     q.enrolled > 0 ? static_cast<double>(q.paid) / static_cast<double>(q.enrolled) : 0.0}});
            }
            json::array statuses;
            for (const auto& st : f->statuses) {
                statuses.push_back(json::object{{"source", st.source}, {"status", st.status}, {"leads", st.leads}});
            }
            json::array days_out;
            for (const auto& d : f->days) {
                auto o = CountsJson(d.counts);
                o["day"] = FormatUtc(SysSeconds(std::chrono::seconds(d.day * 86400))).substr(0, 10);
                o["source"] = d.source;
                days_out.push_back(std::move(o));
            }
            json::object state;
            const auto& c = s.config.acquisition;
            state["github"] = c.github_token.empty() ? "off: GITHUB_TOKEN is not set" : "on";
            state["reddit"] =
                c.reddit_client_id.empty() || c.reddit_client_secret.empty() || c.reddit_user_agent.empty()
                    ? "off: REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET and REDDIT_USER_AGENT are not all set"
                    : "on";
            const std::string off = acquisition::SequencesOff(acquisition::OutreachOf(s.config));
            state["sequences"] = off.empty() ? "on" : "off: " + off;
            for (const char* source : {"github:search", "github:core", "reddit"}) {
                auto st = acq.GetSourceState(source);
                if (!st) return st.error();
                if (*st) {
                    state[std::string(source) + ":wait_until"] = OptTime((*st)->wait_until);
                    state[std::string(source) + ":last_run"] = OptTime((*st)->last_run_at);
                    state[std::string(source) + ":last_result"] = (*st)->last_result;
                }
            }
            const std::string sender = s.config.mail.sender_email;
            auto today = acq.SentToday(sender, UtcNow().time_since_epoch().count() / 86400);
            if (!today) return today.error();
            state["sent_today"] = *today;
            state["daily_cap"] = s.acquisition != nullptr ? s.acquisition->sending.daily_cap : 0;
            return json::object{{"status", "success"},
                                {"from", FormatUtc(from)},
                                {"to", FormatUtc(now)},
                                {"sources", std::move(sources)},
                                {"statuses", std::move(statuses)},
                                {"sequences", std::move(sequences)},
                                {"days", std::move(days_out)},
                                {"prospects", f->prospects},
                                {"prospects_contacted", f->prospects_contacted},
                                {"conversations", f->conversations},
                                {"conversations_answered", f->conversations_answered},
                                {"state", std::move(state)}};
        };
        auto body = co_await OffloadRead<json::object>(s, read);
        if (!body) co_return http::ErrorResponse(body.error(), version);
        co_return OkJson(*body, version, std::nullopt);
    };
}

http::Handler MakeAdminLeadsHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        auto list = ParseListQuery(ctx.query, {"source", "status", "q"});
        if (!list) co_return http::ErrorResponse(list.error(), version);
        store::LeadQuery q;
        q.source = list->filters["source"];
        if (const auto& status = list->filters["status"]; !status.empty()) {
            q.status = store::LeadStatusNamed(status);
            if (!q.status) {
                co_return http::ErrorResponse(
                    Error::Validation("status",
                                      "must be pending, active, unsubscribed, bounced, complained, replied or erased"),
                    version);
            }
        }
        q.email_contains = list->filters["q"];
        q.before_id = list->before;
        q.limit = list->limit;
        const std::function<Result<std::vector<store::Lead>>()> read = [&s, &q] {
            return s.store.acquisition().ListLeads(q);
        };
        auto rows = co_await OffloadRead<std::vector<store::Lead>>(s, read);
        if (!rows) co_return http::ErrorResponse(rows.error(), version);
        co_return OkJson(PageJson("leads", *rows, q.limit, LeadJson, [](const store::Lead& l) { return l.id; }),
                         version, std::nullopt);
    };
}

http::Handler MakeAdminLeadHandler(Services& s, bool download) {
    return [&s, download](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        auto id = IdParam(ctx);
        if (!id) co_return http::ErrorResponse(Error::Validation("id", "must be a lead id"), version);
        const std::function<Result<json::object>()> read = [&s, id = *id]() -> Result<json::object> {
            auto h = s.store.acquisition().GetLeadHistory(id);
            if (!h) return h.error();
            if (!*h) return Error{ErrorCode::kNotFound, "No lead with that id", {}};
            return HistoryJson(**h);
        };
        auto history = co_await OffloadRead<json::object>(s, read);
        if (!history) co_return http::ErrorResponse(history.error(), version);
        if (!download) {
            (*history)["status"] = "success";
            co_return OkJson(*history, version, std::nullopt);
        }
        // A person's data leaving the product: the export is an audit row first.
        auto audit = AuditFor(std::get<OperatorCaller>(auth), ctx, "lead.export", "lead:" + std::to_string(*id));
        if (auto refused = co_await AppendAuditRow(s, std::move(audit), version)) co_return std::move(*refused);
        http::Response res{http::bhttp::status::ok, version};
        res.set(http::bhttp::field::content_type, "application/json");
        res.set(http::bhttp::field::content_disposition,
                "attachment; filename=\"gpuoptimizer-lead-" + std::to_string(*id) + ".json\"");
        res.set(http::bhttp::field::cache_control, "no-store");
        res.body() = ToJson(*history);
        co_return res;
    };
}

http::Handler MakeAdminLeadMarkHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto begun = co_await BeginOperatorAction(s, ctx, "a lead id");
        if (auto* refused = std::get_if<http::Response>(&begun)) co_return std::move(*refused);
        auto& action = std::get<OperatorAction>(begun);
        auto reason = ReasonField(action.body);
        if (!reason) co_return http::ErrorResponse(reason.error(), version);
        const std::string status = StatusField(action.body);
        const auto named = store::LeadStatusNamed(status);
        if (!named || (*named != store::LeadStatus::kBounced && *named != store::LeadStatus::kReplied &&
                       *named != store::LeadStatus::kComplained && *named != store::LeadStatus::kUnsubscribed)) {
            co_return http::ErrorResponse(
                Error::Validation("status", "must be bounced, replied, complained or unsubscribed"), version);
        }
        auto audit = AuditFor(action.caller, ctx, "lead.mark", "lead:" + std::to_string(action.id));
        audit.after = ToJson(json::object{{"status", status}, {"reason", *reason}});
        auto write = [&](store::Callback<store::Lead> done) {
            s.store.acquisition().MarkLead(action.id, *named, "operator: " + *reason, std::move(audit), UtcNow(),
                                           std::move(done));
        };
        auto marked = co_await http::AwaitCallback<store::Lead>(std::move(write));
        if (!marked) co_return http::ErrorResponse(marked.error(), version);
        co_return OkJson(json::object{{"status", "success"}, {"lead", LeadJson(*marked)}}, version, std::nullopt);
    };
}

http::Handler MakeAdminLeadEraseHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto begun = co_await BeginOperatorAction(s, ctx, "a lead id");
        if (auto* refused = std::get_if<http::Response>(&begun)) co_return std::move(*refused);
        auto& action = std::get<OperatorAction>(begun);
        auto reason = ReasonField(action.body);
        if (!reason) co_return http::ErrorResponse(reason.error(), version);
        // The audit row names the lead by id only: the address is what is being forgotten.
        auto audit = AuditFor(action.caller, ctx, "lead.erase", "lead:" + std::to_string(action.id));
        audit.after = ToJson(json::object{{"reason", *reason}});
        auto write = [&](store::Callback<void> done) {
            s.store.acquisition().EraseLead(action.id, std::move(audit), UtcNow(), std::move(done));
        };
        auto erased = co_await http::AwaitCallback<void>(std::move(write));
        if (!erased) co_return http::ErrorResponse(erased.error(), version);
        co_return OkJson(json::object{{"status", "success"}, {"erased", action.id}}, version, std::nullopt);
    };
}

http::Handler MakeAdminProspectsHandler(Services& s, bool conversations) {
    return [&s, conversations](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        auto list = ParseListQuery(ctx.query, {"status", "offset"});
        if (!list) co_return http::ErrorResponse(list.error(), version);
        auto paging = OffsetLimit(*list);
        if (!paging) co_return http::ErrorResponse(paging.error(), version);
        store::SourceItemQuery q{list->filters["status"], paging->first, paging->second};
        const std::function<Result<json::object>()> read = [&s, &q, conversations]() -> Result<json::object> {
            json::array rows;
            if (conversations) {
                auto found = s.store.acquisition().ListConversations(q);
                if (!found) return found.error();
                for (const auto& c : *found) rows.push_back(ConversationJson(c));
            } else {
                auto found = s.store.acquisition().ListProspects(q);
                if (!found) return found.error();
                for (const auto& p : *found) rows.push_back(ProspectJson(p));
            }
            const bool full = rows.size() == q.limit;
            return json::object{
                {"status", "success"},
                {conversations ? "conversations" : "prospects", std::move(rows)},
                {"next_offset", full ? json::value(static_cast<int64_t>(q.offset + q.limit)) : json::value(nullptr)}};
        };
        auto body = co_await OffloadRead<json::object>(s, read);
        if (!body) co_return http::ErrorResponse(body.error(), version);
        co_return OkJson(*body, version, std::nullopt);
    };
}

http::Handler MakeAdminDecideHandler(Services& s, bool conversation) {
    return [&s, conversation](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto begun = co_await BeginOperatorAction(s, ctx, conversation ? "a conversation id" : "a prospect id");
        if (auto* refused = std::get_if<http::Response>(&begun)) co_return std::move(*refused);
        auto& action = std::get<OperatorAction>(begun);
        auto note = NoteField(action.body);
        if (!note) co_return http::ErrorResponse(note.error(), version);
        const std::string status = StatusField(action.body);
        auto audit = AuditFor(action.caller, ctx, conversation ? "conversation.decide" : "prospect.decide",
                              (conversation ? "conversation:" : "prospect:") + std::to_string(action.id));
        audit.after = ToJson(json::object{{"status", status}, {"note", *note}});
        if (conversation) {
            auto write = [&](store::Callback<store::Conversation> done) {
                s.store.acquisition().DecideConversation(action.id, status, *note, std::move(audit), UtcNow(),
                                                         std::move(done));
            };
            auto decided = co_await http::AwaitCallback<store::Conversation>(std::move(write));
            if (!decided) co_return http::ErrorResponse(decided.error(), version);
            co_return OkJson(json::object{{"status", "success"}, {"conversation", ConversationJson(*decided)}}, version,
                             std::nullopt);
        }
        auto write = [&](store::Callback<store::Prospect> done) {
            s.store.acquisition().DecideProspect(action.id, status, *note, std::move(audit), UtcNow(), std::move(done));
        };
        auto decided = co_await http::AwaitCallback<store::Prospect>(std::move(write));
        if (!decided) co_return http::ErrorResponse(decided.error(), version);
        co_return OkJson(json::object{{"status", "success"}, {"prospect", ProspectJson(*decided)}}, version,
                         std::nullopt);
    };
}

http::Handler MakeAdminSequencesHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const std::function<Result<json::object>()> read = [&s]() -> Result<json::object> {
            auto states = s.store.acquisition().ListSequenceStates();
            if (!states) return states.error();
            json::array out;
            if (s.acquisition != nullptr) {
                for (const auto& seq : s.acquisition->sequences) {
                    const auto state = std::find_if(states->begin(), states->end(),
                                                    [&](const store::SequenceState& x) { return x.name == seq.name; });
                    const bool paused = state != states->end() && state->paused;
                    json::array steps;
                    for (const auto& st : seq.steps) {
                        steps.push_back(json::object{
                            {"delay_hours", st.delay_seconds / 3600}, {"subject", st.subject}, {"text", st.text}});
                    }
                    out.push_back(json::object{
                        {"name", seq.name},
                        {"description", seq.description},
                        {"segment", seq.segment},
                        {"goal", seq.goal},
                        {"paused", paused},
                        {"updated_by", state != states->end() ? state->updated_by : std::string()},
                        {"updated_at", state != states->end() ? OptTime(state->updated_at) : json::value(nullptr)},
                        {"steps", std::move(steps)}});
                }
            }
            const std::string off = acquisition::SequencesOff(acquisition::OutreachOf(s.config));
            json::object sending;
            if (s.acquisition != nullptr) {
                const auto& w = s.acquisition->sending;
                json::array days;
                static constexpr const char* kDays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
                for (size_t i = 0; i < 7; ++i) {
                    if (w.window.days[i]) days.emplace_back(kDays[i]);
                }
                sending = json::object{{"daily_cap", w.daily_cap},
                                       {"domain_interval_minutes", w.domain_interval_minutes},
                                       {"window_start_hour", w.window.start_hour},
                                       {"window_end_hour", w.window.end_hour},
                                       {"days", std::move(days)},
                                       {"jitter_minutes", w.jitter_minutes},
                                       {"sender", s.config.mail.sender_email}};
            }
            return json::object{{"status", "success"},
                                {"running", off.empty()},
                                {"off_because", off},
                                {"sending", std::move(sending)},
                                {"sequences", std::move(out)}};
        };
        auto body = co_await OffloadRead<json::object>(s, read);
        if (!body) co_return http::ErrorResponse(body.error(), version);
        co_return OkJson(*body, version, std::nullopt);
    };
}

http::Handler MakeAdminSequencePauseHandler(Services& s, bool pause) {
    return [&s, pause](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const auto& caller = std::get<OperatorCaller>(auth);
        auto body = JsonObjectBody(ctx.request);
        if (!body) co_return http::ErrorResponse(body.error(), version);
        auto reason = ReasonField(*body);
        if (!reason) co_return http::ErrorResponse(reason.error(), version);
        const auto it = ctx.params.find("name");
        const std::string name = it == ctx.params.end() ? std::string() : it->second;
        if (s.acquisition == nullptr || s.acquisition->FindSequence(name) == nullptr) {
            co_return http::ErrorResponse({ErrorCode::kNotFound, "No sequence with that name", {}}, version);
        }
        auto audit = AuditFor(caller, ctx, pause ? "sequence.pause" : "sequence.resume", "sequence:" + name);
        audit.after = ToJson(json::object{{"paused", pause}, {"reason", *reason}});
        auto write = [&](store::Callback<store::SequenceState> done) {
            s.store.acquisition().SetSequencePaused(name, pause, std::move(audit), UtcNow(), std::move(done));
        };
        auto changed = co_await http::AwaitCallback<store::SequenceState>(std::move(write));
        if (!changed) co_return http::ErrorResponse(changed.error(), version);
        if (!pause && s.wake_job) s.wake_job("sequences");
        co_return OkJson(json::object{{"status", "success"}, {"name", name}, {"paused", changed->paused}}, version,
                         std::nullopt);
    };
}

http::Handler MakeAdminSuppressionsHandler(Services& s, bool csv) {
    return [&s, csv](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        auto list = ParseListQuery(ctx.query, {"kind"});
        if (!list) co_return http::ErrorResponse(list.error(), version);
        store::SuppressionQuery q{list->filters["kind"], list->before, list->limit};
        if (!q.kind.empty() && q.kind != "address" && q.kind != "domain") {
            co_return http::ErrorResponse(Error::Validation("kind", "must be address or domain"), version);
        }
        if (!csv) {
            const std::function<Result<std::vector<store::Suppression>>()> read = [&s, &q] {
                return s.store.acquisition().ListSuppressions(q);
            };
            auto rows = co_await OffloadRead<std::vector<store::Suppression>>(s, read);
            if (!rows) co_return http::ErrorResponse(rows.error(), version);
            co_return OkJson(PageJson("suppressions", *rows, q.limit, SuppressionJson,
                                      [](const store::Suppression& e) { return e.id; }),
                             version, std::nullopt);
        }
        int64_t count = 0;
        const std::function<Result<std::string>()> read = [&s, &q, &count]() -> Result<std::string> {
            std::string out;
            csv::AppendRow(out, {"id", "kind", "value", "hash", "reason", "source", "created_at"});
            store::SuppressionQuery page{q.kind, std::nullopt, 500};
            for (;;) {
                auto rows = s.store.acquisition().ListSuppressions(page);
                if (!rows) return rows.error();
                for (const auto& e : *rows) {
                    csv::AppendRow(out, {csv::Number(static_cast<long long>(e.id)), csv::Text(e.kind),
                                         csv::Text(e.value), csv::Text(e.hash), csv::Text(e.reason),
                                         csv::Text(e.source), csv::Text(FormatUtc(e.created_at))});
                    ++count;
                }
                if (rows->size() < page.limit) return out;
                page.before_id = rows->back().id;
            }
        };
        auto text = co_await OffloadRead<std::string>(s, read);
        if (!text) co_return http::ErrorResponse(text.error(), version);
        auto audit = AuditFor(std::get<OperatorCaller>(auth), ctx, "export.suppressions", "");
        audit.after = "{\"rows\":" + std::to_string(count) + "}";
        if (auto refused = co_await AppendAuditRow(s, std::move(audit), version)) co_return std::move(*refused);
        http::Response res{http::bhttp::status::ok, version};
        res.set(http::bhttp::field::content_type, "text/csv; charset=utf-8; header=present");
        res.set(http::bhttp::field::content_disposition,
                "attachment; filename=\"gpuoptimizer-suppressions-" + FormatUtc(UtcNow()).substr(0, 10) + ".csv\"");
        res.set(http::bhttp::field::cache_control, "no-store");
        res.body() = std::move(*text);
        co_return res;
    };
}

http::Handler MakeAdminSuppressHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const auto& caller = std::get<OperatorCaller>(auth);
        auto body = JsonObjectBody(ctx.request);
        if (!body) co_return http::ErrorResponse(body.error(), version);
        auto reason = ReasonField(*body);
        if (!reason) co_return http::ErrorResponse(reason.error(), version);
        const auto* kind = body->if_contains("kind");
        const auto* value = body->if_contains("value");
        if (kind == nullptr || !kind->is_string() ||
            (kind->get_string() != "address" && kind->get_string() != "domain")) {
            co_return http::ErrorResponse(Error::Validation("kind", "must be address or domain"), version);
        }
        if (value == nullptr || !value->is_string() || value->get_string().size() > 254) {
            co_return http::ErrorResponse(Error::Validation("value", "is required: an address or a domain"), version);
        }
        const std::string text = NormalizeEmail(std::string_view(value->get_string()));
        const bool address = kind->get_string() == "address";
        const bool well_formed = address ? IsValidEmail(text) : IsValidEmail("x@" + text);
        if (!well_formed) {
            co_return http::ErrorResponse(
                Error::Validation("value", address ? "is not an e-mail address" : "is not a domain"), version);
        }
        auto audit = AuditFor(caller, ctx, "suppression.add", std::string(address ? "address" : "domain"));
        // The audit row keeps the entry's hash, not the address: the log outlives an erasure.
        audit.after = ToJson(
            json::object{{"kind", kind->get_string()}, {"hash", store::SuppressionHash(text)}, {"reason", *reason}});
        store::Suppression entry{0, std::string(kind->get_string()), text, "", "manual", "operator", UtcNow()};
        auto write = [&](store::Callback<bool> done) {
            s.store.acquisition().Suppress(std::move(entry), std::move(audit), std::move(done));
        };
        auto added = co_await http::AwaitCallback<bool>(std::move(write));
        if (!added) co_return http::ErrorResponse(added.error(), version);
        if (!*added) {
            co_return http::ErrorResponse({ErrorCode::kConflict, "That is on the suppression list already", {}},
                                          version);
        }
        co_return OkJson(json::object{{"status", "success"}, {"added", true}}, version, std::nullopt);
    };
}

http::Handler MakeAdminReferralsHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const std::function<Result<std::vector<store::ReferralCode>>()> read = [&s] {
            return s.store.acquisition().ListReferralCodes();
        };
        auto codes = co_await OffloadRead<std::vector<store::ReferralCode>>(s, read);
        if (!codes) co_return http::ErrorResponse(codes.error(), version);
        json::array out;
        for (const auto& c : *codes) {
            out.push_back(json::object{{"code", c.code},
                                       {"source", c.source},
                                       {"label", c.label},
                                       {"link", s.config.base_url + "/?ref=" + c.code},
                                       {"created_at", FormatUtc(c.created_at)},
                                       {"leads", c.leads},
                                       {"paid", c.paid}});
        }
        co_return OkJson(json::object{{"status", "success"}, {"referrals", std::move(out)}}, version, std::nullopt);
    };
}

http::Handler MakeAdminCreateReferralHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const auto& caller = std::get<OperatorCaller>(auth);
        auto body = JsonObjectBody(ctx.request);
        if (!body) co_return http::ErrorResponse(body.error(), version);
        const auto* code = body->if_contains("code");
        const bool ok = code != nullptr && code->is_string() && !code->get_string().empty() &&
                        code->get_string().size() <= 64 &&
                        std::all_of(code->get_string().begin(), code->get_string().end(), [](char c) {
                            return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
                        });
        if (!ok) {
            co_return http::ErrorResponse(Error::Validation("code", "must be 1 to 64 of a-z, 0-9, - and _"), version);
        }
        std::string label;
        if (const auto* l = body->if_contains("label"); l != nullptr && !l->is_null()) {
            if (!l->is_string() || l->get_string().size() > 200) {
                co_return http::ErrorResponse(Error::Validation("label", "must be text of at most 200 characters"),
                                              version);
            }
            label = std::string(l->get_string());
        }
        auto audit = AuditFor(caller, ctx, "referral.create", "referral:" + std::string(code->get_string()));
        audit.after = ToJson(json::object{{"label", label}});
        store::ReferralCode made{
            std::string(code->get_string()), "referral", std::nullopt, std::nullopt, label, UtcNow(), 0, 0};
        auto write = [&](store::Callback<store::ReferralCode> done) {
            s.store.acquisition().CreateReferralCode(std::move(made), std::move(audit), std::move(done));
        };
        auto created = co_await http::AwaitCallback<store::ReferralCode>(std::move(write));
        if (!created) co_return http::ErrorResponse(created.error(), version);
        co_return OkJson(
            json::object{
                {"status", "success"}, {"code", created->code}, {"link", s.config.base_url + "/?ref=" + created->code}},
            version, std::nullopt);
    };
}

http::Handler MakeAdminDiscoverHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        auto body = JsonObjectBody(ctx.request);
        if (!body) co_return http::ErrorResponse(body.error(), version);
        auto reason = ReasonField(*body);
        if (!reason) co_return http::ErrorResponse(reason.error(), version);
        if (s.wake_job) s.wake_job("discovery");
        s.store.Announce("discovery");
        auto audit = AuditFor(std::get<OperatorCaller>(auth), ctx, "acquisition.discover", "");
        audit.after = ToJson(json::object{{"reason", *reason}});
        // Built apart: GCC 12 cannot keep an initializer list's array alive across a co_await.
        json::object answer{{"status", "success"}, {"started", true}};
        co_return co_await Audited(s, ctx, std::move(audit), std::move(answer));
    };
}

}  // namespace gpuopt::api
