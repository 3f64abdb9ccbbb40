// The server's one typed configuration. Loaded and validated once at start-up (server/main.cpp);
// afterwards read-only and shared freely between threads.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "common/tier.hpp"

namespace gpuopt {

// An IPv4 or IPv6 network, e.g. 10.0.0.0/8 or ::1/128. A bare address is a /32 or /128.
struct Cidr {
    std::array<uint8_t, 16> bytes{};  // IPv4 kept as v4-mapped IPv6
    int prefix = 128;
    static std::optional<Cidr> Parse(std::string_view text);
    bool Contains(std::string_view address) const;
};

struct Plan {
    Tier tier = Tier::kFree;
    std::string display_name;
    double price_usd = 0;                  // per month
    std::optional<int> gpu_limit;          // distinct GPUs per window; nullopt = unlimited
    std::optional<int> requests_per_hour;  // per API key; nullopt = unlimited
    int history_days = 395;                // how far back the customer's reads reach
    bool idle_alerts = false;              // idle alerts to a Slack-compatible webhook
    bool all_recommendations = false;      // else only the idle ones (stop, auto-stop, release memory)
    bool idle_actions = false;             // a policy that warns of idle GPUs and acts on them (agents carry it out)
    bool daily_reports = false;            // a daily report mail as well as the weekly one
    bool outgoing_webhooks = false;        // signed event webhooks to the customer's own endpoints
    std::vector<std::string> features;
};

// Billing's settings (SPEC §7): the gateways' keys and addresses (empty: not configured), the currency,
// how long a checkout waits, and how often the billing jobs run.
struct BillingSettings {
    std::string flutterwave_secret_key;
    std::string flutterwave_public_key;
    std::string flutterwave_secret_hash;  // the verif-hash Flutterwave sends with each webhook
    std::string flutterwave_base_url;     // empty: Flutterwave's own
    std::string nowpayments_api_key;
    std::string nowpayments_ipn_secret;
    bool nowpayments_sandbox = false;
    std::string nowpayments_base_url;              // empty: NOWPayments' own, or its sandbox
    std::string nowpayments_mode = "invoice";      // or "payment" (a deposit address instead of a hosted page)
    std::string nowpayments_pay_currency = "btc";  // payment mode
    std::string payment_currency = "USD";
    int payment_expiry_hours = 48;
    std::string operator_email;            // where money that needs a person is reported
    int gateway_timeout_seconds = 30;      // each call to Flutterwave or NOWPayments
    int billing_interval_seconds = 5;      // gateway events (also woken by each webhook)
    int lifecycle_interval_seconds = 900;  // renewal reminders, grace, downgrades; reconciliation
};

// How mail leaves (SPEC §8): SendGrid when its key is set, else SMTP when a server is, else files in
// DATA_DIR/outbox.
struct MailSettings {
    std::string sender_email;  // the From address, and the SMTP user name
    std::string sender_password;
    std::string sendgrid_api_key;
    std::string sendgrid_base_url = "https://api.sendgrid.com";
    std::string smtp_server;
    int smtp_port = 587;
    std::string smtp_tls = "starttls";  // starttls, smtps, none
    std::string smtp_ca_file;
    int mail_interval_seconds = 5;  // how often the outbox is sent
};

// The acquisition engine's settings (SPEC §9). Secrets and addresses come from the environment; what it
// looks for and what it sends (queries, subreddits, sequences, send windows, caps) from ACQUISITION_CONFIG
// (acquisition/settings.hpp).
struct AcquisitionSettings {
    std::string config_file;  // ACQUISITION_CONFIG; empty: the shipped acquisition.json
    std::string github_token;
    std::string github_api_url = "https://api.github.com";
    std::string reddit_client_id;  // the Reddit source stays off until id, secret and user agent are set
    std::string reddit_client_secret;
    std::string reddit_user_agent;
    std::string reddit_api_url = "https://oauth.reddit.com";
    std::string reddit_auth_url = "https://www.reddit.com";
    std::string postal_address;               // in every marketing mail; without it sequences stay off
    std::string unsubscribe_email;            // the List-Unsubscribe mailto; empty: the sender address
    std::string sendgrid_webhook_public_key;  // base64 DER (SubjectPublicKeyInfo) from SendGrid's settings
    int discovery_interval_seconds = 3600;    // how often the sources are looked at (each query once a day)
    int sequence_interval_seconds = 60;       // how often due sequence steps are sent
};

struct Config {
    // Serving.
    std::string host = "127.0.0.1";
    uint16_t port = 5000;
    std::string data_dir = "./data";
    std::string web_dir;  // empty: found beside the program (server/app.hpp ResolveWebDir)
    int threads = 0;      // 0: one per core
    std::string base_url = "http://127.0.0.1:5000";
    std::string redis_url;       // redis://...: rate limits and address blocks shared by several servers
    int redis_timeout_ms = 250;  // each Redis call; past it the limit is decided by this server alone
    std::string database_url;    // empty or sqlite:PATH: the embedded store; postgresql://...: PostgreSQL
    std::string log_level = "info";
    std::string access_log = "-";  // file path, "-" for stdout, "off"
    std::string port_file;         // written with the bound port once listening

