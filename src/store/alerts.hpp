// Idle alerts: each account's webhook settings and the alerts opened, closed and delivered.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "common/tier.hpp"
#include "common/time.hpp"
#include "store/callback.hpp"

namespace gpuopt::store {

struct AlertSettings {
    int64_t account_id = 0;
    std::string webhook_url;  // Slack-compatible incoming webhook; empty: alerts off
    int idle_minutes = 30;
    Tier tier = Tier::kFree;  // the account's plan (filled by ListAlertSettings)
    bool email = false;       // also mail each alert to the account's address
};

// An idle alert: opened when a GPU has been idle for the account's idle_minutes, closed when it is
// busy again. At most one open alert per GPU.
// An alert's webhook delivery: pending (and retried with backoff), then delivered or failed.
enum class AlertDelivery { kPending, kDelivered, kFailed };

// "pending", "delivered", "failed".
constexpr std::string_view NameOf(AlertDelivery d) {
    switch (d) {
        case AlertDelivery::kPending:
            return "pending";
        case AlertDelivery::kDelivered:
            return "delivered";
        case AlertDelivery::kFailed:
            return "failed";
    }
    return "pending";
}

constexpr std::optional<AlertDelivery> AlertDeliveryNamed(std::string_view name) {
    for (auto d : {AlertDelivery::kPending, AlertDelivery::kDelivered, AlertDelivery::kFailed}) {
        if (NameOf(d) == name) return d;
    }
    return std::nullopt;
}

struct Alert {
    int64_t id = 0;
    int64_t account_id = 0;
    std::string gpu_key;
    SysSeconds idle_since;
    SysSeconds opened_at;
    std::optional<SysSeconds> closed_at;
    std::string message;
    AlertDelivery delivery = AlertDelivery::kPending;
    int attempts = 0;
    std::optional<SysSeconds> next_attempt;
};

class AlertRepository {
public:
    virtual ~AlertRepository() = default;

    virtual Result<std::optional<AlertSettings>> GetAlertSettings(int64_t account_id) = 0;
    virtual void SetAlertSettings(AlertSettings settings, Callback<AlertSettings> done) = 0;
    // Every account with alerts on (a webhook configured, or email alerts).
    virtual Result<std::vector<AlertSettings>> ListAlertSettings() = 0;
    virtual Result<std::vector<Alert>> OpenAlerts(int64_t account_id) = 0;
    // Opens an alert unless one is open for that GPU already (then kAlreadyExists, nothing written).
    virtual void OpenAlert(Alert alert, Callback<Alert> done) = 0;
    virtual void CloseAlert(int64_t alert_id, SysSeconds at, Callback<void> done) = 0;
    // Alerts whose delivery is pending and due at `now`.
    virtual Result<std::vector<Alert>> DueAlertDeliveries(SysSeconds now, size_t limit) = 0;
    virtual void RecordAlertDelivery(int64_t alert_id, AlertDelivery delivery, int attempts,
                                     std::optional<SysSeconds> next_attempt, Callback<void> done) = 0;
    virtual Result<std::vector<Alert>> ListAlerts(int64_t account_id, size_t limit) = 0;
};

}  // namespace gpuopt::store
