// What reaches people outside the dashboard: each account's report mail settings (a weekly report on every
// plan, a daily one on paid plans, each on until turned off), and outgoing webhooks (Enterprise): the
// endpoints an account registered, and one delivery per endpoint and event, retried until delivered or
// given up, kept as the delivery log.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "common/time.hpp"
#include "store/callback.hpp"

namespace gpuopt::store {

struct ReportSettings {
    int64_t account_id = 0;
    bool weekly = true;
    bool daily = true;
    // Lets the link in a report turn reports off without signing in; made with the first stored settings.
    std::string unsubscribe_token;
};

struct WebhookEndpoint {
    int64_t id = 0;
    int64_t account_id = 0;
    std::string url;
    std::string secret;               // the signing secret, "whsec_..."
    std::vector<std::string> events;  // the event types it receives; empty: all
    SysSeconds created_at;
};

enum class WebhookState { kPending, kDelivered, kFailed };

constexpr std::string_view NameOf(WebhookState s) {
    switch (s) {
        case WebhookState::kPending:
            return "pending";
        case WebhookState::kDelivered:
            return "delivered";
        case WebhookState::kFailed:
            return "failed";
    }
    return "pending";
}

constexpr std::optional<WebhookState> WebhookStateNamed(std::string_view name) {
    for (auto s : {WebhookState::kPending, WebhookState::kDelivered, WebhookState::kFailed}) {
        if (NameOf(s) == name) return s;
    }
    return std::nullopt;
}

// One event for one endpoint.
struct WebhookEvent {
    int64_t endpoint_id = 0;
    int64_t account_id = 0;
    std::string event_id;  // "alert.fired:42": the same event is delivered once per endpoint
    std::string type;      // "alert.fired"
    std::string payload;   // the JSON body sent
    SysSeconds at;
};

struct WebhookDelivery {
    int64_t id = 0;
    int64_t endpoint_id = 0;
    int64_t account_id = 0;
    std::string event_id;
    std::string type;
    std::string payload;
    WebhookState state = WebhookState::kPending;
    int attempts = 0;
    SysSeconds next_attempt;
    int last_status = 0;  // the receiver's HTTP status, 0 when none came
    std::string last_error;
    SysSeconds created_at;
    std::optional<SysSeconds> finished_at;
    std::string url;     // the endpoint's (DueWebhookDeliveries only)
    std::string secret;  // the endpoint's (DueWebhookDeliveries only)
};

// An endpoint's event types as one column: "alert.fired,payment.completed" ("" for all).
inline std::string JoinEventTypes(const std::vector<std::string>& events) {
    std::string out;
    for (const auto& e : events) out += (out.empty() ? "" : ",") + e;
    return out;
}

inline std::vector<std::string> SplitEventTypes(std::string_view text) {
    std::vector<std::string> out;
    while (!text.empty()) {
        const size_t comma = text.find(',');
        out.emplace_back(text.substr(0, comma));
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return out;
}

class NotificationRepository {
public:
    virtual ~NotificationRepository() = default;

    // The account's settings; the defaults (both on, no token) when none are stored.
    virtual Result<ReportSettings> GetReportSettings(int64_t account_id) = 0;
    // Stores weekly/daily; keeps the token, or makes one (`new_token`) with the first row.
    virtual void SetReportSettings(ReportSettings settings, std::string new_token, Callback<ReportSettings> done) = 0;
    // Turns both reports off for the account holding `token`; kNotFound when none does.
    virtual void UnsubscribeReports(std::string token, Callback<ReportSettings> done) = 0;

    virtual Result<std::vector<WebhookEndpoint>> ListWebhookEndpoints(int64_t account_id) = 0;
    // Every endpoint of every account (the event scan), oldest first.
    virtual Result<std::vector<WebhookEndpoint>> AllWebhookEndpoints(size_t limit) = 0;
    // kConflict when the account has `max_per_account` endpoints already.
    virtual void AddWebhookEndpoint(WebhookEndpoint endpoint, size_t max_per_account,
                                    Callback<WebhookEndpoint> done) = 0;
    // Deletes the endpoint and its delivery log; false when the account has no such endpoint.
    virtual void DeleteWebhookEndpoint(int64_t account_id, int64_t endpoint_id, Callback<bool> done) = 0;

    // Where the last event scan reached (nullopt before the first).
    virtual Result<std::optional<SysSeconds>> WebhookScanMark() = 0;
    // One pending delivery per (endpoint, event id) not seen before, and the new mark, in one transaction;
    // `done` gets how many deliveries are new.
    virtual void EnqueueWebhookEvents(std::vector<WebhookEvent> events, SysSeconds mark, Callback<int> done) = 0;
    virtual Result<std::vector<WebhookDelivery>> DueWebhookDeliveries(SysSeconds now, size_t limit) = 0;
    virtual void RecordWebhookAttempt(int64_t delivery_id, WebhookState state, int attempts, SysSeconds next_attempt,
                                      int status, std::string error, SysSeconds now, Callback<void> done) = 0;
    // An endpoint's deliveries, newest first.
    virtual Result<std::vector<WebhookDelivery>> ListWebhookDeliveries(int64_t account_id, int64_t endpoint_id,
                                                                       size_t limit) = 0;
};

}  // namespace gpuopt::store
