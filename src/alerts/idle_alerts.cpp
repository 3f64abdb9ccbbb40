#include "alerts/idle_alerts.hpp"

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <map>

#include "mail/templates.hpp"
#include "store/wait.hpp"

namespace gpuopt::alerts {

namespace {

constexpr int kMaxAttempts = 8;

std::string Minutes(std::chrono::seconds s) { return std::to_string(s.count() / 60) + " min"; }

// Mails an alert to the account's address unless it was mailed before (the outbox keys it by alert).
Result<bool> MailAlert(store::Database& db, const Config& config, const store::Alert& alert, SysSeconds now) {
    const mail::Brand brand{"GPUOptimizer", config.base_url};
    auto exists = db.outbox().MailExists("idle-alert:" + std::to_string(alert.id));
    if (!exists) return exists.error();
    if (*exists) return false;
    auto account = db.accounts().GetAccount(alert.account_id);
    if (!account) return account.error();
    return store::Wait<bool>([&](store::Callback<bool> done) {
        db.outbox().EnqueueMail(mail::IdleAlertMail(brand, account->email, alert), now, std::move(done));
    });
}

}  // namespace

std::string AlertText(const store::StoredWindow& w, SysSeconds idle_since, SysSeconds now,
                      const std::string& base_url) {
    char money[32];
    std::snprintf(money, sizeof money, "$%.2f/h", w.cost_per_hour);
    std::string text = "GPU " + std::to_string(w.gpu_index) + " (" + w.name + ") on " + w.host + " has been idle for " +
                       Minutes(std::chrono::duration_cast<std::chrono::seconds>(now - idle_since)) + ", since " +
                       FormatUtc(idle_since) + ", at " + money + ".";
    if (w.idle_held_fraction && *w.idle_held_fraction > 0.5) {
        text += " A process still holds " + std::to_string(static_cast<int64_t>(w.mem_used_mib)) +
                " MiB of its memory: a forgotten notebook or server keeps it from being freed.";
    }
    (void)base_url;
    return text;
}

Result<AlertRunResult> RunIdleAlerts(store::Database& db, const Config& config, SysSeconds now, const Sender& send) {
    AlertRunResult result;
    const analysis::IdleRules rules{config.idle_threshold_percent, 1024};
    auto accounts = db.alerts().ListAlertSettings();
    if (!accounts) return accounts.error();
    for (const auto& settings : *accounts) {
        const Plan* plan = config.FindPlan(settings.tier);
        if (plan == nullptr || !plan->idle_alerts) continue;  // e.g. downgraded since alerts were set up
        const auto window = std::chrono::minutes(settings.idle_minutes) + std::chrono::minutes(15);
        auto windows = db.usage().ReadWindows(settings.account_id, now - window, now + std::chrono::minutes(5));
        if (!windows) return windows.error();
        auto open = db.alerts().OpenAlerts(settings.account_id);
        if (!open) return open.error();
        std::map<std::string, store::Alert> open_by_gpu;
        for (auto& a : *open) open_by_gpu.emplace(a.gpu_key, a);
        std::map<std::string, const store::StoredWindow*> latest;
        for (const auto& w : *windows) latest[w.gpu_key] = &w;
        for (const auto& history : analysis::Histories(*windows, rules)) {
            const auto since = analysis::IdleSince(history.slices, now);
            const auto open_it = open_by_gpu.find(history.gpu_key);
            const analysis::Slice& last = history.slices.back();
            if (open_it != open_by_gpu.end()) {
                // An alert opened lately whose mail a crash or a full outbox kept from being queued.
                if (settings.email && open_it->second.opened_at > now - std::chrono::hours(1)) {
                    auto mailed = MailAlert(db, config, open_it->second, now);
                    if (!mailed) return mailed.error();
                    result.mailed += *mailed ? 1 : 0;
                }
                if (last.IdleShare() < 0.5) {  // busy again: the next idle stretch may alert
                    auto closed = store::Wait<void>([&](store::Callback<void> done) {
                        db.alerts().CloseAlert(open_it->second.id, now, std::move(done));
                    });
                    if (!closed) return closed.error();
                    ++result.closed;
                }
                continue;
            }
            if (!since || now - *since < std::chrono::minutes(settings.idle_minutes)) continue;
            store::Alert alert;
            alert.account_id = settings.account_id;
            alert.gpu_key = history.gpu_key;
            alert.idle_since = *since;
            alert.opened_at = now;
            alert.message = AlertText(*latest[history.gpu_key], *since, now, config.base_url);
            auto opened = store::Wait<store::Alert>(
                [&](store::Callback<store::Alert> done) { db.alerts().OpenAlert(alert, std::move(done)); });
            if (!opened) {
                if (opened.error().code == ErrorCode::kAlreadyExists) continue;  // another run opened it
                return opened.error();
            }
            ++result.opened;
            spdlog::info("alert {}: account {} GPU {} idle since {}", opened->id, settings.account_id, history.gpu_key,
                         FormatUtc(*since));
            if (settings.email) {
                auto mailed = MailAlert(db, config, *opened, now);
                if (!mailed) return mailed.error();
                result.mailed += *mailed ? 1 : 0;
            }
        }
    }

    auto due = db.alerts().DueAlertDeliveries(now, 100);
    if (!due) return due.error();
    std::map<int64_t, std::string> urls;
    for (const auto& s : *accounts) urls[s.account_id] = s.webhook_url;
    for (const auto& alert : *due) {
        auto url = urls.find(alert.account_id);
        if (url != urls.end() && url->second.empty()) {
            // Email alerts only: the mail went through the outbox; there is no webhook to post to.
            auto recorded = store::Wait<void>([&](store::Callback<void> done) {
                db.alerts().RecordAlertDelivery(alert.id, store::AlertDelivery::kDelivered, alert.attempts,
                                                std::nullopt, std::move(done));
            });
            if (!recorded) return recorded.error();
            continue;
        }
        std::string error = "alerts are off for the account";
        const bool ok = url != urls.end() && send(url->second, alert.message, error);
        const int attempts = alert.attempts + 1;
        using store::AlertDelivery;
        const AlertDelivery delivery =
            ok ? AlertDelivery::kDelivered
               : (attempts >= kMaxAttempts || url == urls.end() ? AlertDelivery::kFailed : AlertDelivery::kPending);
        std::optional<SysSeconds> next;
        if (delivery == AlertDelivery::kPending) next = now + std::chrono::minutes(1 << std::min(attempts - 1, 10));
        if (ok) {
            ++result.delivered;
        } else {
            spdlog::warn("alert {}: delivery {} failed ({}){}", alert.id, attempts, error,
                         delivery == AlertDelivery::kFailed ? "; giving up" : "");
            if (delivery == AlertDelivery::kFailed) ++result.failed;
        }
        auto recorded = store::Wait<void>([&](store::Callback<void> done) {
            db.alerts().RecordAlertDelivery(alert.id, delivery, attempts, next, std::move(done));
        });
        if (!recorded) return recorded.error();
    }
    return result;
}

}  // namespace gpuopt::alerts
