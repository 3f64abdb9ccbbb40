#include "alerts/outgoing_webhooks.hpp"

#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "common/crypto.hpp"
#include "common/json.hpp"
#include "store/wait.hpp"

namespace gpuopt::alerts {

namespace {

int64_t UnixSeconds(SysSeconds t) { return t.time_since_epoch().count(); }

// One event about an account, before it is addressed to endpoints.
struct Found {
    std::string type;
    std::string event_id;
    SysSeconds at;
    boost::json::object data;
};

boost::json::value Time(const std::optional<SysSeconds>& t) {
    return t ? boost::json::value(FormatUtc(*t)) : boost::json::value(nullptr);
}

Result<void> FindEvents(store::Database& db, int64_t account_id, SysSeconds since, std::vector<Found>& out) {
    auto alerts = db.alerts().ListAlerts(account_id, 200);
    if (!alerts) return alerts.error();
    for (const auto& a : *alerts) {
        boost::json::object data{{"alert_id", a.id},
                                 {"gpu", a.gpu_key},
                                 {"idle_since", FormatUtc(a.idle_since)},
                                 {"opened_at", FormatUtc(a.opened_at)},
                                 {"closed_at", Time(a.closed_at)},
                                 {"message", a.message}};
        if (a.opened_at >= since)
            out.push_back({"alert.fired", "alert.fired:" + std::to_string(a.id), a.opened_at, data});
        if (a.closed_at && *a.closed_at >= since) {
            out.push_back({"alert.resolved", "alert.resolved:" + std::to_string(a.id), *a.closed_at, data});
        }
    }
    auto tracks = db.recommendations().ListTracked(account_id, std::nullopt, 1000);
    if (!tracks) return tracks.error();
    for (const auto& t : *tracks) {
        if (t.first_recommended < since) continue;
        out.push_back({"recommendation.created",
                       "recommendation.created:" + std::to_string(t.id),
                       t.first_recommended,
                       {{"recommendation_id", t.id},
                        {"gpu", t.gpu_key},
                        {"host", t.host},
                        {"action", t.action},
                        {"summary", t.summary},
                        {"monthly_savings", t.estimate_monthly},
                        {"gpu_name", t.before.gpu_name},
                        {"cost_per_hour", t.before.cost_per_hour},
                        {"idle_fraction", t.before.idle_fraction}}});
    }
    auto events = db.idle_actions().ListIdleEvents(account_id, 500);
    if (!events) return events.error();
    for (const auto& e : *events) {
        if (e.received_at < since) continue;
        if (e.kind != store::IdleEventKind::kActed && e.kind != store::IdleEventKind::kWouldAct &&
            e.kind != store::IdleEventKind::kFailed) {
            continue;
        }
        boost::json::value processes = boost::json::array();
        boost::system::error_code ec;
        if (auto parsed = boost::json::parse(e.processes_json, ec); !ec) processes = std::move(parsed);
        out.push_back({"action.taken",
                       "action.taken:" + std::to_string(e.id),
                       e.received_at,
                       {{"gpu", e.gpu_key},
                        {"host", e.host},
                        {"outcome", store::NameOf(e.kind)},
                        {"action", e.action},
                        {"dry_run", e.dry_run},
                        {"detail", e.detail},
                        {"processes", std::move(processes)},
                        {"at", FormatUtc(e.at)}}});
    }
    auto payments = db.billing().ListPayments(account_id, 100);
    if (!payments) return payments.error();
    for (const auto& p : *payments) {
        if (p.status != store::PaymentStatus::kCompleted || !p.completed_at || *p.completed_at < since) continue;
        out.push_back({"payment.completed",
                       "payment.completed:" + std::to_string(p.id),
                       *p.completed_at,
                       {{"reference", p.reference},
                        {"gateway", p.gateway},
                        {"plan", NameOf(p.tier)},
                        {"amount", p.amount},
                        {"currency", p.currency},
                        {"purpose", p.purpose},
                        {"completed_at", FormatUtc(*p.completed_at)}}});
    }
    return {};
}

bool Subscribed(const store::WebhookEndpoint& e, const std::string& type) {
    return e.events.empty() || std::find(e.events.begin(), e.events.end(), type) != e.events.end();
}

}  // namespace

std::string SignatureHeader(std::string_view secret, std::string_view body, SysSeconds at) {
    const std::string t = std::to_string(UnixSeconds(at));
    return "t=" + t + ",v1=" + HmacSha256Hex(secret, t + "." + std::string(body));
}

bool VerifySignature(std::string_view header, std::string_view body, std::string_view secret, SysSeconds now,
                     std::chrono::seconds tolerance) {
    std::string t;
    std::vector<std::string> signatures;
    while (!header.empty()) {
        const size_t comma = header.find(',');
        const std::string_view part = header.substr(0, comma);
        if (part.starts_with("t=")) t = std::string(part.substr(2));
        if (part.starts_with("v1=")) signatures.emplace_back(part.substr(3));
        if (comma == std::string_view::npos) break;
        header.remove_prefix(comma + 1);
    }
    if (t.empty() || t.size() > 12 || !std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return false;
    }
    const SysSeconds at{std::chrono::seconds(std::stoll(t))};
    if (at < now - tolerance || at > now + tolerance) return false;
    const std::string expected = HmacSha256Hex(secret, t + "." + std::string(body));
    bool ok = false;
    for (const auto& s : signatures) ok = ConstantTimeEquals(s, expected) || ok;
    return ok;
}

Result<int> ScanWebhookEvents(store::Database& db, const Config& config, SysSeconds now, std::chrono::seconds overlap) {
    auto mark = db.notifications().WebhookScanMark();
    if (!mark) return mark.error();
    const SysSeconds since = mark->value_or(now) - overlap;
    auto endpoints = db.notifications().AllWebhookEndpoints(100000);
    if (!endpoints) return endpoints.error();
    std::map<int64_t, std::vector<const store::WebhookEndpoint*>> by_account;
    for (const auto& e : *endpoints) by_account[e.account_id].push_back(&e);

    std::vector<store::WebhookEvent> events;
    for (const auto& [account_id, list] : by_account) {
        auto account = db.accounts().GetAccount(account_id);
        if (!account) return account.error();
        const Plan* plan = config.FindPlan(account->tier);
        if (plan == nullptr || !plan->outgoing_webhooks) continue;  // e.g. downgraded since
        std::vector<Found> found;
        if (auto r = FindEvents(db, account_id, since, found); !r) return r.error();
        for (const auto& f : found) {
            boost::json::object body{{"id", f.event_id},
                                     {"type", f.type},
                                     {"created", FormatUtc(f.at)},
                                     {"account_id", account_id},
                                     {"data", f.data}};
            const std::string payload = ToJson(body);
            for (const auto* e : list) {
                if (f.at < e->created_at || !Subscribed(*e, f.type)) continue;
                events.push_back({e->id, account_id, f.event_id, f.type, payload, f.at});
            }
        }
    }
    return store::Wait<int>([&](store::Callback<int> done) {
        db.notifications().EnqueueWebhookEvents(std::move(events), now, std::move(done));
    });
}

Result<WebhookRun> DeliverWebhooks(store::Database& db, SysSeconds now, const JsonPoster& post,
                                   std::chrono::seconds budget) {
    WebhookRun run;
    auto due = db.notifications().DueWebhookDeliveries(now, 100);
    if (!due) return due.error();
    // A run that meets an endpoint that does not answer leaves that endpoint's other deliveries for later,
    // and stops after `budget`, so one dead endpoint cannot hold up the others for long.
    const auto began = std::chrono::steady_clock::now();
    std::set<int64_t> failing;
    for (const auto& d : *due) {
        if (failing.contains(d.endpoint_id)) continue;
        if (std::chrono::steady_clock::now() - began > budget) break;
        const std::vector<std::string> headers{
            "GPUOptimizer-Signature: " + SignatureHeader(d.secret, d.payload, UtcNow()),
            "GPUOptimizer-Event: " + d.type, "GPUOptimizer-Delivery: " + std::to_string(d.id)};
        const WebhookResult r = post(d.url, d.payload, headers);
        if (!r.delivered) failing.insert(d.endpoint_id);
        const int attempts = d.attempts + 1;
        store::WebhookState state = store::WebhookState::kDelivered;
        SysSeconds next = now;
        if (r.delivered) {
            ++run.delivered;
        } else if (attempts >= kWebhookMaxAttempts) {
            state = store::WebhookState::kFailed;
            ++run.failed;
            spdlog::warn("webhook delivery {} ({}) to endpoint {} failed for good: {}", d.id, d.type, d.endpoint_id,
                         r.error);
        } else {
            state = store::WebhookState::kPending;
            next = now + std::chrono::minutes(1 << (attempts - 1));
            ++run.retried;
            spdlog::info("webhook delivery {} ({}) to endpoint {}: attempt {} failed ({}); next in {} min", d.id,
                         d.type, d.endpoint_id, attempts, r.error, 1 << (attempts - 1));
        }
        auto recorded = store::Wait<void>([&](store::Callback<void> done) {
            db.notifications().RecordWebhookAttempt(d.id, state, attempts, next, static_cast<int>(r.status),
                                                    r.delivered ? std::string() : r.error, now, std::move(done));
        });
        if (!recorded) return recorded.error();
    }
    return run;
}

}  // namespace gpuopt::alerts
