// The acquisition tables (decision 0030), one text for both backends: they differ only in the identity column
// and the floating type, which each backend's migration puts in ({ID}, {REAL}). Times are Unix seconds.
#pragma once

#include <string>
#include <string_view>

namespace gpuopt::store {

inline std::string AcquisitionSchema(std::string_view id, std::string_view real) {
    std::string sql = R"sql(
-- The acquisition engine (decision 0030); times are Unix seconds. A lead is someone we may write to: a
-- signup (the customer relationship) or a confirmed audit request (consent, recorded word for word).
CREATE TABLE leads (
    id                 {ID},
    email              TEXT,
    email_hash         TEXT,
    domain             TEXT NOT NULL,
    company_key        TEXT NOT NULL DEFAULT '',
    name               TEXT NOT NULL DEFAULT '',
    company            TEXT NOT NULL DEFAULT '',
    source             TEXT NOT NULL,
    referral_code      TEXT NOT NULL DEFAULT '',
    basis              TEXT NOT NULL CHECK (basis IN ('customer', 'consent')),
    status             TEXT NOT NULL
        CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced', 'complained', 'replied', 'erased')),
    account_id         BIGINT,
    utc_offset_minutes INTEGER,
    consent_text       TEXT NOT NULL DEFAULT '',
    consent_ip         TEXT NOT NULL DEFAULT '',
    consent_at         BIGINT,
    confirm_token_hash TEXT,
    confirm_sent_at    BIGINT,
    created_at         BIGINT NOT NULL,
    confirmed_at       BIGINT,
    signed_up_at       BIGINT,
    activated_at       BIGINT,
    paid_at            BIGINT,
    audit_sent_at      BIGINT
);
CREATE UNIQUE INDEX leads_email_hash ON leads (email_hash);
CREATE UNIQUE INDEX leads_confirm_token ON leads (confirm_token_hash);
CREATE INDEX leads_account ON leads (account_id);
CREATE INDEX leads_company ON leads (company_key);
CREATE INDEX leads_created ON leads (created_at);
-- Each lead's history; erasure keeps the rows (the funnel's counts) and clears their detail.
CREATE TABLE lead_events (
    id       {ID},
    lead_id  BIGINT NOT NULL,
    at       BIGINT NOT NULL,
    kind     TEXT NOT NULL,
    source   TEXT NOT NULL,
    sequence TEXT NOT NULL DEFAULT '',
    step     INTEGER NOT NULL DEFAULT -1,
    detail   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX lead_events_lead ON lead_events (lead_id, id);
CREATE INDEX lead_events_at ON lead_events (at);
-- GitHub accounts whose public repositories match, for a person to review. No e-mail address, ever.
CREATE TABLE prospects (
    id                 {ID},
    login              TEXT NOT NULL UNIQUE,
    kind               TEXT NOT NULL,
    html_url           TEXT NOT NULL,
    name               TEXT NOT NULL DEFAULT '',
    website            TEXT NOT NULL DEFAULT '',
    repos              TEXT NOT NULL DEFAULT '[]',
    stars              BIGINT NOT NULL DEFAULT 0,
    forks              BIGINT NOT NULL DEFAULT 0,
    last_pushed_at     BIGINT,
    score              {REAL} NOT NULL DEFAULT 0,
    reasons            TEXT NOT NULL DEFAULT '[]',
    status             TEXT NOT NULL CHECK (status IN ('new', 'contacted', 'dismissed', 'converted')),
    note               TEXT NOT NULL DEFAULT '',
    decided_by         TEXT NOT NULL DEFAULT '',
    decided_at         BIGINT,
    referral_code      TEXT NOT NULL DEFAULT '',
    first_seen         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    profile_checked_at BIGINT
);
CREATE INDEX prospects_status_score ON prospects (status, score);
-- Public Reddit posts about GPU cost, for a person to answer by hand. No author kept.
CREATE TABLE conversations (
    id            {ID},
    post_id       TEXT NOT NULL UNIQUE,
    subreddit     TEXT NOT NULL,
    title         TEXT NOT NULL,
    url           TEXT NOT NULL,
    posted_at     BIGINT NOT NULL,
    score         BIGINT NOT NULL DEFAULT 0,
    comments      BIGINT NOT NULL DEFAULT 0,
    query         TEXT NOT NULL DEFAULT '',
    reasons       TEXT NOT NULL DEFAULT '[]',
    status        TEXT NOT NULL CHECK (status IN ('new', 'answered', 'dismissed', 'converted')),
    note          TEXT NOT NULL DEFAULT '',
    decided_by    TEXT NOT NULL DEFAULT '',
    decided_at    BIGINT,
    referral_code TEXT NOT NULL DEFAULT '',
    found_at      BIGINT NOT NULL
);
CREATE INDEX conversations_status ON conversations (status, posted_at);
-- Where each query of each source stands on a UTC day, and each source's rate-limit wait.
CREATE TABLE discovery_cursors (
    source     TEXT NOT NULL,
    query      TEXT NOT NULL,
    day        BIGINT NOT NULL,
    next       TEXT NOT NULL DEFAULT '',
    done       INTEGER NOT NULL DEFAULT 0,
    pages      BIGINT NOT NULL DEFAULT 0,
    items      BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (source, query, day)
);
CREATE TABLE discovery_sources (
    source      TEXT PRIMARY KEY,
    wait_until  BIGINT,
    last_run_at BIGINT,
    last_result TEXT NOT NULL DEFAULT ''
);
CREATE TABLE referral_codes (
    code            TEXT PRIMARY KEY,
    source          TEXT NOT NULL,
    prospect_id     BIGINT,
    conversation_id BIGINT,
    label           TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL
);
-- Sequences: paused or running, each lead's place in each, and every step sent (once: the unique key).
CREATE TABLE sequence_states (
    name       TEXT PRIMARY KEY,
    paused     INTEGER NOT NULL DEFAULT 0,
    updated_by TEXT NOT NULL DEFAULT '',
    updated_at BIGINT
);
CREATE TABLE enrollments (
    id          {ID},
    lead_id     BIGINT NOT NULL,
    sequence    TEXT NOT NULL,
    step        INTEGER NOT NULL,
    next_at     BIGINT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('active', 'done', 'stopped')),
    stop_reason TEXT NOT NULL DEFAULT '',
    enrolled_at BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (lead_id, sequence)
);
CREATE INDEX enrollments_due ON enrollments (state, next_at);
CREATE TABLE sequence_sends (
    id         {ID},
    sequence   TEXT NOT NULL,
    step       INTEGER NOT NULL,
    lead_id    BIGINT NOT NULL,
    sender     TEXT NOT NULL,
    domain     TEXT NOT NULL,
    outbox_key TEXT NOT NULL,
    at         BIGINT NOT NULL,
    UNIQUE (sequence, step, lead_id)
);
CREATE TABLE send_counts (
    sender TEXT NOT NULL,
    day    BIGINT NOT NULL,
    sent   INTEGER NOT NULL,
    PRIMARY KEY (sender, day)
);
CREATE TABLE domain_sends (
    domain  TEXT PRIMARY KEY,
    last_at BIGINT NOT NULL
);
-- Nobody here is ever written to again; erasure leaves only the hash.
CREATE TABLE suppressions (
    id         {ID},
    kind       TEXT NOT NULL CHECK (kind IN ('address', 'domain')),
    value      TEXT NOT NULL DEFAULT '',
    hash       TEXT NOT NULL,
    reason     TEXT NOT NULL,
    source     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (kind, hash)
);
-- Events mail providers reported (SendGrid's Event Webhook), once each.
CREATE TABLE mail_events (
    id         {ID},
    provider   TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    kind       TEXT NOT NULL,
    email_hash TEXT NOT NULL,
    at         BIGINT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '',
    UNIQUE (provider, event_id)
);
)sql";
    for (const auto& [from, to] : {std::pair<std::string_view, std::string_view>{"{ID}", id}, {"{REAL}", real}}) {
        for (size_t at = sql.find(from); at != std::string::npos; at = sql.find(from, at + to.size())) {
            sql.replace(at, from.size(), to);
        }
    }
    return sql;
}

}  // namespace gpuopt::store
