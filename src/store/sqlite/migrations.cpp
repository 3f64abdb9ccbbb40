#include "store/sqlite/migrations.hpp"

#include <spdlog/spdlog.h>

#include "store/acquisition_schema.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"

namespace gpuopt::store::sqlite {

// Timestamps are TEXT "YYYY-MM-DDTHH:MM:SSZ" written by the server (never SQLite's own clock), so the
// same queries run unchanged on PostgreSQL.
// The ingest tables carry only the indexes ingest itself needs (the report_id uniqueness): each extra
// index costs every report about 5% of throughput (bench/), so read paths add theirs with a purpose.
namespace {

// Migration 8: every gpu_hours row into its day of gpu_days, a chunk at a time along the key, then the
// old table goes.
Result<void> ConvertHoursToDays(Connection& db) {
    constexpr int64_t kChunk = 50000;
    int64_t account = -1;
    std::string hour;
    std::string gpu;
    for (;;) {
        std::vector<HourlyRow> rows;
        {
            auto st = db.Prepare(
                "SELECT account_id, gpu_key, hour, host, uuid, gpu_name, gpu_index, windows, reported_s,"
                " util_weighted, util_max, idle_s, idle_held_s, mem_used_max, mem_total, cost_usd, idle_cost_usd,"
                " idle_held_cost_usd FROM gpu_hours WHERE (account_id, hour, gpu_key) > (?1, ?2, ?3)"
                " ORDER BY account_id, hour, gpu_key LIMIT ?4");
            if (!st) return st.error();
            st->Bind(1, account).Bind(2, std::string_view(hour)).Bind(3, std::string_view(gpu)).Bind(4, kChunk);
            for (;;) {
                auto row = st->Step();
                if (!row) return row.error();
                if (!*row) break;
                HourlyRow& h = rows.emplace_back();
                h.account_id = st->Int(0);
                h.gpu_key = st->Text(1);
                hour = st->Text(2);
                auto at = ParseUtc(hour);
                if (!at) return Error{ErrorCode::kInternal, "gpu_hours holds an hour that is not a time: " + hour, {}};
                h.hour = *at;
                h.host = st->Text(3);
                h.uuid = st->Text(4);
                h.name = st->Text(5);
                h.gpu_index = static_cast<int>(st->Int(6));
                h.windows = st->Int(7);
                h.reported_s = st->Double(8);
                h.util_weighted = st->Double(9);
                h.util_max = st->Double(10);
                h.idle_s = st->Double(11);
                h.idle_held_s = st->Double(12);
                h.mem_used_max = st->Double(13);
                h.mem_total = st->Double(14);
                h.cost_usd = st->Double(15);
                h.idle_cost_usd = st->Double(16);
                h.idle_held_cost_usd = st->Double(17);
                account = h.account_id;
                gpu = h.gpu_key;
            }
        }
        if (rows.empty()) break;
        if (auto r = MergeRolledHours(db, rows); !r) return r;
        if (static_cast<int64_t>(rows.size()) < kChunk) break;
    }
    return db.Exec("DROP TABLE gpu_hours");
}

}  // namespace

namespace {

// Migration 20's text, made once (store/acquisition_schema.hpp).
const char* AcquisitionDdl() {
    static const std::string sql = AcquisitionSchema("INTEGER PRIMARY KEY", "REAL");
    return sql.c_str();
}

}  // namespace

const std::vector<Migration>& Migrations() {
    static const std::vector<Migration> migrations = {
        {1, "accounts and usage reports", R"sql(
CREATE TABLE accounts (
    id             INTEGER PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    api_key_hash   TEXT NOT NULL UNIQUE,
    api_key_prefix TEXT NOT NULL,
    tier           TEXT NOT NULL CHECK (tier IN ('free', 'professional', 'enterprise')),
    created_at     TEXT NOT NULL
);
CREATE INDEX accounts_created_at ON accounts (created_at);

CREATE TABLE usage_reports (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    report_id     TEXT,
    agent_id      TEXT NOT NULL,
    hostname      TEXT NOT NULL,
    agent_version TEXT NOT NULL,
    cloud         TEXT,
    window_start  TEXT NOT NULL,
    window_end    TEXT NOT NULL,
    samples       INTEGER NOT NULL,
    received_at   TEXT NOT NULL,
    UNIQUE (account_id, report_id)
);

CREATE TABLE gpu_windows (
    id             INTEGER PRIMARY KEY,
    report_pk      INTEGER NOT NULL REFERENCES usage_reports (id),
    account_id     INTEGER NOT NULL REFERENCES accounts (id),
    host           TEXT NOT NULL,
    gpu_key        TEXT NOT NULL,
    gpu_index      INTEGER NOT NULL,
    uuid           TEXT,
    gpu_name       TEXT NOT NULL,
    util_avg       REAL NOT NULL,
    util_max       REAL,
    idle_fraction  REAL,
    mem_used_mib   REAL NOT NULL,
    mem_total_mib  REAL NOT NULL,
    temperature_c  REAL,
    power_w        REAL,
    power_limit_w  REAL,
    cost_per_hour  REAL NOT NULL,
    window_seconds INTEGER NOT NULL,
    window_end     TEXT NOT NULL,
    processes      TEXT NOT NULL
);

CREATE TABLE gpus_seen (
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    gpu_key    TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen  TEXT NOT NULL,
    PRIMARY KEY (account_id, gpu_key)
);
CREATE INDEX gpus_seen_last_seen ON gpus_seen (last_seen);
)sql"},
        {2, "agent window statistics", R"sql(
ALTER TABLE gpu_windows ADD COLUMN idle_held_fraction REAL;
ALTER TABLE gpu_windows ADD COLUMN mem_util REAL;
ALTER TABLE gpu_windows ADD COLUMN sm_clock_mhz REAL;
)sql"},
        {3, "history: hourly roll-up, read indexes, alerts", R"sql(
-- Reads of an account's history go through its reports (one row per report, not per GPU); the
-- windows are found by report, which also keeps the report's foreign key cheap to check on delete.
CREATE INDEX usage_reports_account_end ON usage_reports (account_id, window_end);
CREATE INDEX gpu_windows_report ON gpu_windows (report_pk);
ALTER TABLE gpus_seen ADD COLUMN last_report_pk INTEGER;

CREATE TABLE gpu_hours (
    account_id         INTEGER NOT NULL REFERENCES accounts (id),
    gpu_key            TEXT NOT NULL,
    hour               TEXT NOT NULL,
    host               TEXT NOT NULL,
    uuid               TEXT NOT NULL,
    gpu_name           TEXT NOT NULL,
    gpu_index          INTEGER NOT NULL,
    windows            INTEGER NOT NULL,
    reported_s         REAL NOT NULL,
    util_weighted      REAL NOT NULL,
    util_max           REAL NOT NULL,
    idle_s             REAL NOT NULL,
    idle_held_s        REAL NOT NULL,
    mem_used_max       REAL NOT NULL,
    mem_total          REAL NOT NULL,
    cost_usd           REAL NOT NULL,
    idle_cost_usd      REAL NOT NULL,
    idle_held_cost_usd REAL NOT NULL,
    PRIMARY KEY (account_id, hour, gpu_key)
) WITHOUT ROWID;  -- rows clustered by account and hour: a month of a fleet is one range scan
CREATE INDEX gpu_hours_hour ON gpu_hours (hour);

-- Every gpu_windows row with an id up to the watermark is merged into gpu_hours.
CREATE TABLE rollup_state (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    watermark INTEGER NOT NULL
);
INSERT INTO rollup_state (id, watermark) VALUES (1, 0);

CREATE TABLE alert_settings (
    account_id   INTEGER PRIMARY KEY REFERENCES accounts (id),
    webhook_url  TEXT NOT NULL,
    idle_minutes INTEGER NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE TABLE alerts (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    gpu_key      TEXT NOT NULL,
    idle_since   TEXT NOT NULL,
    opened_at    TEXT NOT NULL,
    closed_at    TEXT,
    message      TEXT NOT NULL,
    delivery     TEXT NOT NULL CHECK (delivery IN ('pending', 'delivered', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT
);
-- At most one open alert per GPU: a GPU alerts again only after it was busy in between.
CREATE UNIQUE INDEX alerts_open ON alerts (account_id, gpu_key) WHERE closed_at IS NULL;
CREATE INDEX alerts_due ON alerts (delivery, next_attempt);
CREATE INDEX alerts_account ON alerts (account_id, id);
)sql"},
        {4, "billing, ledger, mail outbox, security events", R"sql(
CREATE TABLE payments (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    reference     TEXT NOT NULL UNIQUE,
    gateway       TEXT NOT NULL CHECK (gateway IN ('flutterwave', 'nowpayments')),
    tier          TEXT NOT NULL,
    amount        REAL NOT NULL,
    currency      TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'failed', 'expired')),
    gateway_id    TEXT NOT NULL DEFAULT '',
    checkout_url  TEXT NOT NULL DEFAULT '',
    paid_amount   REAL,
    paid_currency TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    completed_at  TEXT
);
CREATE INDEX payments_account ON payments (account_id, id);
CREATE INDEX payments_status ON payments (status, created_at);

-- Every gateway delivery, recorded before it is acted on; one row per (gateway, event).
CREATE TABLE gateway_events (
    id           INTEGER PRIMARY KEY,
    gateway      TEXT NOT NULL,
    dedup_key    TEXT NOT NULL,
    reference    TEXT NOT NULL DEFAULT '',
    body         TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'applied', 'ignored', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT,
    result       TEXT NOT NULL DEFAULT '',
    UNIQUE (gateway, dedup_key)
);
CREATE INDEX gateway_events_due ON gateway_events (state, next_attempt);

CREATE TABLE subscriptions (
    account_id      INTEGER PRIMARY KEY REFERENCES accounts (id),
    tier            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('active', 'grace', 'ended')),
    period_start    TEXT NOT NULL,
    period_end      TEXT NOT NULL,
    gateway         TEXT NOT NULL,
    last_payment_id INTEGER REFERENCES payments (id),
    reminded_7d_for TEXT,
    reminded_1d_for TEXT,
    updated_at      TEXT NOT NULL
);

-- The revenue ledger: every change, once (a payment's rows are unique per kind).
CREATE TABLE revenue_events (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    kind       TEXT NOT NULL CHECK (kind IN ('signup', 'payment', 'upgrade', 'renewal', 'downgrade', 'refund')),
    tier       TEXT NOT NULL DEFAULT '',
    amount     REAL NOT NULL DEFAULT 0,
    currency   TEXT NOT NULL DEFAULT '',
    payment_id INTEGER REFERENCES payments (id),
    at         TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX revenue_events_payment ON revenue_events (payment_id, kind) WHERE payment_id IS NOT NULL;
CREATE INDEX revenue_events_account ON revenue_events (account_id, id);

CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY,
    dedup_key    TEXT NOT NULL UNIQUE,
    account_id   INTEGER NOT NULL DEFAULT 0,
    to_address   TEXT NOT NULL,
    subject      TEXT NOT NULL,
    body_text    TEXT NOT NULL,
    body_html    TEXT NOT NULL DEFAULT '',
    kind         TEXT NOT NULL,
    headers      TEXT NOT NULL DEFAULT '{}',
    status       TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT NOT NULL,
    last_error   TEXT NOT NULL DEFAULT '',
    message_id   TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    sent_at      TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt);

CREATE TABLE security_events (
    id     INTEGER PRIMARY KEY,
    kind   TEXT NOT NULL,
    ip     TEXT NOT NULL,
    detail TEXT NOT NULL,
    at     TEXT NOT NULL
);
CREATE INDEX security_events_kind ON security_events (kind, at);
)sql"},
        {5, "payments the gateway confirms after our record ended, renewal links, operator events", R"sql(
-- paid_unapplied: the gateway took the money but it cannot buy the plan (too little, another currency);
-- the operator settles it. refunded: such a payment given back. expires_at: when an unpaid checkout
-- stops being offered (renewal links live until the period's grace ends). renews_period_end: the
-- subscription period a renewal checkout is for (one per period, reused by both reminders).
CREATE TABLE payments_v5 (
    id                 INTEGER PRIMARY KEY,
    account_id         INTEGER NOT NULL REFERENCES accounts (id),
    reference          TEXT NOT NULL UNIQUE,
    gateway            TEXT NOT NULL CHECK (gateway IN ('flutterwave', 'nowpayments')),
    tier               TEXT NOT NULL,
    amount             REAL NOT NULL,
    currency           TEXT NOT NULL,
    purpose            TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'failed', 'expired', 'paid_unapplied',
                                                       'refunded')),
    gateway_id         TEXT NOT NULL DEFAULT '',
    checkout_url       TEXT NOT NULL DEFAULT '',
    paid_amount        REAL,
    paid_currency      TEXT NOT NULL DEFAULT '',
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    completed_at       TEXT,
    expires_at         TEXT,
    renews_period_end  TEXT,
    gateway_payment_id TEXT NOT NULL DEFAULT '',
    note               TEXT NOT NULL DEFAULT ''
);
INSERT INTO payments_v5 (id, account_id, reference, gateway, tier, amount, currency, purpose, status, gateway_id,
                         checkout_url, paid_amount, paid_currency, created_at, updated_at, completed_at)
    SELECT id, account_id, reference, gateway, tier, amount, currency, purpose, status, gateway_id, checkout_url,
           paid_amount, paid_currency, created_at, updated_at, completed_at FROM payments;
DROP TABLE payments;
ALTER TABLE payments_v5 RENAME TO payments;
CREATE INDEX payments_account ON payments (account_id, id);
CREATE INDEX payments_status ON payments (status, created_at);
CREATE INDEX payments_renewal ON payments (account_id, renews_period_end) WHERE renews_period_end IS NOT NULL;

-- What the operator must look at: money the gateway took that could not be applied, events that keep
-- failing. Recorded once each (dedup_key).
CREATE TABLE operator_events (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    dedup_key  TEXT NOT NULL UNIQUE,
    account_id INTEGER,
    payment_id INTEGER,
    detail     TEXT NOT NULL,
    at         TEXT NOT NULL
);
CREATE INDEX operator_events_at ON operator_events (at);
)sql",
         true},
        {6, "windows to the millisecond, merged per GPU", R"sql(
-- window_end_ms and window_ms: the window as sent, to the millisecond; counted_ms: what it counts for once
-- overlapping windows of the same GPU are merged (rows written before this have none: they count as sent).
ALTER TABLE gpu_windows ADD COLUMN window_end_ms INTEGER;
ALTER TABLE gpu_windows ADD COLUMN window_ms INTEGER;
ALTER TABLE gpu_windows ADD COLUMN counted_ms INTEGER;
-- The report named no host: `host` is the client's address.
ALTER TABLE gpu_windows ADD COLUMN host_from_address INTEGER NOT NULL DEFAULT 0;
-- Up to when the GPU's reported time is counted (epoch ms), refreshed with last_seen.
ALTER TABLE gpus_seen ADD COLUMN covered_until_ms INTEGER;
)sql"},
        {7, "job leases and runs", R"sql(
-- Where each periodic job runs when several servers share a database (decision 0016).
CREATE TABLE job_leases (
    job     TEXT PRIMARY KEY,
    holder  TEXT NOT NULL,
    token   INTEGER NOT NULL,
    expires TEXT NOT NULL
);
CREATE TABLE job_runs (
    id       INTEGER PRIMARY KEY,
    job      TEXT NOT NULL,
    token    INTEGER NOT NULL,
    holder   TEXT NOT NULL,
    started  TEXT NOT NULL,
    finished TEXT NOT NULL,
    fenced   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX job_runs_job ON job_runs (job, id);
)sql"},
        {8, "the roll-up packed by day", R"sql(
-- One row per account, day and GPU with the day's 24 hours packed (store/packed_day.hpp), and the day's
-- sums beside them for SQL totals. A rowid table: a row is about 2.2 KB, which a WITHOUT ROWID table
-- would spill into overflow pages.
CREATE TABLE gpu_days (
    account_id         INTEGER NOT NULL REFERENCES accounts (id),
    day                TEXT NOT NULL,  -- the day's first hour, YYYY-MM-DDT00:00:00Z
    gpu_key            TEXT NOT NULL,
    host               TEXT NOT NULL,
    uuid               TEXT NOT NULL,
    gpu_name           TEXT NOT NULL,
    gpu_index          INTEGER NOT NULL,
    windows            INTEGER NOT NULL,
    cost_usd           REAL NOT NULL,
    idle_cost_usd      REAL NOT NULL,
    idle_held_cost_usd REAL NOT NULL,
    hours              BLOB NOT NULL,
    PRIMARY KEY (account_id, day, gpu_key)
);
CREATE INDEX gpu_days_day ON gpu_days (day);
)sql",
         false, &ConvertHoursToDays},
        {9, "recommendations followed over time", R"sql(
-- Each recommended action per GPU, with the GPU's cost when first recommended; once the GPU changes, what
-- changed, its cost since (and the GPU that replaced it), and the saving realized. At most one open track
-- per GPU: its action is the one recommended last, its "before" the GPU as it was first recommended.
CREATE TABLE recommendation_tracks (
    id                       INTEGER PRIMARY KEY,
    account_id               INTEGER NOT NULL REFERENCES accounts (id),
    gpu_key                  TEXT NOT NULL,
    host                     TEXT NOT NULL,
    action                   TEXT NOT NULL,
    summary                  TEXT NOT NULL,
    estimate_monthly         REAL NOT NULL,
    before_gpu_name          TEXT NOT NULL,
    before_cost_per_hour     REAL NOT NULL,
    before_idle_fraction     REAL NOT NULL,
    before_util_avg          REAL NOT NULL,
    before_monthly_cost      REAL NOT NULL,
    before_monthly_idle_cost REAL NOT NULL,
    first_recommended        TEXT NOT NULL,
    last_recommended         TEXT NOT NULL,
    state                    TEXT NOT NULL CHECK (state IN ('open', 'realized')),
    change                   TEXT CHECK (change IN ('stopped', 'smaller_model', 'utilization_up')),
    changed_at               TEXT,
    after_gpu_name           TEXT,
    after_cost_per_hour      REAL,
    after_idle_fraction      REAL,
    after_util_avg           REAL,
    after_monthly_cost       REAL,
    after_monthly_idle_cost  REAL,
    replaced_by              TEXT,
    realized_monthly         REAL
);
CREATE UNIQUE INDEX recommendation_tracks_open ON recommendation_tracks (account_id, gpu_key)
    WHERE state = 'open';
CREATE INDEX recommendation_tracks_account ON recommendation_tracks (account_id, id);
)sql"},
        {10, "what a GPU says of itself", R"sql(
-- GPM activity, energy, memory clock, PCI bus id, driver, XID errors and MIG placement, as one JSON object
-- of checked fields (NULL when the agent sent none): read by /metrics and the API, not aggregated.
ALTER TABLE gpu_windows ADD COLUMN telemetry TEXT;
)sql"},
        {11, "acting on idle GPUs", R"sql(
-- Acting on idle GPUs: one policy per account, snoozes per GPU, and what agents warned of and did (an event
-- keyed by the report that carried it, so a replayed report records nothing twice).
CREATE TABLE idle_policies (
    account_id         INTEGER PRIMARY KEY REFERENCES accounts (id),
    enabled            INTEGER NOT NULL,
    dry_run            INTEGER NOT NULL,
    idle_trigger       TEXT NOT NULL CHECK (idle_trigger IN ('idle', 'idle_holding_memory')),
    idle_minutes       REAL NOT NULL,
    grace_minutes      REAL NOT NULL,
    action             TEXT NOT NULL CHECK (action IN ('notify', 'signal', 'exec')),
    kill_after_seconds INTEGER NOT NULL,
    version            INTEGER NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE TABLE idle_snoozes (
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    gpu_key       TEXT NOT NULL,
    host          TEXT NOT NULL,
    uuid          TEXT NOT NULL,
    snoozed_until TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (account_id, gpu_key)
);
CREATE TABLE idle_events (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    event_key   TEXT NOT NULL,
    host        TEXT NOT NULL,
    gpu_key     TEXT NOT NULL,
    uuid        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    action      TEXT NOT NULL,
    dry_run     INTEGER NOT NULL,
    detail      TEXT NOT NULL,
    processes   TEXT NOT NULL,
    happened_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (account_id, event_key)
);
CREATE INDEX idle_events_account ON idle_events (account_id, id);
)sql"},
        {12, "report mails, email alerts and outgoing webhooks", R"sql(
-- Idle alerts by email as well as (or instead of) a Slack-compatible webhook.
ALTER TABLE alert_settings ADD COLUMN email_alerts INTEGER NOT NULL DEFAULT 0;
-- Report mails: an account without a row gets both; the token lets a report's link turn them off.
CREATE TABLE report_settings (
    account_id        INTEGER PRIMARY KEY REFERENCES accounts (id),
    weekly            INTEGER NOT NULL,
    daily             INTEGER NOT NULL,
    unsubscribe_token TEXT NOT NULL UNIQUE,
    updated_at        TEXT NOT NULL
);
-- Outgoing webhooks (Enterprise): endpoints, and one delivery per endpoint and event (the delivery log).
CREATE TABLE webhook_endpoints (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    url        TEXT NOT NULL,
    secret     TEXT NOT NULL,
    events     TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id, id);
CREATE TABLE webhook_deliveries (
    id           INTEGER PRIMARY KEY,
    endpoint_id  INTEGER NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    event_id     TEXT NOT NULL,
    type         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts     INTEGER NOT NULL,
    next_attempt TEXT NOT NULL,
    last_status  INTEGER NOT NULL,
    last_error   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    finished_at  TEXT,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt);
-- Where the scan for new events reached (one row).
CREATE TABLE webhook_scan (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    mark TEXT NOT NULL
);
)sql"},
        {13, "SM activity as a figure of the window", R"sql(
-- GPM SM activity, percent (NULL: not measured), kept beside utilization so that the roll-up can total it
-- and right-sizing can read it. Windows stored before keep it only in their telemetry: they count as
-- without SM activity.
ALTER TABLE gpu_windows ADD COLUMN sm_active REAL;
)sql"},
        {14, "web sign-in links and sessions", R"sql(
-- One-time sign-in links mailed to customers, and their web sessions. Tokens and session ids are kept as
-- their SHA-256 only.
CREATE TABLE sign_in_links (
    token_hash  TEXT PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    ip          TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT,
    replaced_at TEXT
);
CREATE INDEX sign_in_links_account ON sign_in_links (account_id, created_at);
CREATE TABLE web_sessions (
    id_hash      TEXT PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT
);
CREATE INDEX web_sessions_account ON web_sessions (account_id);
)sql"},
        {15, "recommendations marked done or dismissed", R"sql(
-- What the customer said of a recommendation (dismissed: not for us; done: acted on), with the
-- recommendation as it read then. One mark per account, action and target.
CREATE TABLE recommendation_marks (
    account_id      INTEGER NOT NULL REFERENCES accounts (id),
    action          TEXT NOT NULL,
    target          TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('dismissed', 'done')),
    summary         TEXT NOT NULL,
    monthly_savings REAL NOT NULL,
    note            TEXT NOT NULL DEFAULT '',
    marked_at       TEXT NOT NULL,
    PRIMARY KEY (account_id, action, target)
);
)sql"},
        {16, "several named API keys an account", R"sql(
-- An account's API keys, named, each revocable, with when it was last used. The key made at sign-up
-- becomes the account's "default" key; accounts.api_key_hash keeps that first key's hash, but only
-- api_keys authenticates.
CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    name         TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    key_prefix   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE INDEX api_keys_account ON api_keys (account_id);
INSERT INTO api_keys (account_id, name, key_hash, key_prefix, created_at)
    SELECT id, 'default', api_key_hash, api_key_prefix, created_at FROM accounts ORDER BY id;
)sql"},
        {17, "deleted accounts", R"sql(
-- When the customer deleted the account (decision 0025). The row stays, with no address and no key, so
-- that the payments and revenue events kept for the books still name an account.
ALTER TABLE accounts ADD COLUMN deleted_at TEXT;
)sql"},
        {18, "operator accounts, their sessions and the audit log", R"sql(
-- The operator's accounts (decision 0027): an argon2id password, an optional TOTP secret, lockout counters.
CREATE TABLE admin_users (
    id             INTEGER PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    totp_secret    TEXT NOT NULL DEFAULT '',
    totp_last_step INTEGER NOT NULL DEFAULT 0,
    disabled       INTEGER NOT NULL DEFAULT 0,
    failed_logins  INTEGER NOT NULL DEFAULT 0,
    lockouts       INTEGER NOT NULL DEFAULT 0,
    locked_until   TEXT,
    created_at     TEXT NOT NULL,
    last_login_at  TEXT
);
-- Their sessions, apart from the customers' (web_sessions): ids kept as their SHA-256 only.
CREATE TABLE admin_sessions (
    id_hash      TEXT PRIMARY KEY,
    admin_id     INTEGER NOT NULL REFERENCES admin_users (id),
    csrf_token   TEXT NOT NULL,
    ip           TEXT NOT NULL,
    user_agent   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT
);
CREATE INDEX admin_sessions_admin ON admin_sessions (admin_id);
-- Every operator action, append-only: rows are never changed or removed, and each one's row_hash chains it
-- to the one before (store/admin.hpp).
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor_type  TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    before_json TEXT NOT NULL,
    after_json  TEXT NOT NULL,
    result      TEXT NOT NULL,
    ip          TEXT NOT NULL,
    session_ref TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    row_hash    TEXT NOT NULL
);
CREATE INDEX audit_log_action ON audit_log (action);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
)sql"},
        {19, "the operator panel: disabled customers, blocks by hand, job results", R"sql(
-- A customer disabled by an operator: keys, sessions and sign-in links stop working; the data stays.
ALTER TABLE accounts ADD COLUMN disabled_at TEXT;
ALTER TABLE accounts ADD COLUMN disabled_reason TEXT NOT NULL DEFAULT '';
CREATE INDEX accounts_deleted_at ON accounts (deleted_at);
-- Addresses an operator blocked, on every server sharing the database; until NULL: until unblocked.
CREATE TABLE address_blocks (
    ip         TEXT PRIMARY KEY,
    reason     TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    until      TEXT
);
-- What each job run came to: '' when it succeeded, else its error.
ALTER TABLE job_runs ADD COLUMN result TEXT NOT NULL DEFAULT '';
CREATE INDEX outbox_account ON outbox (account_id, id);
CREATE INDEX security_events_ip ON security_events (ip, id);
)sql"},
        {20, "acquisition: leads, sources, sequences, suppression", AcquisitionDdl()},
    };
    return migrations;
}

