#include "acquisition/sequencer.hpp"

#include <spdlog/spdlog.h>

#include "acquisition/templates.hpp"
#include "store/wait.hpp"

namespace gpuopt::acquisition {

namespace {

constexpr int64_t kDay = 86400;

int64_t Seconds(SysSeconds t) { return t.time_since_epoch().count(); }
SysSeconds At(int64_t s) { return SysSeconds(std::chrono::seconds(s)); }

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0); }

// Monday = 0; 1970-01-01 was a Thursday.
size_t Weekday(int64_t day) { return static_cast<size_t>(((day + 3) % 7 + 7) % 7); }

std::chrono::seconds Jitter(const SendingSettings& s, std::mt19937_64& random) {
    if (s.jitter_minutes <= 0) return std::chrono::seconds(0);
    std::uniform_int_distribution<int64_t> d(0, int64_t{s.jitter_minutes} * 60);
    return std::chrono::seconds(d(random));
}

std::string FirstName(const std::string& name) {
    const auto space = name.find(' ');
    return space == std::string::npos ? name : name.substr(0, space);
}

TemplateValues ValuesFor(store::Database& db, const store::Lead& lead, const Outreach& o) {
    TemplateValues v{
        {"first_name", FirstName(lead.name)},
        {"company", lead.company},
        {"email_domain", lead.domain},
        {"dashboard_url", o.base_url + "/dashboard/"},
        {"signup_url", o.base_url + "/#signup"},
        {"pricing_url", o.base_url + "/#plans"},
        {"agent_url", o.base_url + "/#agent"},
        {"gpu_limit", std::to_string(o.free_gpu_limit)},
        {"product", o.product},
    };
    if (lead.account_id) {
        auto customer = db.panel().GetCustomer(*lead.account_id);
        if (customer && *customer) {
            v["gpus"] = std::to_string((*customer)->gpus);
            std::string plan(NameOf((*customer)->tier));
            if (!plan.empty()) plan[0] = static_cast<char>(plan[0] - 'a' + 'A');
            v["plan"] = plan;
        }
    }
    return v;
}

store::OutboxMessage BuildStep(store::Database& db, const Sequence& seq, int step, const store::Lead& lead,
                               const Outreach& o) {
    const TemplateValues values = ValuesFor(db, lead, o);
    const Step& s = seq.steps[static_cast<size_t>(step)];
    const std::string body = Render(s.text, values);
    const std::string why =
        lead.basis == "consent" ? "you asked for a GPU cost audit" : "you have an account with " + o.product;
    store::OutboxMessage m;
    m.dedup_key = "sequence:" + seq.name + ":" + std::to_string(step) + ":" + std::to_string(lead.id);
    m.account_id = lead.account_id.value_or(0);
    m.to = lead.email;
    m.subject = Render(s.subject, values);
    m.text = body + MarketingFooterText(o, lead.id, why);
    m.html = TextToHtml(body) + MarketingFooterHtml(o, lead.id, why);
    m.kind = "sequence:" + seq.name;
    m.headers = MarketingHeaders(o, lead.id);
    return m;
}

}  // namespace

SysSeconds NextInWindow(SysSeconds t, int offset_minutes, const SendWindow& w) {
    const int64_t offset = int64_t{offset_minutes} * 60;
    const int64_t local = Seconds(t) + offset;
    const int64_t today = FloorDiv(local, kDay);
    for (int64_t i = 0; i < 8; ++i) {
        const int64_t day = today + i;
        if (!w.days[Weekday(day)]) continue;
        const int64_t start = day * kDay + int64_t{w.start_hour} * 3600;
        const int64_t end = day * kDay + int64_t{w.end_hour} * 3600;
        if (local < start) return At(start - offset);
        if (local < end) return t;
    }
    return t + std::chrono::days(7);  // no day is open: settings refuse that, so never here
}

store::SyncRules SyncRulesOf(const Settings& settings, int free_gpu_limit) {
    store::SyncRules rules;
    rules.free_gpu_limit = free_gpu_limit;
    for (const auto& s : settings.sequences) {
        rules.sequences.push_back(store::SequenceRule{s.name, s.segment, s.goal,
                                                      s.steps.empty() ? 0 : s.steps.front().delay_seconds,
                                                      static_cast<int>(s.steps.size())});
    }
    return rules;
}

