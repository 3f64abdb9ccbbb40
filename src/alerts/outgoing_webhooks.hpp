// Outgoing webhooks (Enterprise): events about an account, POSTed as JSON to the endpoints it registered,
// signed the way Stripe signs (decision 0021):
//
//   GPUOptimizer-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// Events: alert.fired, alert.resolved, recommendation.created, action.taken, payment.completed. They are
// found by a periodic scan of what the store recorded (alerts, the savings plan's tracks, what agents did,
// completed payments) since the last scan, so no event depends on the code that caused it remembering to
// send one, and one delivery per endpoint and event is recorded before any is sent. Deliveries are retried
// with backoff (1, 2, 4 ... minutes, 10 attempts); each attempt's outcome is kept as the delivery log.
// Endpoints follow the rules of alert webhooks (https, public addresses only, no redirects).
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "alerts/webhook.hpp"
#include "common/config.hpp"
#include "store/database.hpp"

namespace gpuopt::alerts {

inline constexpr std::array<std::string_view, 5> kWebhookEventTypes{
    "alert.fired", "alert.resolved", "recommendation.created", "action.taken", "payment.completed"};
inline constexpr int kWebhookMaxAttempts = 10;
inline constexpr size_t kMaxWebhookEndpoints = 5;  // per account

// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">".
std::string SignatureHeader(std::string_view secret, std::string_view body, SysSeconds at);
// True when `header` signs `body` with `secret` and its time is within `tolerance` of `now`.
bool VerifySignature(std::string_view header, std::string_view body, std::string_view secret, SysSeconds now,
                     std::chrono::seconds tolerance = std::chrono::minutes(5));

// Records a delivery for each event recorded since the last scan (looking back `overlap` further, so an
// event committed late is not missed; one already recorded adds nothing). Answers how many are new.
Result<int> ScanWebhookEvents(store::Database& db, const Config& config, SysSeconds now,
                              std::chrono::seconds overlap = std::chrono::minutes(10));

using JsonPoster = std::function<WebhookResult(const std::string& url, const std::string& body,
                                               const std::vector<std::string>& headers)>;

struct WebhookRun {
    int delivered = 0;
    int retried = 0;
    int failed = 0;
};

// Sends the deliveries due at `now` (PostJson in production) and records each attempt. After a failed
// attempt, the endpoint's other deliveries wait for the next run; the run stops starting new attempts
// after `budget`.
Result<WebhookRun> DeliverWebhooks(store::Database& db, SysSeconds now, const JsonPoster& post,
                                   std::chrono::seconds budget = std::chrono::seconds(20));

}  // namespace gpuopt::alerts
