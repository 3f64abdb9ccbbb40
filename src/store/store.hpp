// The Store interface: everything the server keeps, behind one contract that every backend
// (SqliteStore now, PostgreSQL later) implements and that one typed test suite checks.
//
// Writes are asynchronous: the backend batches writes that arrive together into one transaction
// (group commit) and calls `done` only after that transaction is durable, so a caller that answers
// its client from `done` never acknowledges data that a crash could lose. `done` runs on a store
// thread; it must be quick (post elsewhere for real work).
// Reads are synchronous, safe from any thread, and see every write whose `done` has run.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "common/time.hpp"

namespace gpuopt::store {

inline constexpr const char* kTiers[] = {"free", "professional", "enterprise"};

struct Account {
    int64_t id = 0;
    std::string email;
    std::string tier;
    std::string key_prefix;
    std::string created_at;
};

// A message for the outbox (SPEC §8). dedup_key makes enqueueing idempotent ("receipt:42").
struct OutboxMessage {
    std::string dedup_key;
    int64_t account_id = 0;  // 0: not an account's
    std::string to;
    std::string subject;
    std::string text;
    std::string html;
    std::string kind;  // "welcome", "receipt", "upgrade", "renewal_reminder", "downgrade", ...
    std::map<std::string, std::string> headers;  // extra headers (List-Unsubscribe ...)
};

struct NewAccount {
    std::string email;       // normalised
    std::string key_hash;    // HashApiKey(key); the key itself is never stored
    std::string key_prefix;  // first characters of the key, for display
    std::string tier;
    SysSeconds now;
    std::optional<OutboxMessage> welcome;  // enqueued with the account, in the same transaction
};

// One GPU's window statistics inside a report, already validated.
struct GpuWindow {
    std::string gpu_key;  // identity for limits: host + uuid, or host + index without uuid
    int gpu_index = 0;
    std::string uuid;
    std::string name;
    double util_avg = 0;
    std::optional<double> util_max;
    std::optional<double> idle_fraction;
    std::optional<double> idle_held_fraction;  // idle while processes held memory
    std::optional<double> mem_util;            // percent of time memory was read or written
    double mem_used_mib = 0;                   // the window's peak in full reports
    double mem_total_mib = 0;
    std::optional<double> temperature_c;
    std::optional<double> power_w;
    std::optional<double> power_limit_w;
    std::optional<double> sm_clock_mhz;
    double cost_per_hour = 0;
    std::string processes_json;  // "[]" when none were reported
};

struct UsageReport {
    std::optional<std::string> report_id;  // idempotency key; absent in the prototype's minimal form
    std::string agent_id;
    std::string hostname;
    std::string agent_version;
    std::string cloud_json;   // "" when absent
    SysSeconds window_start;  // whole seconds (window_*_ms hold the precision it was sent at)
    SysSeconds window_end;
    SysMillis window_start_ms;
    SysMillis window_end_ms;
    // The prototype's form: no window. It covers the time since the same GPU's previous report, up to
    // IngestRequest::implicit_window_max (the first one: ReportRules::default_window), and never more
    // than really passed.
    bool implicit_window = false;
    // No host was named (the prototype's form): `hostname` is the client's address.
    bool host_from_address = false;
    int samples = 1;
    std::vector<GpuWindow> gpus;
};

struct IngestRequest {
    int64_t account_id = 0;
    UsageReport report;
    std::optional<int> gpu_limit;  // distinct GPUs allowed over limit_window; nullopt = unlimited
    std::chrono::hours limit_window{24};
    SysSeconds now;
    std::chrono::milliseconds implicit_window_max{600000};  // IMPLICIT_WINDOW_MAX_SECONDS
};

struct IngestOutcome {
    bool duplicate = false;  // the report_id was stored before; nothing was written
};

struct DailyCount {
    std::string date;  // YYYY-MM-DD
    int64_t count = 0;
};

// ---- Billing (SPEC §7) ----

// A payment moves pending -> completed | failed | expired, and never back.
struct Payment {
    int64_t id = 0;
    int64_t account_id = 0;
    std::string reference;  // ours: tx_ref (Flutterwave), order_id (NowPayments)
    std::string gateway;    // "flutterwave", "nowpayments"
    std::string tier;
    double amount = 0;       // expected
    std::string currency;    // expected, upper case ("USD")
    std::string purpose;     // "upgrade", "renewal", "signup"
    std::string status;      // "pending", "completed", "failed", "expired"
    std::string gateway_id;  // the gateway's id for it (transaction, invoice or payment id)
    std::string checkout_url;
    std::optional<double> paid_amount;  // as the gateway confirmed it
    std::string paid_currency;
    SysSeconds created_at;
    SysSeconds updated_at;
    std::optional<SysSeconds> completed_at;
    std::optional<SysSeconds> expires_at;         // an unpaid checkout is not offered after this
    std::optional<SysSeconds> renews_period_end;  // a renewal: the period it extends
    std::string gateway_payment_id;               // NOWPayments: the payment made for an invoice
    std::string note;                             // why it is paid_unapplied, and the like
};

struct NewPayment {
    int64_t account_id = 0;
    std::string reference;
    std::string gateway;
    std::string tier;
    double amount = 0;
    std::string currency;
    std::string purpose;
    SysSeconds now;
    SysSeconds expires_at;
    std::optional<SysSeconds> renews_period_end;
};

// Something the operator must look at (money that could not be applied, events that keep failing).
// Recorded once per dedup_key.
struct OperatorEvent {
    int64_t id = 0;
    std::string kind;  // "payment_unapplied", "payment_unmatched", "gateway_event_stuck"
    std::string dedup_key;
    std::optional<int64_t> account_id;
    std::optional<int64_t> payment_id;
    std::string detail;
    SysSeconds at;
};

// What a confirmed payment does, all in one transaction: the payment completes (only if pending),
// the account moves to the tier, the subscription starts or extends by a month, the ledger records
// the payment and the upgrade or renewal, and the mails are enqueued.
struct CompletionOutcome;
struct Completion {
    int64_t payment_id = 0;
    std::string gateway_id;
    double paid_amount = 0;
    std::string paid_currency;
    SysSeconds now;
    // Builds the mails (receipt, upgrade) from what the transaction found; runs inside it, so keep it quick.
    std::function<std::vector<OutboxMessage>(const Payment&, const CompletionOutcome&, const std::string& email)> mails;
};

struct CompletionOutcome {
    bool applied = false;  // false: the payment was settled already (completed, unapplied or refunded)
    std::string previous_tier;
    std::string tier;
    SysSeconds period_start;
    SysSeconds period_end;
    bool renewal = false;  // extended a running subscription of the same tier
};

struct Subscription {
    int64_t account_id = 0;
    std::string email;
    std::string tier;
    std::string status;  // "active", "grace", "ended"
    SysSeconds period_start;
    SysSeconds period_end;
    std::string gateway;                        // of the last payment
    std::optional<SysSeconds> reminded_7d_for;  // the period_end a reminder was sent for
    std::optional<SysSeconds> reminded_1d_for;
};

// A delivery from a gateway, recorded raw before anything is done with it (the inbox).
struct GatewayEvent {
    int64_t id = 0;
    std::string gateway;
    std::string dedup_key;  // "<gateway id>:<status>": a repeat is recorded once
    std::string reference;  // our reference when the payload names it
    std::string body;
    SysSeconds received_at;
    std::string state;  // "pending", "applied", "ignored", "failed"
    int attempts = 0;
    std::optional<SysSeconds> next_attempt;
    std::string result;
    // When set, recording it again after it was processed makes it due again this long after received_at
    // (a customer back from paying after an earlier look found nothing); while pending, a repeat is merged.
    std::optional<std::chrono::seconds> rearm_after;
};

struct RevenueEvent {
    int64_t id = 0;
    int64_t account_id = 0;
    std::string kind;  // signup, payment, upgrade, renewal, downgrade, refund
    std::string tier;
    double amount = 0;
    std::string currency;
    std::optional<int64_t> payment_id;
    SysSeconds at;
    std::string detail;
};

struct OutboxItem {
    int64_t id = 0;
    OutboxMessage message;
    std::string status;  // pending, sent, failed
    int attempts = 0;
    SysSeconds next_attempt;
    std::string last_error;
};

struct PaymentCount {
    std::string gateway;
    std::string status;
    int64_t count = 0;
    double amount = 0;
};

struct StatsQuery {
    SysSeconds now;
    int signup_days = 30;
    double idle_threshold_percent = 15;
    double recoverable_fraction = 0.5;
};

struct Stats {
    std::map<std::string, int64_t> customers_by_tier;  // every tier present, zero included
    int64_t total_customers = 0;
    std::vector<DailyCount> daily_signups;  // the last signup_days days, oldest first, gaps as zero
    int64_t gpus_last_24h = 0;
    double total_idle_cost = 0;                                   // Σ idle time × cost over stored history
    double total_customer_savings = 0;                            // total_idle_cost × recoverable fraction
    std::map<std::string, int64_t> active_subscriptions_by_tier;  // active or in grace
    double revenue_this_month = 0;       // completed payments since the 1st (UTC), in their currency (USD)
    std::vector<PaymentCount> payments;  // by gateway and status
};

// One GPU window as stored, read back for history and roll-ups.
struct StoredWindow {
    int64_t id = 0;  // increases with every insert
    int64_t account_id = 0;
    std::string gpu_key;
    std::string host;
    std::string uuid;
    std::string name;
    int gpu_index = 0;
    SysSeconds window_end;
    int64_t window_seconds = 60;  // as sent, whole seconds (at least 1)
    // What the window counts for once merged with the same GPU's other windows: the interval
    // [window_end_ms - counted_ms, window_end_ms], to the millisecond — the window as sent, or its newest
    // stretch that earlier windows had not covered (then window_end and window_end_ms are that stretch's
    // end); zero for a window wholly covered before. window_ms is its length as sent. nullopt in rows stored
    // before these columns (window_end, window_seconds: counted as sent).
    std::optional<SysMillis> window_end_ms;
    std::optional<int64_t> window_ms;
    std::optional<int64_t> counted_ms;
    bool host_from_address = false;
    double util_avg = 0;
    std::optional<double> util_max;
    std::optional<double> idle_fraction;
    std::optional<double> idle_held_fraction;
    std::optional<double> mem_util;
    double mem_used_mib = 0;
    double mem_total_mib = 0;
    std::optional<double> temperature_c;
    std::optional<double> power_w;
    std::optional<double> power_limit_w;
    std::optional<double> sm_clock_mhz;
    double cost_per_hour = 0;
    std::string processes_json;
};

// One GPU-hour of the roll-up. Every figure is a sum or a maximum, so rows for the same GPU-hour
// merge by adding (late reports, replays of a spool).
struct HourlyRow {
    int64_t account_id = 0;
    std::string gpu_key;
    std::string host;
    std::string uuid;
    std::string name;
    int gpu_index = 0;
    SysSeconds hour;           // start of the hour
    int64_t windows = 0;       // raw windows merged in
    double reported_s = 0;     // seconds covered by reports
    double util_weighted = 0;  // Σ utilization × seconds
    double util_max = 0;
    double idle_s = 0;
    double idle_held_s = 0;
    double mem_used_max = 0;
    double mem_total = 0;
    double cost_usd = 0;  // Σ seconds × $/h / 3600
    double idle_cost_usd = 0;
    double idle_held_cost_usd = 0;
};

// A GPU of an account as last seen.
struct FleetGpu {
    std::string gpu_key;
    SysSeconds first_seen;
    SysSeconds last_seen;
    std::optional<StoredWindow> latest;  // its latest window, when still kept
};

struct AlertSettings {
    int64_t account_id = 0;
    std::string webhook_url;  // Slack-compatible incoming webhook; empty: alerts off
    int idle_minutes = 30;
    std::string tier;  // the account's plan (filled by ListAlertSettings)
};

// An idle alert: opened when a GPU has been idle for the account's idle_minutes, closed when it is
// busy again. At most one open alert per GPU.
struct Alert {
    int64_t id = 0;
    int64_t account_id = 0;
    std::string gpu_key;
    SysSeconds idle_since;
    SysSeconds opened_at;
    std::optional<SysSeconds> closed_at;
    std::string message;
    std::string delivery;  // "pending", "delivered", "failed"
    int attempts = 0;
    std::optional<SysSeconds> next_attempt;
};

template <class T>
using Callback = std::function<void(Result<T>)>;

class Store {
public:
    virtual ~Store() = default;

