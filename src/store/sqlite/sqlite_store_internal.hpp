// Internals shared by the .cpp files of SqliteStore: the job type the writer thread runs, and Submit.
#pragma once

#include <optional>
#include <vector>

#include "store/sqlite/sqlite_store.hpp"

namespace gpuopt::store::sqlite {

inline Error Unavailable() { return Error{ErrorCode::kUnavailable, "the store is closed", {}}; }

// Writer-thread helpers shared by the write jobs (sqlite_billing.cpp).
// Enqueues a mail unless one with its dedup key exists; answers whether it was new.
Result<bool> InsertOutbox(Connection& db, const OutboxMessage& message, SysSeconds now);
Result<void> AppendRevenue(Connection& db, int64_t account_id, std::string_view kind, Tier tier, double amount,
                           std::string_view currency, std::optional<int64_t> payment_id, SysSeconds at,
                           std::string_view detail);

// The payments and gateway events as read by every file that lists them (sqlite_billing.cpp).
inline constexpr const char* kPaymentColumns =
    "id, account_id, reference, gateway, tier, amount, currency, purpose, status, gateway_id, checkout_url,"
    " paid_amount, paid_currency, created_at, updated_at, completed_at, expires_at, renews_period_end,"
    " gateway_payment_id, note";
Payment ReadPayment(const Statement& st);
Result<Payment> PaymentById(Connection& db, int64_t id);
inline constexpr const char* kGatewayEventColumns =
    "id, gateway, dedup_key, reference, body, received_at, state, attempts, next_attempt, result";
GatewayEvent ReadGatewayEvent(const Statement& st);
// Appends an audit row after the newest one, chained with `key` (sqlite_admin.cpp).
Result<AuditEntry> InsertAudit(Connection& db, AuditEntry entry, const std::string& key);

// Deletes every row of the account's own data (sqlite_account_deletion.cpp): what DeleteAccount removes,
// and what the retention run sweeps again for accounts deleted since `since` (a periodic job that read
// before a deletion may write after it). Answers how many rows went.
Result<int64_t> RemoveAccountData(Connection& db, int64_t account_id);
Result<int64_t> SweepDeletedAccounts(Connection& db, SysSeconds since);

// Adds roll-up hours to their GPU-days in gpu_days (ApplyRollup, and migration 8 converting gpu_hours).
Result<void> MergeRolledHours(Connection& db, const std::vector<HourlyRow>& hours);

// Every row of a prepared statement, each turned into a T by `read`.
template <class T, class Read>
Result<std::vector<T>> Collect(Statement& st, Read read) {
    std::vector<T> out;
    for (;;) {
        auto row = st.Step();
        if (!row) return row.error();
        if (!*row) return out;
        out.push_back(read(st));
    }
}

class SqliteStore::ReadLease {
public:
    ReadLease(SqliteStore* store, std::unique_ptr<Connection> conn) : store_(store), conn_(std::move(conn)) {}
    ReadLease(ReadLease&&) noexcept = default;
    ReadLease& operator=(ReadLease&&) = delete;
    ~ReadLease() {
        if (conn_) store_->ReturnReader(std::move(conn_));
    }
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_.get(); }

private:
    SqliteStore* store_;
    std::unique_ptr<Connection> conn_;
};

template <class T>
struct SqliteStore::TypedJob final : Job {
    std::function<Result<T>(Connection&)> work;
    Callback<T> done;
    std::optional<Result<T>> result;

    void Run(Connection& db) override { result.emplace(work(db)); }
    bool Succeeded() const override { return result && result->ok(); }
    bool FailedInternally() const override {
        // A full disk or an I/O error (kUnavailable) may have cut a job short after a write, like an
        // internal error: both make the writer roll back and run the batch again, job by job.
        return result && !result->ok() &&
               (result->error().code == ErrorCode::kInternal || result->error().code == ErrorCode::kUnavailable);
    }
    void Complete() override { done(std::move(*result)); }
    void Fail(const Error& error) override { done(error); }
};

template <class T, class Work>
void SqliteStore::Submit(Work work, Callback<T> done) {
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
    job->Fail(Unavailable());
}

}  // namespace gpuopt::store::sqlite