Result<int> Migrate(Connection& db, SysSeconds now) {
    if (auto r = db.Exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                         " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)");
        !r) {
        return r.error();
    }
    int64_t current = 0;
    {
        auto stmt = db.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
        if (!stmt) return stmt.error();
        auto row = stmt->Step();
        if (!row) return row.error();
        current = stmt->Int(0);
    }
    const auto& all = Migrations();
    if (!all.empty() && current > all.back().version) {
        return Error{ErrorCode::kInternal,
                     "database schema version " + std::to_string(current) + " is newer than this program (" +
                         std::to_string(all.back().version) + ")",
                     {}};
    }
    int applied = 0;
    for (const auto& m : all) {
        if (m.version <= current) continue;
        // Foreign keys cannot be switched inside a transaction; they come back on below whatever happens.
        if (m.rebuilds_tables) {
            if (auto r = db.Exec("PRAGMA foreign_keys=OFF"); !r) return r.error();
        }
        if (auto r = db.Exec("BEGIN IMMEDIATE"); !r) return r.error();
        auto fail = [&](const Error& e) {
            (void)db.Exec("ROLLBACK");
            if (m.rebuilds_tables) (void)db.Exec("PRAGMA foreign_keys=ON");
            return e;
        };
        if (m.rebuilds_tables) {
            // legacy_alter_table keeps other tables' references to the renamed table pointing at its name.
            if (auto r = db.Exec("PRAGMA legacy_alter_table=ON"); !r) return fail(r.error());
        }
        if (auto r = db.Exec(m.sql); !r) return fail(r.error());
        if (m.then != nullptr) {
            if (auto r = m.then(db); !r) return fail(r.error());
        }
        {
            auto stmt = db.Prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)");
            if (!stmt) return fail(stmt.error());
            if (auto r = stmt->Bind(1, m.version).Bind(2, std::string_view(m.name)).Bind(3, FormatUtc(now)).Run(); !r) {
                return fail(r.error());
            }
        }
        if (m.rebuilds_tables) {
            auto check = db.Prepare("PRAGMA foreign_key_check");
            if (!check) return fail(check.error());
            auto row = check->Step();
            if (!row) return fail(row.error());
            if (*row) return fail(Error{ErrorCode::kInternal, "migration broke a foreign key", {}});
            if (auto r = db.Exec("PRAGMA legacy_alter_table=OFF"); !r) return fail(r.error());
        }
        if (auto r = db.Exec("COMMIT"); !r) return fail(r.error());
        if (m.rebuilds_tables) {
            if (auto r = db.Exec("PRAGMA foreign_keys=ON"); !r) return r.error();
        }
        spdlog::info("store: applied migration {} ({})", m.version, m.name);
        ++applied;
    }
    return applied;
}

}  // namespace gpuopt::store::sqlite
