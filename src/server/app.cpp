#include "server/app.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/signal_set.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "acquisition/audits.hpp"
#include "acquisition/outreach.hpp"
#include "acquisition/sequencer.hpp"
#include "acquisition/sources.hpp"
#include "alerts/idle_alerts.hpp"
#include "alerts/outgoing_webhooks.hpp"
#include "alerts/webhook.hpp"
#include "api/admin.hpp"
#include "api/history.hpp"
#include "common/password.hpp"
#include "jobs/history_jobs.hpp"
#include "jobs/leased.hpp"
#include "jobs/recommendation_tracker.hpp"
#include "jobs/reports.hpp"
#include "mail/outbox.hpp"
#include "server/admin_cli.hpp"
#include "store/wait.hpp"

#include <boost/asio/post.hpp>
#include "store/postgres/connection.hpp"
#include "store/postgres/pg_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace gpuopt::server {

std::string SqlitePath(const Config& config) {
    if (config.database_url.rfind("sqlite:", 0) == 0) return config.database_url.substr(7);
    return (std::filesystem::path(config.data_dir) / "gpuopt.db").string();
}

bool UsesPostgres(const Config& config) {
    return config.database_url.rfind("postgresql://", 0) == 0 || config.database_url.rfind("postgres://", 0) == 0;
}

std::string DescribeStore(const Config& config) {
    if (UsesPostgres(config)) return "PostgreSQL at " + store::postgres::RedactUrl(config.database_url);
    return "SQLite at " + SqlitePath(config);
}

std::string ResolveWebDir(const std::string& configured) {
    if (!configured.empty()) return configured;
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const auto installed = exe.parent_path().parent_path() / "share" / "gpuopt" / "web";
        if (std::filesystem::is_directory(installed, ec)) return installed.string();
    }
    if (std::filesystem::is_directory(GPUOPT_SOURCE_WEB_DIR, ec)) return GPUOPT_SOURCE_WEB_DIR;
    return "web";
}

Result<std::unique_ptr<store::Database>> OpenStore(const Config& config) {
    std::error_code ec;
    std::filesystem::create_directories(config.data_dir, ec);
    if (ec) return Error::Validation("DATA_DIR", "cannot create " + config.data_dir + ": " + ec.message());
    if (UsesPostgres(config)) {
        store::postgres::PgStore::Options options;
        options.url = config.database_url;
        options.read_connections = static_cast<size_t>(std::max(4, config.threads * 2));
        auto opened = store::postgres::PgStore::Open(options);
        if (!opened) return opened.error();
        (*opened)->admin().SetAuditKey(AuditKeyFor(config));
        (*opened)->admin().SetEncryptionKeys(config.encryption_key);
        return std::unique_ptr<store::Database>(std::move(*opened));
    }
    store::sqlite::SqliteStore::Options options;
    options.path = SqlitePath(config);
    options.read_connections = static_cast<size_t>(std::max(4, config.threads * 2));
    auto opened = store::sqlite::SqliteStore::Open(options);
    if (!opened) return opened.error();
    (*opened)->admin().SetAuditKey(AuditKeyFor(config));
    (*opened)->admin().SetEncryptionKeys(config.encryption_key);
    return std::unique_ptr<store::Database>(std::move(*opened));
}

App::App(Config config) : config_(std::move(config)) {}

App::~App() {
    scheduler_.Stop();
    billing_scheduler_.Stop();
    mail_scheduler_.Stop();
    webhook_scheduler_.Stop();
    blocking_.join();
    if (reads_) reads_->join();
    if (store_) store_->Close();
}

