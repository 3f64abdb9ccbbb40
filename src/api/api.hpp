// The JSON API: one thin handler per endpoint (parse -> call domain -> build JSON), and the route
// table that wires them. Handlers share a Services bundle built once in server/app.cpp.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"
#include "common/price_catalog.hpp"
#include "http/address_guard.hpp"
#include "http/metrics.hpp"
#include "http/rate_limiter.hpp"
#include "http/router.hpp"
#include "store/database.hpp"

namespace gpuopt::acquisition {
struct Settings;
}  // namespace gpuopt::acquisition

namespace gpuopt::billing {
class Billing;
}

namespace gpuopt::api {

class IdlePolicyCache;

// Counters of what ingest did, for /metrics.
struct IngestCounters {
    std::atomic<uint64_t> reports{0};     // stored
    std::atomic<uint64_t> duplicates{0};  // replays answered without storing
    std::atomic<uint64_t> refused{0};     // invalid or over the plan's limit
    std::atomic<uint64_t> gpu_windows{0};
};

// Security events not written one by one (a flood over the global cap), for /metrics.
struct SecurityCounters {
    std::atomic<uint64_t> unrecorded{0};       // refused deliveries counted, not stored
    std::atomic<uint64_t> pending_summary{0};  // of those, not yet in a summary row
};

// A periodic job as the operator's system page shows it.
struct JobSchedule {
    std::string name;
    std::chrono::seconds interval{0};
};

// The job that loads the addresses blocked by hand into the address guard on every server; announced
// (Database::Announce) when an operator changes them.
inline constexpr std::string_view kAddressBlocksJob = "address-blocks";

struct Services {
    const Config& config;
    store::Database& store;
    http::RateLimiter& key_limiter;  // requests per API key, by plan
    http::RateLimiter& ip_limiter;   // public endpoints, per client IP
    const PriceCatalog& catalog;
    const http::RequestMetrics* metrics = nullptr;
    IngestCounters* counters = nullptr;
    std::function<void(std::string&)> write_job_metrics;  // the periodic jobs' Prometheus text
    billing::Billing* billing = nullptr;
    // Runs blocking work (calls to payment gateways) off the I/O threads.
    std::function<void(std::function<void()>)> run_blocking;
    // Runs store reads that can take long (a year of history) off the I/O threads, so that one cannot
    // stall the other connections of its event loop. Unset: they run where they are asked for.
    std::function<void(std::function<void()>)> run_read;
    std::function<void()> wake_billing;   // a gateway event was recorded: apply it soon
    http::AddressGuard* guard = nullptr;  // blocks addresses after repeated authentication failures
    SecurityCounters* security = nullptr;
    std::function<void(std::string&)> write_limit_metrics;  // the shared limits' Prometheus text (Redis)
    IdlePolicyCache* idle_policies = nullptr;               // idle policies handed to agents (idle_policy.hpp)
    std::vector<JobSchedule> jobs;                          // the periodic jobs, for the operator's system page
    std::function<void(const std::string&)> wake_job;       // runs the named periodic job soon, on this server
    SysSeconds started_at{};                                // when this server started
    const acquisition::Settings* acquisition = nullptr;     // sources and sequences (acquisition/settings.hpp)
};

http::Handler MakeSignupHandler(Services& s);
// Acquisition's public side (api/acquisition.cpp) and SendGrid's Event Webhook (api/payment_webhooks.cpp).
http::Handler MakeAuditFormHandler(Services& s);
http::Handler MakeAuditRequestHandler(Services& s);
http::Handler MakeAuditConfirmPageHandler(Services& s);
http::Handler MakeAuditConfirmHandler(Services& s);
http::Handler MakeLeadUnsubscribePageHandler(Services& s);
http::Handler MakeLeadUnsubscribeHandler(Services& s);
http::Handler MakeSendgridEventsHandler(Services& s);
http::Handler MakeTrackUsageHandler(Services& s);
http::Handler MakeHealthHandler(Services& s);
http::Handler MakeMeHandler(Services& s);
http::Handler MakeStatsHandler(Services& s);
http::Handler MakePlansHandler(Services& s);
http::Handler MakeGpusHandler(Services& s);
http::Handler MakeUsageHandler(Services& s);
http::Handler MakeSavingsHandler(Services& s);
http::Handler MakeRecommendationsHandler(Services& s);
http::Handler MakeMarkRecommendationHandler(Services& s);
http::Handler MakeGetAlertsHandler(Services& s);
http::Handler MakePutAlertsHandler(Services& s);
http::Handler MakeGetIdlePolicyHandler(Services& s);
http::Handler MakePutIdlePolicyHandler(Services& s);
http::Handler MakeSnoozeIdleHandler(Services& s);
http::Handler MakeMetricsHandler(Services& s);
http::Handler MakeGetReportsHandler(Services& s);
http::Handler MakePutReportsHandler(Services& s);
http::Handler MakeUnsubscribePageHandler(Services& s);
http::Handler MakeUnsubscribeHandler(Services& s);
http::Handler MakeListWebhooksHandler(Services& s);
http::Handler MakeAddWebhookHandler(Services& s);
http::Handler MakeDeleteWebhookHandler(Services& s);
http::Handler MakeWebhookDeliveriesHandler(Services& s);
http::Handler MakeUpgradeHandler(Services& s);
http::Handler MakeGatewaysHandler(Services& s);
http::Handler MakeMyPaymentsHandler(Services& s);
http::Handler MakeFlutterwaveWebhookHandler(Services& s);
http::Handler MakeListKeysHandler(Services& s);
http::Handler MakeCreateKeyHandler(Services& s);
http::Handler MakeRotateKeyHandler(Services& s);
http::Handler MakeRevokeKeyHandler(Services& s);
http::Handler MakeDeleteAccountHandler(Services& s);
http::Handler MakeLoginHandler(Services& s);
http::Handler MakeSignInLinkPageHandler(Services& s);
http::Handler MakeRedeemSignInLinkHandler(Services& s);
http::Handler MakeKeySignInHandler(Services& s);
http::Handler MakeSessionHandler(Services& s);
http::Handler MakeLogoutHandler(Services& s);
http::Handler MakeLogoutAllHandler(Services& s);
http::Handler MakeFlutterwaveCallbackHandler(Services& s);
http::Handler MakeNowPaymentsWebhookHandler(Services& s);

// Adds every API route to `router`. `services` must outlive the router.
void RegisterRoutes(http::Router& router, Services& services);

}  // namespace gpuopt::api