Result<SequenceRun> RunSequences(store::Database& db, const Settings& settings, const Outreach& o, SysSeconds now,
                                 std::mt19937_64& random) {
    SequenceRun run;
    // The leads are kept up to date (the funnel counts them) whether or not sequences may send.
    const bool off = !SequencesOff(o).empty();
    store::SyncRules rules = SyncRulesOf(settings, o.free_gpu_limit);
    rules.enroll = !off;
    auto& acq = db.acquisition();
    auto synced = store::Wait<store::SyncOutcome>(
        [&](store::Callback<store::SyncOutcome> done) { acq.SyncLeads(std::move(rules), now, std::move(done)); });
    if (!synced) return synced.error();
    run.sync = *synced;
    if (off) return run;

    auto due = acq.DueSteps(now, 200);
    if (!due) return due.error();
    const SendingSettings& sending = settings.sending;
    const int64_t day = FloorDiv(Seconds(now), kDay);
    auto sent_today = acq.SentToday(o.sender, day);
    if (!sent_today) return sent_today.error();
    int64_t sent = *sent_today;
    auto postpone = [&](const store::Enrollment& e, SysSeconds at) -> Result<void> {
        ++run.postponed;
        return store::Wait<void>([&](store::Callback<void> done) { acq.Postpone(e.id, e.step, at, std::move(done)); });
    };
    for (const auto& item : *due) {
        const store::Enrollment& e = item.enrollment;
        const store::Lead& lead = item.lead;
        const Sequence* seq = settings.FindSequence(e.sequence);
        // A sequence taken out of the settings, or a step beyond its end: the next sync ends the enrollment.
        if (seq == nullptr || e.step < 0 || static_cast<size_t>(e.step) >= seq->steps.size()) continue;
        const int offset = lead.utc_offset_minutes.value_or(sending.default_utc_offset_minutes);
        const SysSeconds open = NextInWindow(now, offset, sending.window);
        if (open > now) {
            if (auto r = postpone(e, open + Jitter(sending, random)); !r) return r.error();
            continue;
        }
        // The next UTC day's window, for a cap spent today.
        const SysSeconds tomorrow = NextInWindow(At((day + 1) * kDay), offset, sending.window);
        if (sent >= sending.daily_cap) {
            if (auto r = postpone(e, tomorrow + Jitter(sending, random)); !r) return r.error();
            continue;
        }
        const bool last = static_cast<size_t>(e.step) + 1 == seq->steps.size();
        store::StepSend send;
        send.enrollment_id = e.id;
        send.step = e.step;
        send.last = last;
        send.next_at = last ? now
                            : now + std::chrono::seconds(seq->steps[static_cast<size_t>(e.step) + 1].delay_seconds) +
                                  Jitter(sending, random);
        send.sender = o.sender;
        send.daily_cap = sending.daily_cap;
        send.day = day;
        send.domain = lead.domain;
        send.domain_interval_seconds = int64_t{sending.domain_interval_minutes} * 60;
        send.message = BuildStep(db, *seq, e.step, lead, o);
        send.now = now;
        auto outcome = store::Wait<store::StepOutcome>(
            [&](store::Callback<store::StepOutcome> done) { acq.SendStep(std::move(send), std::move(done)); });
        if (!outcome) return outcome.error();
        switch (*outcome) {
            case store::StepOutcome::kQueued:
                ++run.queued;
                ++sent;
                break;
            case store::StepOutcome::kCapReached:
                sent = sending.daily_cap;
                if (auto r = postpone(e, tomorrow + Jitter(sending, random)); !r) return r.error();
                break;
            case store::StepOutcome::kDomainThrottled:
                if (auto r = postpone(
                        e, now + std::chrono::minutes(sending.domain_interval_minutes) + Jitter(sending, random));
                    !r) {
                    return r.error();
                }
                break;
            case store::StepOutcome::kSuppressed:
                ++run.suppressed;
                break;
            case store::StepOutcome::kGone:
                ++run.gone;
                break;
        }
    }
    if (run.queued > 0 || run.sync.enrolled > 0 || run.sync.stopped > 0) {
        spdlog::info("sequences: {} step(s) queued, {} postponed, {} enrolled, {} stopped", run.queued, run.postponed,
                     run.sync.enrolled, run.sync.stopped);
    }
    return run;
}

}  // namespace gpuopt::acquisition
