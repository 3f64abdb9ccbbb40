// Internals shared by the .cpp files of PgStore: the jobs the writer thread runs, Submit, and the
// writer's helpers that several domains use.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/postgres/connection.hpp"
#include "store/postgres/pg_store.hpp"

namespace gpuopt::store::postgres {

// Adds roll-up hours to their GPU-days in gpu_days, each day's row locked while it is merged (ApplyRollup,
// and migration 3 converting gpu_hours).
Result<void> MergeRolledHours(Connection& db, const std::vector<HourlyRow>& hours);

// The payments and gateway events as read by every file that lists them (pg_billing.cpp).
inline constexpr const char* kPaymentColumns =
    "id, account_id, reference, gateway, tier, amount, currency, purpose, status, gateway_id, checkout_url,"
    " paid_amount, paid_currency, created_at, updated_at, completed_at, expires_at, renews_period_end,"
    " gateway_payment_id, note";
Payment ReadPayment(const Rows& r, int i);
Result<Payment> PaymentById(Connection& db, int64_t id);
inline constexpr const char* kGatewayEventColumns =
    "id, gateway, dedup_key, reference, body, received_at, state, attempts, next_attempt, result";
GatewayEvent ReadGatewayEvent(const Rows& r, int i);
// Appends an audit row after the newest one, chained with `key` (pg_admin.cpp).
Result<AuditEntry> InsertAudit(Connection& db, AuditEntry entry, const std::string& key);

inline Error Closed() { return Error{ErrorCode::kUnavailable, "the store is closed", {}}; }

// One write. An ordinary job runs its own statements under a savepoint; an ingest job is written in bulk
// with the ingest jobs next to it in the batch (PgStore::IngestGroup), which records its result.
struct PgStore::Job {
    virtual ~Job() = default;
    virtual IngestRequest* Ingest() { return nullptr; }
    virtual void Run(Connection& db) = 0;  // ordinary jobs only
    virtual void SetIngestResult(Result<IngestOutcome> result) { (void)result; }
    virtual bool Succeeded() const = 0;
    virtual void Reset() = 0;     // before the batch runs again
    virtual void Complete() = 0;  // after commit
    virtual void Fail(const Error& error) = 0;
};

template <class T>
struct TypedJob final : PgStore::Job {
    std::function<Result<T>(Connection&)> work;
    Callback<T> done;
    std::optional<Result<T>> result;

    void Run(Connection& db) override { result.emplace(work(db)); }
    bool Succeeded() const override { return result && result->ok(); }
    void Reset() override { result.reset(); }
    void Complete() override { done(std::move(*result)); }
    void Fail(const Error& error) override { done(error); }
};

struct IngestJob final : PgStore::Job {
    IngestRequest request;
    Callback<IngestOutcome> done;
    std::optional<Result<IngestOutcome>> result;

    IngestRequest* Ingest() override { return &request; }
    void Run(Connection&) override {}
    void SetIngestResult(Result<IngestOutcome> r) override { result.emplace(std::move(r)); }
    bool Succeeded() const override { return result && result->ok(); }
    void Reset() override { result.reset(); }
    void Complete() override { done(std::move(*result)); }
    void Fail(const Error& error) override { done(error); }
};

template <class T, class Work>
void PgStore::Submit(Work work, Callback<T> done) {
    auto job = std::make_unique<TypedJob<T>>();
    job->work = std::move(work);
    job->done = std::move(done);
    {
        std::lock_guard lock(mu_);
        if (!stopping_) {
            queue_.push_back(std::move(job));
            cv_.notify_one();
            return;
        }
    }
    job->Fail(Closed());
}

class PgStore::ReadLease {
public:
    ReadLease(PgStore* store, std::unique_ptr<Connection> conn) : store_(store), conn_(std::move(conn)) {}
    ReadLease(ReadLease&&) noexcept = default;
    ReadLease& operator=(ReadLease&&) = delete;
    ~ReadLease() {
        if (conn_) store_->ReturnReader(std::move(conn_));
    }
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_.get(); }

private:
    PgStore* store_;
    std::unique_ptr<Connection> conn_;
};

// Times as the store keeps them.
inline SysSeconds TimeAt(const Rows& rows, int row, int col) {
    return ParseUtc(rows.Text(row, col)).value_or(SysSeconds{});
}
inline std::optional<SysSeconds> OptTimeAt(const Rows& rows, int row, int col) {
    if (rows.IsNull(row, col)) return std::nullopt;
    return ParseUtc(rows.Text(row, col));
}
inline std::optional<double> OptDoubleAt(const Rows& rows, int row, int col) {
    if (rows.IsNull(row, col)) return std::nullopt;
    return rows.Double(row, col);
}
inline std::optional<int64_t> OptIntAt(const Rows& rows, int row, int col) {
    if (rows.IsNull(row, col)) return std::nullopt;
    return rows.Int(row, col);
}
inline std::optional<std::string> OptTimeText(const std::optional<SysSeconds>& t) {
    if (!t) return std::nullopt;
    return FormatUtc(*t);
}

// Every row turned into a T.
template <class T, class Read>
std::vector<T> CollectRows(const Rows& rows, Read read) {
    std::vector<T> out;
    out.reserve(static_cast<size_t>(rows.size()));
    for (int i = 0; i < rows.size(); ++i) out.push_back(read(rows, i));
    return out;
}

// Writer-thread helpers (pg_billing.cpp).
Result<bool> InsertOutbox(Connection& db, const OutboxMessage& message, SysSeconds now);

// The channel of wake-ups between servers (Database::Announce / Listen).
inline constexpr const char* kWakeChannel = "gpuopt_wake";
// Said inside the transaction that changes an account's plan: delivered at its commit (and dropped with a
// rollback), it clears every server's cache of accounts found by key.
inline constexpr const char* kAccountsChanged = "accounts";
Result<void> AnnounceAccountsChanged(Connection& db);
// NOTIFY of `topic` on the wake-up channel, inside the caller's transaction (delivered at its commit).
Result<void> NotifyWake(Connection& db, const std::string& topic);
Result<void> AppendRevenue(Connection& db, int64_t account_id, std::string_view kind, Tier tier, double amount,
                           std::string_view currency, std::optional<int64_t> payment_id, SysSeconds at,
                           std::string_view detail);

// Deletes every row of the account's own data (pg_account_deletion.cpp): what DeleteAccount removes, and
// what the retention run sweeps again for accounts deleted since `since` (a periodic job that read before
// a deletion may write after it). Answers how many rows went.
Result<int64_t> RemoveAccountData(Connection& db, int64_t account_id);
Result<int64_t> SweepDeletedAccounts(Connection& db, SysSeconds since);

// Column lists and readers (pg_history.cpp).
extern const char* const kWindowColumns;  // of gpu_windows g
StoredWindow ReadWindowRow(const Rows& rows, int row, int first_col = 0);

}  // namespace gpuopt::store::postgres
