#include "server/acquire_cli.hpp"

#include <cstdio>
#include <ostream>

#include "acquisition/outreach.hpp"
#include "acquisition/sources.hpp"
#include "server/admin_cli.hpp"
#include "store/acquisition.hpp"
#include "store/wait.hpp"

namespace gpuopt::server {

namespace {

std::string Percent(int64_t part, int64_t whole) {
    if (whole <= 0) return "-";
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
    return buf;
}

std::string Pad(std::string s, size_t width) {
    if (s.size() < width) s.append(width - s.size(), ' ');
    return s;
}

int Failed(std::ostream& err, const Error& e) {
    err << "gpuopt acquire: " << e.message;
    for (const auto& [field, what] : e.details) err << " (" << field << " " << what << ")";
    err << "\n";
    return 2;
}

int Discover(store::Database& db, const Config& c, const acquisition::Settings& settings, std::ostream& out,
             std::ostream& err) {
    const auto now = UtcNow();
    auto found = acquisition::DiscoverGithub(db.acquisition(), settings.github, acquisition::GithubAccessOf(c), now);
    if (!found) return Failed(err, found.error());
    out << "GitHub: " << found->pages << " page(s), " << found->items << " repositories, " << found->saved
        << " prospect(s) saved, " << found->profiles << " account(s) looked up"
        << (found->stopped.empty() ? "" : "; stopped: " + found->stopped) << "\n";
    auto talked = acquisition::DiscoverReddit(db.acquisition(), settings.reddit, acquisition::RedditAccessOf(c), now);
    if (!talked) return Failed(err, talked.error());
    out << "Reddit: " << talked->pages << " page(s), " << talked->items << " posts, " << talked->saved
        << " conversation(s) saved" << (talked->stopped.empty() ? "" : "; stopped: " + talked->stopped) << "\n";
    auto best = db.acquisition().ListProspects({"new", 0, 10});
    if (!best) return Failed(err, best.error());
    if (!best->empty()) out << "\nBest prospects to review (no e-mail address is taken from GitHub):\n";
    for (const auto& p : *best) {
        char score[16];
        std::snprintf(score, sizeof score, "%5.1f", p.score);
        out << "  " << score << "  " << Pad(p.login, 24) << " " << Pad(p.kind, 13) << " "
            << (p.website.empty() ? p.html_url : p.website) << "\n";
    }
    return 0;
}

int Leads(store::Database& db, const AcquireCommand& cmd, std::ostream& out, std::ostream& err) {
    store::LeadQuery q;
    q.source = cmd.source;
    if (!cmd.status.empty()) {
        q.status = store::LeadStatusNamed(cmd.status);
        if (!q.status) {
            return Failed(err, Error::Validation("--status",
                                                 "must be pending, active, unsubscribed, bounced, "
                                                 "complained, replied or erased"));
        }
    }
    q.limit = static_cast<size_t>(cmd.limit);
    auto leads = db.acquisition().ListLeads(q);
    if (!leads) return Failed(err, leads.error());
    out << Pad("id", 7) << Pad("created", 21) << Pad("source", 10) << Pad("status", 14) << Pad("basis", 10)
        << "email\n";
    for (const auto& l : *leads) {
        out << Pad(std::to_string(l.id), 7) << Pad(FormatUtc(l.created_at), 21) << Pad(l.source, 10)
            << Pad(std::string(store::NameOf(l.status)), 14) << Pad(l.basis, 10) << l.email
            << (l.paid_at        ? "  (paid)"
                : l.signed_up_at ? "  (signed up)"
                                 : "")
            << "\n";
    }
    out << leads->size() << " lead(s)\n";
    return 0;
}

int Sequences(store::Database& db, const Config& c, const acquisition::Settings& settings, const AcquireCommand& cmd,
              std::ostream& out, std::ostream& err) {
    auto& acq = db.acquisition();
    if (!cmd.pause.empty() || !cmd.resume.empty()) {
        const bool pause = !cmd.pause.empty();
        const std::string name = pause ? cmd.pause : cmd.resume;
        if (settings.FindSequence(name) == nullptr) return Failed(err, Error::Validation("sequence", "no " + name));
        if (cmd.reason.size() < 3)
            return Failed(err, Error::Validation("--reason", "is required (3 characters or more)"));
        auto audit = CliAudit(pause ? "sequence.pause" : "sequence.resume", "sequence:" + name);
        audit.after = std::string("{\"paused\":") + (pause ? "true" : "false") + "}";
        auto changed = store::Wait<store::SequenceState>([&](store::Callback<store::SequenceState> done) {
            acq.SetSequencePaused(name, pause, std::move(audit), UtcNow(), std::move(done));
        });
        if (!changed) return Failed(err, changed.error());
        out << name << " is " << (pause ? "paused" : "running") << "\n";
        return 0;
    }
    const std::string off = acquisition::SequencesOff(acquisition::OutreachOf(c));
    out << "Sequences are " << (off.empty() ? "on" : "off: " + off) << "\n";
    out << "Sending: at most " << settings.sending.daily_cap << " a day from " << c.mail.sender_email << ", "
        << settings.sending.window.start_hour << ":00-" << settings.sending.window.end_hour
        << ":00 in the lead's time, one mail per domain each " << settings.sending.domain_interval_minutes
        << " min\n\n";
    auto states = acq.ListSequenceStates();
    if (!states) return Failed(err, states.error());
    for (const auto& seq : settings.sequences) {
        bool paused = false;
        for (const auto& s : *states) paused = paused || (s.name == seq.name && s.paused);
        out << seq.name << (paused ? " (paused)" : "") << ": " << seq.segment << " until " << seq.goal << "\n";
        int64_t at = 0;
        for (const auto& step : seq.steps) {
            at += step.delay_seconds;
            out << "  +" << at / 3600 << " h  " << step.subject << "\n";
        }
    }
    return 0;
}

int Funnel(store::Database& db, const AcquireCommand& cmd, std::ostream& out, std::ostream& err) {
    const auto now = UtcNow();
    const auto from = std::chrono::floor<std::chrono::days>(now) - std::chrono::days(cmd.days - 1);
    auto f = db.acquisition().GetFunnel(from, now + std::chrono::seconds(1));
    if (!f) return Failed(err, f.error());
    out << "From " << FormatUtc(from) << " to " << FormatUtc(now) << "\n";
    out << "GitHub prospects: " << f->prospects << " found, " << f->prospects_contacted
        << " contacted; Reddit: " << f->conversations << " conversations, " << f->conversations_answered
        << " answered\n\n";
    out << Pad("source", 10) << Pad("leads", 7) << Pad("confirmed", 10) << Pad("signed up", 10) << Pad("active", 8)
        << Pad("paid", 6) << Pad("sent", 6) << Pad("unsub", 6) << Pad("bounced", 8) << Pad("replied", 8)
        << "conversion\n";
    for (const auto& s : f->sources) {
        const auto& c = s.counts;
        out << Pad(s.source, 10) << Pad(std::to_string(c.leads), 7) << Pad(std::to_string(c.confirmed), 10)
            << Pad(std::to_string(c.signed_up), 10) << Pad(std::to_string(c.activated), 8)
            << Pad(std::to_string(c.paid), 6) << Pad(std::to_string(c.sent), 6)
            << Pad(std::to_string(c.unsubscribed), 6) << Pad(std::to_string(c.bounced), 8)
            << Pad(std::to_string(c.replied), 8) << Percent(c.paid, c.leads) << "\n";
    }
    out << "\n"
        << Pad("sequence", 12) << Pad("enrolled", 9) << Pad("active", 8) << Pad("sent", 6) << Pad("stopped", 9)
        << Pad("finished", 9) << Pad("paid", 6) << "unsub\n";
    for (const auto& q : f->sequences) {
        out << Pad(q.sequence, 12) << Pad(std::to_string(q.enrolled), 9) << Pad(std::to_string(q.active), 8)
            << Pad(std::to_string(q.sent), 6) << Pad(std::to_string(q.stopped), 9) << Pad(std::to_string(q.finished), 9)
            << Pad(std::to_string(q.paid), 6) << q.unsubscribed << "\n";
    }
    return 0;
}

}  // namespace

int RunAcquireCommand(const AcquireCommand& command, store::Database& store, const Config& config,
                      const acquisition::Settings& settings, std::ostream& out, std::ostream& err) {
    if (command.name == "discover") return Discover(store, config, settings, out, err);
    if (command.name == "leads") return Leads(store, command, out, err);
    if (command.name == "sequences") return Sequences(store, config, settings, command, out, err);
    if (command.name == "funnel") return Funnel(store, command, out, err);
    err << "gpuopt acquire: unknown command " << command.name << "\n";
    return 2;
}

}  // namespace gpuopt::server
