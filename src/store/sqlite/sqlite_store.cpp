#include "store/sqlite/sqlite_store.hpp"

#include <spdlog/spdlog.h>

#include <set>

#include "store/sqlite/migrations.hpp"

namespace gpuopt::store::sqlite {

namespace {

Error Unavailable() { return Error{ErrorCode::kUnavailable, "the store is closed", {}}; }

Result<Account> ReadAccount(Statement& stmt) {
    Account a;
    a.id = stmt.Int(0);
    a.email = stmt.Text(1);
    a.tier = stmt.Text(2);
    a.key_prefix = stmt.Text(3);
    a.created_at = stmt.Text(4);
    return a;
}

constexpr const char* kSelectAccount = "SELECT id, email, tier, api_key_prefix, created_at FROM accounts ";

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Jobs

template <class T>
struct SqliteStore::TypedJob final : Job {
    std::function<Result<T>(Connection&)> work;
    Callback<T> done;
    std::optional<Result<T>> result;

    void Run(Connection& db) override { result.emplace(work(db)); }
    bool Succeeded() const override { return result && result->ok(); }
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

// ---------------------------------------------------------------------------------------------------
// Life cycle

SqliteStore::SqliteStore(Options options) : options_(std::move(options)) {}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const Options& options) {
    std::unique_ptr<SqliteStore> store(new SqliteStore(options));
    auto db = Connection::Open(options.path, true);
    if (!db) return db.error();
    if (auto r = (*db)->Exec("PRAGMA journal_mode=WAL"); !r) return r.error();
    if (auto r = Migrate(**db, UtcNow()); !r) return r.error();
    store->writer_db_ = std::move(*db);
    store->writer_ = std::thread([s = store.get()] { s->WriterLoop(); });
    return store;
}

SqliteStore::~SqliteStore() { Close(); }

void SqliteStore::Close() {
    {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        stopping_ = true;
        cv_.notify_all();
    }
    if (writer_.joinable()) writer_.join();
    closed_ = true;
    std::lock_guard lock(read_mu_);
    readers_.clear();
    writer_db_.reset();
}

void SqliteStore::WriterLoop() {
    std::vector<std::unique_ptr<Job>> batch;
    for (;;) {
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, and everything queued has been written
            while (!queue_.empty() && batch.size() < options_.max_batch) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        RunBatch(batch);
        batch.clear();
    }
}

void SqliteStore::RunBatch(std::vector<std::unique_ptr<Job>>& batch) {
    Connection& db = *writer_db_;
    auto fail_all = [&](const Error& e) {
        writer_healthy_ = false;
        for (auto& job : batch) job->Fail(e);
    };
    if (auto r = db.Exec("BEGIN IMMEDIATE"); !r) return fail_all(r.error());
    for (auto& job : batch) {
        if (auto r = db.Exec("SAVEPOINT job"); !r) {
            (void)db.Exec("ROLLBACK");
            return fail_all(r.error());
        }
        job->Run(db);
        if (!job->Succeeded()) {
            if (auto r = db.Exec("ROLLBACK TO job"); !r) {
                (void)db.Exec("ROLLBACK");
                return fail_all(r.error());
            }
        }
        if (auto r = db.Exec("RELEASE job"); !r) {
            (void)db.Exec("ROLLBACK");
            return fail_all(r.error());
        }
    }
    if (auto r = db.Exec("COMMIT"); !r) {
        (void)db.Exec("ROLLBACK");
        return fail_all(r.error());
    }
    writer_healthy_ = true;
    commits_.fetch_add(1);
    for (auto& job : batch) job->Complete();
}

// ---------------------------------------------------------------------------------------------------
// Reads

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

Result<SqliteStore::ReadLease> SqliteStore::LeaseReader() {
    std::unique_lock lock(read_mu_);
    for (;;) {
        if (closed_) return Unavailable();
        if (!readers_.empty()) {
            auto conn = std::move(readers_.back());
            readers_.pop_back();
            return ReadLease(this, std::move(conn));
        }
        if (readers_open_ < options_.read_connections) {
            ++readers_open_;
            lock.unlock();
            auto conn = Connection::Open(options_.path, false);
            if (conn) (void)(*conn)->Exec("PRAGMA query_only=ON");
            if (!conn) {
                std::lock_guard relock(read_mu_);
                --readers_open_;
                return conn.error();
            }
            return ReadLease(this, std::move(*conn));
        }
        read_cv_.wait(lock);
    }
}

void SqliteStore::ReturnReader(std::unique_ptr<Connection> conn) {
    std::lock_guard lock(read_mu_);
    if (closed_) {
        --readers_open_;
        return;  // conn closes here
    }
    readers_.push_back(std::move(conn));
    read_cv_.notify_one();
}

Result<Account> SqliteStore::FindAccountByKeyHash(const std::string& key_hash) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string(kSelectAccount) + "WHERE api_key_hash = ?1";
    auto stmt = (*db)->Prepare(sql.c_str());
    if (!stmt) return stmt.error();
    stmt->Bind(1, std::string_view(key_hash));
    auto row = stmt->Step();
    if (!row) return row.error();
    if (!*row) return Error{ErrorCode::kNotFound, "no such account", {}};
    return ReadAccount(*stmt);
}

Result<Stats> SqliteStore::GetStats(const StatsQuery& q) {
    auto db = LeaseReader();
    if (!db) return db.error();
    Stats s;
    for (const char* tier : kTiers) s.customers_by_tier[tier] = 0;
    {
        auto stmt = (*db)->Prepare("SELECT tier, COUNT(*) FROM accounts GROUP BY tier");
        if (!stmt) return stmt.error();
        for (;;) {
            auto row = stmt->Step();
            if (!row) return row.error();
            if (!*row) break;
            s.customers_by_tier[stmt->Text(0)] = stmt->Int(1);
            s.total_customers += stmt->Int(1);
        }
    }
    {
        using namespace std::chrono;
        const auto today = floor<days>(q.now);
        const auto first = today - days(q.signup_days - 1);
        std::map<std::string, int64_t> by_day;
        for (auto d = first; d <= today; d += days(1)) by_day[FormatUtc(d).substr(0, 10)] = 0;
        auto stmt = (*db)->Prepare(
            "SELECT substr(created_at, 1, 10) AS day, COUNT(*) FROM accounts WHERE created_at >= ?1 GROUP BY day");
        if (!stmt) return stmt.error();
        stmt->Bind(1, FormatUtc(first));
        for (;;) {
            auto row = stmt->Step();
            if (!row) return row.error();
            if (!*row) break;
            by_day[stmt->Text(0)] = stmt->Int(1);
        }
        for (auto& [day, n] : by_day) s.daily_signups.push_back({day, n});
    }
    const std::string since = FormatUtc(q.now - std::chrono::hours(24));
    {
        auto stmt = (*db)->Prepare("SELECT COUNT(*) FROM usage_reports WHERE received_at >= ?1");
        if (!stmt) return stmt.error();
        stmt->Bind(1, since);
        if (auto row = stmt->Step(); !row) return row.error();
        s.reports_last_24h = stmt->Int(0);
    }
    {
        auto stmt = (*db)->Prepare("SELECT COUNT(*) FROM gpus_seen WHERE last_seen >= ?1");
        if (!stmt) return stmt.error();
        stmt->Bind(1, since);
        if (auto row = stmt->Step(); !row) return row.error();
        s.gpus_last_24h = stmt->Int(0);
    }
    {
        // Idle time of a window: the agent's measured idle fraction, or the whole window when only an
        // average was reported and it is under the threshold (SPEC §6).
        auto stmt = (*db)->Prepare(
            "SELECT COALESCE(SUM((CASE WHEN idle_fraction IS NOT NULL THEN idle_fraction"
            " WHEN util_avg < ?1 THEN 1.0 ELSE 0.0 END) * window_seconds * cost_per_hour), 0) / 3600.0"
            " FROM gpu_windows");
        if (!stmt) return stmt.error();
        stmt->Bind(1, q.idle_threshold_percent);
        if (auto row = stmt->Step(); !row) return row.error();
        s.total_idle_cost = stmt->Double(0);
        s.total_customer_savings = s.total_idle_cost * q.recoverable_fraction;
    }
    return s;
}

Result<void> SqliteStore::Ping() {
    if (!writer_healthy_) return Error{ErrorCode::kUnavailable, "the store's last write failed", {}};
    auto db = LeaseReader();
    if (!db) return db.error();
    auto stmt = (*db)->Prepare("SELECT COUNT(*) FROM schema_migrations");
    if (!stmt) return stmt.error();
    auto row = stmt->Step();
    if (!row) return row.error();
    return {};
}

// ---------------------------------------------------------------------------------------------------
// Writes

void SqliteStore::CreateAccount(NewAccount a, Callback<Account> done) {
    Submit<Account>(
        [a = std::move(a)](Connection& db) -> Result<Account> {
            auto stmt = db.Prepare(
                "INSERT INTO accounts (email, api_key_hash, api_key_prefix, tier, created_at)"
                " VALUES (?1, ?2, ?3, ?4, ?5)");
            if (!stmt) return stmt.error();
            const std::string created = FormatUtc(a.now);
            stmt->Bind(1, std::string_view(a.email))
                .Bind(2, std::string_view(a.key_hash))
                .Bind(3, std::string_view(a.key_prefix))
                .Bind(4, std::string_view(a.tier))
                .Bind(5, std::string_view(created));
            if (auto r = stmt->Run(); !r) return r.error();
            return Account{db.LastInsertId(), a.email, a.tier, a.key_prefix, created};
        },
        std::move(done));
}

void SqliteStore::SetTier(std::string email, std::string tier, Callback<Account> done) {
    Submit<Account>(
        [email = std::move(email), tier = std::move(tier)](Connection& db) -> Result<Account> {
            {
                auto stmt = db.Prepare("UPDATE accounts SET tier = ?1 WHERE email = ?2");
                if (!stmt) return stmt.error();
                stmt->Bind(1, std::string_view(tier)).Bind(2, std::string_view(email));
                if (auto r = stmt->Run(); !r) return r.error();
            }
            if (db.Changes() == 0) return Error{ErrorCode::kNotFound, "no account with that email", {}};
            static const std::string sql = std::string(kSelectAccount) + "WHERE email = ?1";
            auto stmt = db.Prepare(sql.c_str());
            if (!stmt) return stmt.error();
            stmt->Bind(1, std::string_view(email));
            auto row = stmt->Step();
            if (!row) return row.error();
            return ReadAccount(*stmt);
        },
        std::move(done));
}

void SqliteStore::IngestReport(IngestRequest req, Callback<IngestOutcome> done) {
    Submit<IngestOutcome>(
        [req = std::move(req)](Connection& db) -> Result<IngestOutcome> {
            const UsageReport& rep = req.report;
            const std::string now = FormatUtc(req.now);
            if (rep.report_id) {
                auto stmt = db.Prepare("SELECT 1 FROM usage_reports WHERE account_id = ?1 AND report_id = ?2");
                if (!stmt) return stmt.error();
                stmt->Bind(1, req.account_id).Bind(2, std::string_view(*rep.report_id));
                auto row = stmt->Step();
                if (!row) return row.error();
                if (*row) return IngestOutcome{true};
            }
            if (req.gpu_limit) {
                std::set<std::string> seen;
                auto stmt = db.Prepare("SELECT gpu_key FROM gpus_seen WHERE account_id = ?1 AND last_seen >= ?2");
                if (!stmt) return stmt.error();
                stmt->Bind(1, req.account_id).Bind(2, FormatUtc(req.now - req.limit_window));
                for (;;) {
                    auto row = stmt->Step();
                    if (!row) return row.error();
                    if (!*row) break;
                    seen.insert(stmt->Text(0));
                }
                for (const auto& g : rep.gpus) seen.insert(g.gpu_key);
                if (static_cast<int>(seen.size()) > *req.gpu_limit) {
                    return Error{ErrorCode::kTierLimitExceeded,
                                 "Your plan monitors up to " + std::to_string(*req.gpu_limit) + " distinct GPUs per " +
                                     std::to_string(req.limit_window.count()) + " h; this report would make " +
                                     std::to_string(seen.size()) + ". Upgrade to monitor more.",
                                 {}};
                }
            }
            int64_t report_pk = 0;
            {
                auto stmt = db.Prepare(
                    "INSERT INTO usage_reports (account_id, report_id, agent_id, hostname, agent_version, cloud,"
                    " window_start, window_end, samples, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
                if (!stmt) return stmt.error();
                stmt->Bind(1, req.account_id);
                if (rep.report_id) {
                    stmt->Bind(2, std::string_view(*rep.report_id));
                } else {
                    stmt->BindNull(2);
                }
                stmt->Bind(3, std::string_view(rep.agent_id))
                    .Bind(4, std::string_view(rep.hostname))
                    .Bind(5, std::string_view(rep.agent_version));
                if (rep.cloud_json.empty()) {
                    stmt->BindNull(6);
                } else {
                    stmt->Bind(6, std::string_view(rep.cloud_json));
                }
                stmt->Bind(7, FormatUtc(rep.window_start))
                    .Bind(8, FormatUtc(rep.window_end))
                    .Bind(9, rep.samples)
                    .Bind(10, std::string_view(now));
                if (auto r = stmt->Run(); !r) return r.error();
                report_pk = db.LastInsertId();
            }
            const std::string window_end = FormatUtc(rep.window_end);
            const int64_t window_seconds = std::max<int64_t>(1, (rep.window_end - rep.window_start).count());
            for (const auto& g : rep.gpus) {
                auto stmt = db.Prepare(
                    "INSERT INTO gpu_windows (report_pk, account_id, host, gpu_key, gpu_index, uuid, gpu_name,"
                    " util_avg, util_max, idle_fraction, mem_used_mib, mem_total_mib, temperature_c, power_w,"
                    " power_limit_w, cost_per_hour, window_seconds, window_end, processes)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)");
                if (!stmt) return stmt.error();
                stmt->Bind(1, report_pk)
                    .Bind(2, req.account_id)
                    .Bind(3, std::string_view(rep.hostname))
                    .Bind(4, std::string_view(g.gpu_key))
                    .Bind(5, g.gpu_index);
                if (g.uuid.empty()) {
                    stmt->BindNull(6);
                } else {
                    stmt->Bind(6, std::string_view(g.uuid));
                }
                stmt->Bind(7, std::string_view(g.name))
                    .Bind(8, g.util_avg)
                    .Bind(9, g.util_max)
                    .Bind(10, g.idle_fraction)
                    .Bind(11, g.mem_used_mib)
                    .Bind(12, g.mem_total_mib)
                    .Bind(13, g.temperature_c)
                    .Bind(14, g.power_w)
                    .Bind(15, g.power_limit_w)
                    .Bind(16, g.cost_per_hour)
                    .Bind(17, window_seconds)
                    .Bind(18, std::string_view(window_end))
                    .Bind(19, std::string_view(g.processes_json));
                if (auto r = stmt->Run(); !r) return r.error();
            }
            for (const auto& g : rep.gpus) {
                auto stmt = db.Prepare(
                    "INSERT INTO gpus_seen (account_id, gpu_key, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3)"
                    " ON CONFLICT (account_id, gpu_key) DO UPDATE SET last_seen = excluded.last_seen"
                    " WHERE excluded.last_seen > gpus_seen.last_seen");
                if (!stmt) return stmt.error();
                stmt->Bind(1, req.account_id).Bind(2, std::string_view(g.gpu_key)).Bind(3, std::string_view(now));
                if (auto r = stmt->Run(); !r) return r.error();
            }
            return IngestOutcome{false};
        },
        std::move(done));
}

}  // namespace gpuopt::store::sqlite