Result<std::unique_ptr<App>> App::Create(Config config) {
    if (config.threads <= 0) config.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    config.web_dir = ResolveWebDir(config.web_dir);
    std::unique_ptr<App> app(new App(std::move(config)));
    const Config& c = app->config_;

    auto store = OpenStore(c);
    if (!store) return store.error();
    app->store_ = std::move(*store);
    // Made now, not on the first sign-in with an unknown address, which would then take longer than the rest.
    (void)password::DummyHash();

    auto log = AccessLog::Open(c.access_log);
    if (!log) return log.error();
    app->access_log_ = std::move(*log);

    auto catalog = PriceCatalog::Load(c.price_catalog, c.gpu_catalog);
    if (!catalog) {
        const auto& e = catalog.error();
        return Error::Validation(
            c.price_catalog.empty() ? "GPU_CATALOG" : "PRICE_CATALOG",
            e.details.empty() ? e.message : e.details.begin()->first + " " + e.details.begin()->second);
    }
    app->catalog_ = std::make_unique<PriceCatalog>(std::move(*catalog));

    auto acquisition_settings = acquisition::LoadSettings(c.acquisition.config_file);
    if (!acquisition_settings) return acquisition_settings.error();
    app->acquisition_ = std::make_unique<acquisition::Settings>(std::move(*acquisition_settings));

    app->billing_ = std::make_unique<billing::Billing>(c, *app->store_);
    app->mail_ = mail::MakeTransport(c);
    app->services_ = std::make_unique<api::Services>(api::Services{c,
                                                                   *app->store_,
                                                                   app->key_limiter_,
                                                                   app->ip_limiter_,
                                                                   *app->catalog_,
                                                                   nullptr,
                                                                   &app->counters_,
                                                                   {},
                                                                   nullptr,
                                                                   {},
                                                                   {},
                                                                   {},
                                                                   nullptr,
                                                                   nullptr,
                                                                   {},
                                                                   nullptr,
                                                                   {},
                                                                   {}});
    app->services_->billing = app->billing_.get();
    app->services_->started_at = UtcNow();
    app->services_->idle_policies = &app->idle_policies_;
    app->services_->acquisition = app->acquisition_.get();
    app->guard_ = std::make_unique<http::AddressGuard>(
        http::AddressGuard::Options{c.auth_failure_limit, std::chrono::seconds(c.auth_failure_window_seconds),
                                    std::chrono::seconds(c.auth_block_seconds)});
    app->services_->guard = app->guard_.get();
    if (!c.redis_url.empty()) {
        net::RedisClient::Options redis_options;
        redis_options.timeout = std::chrono::milliseconds(c.redis_timeout_ms);
        auto client = net::RedisClient::Create(c.redis_url, redis_options);
        if (!client) return client.error();
        // An outage is reported once, as a security event: limits then count in each server alone.
        store::Database& db = *app->store_;
        auto on_outage = [&db](const std::string& what) {
            db.security().RecordSecurityEvent("shared_limits_unavailable", "redis", what, UtcNow(), [](Result<void> r) {
                if (!r) spdlog::error("security event not recorded: {}", r.error().message);
            });
        };
        app->shared_limits_ = std::make_unique<net::RedisLimits>(std::move(*client), std::move(on_outage));
        app->key_limiter_.Share(app->shared_limits_.get(), "key:");
        app->ip_limiter_.Share(app->shared_limits_.get(), "ip:");
        app->guard_->Share(app->shared_limits_.get());
        app->services_->write_limit_metrics = [limits = app->shared_limits_.get()](std::string& out) {
            limits->WriteMetrics(out);
        };
    }
    app->services_->security = &app->security_counters_;
    app->services_->run_blocking = [app = app.get()](std::function<void()> work) {
        boost::asio::post(app->blocking_, std::move(work));
    };
    app->reads_ = std::make_unique<boost::asio::thread_pool>(static_cast<size_t>(std::max(2, app->config_.threads)));
    app->services_->run_read = [app = app.get()](std::function<void()> work) {
        boost::asio::post(*app->reads_, std::move(work));
    };
    // A recorded gateway event wakes the billing worker here; the store's transaction that recorded it
    // has already told the other servers sharing the database (PostgreSQL NOTIFY).
    app->services_->wake_billing = [app = app.get()] { app->billing_scheduler_.Wake("billing-events"); };
    app->services_->wake_job = [app = app.get()](const std::string& job) {
        app->scheduler_.Wake(job);
        app->billing_scheduler_.Wake(job);
        app->mail_scheduler_.Wake(job);
        app->webhook_scheduler_.Wake(job);
    };
    http::Router router;
    api::RegisterRoutes(router, *app->services_);
    app->metrics_ = std::make_unique<http::RequestMetrics>(router);
    app->services_->metrics = app->metrics_.get();
    app->services_->write_job_metrics = [app = app.get()](std::string& out) {
        jobs::Scheduler::WriteMetrics(
            out, {&app->scheduler_, &app->billing_scheduler_, &app->mail_scheduler_, &app->webhook_scheduler_});
    };

    // Periodic jobs: each is safe to run twice (another process, or a restart, may have done part).
    store::Database& db = *app->store_;
    const analysis::IdleRules rules{c.idle_threshold_percent, 1024};
    // Each task answers its job's Result: an error is logged once and counted in gpuopt_job_failures_total.
    auto ok = [](const auto& r) -> Result<void> {
        if (!r) return r.error();
        return {};
    };
    // Each job runs where its lease is held: on one of several servers sharing the database (decision 0016).
    app->lease_holder_ = jobs::LeaseHolderName(c.data_dir);
    auto add = [app = app.get()](jobs::Scheduler& scheduler, std::string name, std::chrono::seconds interval,
                                 std::function<Result<void>()> task) {
        app->leased_jobs_.push_back(name);
        app->services_->jobs.push_back(api::JobSchedule{name, interval});
        scheduler.Add(name, interval,
                      jobs::Leased(app->store_->leases(), name, app->lease_holder_, interval, std::move(task)));
    };
    add(app->scheduler_, "rollup", std::chrono::seconds(c.rollup_interval_seconds),
        [&db, rules, ok]() -> Result<void> { return ok(jobs::RunRollup(db.usage(), rules)); });
    add(app->scheduler_, "retention", std::chrono::seconds(std::max(60, c.rollup_interval_seconds * 10)),
        [&db, &c, ok]() -> Result<void> {
            const auto now = UtcNow();
            // Sign-in links and web sessions a day after they ended (decision 0022).
            auto ended = store::Wait<int64_t>([&](store::Callback<int64_t> done) {
                db.sessions().PruneSessions(now - std::chrono::days(1), std::move(done));
            });
            if (!ended) return ended.error();
            return ok(jobs::RunRetention(db.usage(), now, c.raw_retention_days, c.hourly_retention_days));
        });
    add(app->scheduler_, "recommendations", std::chrono::seconds(c.recommendation_interval_seconds),
        [app = app.get(), &db, &c, rules, ok]() -> Result<void> {
            jobs::TrackerRules tracker;
            tracker.idle = rules;
            tracker.recommend = api::RecommendRulesOf(c);
            tracker.all_recommendations = [&c](Tier tier) {
                const Plan* plan = c.FindPlan(tier);
                return plan != nullptr && plan->all_recommendations;
            };
            return ok(jobs::RunRecommendationTracker(db, app->services_->catalog, tracker, UtcNow()));
        });
    billing::Billing& bill = *app->billing_;
    add(app->billing_scheduler_, "billing-events", std::chrono::seconds(c.billing.billing_interval_seconds),
        [app = app.get(), &bill, ok]() -> Result<void> {
            auto run = bill.ProcessEvents(UtcNow());
            // An applied payment queued its receipt: the mail worker, wherever it runs, sends it now.
            if (run && run->applied > 0) {
                app->mail_scheduler_.Wake("mail");
                app->store_->Announce("mail");
            }
            return ok(run);
        });
    add(app->billing_scheduler_, "billing-lifecycle", std::chrono::seconds(c.billing.lifecycle_interval_seconds),
        [&bill, ok]() -> Result<void> {
            // Both halves run even when the first fails; the first failure is reported.
            auto reconciled = ok(bill.Reconcile(UtcNow()));
            auto lifecycle = ok(bill.RunLifecycle(UtcNow()));
            return !reconciled ? reconciled : lifecycle;
        });
    mail::Transport& transport = *app->mail_;
    const mail::Sender mail_sender = mail::SenderOf(c);
    add(app->mail_scheduler_, "mail", std::chrono::seconds(c.mail.mail_interval_seconds),
        [&db, &transport, mail_sender, ok]() -> Result<void> {
            // Marketing mail (sequence steps, audits) is checked against the suppression list right before it
            // goes, whatever happened since it was queued.
            const mail::SuppressedCheck suppressed = [&db](const store::OutboxMessage& m) -> Result<bool> {
                if (!acquisition::IsMarketingMail(m.kind)) return false;
                return db.acquisition().IsSuppressed(m.to);
            };
            return ok(mail::RunOutbox(db.outbox(), transport, mail_sender, UtcNow(), suppressed));
        });
    add(app->mail_scheduler_, "reports", std::chrono::seconds(c.report_interval_seconds),
        [app = app.get(), &db, &c, rules, ok]() -> Result<void> {
            jobs::ReportRules report;
            report.idle = rules;
            report.recommend = api::RecommendRulesOf(c);
            report.plan = [&c](Tier tier) { return c.FindPlan(tier); };
            report.brand.base_url = c.base_url;
            auto run = jobs::RunReports(db, app->services_->catalog, report, UtcNow());
            if (run && run->weekly + run->daily > 0) app->mail_scheduler_.Wake("mail");
            return ok(run);
        });
    // Acquisition (SPEC §9): the sources looked at, the sequences sent, the audits built.
    const acquisition::Settings& acq = *app->acquisition_;
    // On the scheduler of outgoing calls: a slow GitHub or Reddit never delays the roll-up.
    add(app->webhook_scheduler_, "discovery", std::chrono::seconds(c.acquisition.discovery_interval_seconds),
        [&db, &c, &acq]() -> Result<void> {
            const auto now = UtcNow();
            // Both sources run even when the first fails; the first failure is reported.
            auto found = acquisition::DiscoverGithub(db.acquisition(), acq.github, acquisition::GithubAccessOf(c), now);
            auto talked =
                acquisition::DiscoverReddit(db.acquisition(), acq.reddit, acquisition::RedditAccessOf(c), now);
            if (!found) return found.error();
            if (!talked) return talked.error();
            return {};
        });
    const acquisition::Outreach outreach = acquisition::OutreachOf(c);
    auto random = std::make_shared<std::mt19937_64>(std::random_device{}());
    add(app->mail_scheduler_, "sequences", std::chrono::seconds(c.acquisition.sequence_interval_seconds),
        [app = app.get(), &db, &c, &acq, outreach, random, rules]() -> Result<void> {
            const auto now = UtcNow();
            auto run = acquisition::RunSequences(db, acq, outreach, now, *random);
            if (!run) return run.error();
            jobs::ReportRules report;
            report.idle = rules;
            report.recommend = api::RecommendRulesOf(c);
            report.plan = [&c](Tier tier) { return c.FindPlan(tier); };
            report.brand.base_url = c.base_url;
            auto audits = acquisition::RunAudits(db, app->services_->catalog, report, acq, outreach, now);
            if (!audits) return audits.error();
            if (run->queued > 0 || audits->sent > 0) app->mail_scheduler_.Wake("mail");
            return {};
        });
    add(app->webhook_scheduler_, "webhooks", std::chrono::seconds(c.webhook_interval_seconds),
        [&db, &c, ok]() -> Result<void> {
            const bool allow_private = c.webhook_allow_private;
            auto post = [allow_private](const std::string& url, const std::string& body,
                                        const std::vector<std::string>& headers) {
                return alerts::PostJson(url, body, headers, allow_private, std::chrono::seconds(5));
            };
            // Both halves run even when the first fails; the first failure is reported.
            auto scanned = ok(alerts::ScanWebhookEvents(db, c, UtcNow()));
            auto delivered = ok(alerts::DeliverWebhooks(db, UtcNow(), post));
            return !scanned ? scanned : delivered;
        });
    add(app->scheduler_, "idle-alerts", std::chrono::seconds(c.alert_interval_seconds),
        [app = app.get(), &db, &c, ok]() -> Result<void> {
            const bool allow_private = c.webhook_allow_private;
            auto sender = [allow_private](const std::string& url, const std::string& text, std::string& error) {
                auto r = alerts::PostToWebhook(url, text, allow_private);
                error = r.error;
                return r.delivered;
            };
            auto run = alerts::RunIdleAlerts(db, c, UtcNow(), sender);
            if (run && run->mailed > 0) app->mail_scheduler_.Wake("mail");
            return ok(run);
        });

    // Addresses operators blocked by hand: every server loads them (not a leased job), now, every 30 s, and
    // at once when another server announces a change.
    auto load_blocks = [app = app.get()]() -> Result<void> {
        return api::LoadAddressBlocks(*app->store_, *app->guard_);
    };
    if (auto r = load_blocks(); !r) return r.error();
    app->scheduler_.Add(std::string(api::kAddressBlocksJob), std::chrono::seconds(30), load_blocks);

    // Wake-ups announced by any server sharing the database (none on SQLite): each scheduler runs the
    // named job now if it has it, and the job's lease decides which server actually does the work.
    app->store_->Listen([app = app.get()](const std::string& job) {
        app->scheduler_.Wake(job);
        app->billing_scheduler_.Wake(job);
        app->mail_scheduler_.Wake(job);
        app->webhook_scheduler_.Wake(job);
    });

    http::ServerOptions options;
    options.max_body_bytes = c.max_body_bytes;
    options.max_header_bytes = c.max_header_bytes;
    options.read_timeout = std::chrono::seconds(c.read_timeout_seconds);
    options.keepalive_timeout = std::chrono::seconds(c.keepalive_timeout_seconds);
    options.shutdown_grace = std::chrono::seconds(c.shutdown_grace_seconds);
    options.trusted_proxies = c.trusted_proxies;
    options.web_dir = c.web_dir;
    options.guard = app->guard_.get();
    options.threads = c.threads;
    app->server_ = std::make_unique<http::Server>(std::move(options), std::move(router), app->access_log_.get(),
                                                  app->metrics_.get());
    return app;
}