    // Fails with kAlreadyExists when the email is taken (whatever the concurrency).
    virtual void CreateAccount(NewAccount account, Callback<Account> done) = 0;

    // Stores the report and its GPU windows once. A report_id already stored for the account gives
    // IngestOutcome{duplicate=true} and writes nothing. Fails with kTierLimitExceeded, writing nothing,
    // when the report would take the account over gpu_limit distinct GPUs in the window.
    virtual void IngestReport(IngestRequest request, Callback<IngestOutcome> done) = 0;

    virtual Result<Account> GetAccount(int64_t id) = 0;

    // Fails with kNotFound for an unknown email.
    virtual void SetTier(std::string email, std::string tier, Callback<Account> done) = 0;

    // kNotFound when no account holds the key hash.
    virtual Result<Account> FindAccountByKeyHash(const std::string& key_hash) = 0;
    virtual Result<Stats> GetStats(const StatsQuery& query) = 0;

    // Ok when the store can read and its writer is healthy.
    virtual Result<void> Ping() = 0;

    // ---- History (SPEC §6) ----
    // Raw windows of an account whose end lies in (from, to], oldest first; all GPUs or one; only
    // windows stored after `after_id` when it is given.
    virtual Result<std::vector<StoredWindow>> ReadWindows(int64_t account_id, SysSeconds from, SysSeconds to,
                                                          const std::string& gpu_key = "", int64_t after_id = 0) = 0;
    // Roll-up hours of an account in [from, to), oldest first; all GPUs or one.
    virtual Result<std::vector<HourlyRow>> ReadHours(int64_t account_id, SysSeconds from, SysSeconds to,
                                                     const std::string& gpu_key = "") = 0;
    // The roll-up hours of [from, to) and, from the same snapshot, the windows since `tail_from` that
    // the roll-up has not merged yet: together, every report once.
    // Compact: hours refer to their GPU by index, so a month of a large fleet reads without a string
    // per row.
    struct GpuIdentity {
        std::string gpu_key;
        std::string host;
        std::string uuid;
        std::string name;
        int gpu_index = 0;
    };
    struct HourStats {
        size_t gpu = 0;  // into RolledHistory::gpus
        SysSeconds hour;
        int64_t windows = 0;
        double reported_s = 0;
        double util_weighted = 0;
        double util_max = 0;
        double idle_s = 0;
        double idle_held_s = 0;
        double mem_used_max = 0;
        double mem_total = 0;
        double cost_usd = 0;
        double idle_cost_usd = 0;
        double idle_held_cost_usd = 0;
    };
    struct RolledHistory {
        std::vector<GpuIdentity> gpus;  // identity as of each GPU's latest hour
        std::vector<HourStats> hours;   // oldest first
        std::vector<StoredWindow> unmerged;
    };
    virtual Result<RolledHistory> ReadRolledHistory(int64_t account_id, SysSeconds from, SysSeconds to,
                                                    SysSeconds tail_from, const std::string& gpu_key = "") = 0;

