// SqliteStore: the embedded Store backend (SQLite in WAL mode, synchronous=FULL).
//
// All writes run on one writer thread that takes every write queued at that moment (up to
// max_batch), runs each inside its own SAVEPOINT of one transaction, commits once, and only then
// completes the callbacks: group commit, so concurrent writers share one fsync. A write that fails
// rolls back to its savepoint and leaves the others in the batch intact.
// Reads use a small pool of connections and never wait for the writer (WAL readers see the last
// committed state). Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "store/sqlite/connection.hpp"
#include "store/store.hpp"

namespace gpuopt::store::sqlite {

class SqliteStore final : public Store {
public:
    struct Options {
        std::string path;            // the database file; created when missing
        size_t max_batch = 1024;     // writes per transaction at most
        size_t read_connections = 8; // pooled read connections at most
    };

    // Opens the file, applies migrations, starts the writer thread.
    static Result<std::unique_ptr<SqliteStore>> Open(const Options& options);
    ~SqliteStore() override;

    void CreateAccount(NewAccount account, Callback<Account> done) override;
    void IngestReport(IngestRequest request, Callback<IngestOutcome> done) override;
    void SetTier(std::string email, std::string tier, Callback<Account> done) override;
    Result<Account> FindAccountByKeyHash(const std::string& key_hash) override;
    Result<Stats> GetStats(const StatsQuery& query) override;
    Result<void> Ping() override;
    void Close() override;

    // Number of transactions the writer has committed; lets tests and benchmarks see batching.
    uint64_t CommittedTransactions() const { return commits_.load(); }

private:
    struct Job {
        virtual ~Job() = default;
        virtual void Run(Connection& db) = 0;          // inside a savepoint; records its own result
        virtual bool Succeeded() const = 0;
        virtual void Complete() = 0;                   // after commit
        virtual void Fail(const Error& error) = 0;     // the transaction did not commit
    };
    template <class T>
    struct TypedJob;

    class ReadLease;

    explicit SqliteStore(Options options);
    template <class T, class Work>
    void Submit(Work work, Callback<T> done);
    void WriterLoop();
    void RunBatch(std::vector<std::unique_ptr<Job>>& batch);
    Result<ReadLease> LeaseReader();
    void ReturnReader(std::unique_ptr<Connection> conn);

    Options options_;
    std::unique_ptr<Connection> writer_db_;
    std::thread writer_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::unique_ptr<Job>> queue_;
    bool stopping_ = false;
    std::atomic<bool> closed_{false};
    std::atomic<bool> writer_healthy_{true};
    std::atomic<uint64_t> commits_{0};

    std::mutex read_mu_;
    std::condition_variable read_cv_;
    std::vector<std::unique_ptr<Connection>> readers_;
    size_t readers_open_ = 0;
};

}  // namespace gpuopt::store::sqlite