void App::LogFeatures() const {
    const Config& c = config_;
    spdlog::info("store: {}", DescribeStore(c));
    spdlog::info("operator API (/api/stats): {}", c.admin_token.empty() ? "off - ADMIN_TOKEN is not set" : "on");
    spdlog::info(
        "admin panel (/admin): operator accounts from `gpuopt admin create-user`; sessions idle {} s, at most {} s",
        c.admin_session_timeout_seconds, c.admin_session_max_age_seconds);
    if (c.encryption_key.empty()) {
        spdlog::warn(
            "ENCRYPTION_KEY is not set: alert and outgoing webhook URLs, webhook secrets, operators' TOTP secrets and "
            "raw gateway payloads are stored in clear (make a key with `gpuopt admin generate-key`)");
    } else {
        spdlog::info("encryption at rest: on ({} key(s); the first encrypts)",
                     1 + std::count(c.encryption_key.begin(), c.encryption_key.end(), ','));
    }
    if (c.secret_key.empty()) spdlog::warn("SECRET_KEY is not set: the audit log's hash chain is not keyed");
    spdlog::info(
        "metrics (/metrics): {}loopback clients whose requests carry no X-Forwarded-For, Forwarded or X-Real-IP",
        c.admin_token.empty() ? "" : "the ADMIN_TOKEN bearer, or ");
    spdlog::info("X-Forwarded-For: {}",
                 c.trusted_proxies.empty()
                     ? "ignored - TRUSTED_PROXIES is not set"
                     : "honoured from " + std::to_string(c.trusted_proxies.size()) + " trusted network(s)");
    for (const auto& g : billing_->Gateways()) {
        spdlog::info("payments with {}: {}", g.name,
                     g.enabled ? "on" : "off - its key and webhook secret are not both set");
    }
    spdlog::info("mail: {}", mail_->Describe());
    const auto& a = config_.acquisition;
    spdlog::info("prospects from GitHub: {}", a.github_token.empty()
                                                  ? "off - GITHUB_TOKEN is not set"
                                                  : "on, " + std::to_string(acquisition_->github.queries.size()) +
                                                        " queries at " + a.github_api_url);
    spdlog::info("conversations from Reddit: {}",
                 a.reddit_client_id.empty() || a.reddit_client_secret.empty() || a.reddit_user_agent.empty()
                     ? std::string("off - REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET and REDDIT_USER_AGENT are not all set")
                     : "on, " + std::to_string(acquisition_->reddit.subreddits.size()) + " subreddits, read only");
    const std::string off = acquisition::SequencesOff(acquisition::OutreachOf(config_));
    if (off.empty()) {
        spdlog::info("sequences: on ({}), at most {} mails a day from {}", acquisition_->sequences.size(),
                     acquisition_->sending.daily_cap, config_.mail.sender_email);
    } else {
        spdlog::warn("sequences: off - {}", off);
    }
    spdlog::info("SendGrid events (/api/webhooks/sendgrid): {}",
                 a.sendgrid_webhook_public_key.empty() ? "refused - SENDGRID_WEBHOOK_PUBLIC_KEY is not set"
                                                       : "accepted when signed");
    spdlog::info("rate limits and address blocks: {}",
                 shared_limits_ ? "shared by every server, in Redis at " + shared_limits_->client().Describe()
                                : std::string("in this process (set REDIS_URL to share them between servers)"));
    std::error_code ec;
    if (std::filesystem::is_directory(c.web_dir, ec)) {
        spdlog::info("web pages: from {}", c.web_dir);
    } else {
        spdlog::warn("web pages: off - WEB_DIR {} is not a folder", c.web_dir);
    }
}

