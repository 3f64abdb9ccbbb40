// The one place that builds the concrete objects (store, limiters, handlers, HTTP server) from the
// Config and wires them together.
#pragma once

#include <memory>

#include "acquisition/settings.hpp"
#include "api/api.hpp"
#include "api/idle_policy.hpp"
#include "billing/billing.hpp"
#include "common/config.hpp"
#include "common/log.hpp"
#include "common/price_catalog.hpp"
#include "http/metrics.hpp"
#include "http/rate_limiter.hpp"
#include "http/server.hpp"
#include "jobs/scheduler.hpp"
#include "mail/transport.hpp"
#include "net/redis_limits.hpp"

#include <boost/asio/thread_pool.hpp>
#include "store/database.hpp"

namespace gpuopt::server {

// Path of the SQLite file for a config: DATABASE_URL=sqlite:PATH, or DATA_DIR/gpuopt.db.
std::string SqlitePath(const Config& config);
// DATABASE_URL names PostgreSQL (postgresql:// or postgres://).
bool UsesPostgres(const Config& config);
// "SQLite at PATH" or "PostgreSQL at URL" (the password hidden), for logs and the CLI.
std::string DescribeStore(const Config& config);

// The folder of web pages: WEB_DIR when set; else the one installed with the program
// (<prefix>/share/gpuopt/web, found from /proc/self/exe), else the source tree's (a program run from its
// build tree, as `make run` does), else ./web. Wherever the server is started from.
std::string ResolveWebDir(const std::string& configured);

// Opens the store DATABASE_URL names (PostgreSQL), or the SQLite file in config's data dir (creating the
// folder), applying migrations.
Result<std::unique_ptr<store::Database>> OpenStore(const Config& config);

class App {
public:
    static Result<std::unique_ptr<App>> Create(Config config);
    ~App();

    // Binds the listener; returns the port. Writes config.port_file when set.
    Result<uint16_t> Listen();

    // Serves until SIGINT/SIGTERM, then shuts down gracefully: stop accepting, finish requests in
    // flight, flush the store and the access log.
    void Run();

private:
    explicit App(Config config);
    void LogFeatures() const;

    Config config_;
    std::unique_ptr<store::Database> store_;
    std::string lease_holder_;              // this process in the job leases
    std::vector<std::string> leased_jobs_;  // given back at a clean stop
    std::unique_ptr<AccessLog> access_log_;
    std::unique_ptr<net::RedisLimits> shared_limits_;  // REDIS_URL: limits shared by every server
    http::RateLimiter key_limiter_;
    http::RateLimiter ip_limiter_;
    std::unique_ptr<http::AddressGuard> guard_;
    api::SecurityCounters security_counters_;
    std::unique_ptr<PriceCatalog> catalog_;
    std::unique_ptr<acquisition::Settings> acquisition_;  // ACQUISITION_CONFIG: sources and sequences
    api::IngestCounters counters_;
    std::unique_ptr<http::RequestMetrics> metrics_;
    std::unique_ptr<billing::Billing> billing_;
    std::unique_ptr<mail::Transport> mail_;
    boost::asio::thread_pool blocking_{2};             // gateway calls made for requests
    std::unique_ptr<boost::asio::thread_pool> reads_;  // history reads made for requests (one per I/O thread)
    std::unique_ptr<api::Services> services_;
    api::IdlePolicyCache idle_policies_;
    std::unique_ptr<http::Server> server_;
    jobs::Scheduler scheduler_;          // roll-up, retention, idle alerts
    jobs::Scheduler billing_scheduler_;  // gateway events, reconciliation, subscriptions (waits on gateways)
    jobs::Scheduler mail_scheduler_;     // the outbox and report mails (waits on the mail server)
    jobs::Scheduler webhook_scheduler_;  // outgoing webhooks (waits on customers' endpoints)
};

}  // namespace gpuopt::server
