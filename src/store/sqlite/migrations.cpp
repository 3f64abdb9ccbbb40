#include "store/sqlite/migrations.hpp"

#include <spdlog/spdlog.h>

namespace gpuopt::store::sqlite {

// Timestamps are TEXT "YYYY-MM-DDTHH:MM:SSZ" written by the server (never SQLite's own clock), so the
// same queries run unchanged on PostgreSQL.
// The ingest tables carry only the indexes ingest itself needs (the report_id uniqueness): each extra
// index costs every report about 5% of throughput (bench/), so read paths add theirs with a purpose.
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
        if (auto r = db.Exec("BEGIN IMMEDIATE"); !r) return r.error();
        auto fail = [&](const Error& e) {
            (void)db.Exec("ROLLBACK");
            return e;
        };
        if (auto r = db.Exec(m.sql); !r) return fail(r.error());
        {
            auto stmt = db.Prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)");
            if (!stmt) return fail(stmt.error());
            if (auto r = stmt->Bind(1, m.version).Bind(2, std::string_view(m.name)).Bind(3, FormatUtc(now)).Run(); !r) {
                return fail(r.error());
            }
        }
        if (auto r = db.Exec("COMMIT"); !r) return fail(r.error());
        spdlog::info("store: applied migration {} ({})", m.version, m.name);
        ++applied;
    }
    return applied;
}

}  // namespace gpuopt::store::sqlite