    // HTTP limits.
    size_t max_body_bytes = 1024 * 1024;
    size_t max_header_bytes = 8 * 1024;
    int read_timeout_seconds = 30;
    int keepalive_timeout_seconds = 75;
    int shutdown_grace_seconds = 10;

    // Security.
    std::string admin_token;                       // secret
    std::string secret_key;                        // secret
    std::string encryption_key;                    // secret, Fernet format
    int session_timeout_seconds = 3600;            // a web session ends when idle this long
    int session_max_age_seconds = 12 * 3600;       // and this long after sign-in, whatever the activity
    int admin_session_timeout_seconds = 900;       // an operator's session ends when idle this long
    int admin_session_max_age_seconds = 8 * 3600;  // and this long after sign-in
    int max_login_attempts = 5;                    // an operator's failed sign-ins before the account locks
    std::vector<Cidr> trusted_proxies;
    int auth_failure_limit = 20;  // failed authentications from one address within the window ...
    int auth_failure_window_seconds = 300;
    int auth_block_seconds = 900;  // ... block it this long (0 failures: never)

    // Plans and limits (SPEC §3).
    std::vector<Plan> plans;
    int gpu_limit_window_hours = 24;
    int signup_per_minute_per_ip = 5;
    int reports_per_host_per_hour = 240;    // agent reports: a budget per reporting host (decision 0011)
    int implicit_window_max_seconds = 600;  // a report without a window covers at most this much

    // Analysis (SPEC §6).
    double idle_threshold_percent = 15.0;
    double recoverable_fraction = 0.5;
    double default_cost_per_hour = 3.06;
    double committed_use_discount = 0.3;         // committed-use over on-demand price, for that recommendation
    int raw_retention_days = 7;                  // raw report windows (also the oldest report accepted)
    int hourly_retention_days = 395;             // the hourly roll-up (13 months)
    int rollup_interval_seconds = 30;            // how often the roll-up and retention jobs run
    int alert_interval_seconds = 30;             // how often idle alerts are checked and delivered
    int recommendation_interval_seconds = 3600;  // how often recommendations are followed (realized savings)
    int report_interval_seconds = 600;           // how often due report mails are looked for
    int webhook_interval_seconds = 10;           // how often outgoing webhook events are found and delivered
    int idle_alert_minutes = 30;                 // default idle time before an alert
    double idle_action_min_minutes = 5;          // the shortest idle time an idle policy may act on
    bool webhook_allow_private = false;          // alert webhooks may be http:// and reach private addresses
    std::string price_catalog;                   // file replacing catalog/price_catalog.json
    std::string gpu_catalog;                     // file replacing catalog/gpu_catalog.json

    BillingSettings billing;          // SPEC §7
    MailSettings mail;                // SPEC §8
    AcquisitionSettings acquisition;  // SPEC §9

    // Settings accepted and validated here for another program (the agent's, in a shared .env).
    std::map<std::string, std::string> integrations;

    const Plan* FindPlan(Tier tier) const;
};

// Where a value came from; secrets may only come from the environment or .env.
enum class ConfigOrigin { kDefault, kDotEnv, kConfigFile, kEnvironment, kFlag };

struct ConfigValue {
    std::string value;
    ConfigOrigin origin = ConfigOrigin::kDefault;
    std::string where;  // file name for file origins, for error messages
};

// Parses KEY=VALUE lines (.env and --config files share this format): blank lines and # comments are
// skipped, an optional "export " prefix is allowed, values may be single- or double-quoted.
// Fails naming the line for anything else.
Result<std::map<std::string, std::string>> ParseKeyValueFile(std::string_view text, std::string_view file_name);

// Applies values over the defaults. Fails with a message naming the setting for an unknown name from a
// file, a malformed value, or a secret read from a --config file.
Result<Config> BuildConfig(const std::map<std::string, ConfigValue>& values);

// The names BuildConfig knows, in .env.example order.
std::vector<std::string> KnownSettingNames();

}  // namespace gpuopt