    // The account's GPUs seen since `since`, with their latest window.
    virtual Result<std::vector<FleetGpu>> ReadFleet(int64_t account_id, SysSeconds since) = 0;
    // Every account's GPUs seen since `since`, each with a recent window (at most about a minute older
    // than its latest): what /metrics shows.
    virtual Result<std::vector<StoredWindow>> ReadRecentGpus(SysSeconds since) = 0;

    // Roll-up input: windows stored after `after_id` (every account), oldest first, at most `limit`.
    virtual Result<std::vector<StoredWindow>> ReadWindowsAfter(int64_t after_id, size_t limit) = 0;
    // Where the roll-up has got to: every window with an id up to it is merged into the hours.
    virtual Result<int64_t> RollupWatermark() = 0;
    // Merges `hours` (added to any existing row of the same GPU-hour) and moves the watermark from
    // `expected_watermark` to `new_watermark`, in one transaction. kAlreadyExists when the watermark
    // is not `expected_watermark` any more (another run got there first): nothing is written.
    virtual void ApplyRollup(std::vector<HourlyRow> hours, int64_t expected_watermark, int64_t new_watermark,
                             Callback<void> done) = 0;
    // Deletes at most `max_rows` raw windows that ended before `raw_before` and are rolled up (and the
    // reports left without windows), and hours before `hourly_before`. Answers how many rows went.
    virtual void PruneHistory(SysSeconds raw_before, SysSeconds hourly_before, size_t max_rows,
                              Callback<int64_t> done) = 0;