Result<uint16_t> App::Listen() {
    auto port = server_->Listen(config_.host, config_.port);
    if (!port) return port.error();
    LogFeatures();
    spdlog::info("gpuopt {} listening on http://{}:{} with {} thread(s)", GPUOPT_VERSION, config_.host, *port,
                 config_.threads);
    if (!config_.port_file.empty()) {
        const std::string tmp = config_.port_file + ".tmp";
        {
            std::ofstream out(tmp, std::ios::trunc);
            out << *port << "\n";
        }
        std::error_code ec;
        std::filesystem::rename(tmp, config_.port_file, ec);
        if (ec) return Error::Validation("--port-file", "cannot write " + config_.port_file + ": " + ec.message());
    }
    return port;
}

void App::Run() {
    boost::asio::signal_set signals(server_->io(), SIGINT, SIGTERM);
    signals.async_wait([this](boost::system::error_code ec, int signo) {
        if (ec) return;
        spdlog::info("received signal {}: finishing requests in flight, then stopping", signo);
        server_->Stop();
    });
    scheduler_.Start();
    billing_scheduler_.Start();
    mail_scheduler_.Start();
    webhook_scheduler_.Start();
    server_->Run();
    boost::system::error_code ignored;
    signals.cancel(ignored);
    scheduler_.Stop();
    billing_scheduler_.Stop();
    mail_scheduler_.Stop();
    webhook_scheduler_.Stop();
    // Another server takes the jobs over at once, not when the leases run out.
    for (const auto& job : leased_jobs_) {
        (void)store::Wait<void>(
            [&](store::Callback<void> done) { store_->leases().ReleaseLease(job, lease_holder_, std::move(done)); });
    }
    store_->Close();
    access_log_->Flush();
    spdlog::info("stopped cleanly");
}

}  // namespace gpuopt::server
