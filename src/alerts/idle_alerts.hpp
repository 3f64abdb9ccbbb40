// Idle alerts (professional and enterprise plans): when a GPU has been idle for longer than its
// account's idle_minutes, one alert is recorded and delivered to the account's webhook, and mailed to the
// account's address when email alerts are on (through the outbox, once per alert); there is no
// other alert for that GPU until it has been busy again (the alert closes then). Deliveries are retried
// with backoff (1, 2, 4 ... minutes, 8 attempts) and survive restarts (they live in the store).
#pragma once

#include <functional>
#include <string>

#include "analysis/history.hpp"
#include "common/config.hpp"
#include "store/database.hpp"

namespace gpuopt::alerts {

struct AlertRunResult {
    int opened = 0;
    int closed = 0;
    int delivered = 0;
    int failed = 0;
    int mailed = 0;
};

using Sender = std::function<bool(const std::string& url, const std::string& text, std::string& error)>;

// One pass: opens and closes alerts from each configured account's latest windows, then delivers what
// is due. `send` posts one message (PostToWebhook in production).
Result<AlertRunResult> RunIdleAlerts(store::Database& db, const Config& config, SysSeconds now, const Sender& send);

// The message of an alert for people.
std::string AlertText(const store::StoredWindow& latest, SysSeconds idle_since, SysSeconds now,
                      const std::string& base_url);

}  // namespace gpuopt::alerts