    // ---- Billing ----
    virtual void CreatePayment(NewPayment payment, Callback<Payment> done) = 0;
    // Records the gateway's id and checkout link of a pending payment.
    virtual void SetPaymentCheckout(int64_t payment_id, std::string gateway_id, std::string checkout_url,
                                    Callback<void> done) = 0;
    virtual Result<Payment> FindPaymentByReference(const std::string& reference) = 0;
    virtual Result<std::vector<Payment>> ListPayments(int64_t account_id, size_t limit) = 0;
    // Pending payments created in [from, to), oldest first (the reconciler's work).
    virtual Result<std::vector<Payment>> ListPendingPayments(SysSeconds from, SysSeconds to, size_t limit) = 0;
    // Pending payments whose checkout is no longer offered (expires_at reached), oldest first.
    virtual Result<std::vector<Payment>> ListExpiringPayments(SysSeconds now, size_t limit) = 0;
    // The pending renewal checkout of an account's period ending at `period_end`, if one was started.
    virtual Result<std::optional<Payment>> FindRenewalPayment(int64_t account_id, SysSeconds period_end) = 0;
    // Removes a pending payment whose checkout never started (no gateway id, no link): a checkout the
    // gateway refused leaves nothing behind. Answers whether it was removed.
    virtual void DiscardPayment(int64_t payment_id, Callback<bool> done) = 0;
    // NOWPayments names the payment made for one of our invoices: kept so the reconciler can ask about it.
    virtual void SetGatewayPaymentId(int64_t payment_id, std::string gateway_payment_id, Callback<void> done) = 0;
    // The gateway confirmed the payment: it completes from pending, expired or failed (the gateway is the
    // source of truth for money), once. A subscription of the same tier that has not ended extends from
    // the later of now and its period end; otherwise a period starts now.
    virtual void CompletePayment(Completion completion, Callback<CompletionOutcome> done) = 0;
    // pending -> failed or expired; anything else is left alone (answers false).
    virtual void EndPayment(int64_t payment_id, std::string status, SysSeconds now, std::optional<OutboxMessage> mail,
                            Callback<bool> done) = 0;
    // The gateway took money that cannot buy the plan (too little, another currency): pending, expired or
    // failed -> paid_unapplied with `note`, the operator event and its mail, in one transaction. False when
    // the payment was settled already.
    virtual void HoldUnappliedPayment(int64_t payment_id, std::string gateway_id, double paid_amount,
                                      std::string paid_currency, std::string note, OperatorEvent event,
                                      std::optional<OutboxMessage> mail, SysSeconds now, Callback<bool> done) = 0;
    // A refund: after completion it is recorded in the ledger (once per payment) and access is not taken
    // back; a paid_unapplied payment becomes refunded.
    virtual void RecordRefund(int64_t payment_id, SysSeconds now, Callback<bool> done) = 0;
    // Records the event and enqueues `mail`, once per dedup key (false: recorded before).
    virtual void RecordOperatorEvent(OperatorEvent event, std::optional<OutboxMessage> mail, Callback<bool> done) = 0;
    virtual Result<std::vector<OperatorEvent>> ListOperatorEvents(size_t limit) = 0;

    // Inbox. Answers whether the event is new, or was re-armed (false: the same event was recorded before
    // and is still pending, or cannot be re-armed).
    virtual void RecordGatewayEvent(GatewayEvent event, Callback<bool> done) = 0;
    virtual Result<std::vector<GatewayEvent>> DueGatewayEvents(SysSeconds now, size_t limit) = 0;
    virtual void FinishGatewayEvent(int64_t id, std::string state, std::string result, int attempts,
                                    std::optional<SysSeconds> next_attempt, Callback<void> done) = 0;

    // Subscriptions not yet ended whose period ends before `before` (the lifecycle job's look-ahead),
    // soonest first.
    virtual Result<std::vector<Subscription>> ListSubscriptionsEndingBefore(SysSeconds before) = 0;
    virtual Result<std::optional<Subscription>> GetSubscription(int64_t account_id) = 0;
    // Marks the 7-day (days = 7) or 1-day reminder for the subscription's current period as sent and
    // enqueues `mail`, once: false when it was sent already (whatever ran first).
    virtual void MarkRenewalReminder(int64_t account_id, int days, SysSeconds period_end, OutboxMessage mail,
                                     Callback<bool> done) = 0;
    virtual void EnterGrace(int64_t account_id, SysSeconds period_end, Callback<bool> done) = 0;
    // Ends the subscription of that period (when still active or in grace), moves the account to free,
    // records the downgrade and enqueues `mail`. False when it had ended, or a payment extended it.
    virtual void EndSubscription(int64_t account_id, SysSeconds period_end, SysSeconds now, OutboxMessage mail,
                                 Callback<bool> done) = 0;
    virtual Result<std::vector<RevenueEvent>> ListRevenueEvents(int64_t account_id, size_t limit) = 0;

    // ---- Mail outbox (SPEC §8) ----
    // Answers false when a message with the same dedup key was enqueued before.
    virtual void EnqueueMail(OutboxMessage message, SysSeconds now, Callback<bool> done) = 0;
    virtual Result<std::vector<OutboxItem>> DueMail(SysSeconds now, size_t limit) = 0;
    virtual void FinishMail(int64_t id, std::string status, int attempts, SysSeconds next_attempt, std::string error,
                            std::string message_id, Callback<void> done) = 0;

    // ---- Security events (SPEC §11) ----
    virtual void RecordSecurityEvent(std::string kind, std::string ip, std::string detail, SysSeconds now,
                                     Callback<void> done) = 0;
    virtual Result<int64_t> CountSecurityEvents(const std::string& kind) = 0;

    // ---- Alerts ----
    virtual Result<std::optional<AlertSettings>> GetAlertSettings(int64_t account_id) = 0;
    virtual void SetAlertSettings(AlertSettings settings, Callback<AlertSettings> done) = 0;
    // Every account with a webhook configured.
    virtual Result<std::vector<AlertSettings>> ListAlertSettings() = 0;
    virtual Result<std::vector<Alert>> OpenAlerts(int64_t account_id) = 0;
    // Opens an alert unless one is open for that GPU already (then kAlreadyExists, nothing written).
    virtual void OpenAlert(Alert alert, Callback<Alert> done) = 0;
    virtual void CloseAlert(int64_t alert_id, SysSeconds at, Callback<void> done) = 0;
    // Alerts whose delivery is pending and due at `now`.
    virtual Result<std::vector<Alert>> DueAlertDeliveries(SysSeconds now, size_t limit) = 0;
    virtual void RecordAlertDelivery(int64_t alert_id, std::string delivery, int attempts,
                                     std::optional<SysSeconds> next_attempt, Callback<void> done) = 0;
    virtual Result<std::vector<Alert>> ListAlerts(int64_t account_id, size_t limit) = 0;

    // Finishes queued writes, then releases the database. Later calls fail with kUnavailable.
    virtual void Close() = 0;
};

}  // namespace gpuopt::store
