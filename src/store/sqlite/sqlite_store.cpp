#include "store/sqlite/sqlite_store.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <mutex>
#include <set>

#include "store/acquisition.hpp"
#include "store/sqlite/migrations.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"

namespace gpuopt::store::sqlite {

namespace {

Result<Account> ReadAccount(Statement& stmt) {
    Account a;
    a.id = stmt.Int(0);
    a.email = stmt.Text(1);
    a.tier = StoredTier(stmt.TextView(2));
    a.key_prefix = stmt.Text(3);
    a.created_at = stmt.Text(4);
    return a;
}

constexpr const char* kSelectAccount = "SELECT id, email, tier, api_key_prefix, created_at FROM accounts ";

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Life cycle

SqliteStore::SqliteStore(Options options) : options_(std::move(options)) {
    acquisition_ = std::make_unique<AcquisitionStore>(*this);
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const Options& options) {
    // Memory statistics take a process-wide mutex on every allocation inside SQLite; we never read
    // them. This must happen before the library initialises, hence once, before the first open.
    static std::once_flag configure_once;
    std::call_once(configure_once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
    std::unique_ptr<SqliteStore> store(new SqliteStore(options));
    auto db = Connection::Open(options.path, true);
    if (!db) return db.error();
    if (auto r = (*db)->Exec("PRAGMA journal_mode=WAL"); !r) return r.error();
    if (auto r = Migrate(**db, UtcNow()); !r) return r.error();
    if (auto r = (*db)->Exec("PRAGMA wal_autocheckpoint=0"); !r) return r.error();
    // After every commit SQLite tells the writer how many frames the WAL holds (see WriterLoop).
    sqlite3_wal_hook((*db)->raw(),
                     [](void* self, sqlite3*, const char*, int frames) {
                         static_cast<SqliteStore*>(self)->wal_frames_.store(frames, std::memory_order_relaxed);
                         return SQLITE_OK;
                     },
                     store.get());
    auto checkpoint_db = Connection::Open(options.path, false);
    if (!checkpoint_db) return checkpoint_db.error();
    store->writer_db_ = std::move(*db);
    store->checkpoint_db_ = std::move(*checkpoint_db);
    store->writer_ = std::thread([s = store.get()] { s->WriterLoop(); });
    store->checkpointer_ = std::thread([s = store.get()] { s->CheckpointLoop(); });
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
    checkpoint_cv_.notify_all();
    if (checkpointer_.joinable()) checkpointer_.join();
    closed_ = true;
    std::lock_guard lock(read_mu_);
    readers_.clear();
    if (writer_db_) (void)writer_db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)");  // leave a tidy file behind
    checkpoint_db_.reset();
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
        {
            std::lock_guard gate(write_gate_);
            RunBatch(batch);
        }
        batch.clear();
    }
}

void SqliteStore::CheckpointLoop() {
    // A passive checkpoint copies what it can without blocking the writer or readers. Two things
    // need help under a steady stream of commits:
    //  - SQLite fsyncs the database file only after a checkpoint that copied the whole WAL, which
    //    then rarely happens, so copied pages pile up unsynced; the database is synced here after
    //    every checkpoint instead, away from the writer, so that little is left for later.
    //  - The WAL is never completely copied at the moment a transaction starts, so SQLite never
    //    rewinds it and it grows without bound. Past wal_restart_frames, a second checkpoint runs
    //    with the writer held between two batches: it copies only what arrived during the first and
    //    syncs a few pages, and the writer's next transaction rewinds the log.
    sqlite3* db = checkpoint_db_->raw();
    auto checkpoint = [db] {
        const int rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY) spdlog::warn("store: checkpoint failed ({})", rc);
    };
    std::unique_lock lock(mu_);
    while (!stopping_) {
        checkpoint_cv_.wait_for(lock, options_.checkpoint_interval, [&] { return stopping_; });
        if (stopping_) break;
        const uint64_t commits = commits_.load();
        if (commits == commits_at_last_checkpoint_) continue;
        commits_at_last_checkpoint_ = commits;
        lock.unlock();
        checkpoint();
        sqlite3_file* file = nullptr;
        if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &file) == SQLITE_OK && file != nullptr &&
            file->pMethods != nullptr) {
            if (const int rc = file->pMethods->xSync(file, SQLITE_SYNC_NORMAL); rc != SQLITE_OK) {
                spdlog::warn("store: database sync failed ({})", rc);
            }
        }
        if (wal_frames_.load(std::memory_order_relaxed) >= options_.wal_restart_frames) {
            std::lock_guard gate(write_gate_);
            checkpoint();
            wal_frames_.store(0, std::memory_order_relaxed);
        }
        lock.lock();
    }
}

void SqliteStore::RunBatch(std::vector<std::unique_ptr<Job>>& batch) {
    Connection& db = *writer_db_;
    auto fail_all = [&](const Error& e) {
        (void)db.Exec("ROLLBACK");
        seen_written_.clear();  // it may describe rows that were rolled back
        coverage_.clear();
        writer_healthy_ = false;
        for (auto& job : batch) job->Fail(e);
    };
    // Fast path: no savepoints. Every job promises that an expected failure (a duplicate, a limit, a
    // missing row) happens before its first write or is its first statement, which SQLite undoes by
    // itself. Only an internal error can leave a job half-written; then the whole transaction is
    // rolled back and the batch runs again with a savepoint around each job.
    bool careful = false;
    for (;;) {
        if (auto r = db.Run("BEGIN IMMEDIATE"); !r) return fail_all(r.error());
        bool retry = false;
        for (auto& job : batch) {
            if (careful) {
                if (auto r = db.Run("SAVEPOINT job"); !r) return fail_all(r.error());
            }
            job->Run(db);
            if (careful) {
                if (!job->Succeeded()) {
                    if (auto r = db.Run("ROLLBACK TO job"); !r) return fail_all(r.error());
                    coverage_.clear();  // the job's rows are gone
                }
                if (auto r = db.Run("RELEASE job"); !r) return fail_all(r.error());
            } else if (job->FailedInternally()) {
                retry = true;
                break;
            }
        }
        if (retry) {
            if (auto r = db.Run("ROLLBACK"); !r) return fail_all(r.error());
            seen_written_.clear();
            coverage_.clear();
            careful = true;
            continue;
        }
        break;
    }
    if (auto r = db.Run("COMMIT"); !r) return fail_all(r.error());
    writer_healthy_ = true;
    commits_.fetch_add(1);
    for (auto& job : batch) job->Complete();
}

// ---------------------------------------------------------------------------------------------------
// Reads

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

std::optional<Account> SqliteStore::CachedAccountByKeyHash(const std::string& key_hash) {
    return account_cache_.Get(key_hash);
}

Result<Account> SqliteStore::FindAccountByKeyHash(const std::string& key_hash) {
    if (auto cached = account_cache_.Get(key_hash)) return std::move(*cached);
    const auto read_at = std::chrono::steady_clock::now();
    auto db = LeaseReader();
    if (!db) return db.error();
    // The account of an active key, with that key's prefix (an account may have several keys).
    static const std::string sql =
        "SELECT a.id, a.email, a.tier, k.key_prefix, a.created_at FROM api_keys k JOIN accounts a ON a.id = "
        "k.account_id"
        " WHERE k.key_hash = ?1 AND k.revoked_at IS NULL AND a.disabled_at IS NULL";
    auto stmt = (*db)->Prepare(sql.c_str());
    if (!stmt) return stmt.error();
    stmt->Bind(1, std::string_view(key_hash));
    auto row = stmt->Step();
    if (!row) return row.error();
    if (!*row) return Error{ErrorCode::kNotFound, "no such account", {}};  // unknown keys are never cached
    auto account = ReadAccount(*stmt);
    if (account.ok()) account_cache_.Put(key_hash, *account, read_at);
    return account;
}

Result<Account> SqliteStore::GetAccount(int64_t id) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string(kSelectAccount) + "WHERE id = ?1 AND deleted_at IS NULL";
    auto stmt = (*db)->Prepare(sql.c_str());
    if (!stmt) return stmt.error();
    stmt->Bind(1, id);
    auto row = stmt->Step();
    if (!row) return row.error();
    if (!*row) return Error{ErrorCode::kNotFound, "no such account", {}};
    return ReadAccount(*stmt);
}

void SqliteStore::ForgetCachedAccounts() { account_cache_.Clear(); }

Result<Stats> SqliteStore::GetStats(const StatsQuery& q) {
    auto db = LeaseReader();
    if (!db) return db.error();
    Stats s;
    for (Tier tier : kTiers) s.customers_by_tier[std::string(NameOf(tier))] = 0;
    {
        auto stmt = (*db)->Prepare("SELECT tier, COUNT(*) FROM accounts WHERE deleted_at IS NULL GROUP BY tier");
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
        auto stmt = (*db)->Prepare("SELECT COUNT(*) FROM gpus_seen WHERE last_seen >= ?1");
        if (!stmt) return stmt.error();
        stmt->Bind(1, since);
        if (auto row = stmt->Step(); !row) return row.error();
        s.gpus_last_24h = stmt->Int(0);
    }
    {
        // Idle cost over stored history: the hourly roll-up, plus the windows it has not merged yet.
        // Idle time of a window: the agent's measured idle fraction, or the whole window when only an
        // average was reported and it is under the threshold (SPEC §6).
        auto stmt = (*db)->Prepare(
            "SELECT (SELECT COALESCE(SUM(idle_cost_usd), 0) FROM gpu_days) +"
            " (SELECT COALESCE(SUM((CASE WHEN idle_fraction IS NOT NULL THEN idle_fraction"
            " WHEN util_avg < ?1 THEN 1.0 ELSE 0.0 END) * COALESCE(counted_ms / 1000.0, window_seconds) * "
            "cost_per_hour), 0)"
            " / 3600.0"
            " FROM gpu_windows WHERE id > (SELECT watermark FROM rollup_state WHERE id = 1))");
        if (!stmt) return stmt.error();
        stmt->Bind(1, q.idle_threshold_percent);
        if (auto row = stmt->Step(); !row) return row.error();
        s.total_idle_cost = stmt->Double(0);
        s.total_customer_savings = s.total_idle_cost * q.recoverable_fraction;
    }
    {
        auto stmt = (*db)->Prepare(
            "SELECT tier, COUNT(*) FROM subscriptions WHERE status IN ('active', 'grace') GROUP BY tier");
        if (!stmt) return stmt.error();
        for (;;) {
            auto row = stmt->Step();
            if (!row) return row.error();
            if (!*row) break;
            s.active_subscriptions_by_tier[stmt->Text(0)] = stmt->Int(1);
        }
    }
    {
        using namespace std::chrono;
        const year_month_day today{floor<days>(q.now)};
        const SysSeconds month_start = sys_days{today.year() / today.month() / 1};
        auto stmt = (*db)->Prepare(
            "SELECT COALESCE(SUM(paid_amount), 0) FROM payments WHERE status = 'completed' AND completed_at >= ?1");
        if (!stmt) return stmt.error();
        stmt->Bind(1, FormatUtc(month_start));
        if (auto row = stmt->Step(); !row) return row.error();
        s.revenue_this_month = stmt->Double(0);
    }
    {
        auto stmt = (*db)->Prepare(
            "SELECT gateway, status, COUNT(*), COALESCE(SUM(amount), 0) FROM payments GROUP BY gateway, status ORDER "
            "BY gateway, status");
        if (!stmt) return stmt.error();
        for (;;) {
            auto row = stmt->Step();
            if (!row) return row.error();
            if (!*row) break;
            s.payments.push_back({stmt->Text(0), stmt->Text(1), stmt->Int(2), stmt->Double(3)});
        }
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
                .Bind(4, NameOf(a.tier))
                .Bind(5, std::string_view(created));
            if (auto r = stmt->Run(); !r) return r.error();  // kAlreadyExists: nothing written
            const int64_t id = db.LastInsertId();
            {
                auto key = db.Prepare(
                    "INSERT INTO api_keys (account_id, name, key_hash, key_prefix, created_at)"
                    " VALUES (?1, 'default', ?2, ?3, ?4)");
                if (!key) return key.error();
                key->Bind(1, id)
                    .Bind(2, std::string_view(a.key_hash))
                    .Bind(3, std::string_view(a.key_prefix))
                    .Bind(4, std::string_view(created));
                if (auto r = key->Run(); !r) return r.error();
            }
            if (auto r = AppendRevenue(db, id, "signup", a.tier, 0, "", std::nullopt, a.now, ""); !r) return r.error();
            if (a.welcome) {
                OutboxMessage welcome = *a.welcome;
                welcome.account_id = id;
                if (auto r = InsertOutbox(db, welcome, a.now); !r) return r.error();
            }
            return Account{id, a.email, a.tier, a.key_prefix, created};
        },
        std::move(done));
}

void SqliteStore::SetTier(std::string email, Tier tier, Callback<Account> done) {
    Submit<Account>(
        [email = std::move(email), tier](Connection& db) -> Result<Account> {
            {
                auto stmt = db.Prepare("UPDATE accounts SET tier = ?1 WHERE email = ?2");
                if (!stmt) return stmt.error();
                stmt->Bind(1, NameOf(tier)).Bind(2, std::string_view(email));
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
        Callback<Account>([this, done = std::move(done)](Result<Account> r) {
            if (r.ok()) ForgetCachedAccounts();  // before the caller hears of the change
            done(std::move(r));
        }));
}

void SqliteStore::IngestReport(IngestRequest req, Callback<IngestOutcome> done) {
    Submit<IngestOutcome>([this, req = std::move(req)](Connection& db) { return IngestOne(db, req); }, std::move(done));
}

namespace {

constexpr int kGpuColumns = 28;

// "INSERT INTO gpu_windows (...) VALUES (?1, ..., ?19), (?20, ...)" for `rows` rows: one statement per
// report instead of one per GPU.
std::string GpuInsertSql(size_t rows) {
    std::string sql =
        "INSERT INTO gpu_windows (report_pk, account_id, host, gpu_key, gpu_index, uuid, gpu_name, util_avg, util_max,"
        " idle_fraction, mem_used_mib, mem_total_mib, temperature_c, power_w, power_limit_w, cost_per_hour,"
        " window_seconds, window_end, processes, idle_held_fraction, mem_util, sm_clock_mhz, window_end_ms, window_ms,"
        " counted_ms, host_from_address, telemetry, sm_active) VALUES ";
    int param = 1;
    for (size_t r = 0; r < rows; ++r) {
        sql += r == 0 ? "(" : ", (";
        for (int c = 0; c < kGpuColumns; ++c) {
            if (c > 0) sql += ", ";
            sql += '?';
            sql += std::to_string(param++);
        }
        sql += ")";
    }
    return sql;
}

}  // namespace

Result<Coverage*> SqliteStore::CoverageOf(Connection& db, int64_t account_id, const std::string& gpu_key,
                                          const std::string& key) {
    if (auto it = coverage_.find(key); it != coverage_.end()) return &it->second;
    int64_t covered = -1;
    int64_t from_report = -1;
    {
        auto st =
            db.Prepare("SELECT covered_until_ms, last_report_pk FROM gpus_seen WHERE account_id = ?1 AND gpu_key = ?2");
        if (!st) return st.error();
        st->Bind(1, account_id).Bind(2, std::string_view(gpu_key));
        auto row = st->Step();
        if (!row) return row.error();
        if (*row) {
            if (!st->IsNull(0)) covered = st->Int(0);
            from_report = st->IsNull(1) ? 0 : st->Int(1);
        }
    }
    if (from_report >= 0) {
        // gpus_seen is refreshed about once a minute: the windows stored since it last was say the rest
        // (a short scan along the report index).
        // Rows from before migration 6 have only the whole-second text.
        auto st = db.Prepare(
            "SELECT window_end_ms, window_end FROM gpu_windows WHERE report_pk >= ?1 AND account_id = ?2 AND gpu_key = "
            "?3");
        if (!st) return st.error();
        st->Bind(1, from_report).Bind(2, account_id).Bind(3, std::string_view(gpu_key));
        for (;;) {
            auto row = st->Step();
            if (!row) return row.error();
            if (!*row) break;
            const int64_t end =
                st->IsNull(0) ? SysMillis(ParseUtc(st->TextView(1)).value_or(SysSeconds{})).time_since_epoch().count()
                              : st->Int(0);
            covered = std::max(covered, end);
        }
    }
    if (coverage_.size() >= kMaxSeenEntries) coverage_.clear();
    Coverage& c = coverage_[key];
    c.floor = covered;
    return &c;
}

Result<IngestOutcome> SqliteStore::IngestOne(Connection& db, const IngestRequest& req) {
    const UsageReport& rep = req.report;
    const std::string now = FormatUtc(req.now);
    // With a GPU limit, a replayed report must be recognised before the limit is applied.
    if (rep.report_id && req.gpu_limit) {
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
        // ON CONFLICT DO NOTHING: a replay writes nothing and is told apart by zero changes.
        auto stmt = db.Prepare(
            "INSERT INTO usage_reports (account_id, report_id, agent_id, hostname, agent_version, cloud,"
            " window_start, window_end, samples, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            " ON CONFLICT (account_id, report_id) DO NOTHING");
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
        if (db.Changes() == 0) return IngestOutcome{true};
        report_pk = db.LastInsertId();
    }
    if (!rep.gpus.empty()) {
        // Each GPU's window counts only for the time its earlier windows have not covered: overlapping
        // windows (bursts, a replay racing a retry, two agents on one host) are merged, not added. A report
        // without a window covers the time since the GPU's previous one, up to implicit_window_max.
        // A report built with whole seconds only (window_*_ms left at the epoch, which no report can be).
        const bool whole_seconds = rep.window_end_ms == SysMillis{};
        const int64_t end_ms =
            (whole_seconds ? SysMillis(rep.window_end) : rep.window_end_ms).time_since_epoch().count();
        const int64_t start_ms =
            (whole_seconds ? SysMillis(rep.window_start) : rep.window_start_ms).time_since_epoch().count();
        const int64_t sent_ms = std::max<int64_t>(0, end_ms - start_ms);
        struct Span {
            int64_t window_ms;
            int64_t counted_ms;
            int64_t counted_end_ms;  // the counted time is [counted_end_ms - counted_ms, counted_end_ms]
        };
        std::vector<Span> spans;
        spans.reserve(rep.gpus.size());
        for (const auto& g : rep.gpus) {
            const std::string key = std::to_string(req.account_id) + '\x1f' + g.gpu_key;
            auto coverage = CoverageOf(db, req.account_id, g.gpu_key, key);
            if (!coverage) return coverage.error();
            Coverage& c = **coverage;
            int64_t from_ms = end_ms - sent_ms;
            if (rep.implicit_window && c.High() >= 0) {
                // Since the GPU's previous report, capped; never more than really passed.
                from_ms = std::max(c.High(), end_ms - static_cast<int64_t>(req.implicit_window_max.count()));
                from_ms = std::min(from_ms, end_ms);
            }
            const auto claimed = c.Claim(from_ms, end_ms);
            spans.push_back(
                {end_ms - from_ms, claimed ? claimed->second - claimed->first : 0, claimed ? claimed->second : end_ms});
        }

        if (gpu_insert_sql_.size() <= rep.gpus.size()) gpu_insert_sql_.resize(rep.gpus.size() + 1);
        std::string& sql = gpu_insert_sql_[rep.gpus.size()];
        if (sql.empty()) sql = GpuInsertSql(rep.gpus.size());
        auto stmt = db.Prepare(sql.c_str());
        if (!stmt) return stmt.error();
        int base = 0;
        for (size_t i = 0; i < rep.gpus.size(); ++i) {
            const auto& g = rep.gpus[i];
            const Span& span = spans[i];
            stmt->Bind(base + 1, report_pk)
                .Bind(base + 2, req.account_id)
                .Bind(base + 3, std::string_view(rep.hostname))
                .Bind(base + 4, std::string_view(g.gpu_key))
                .Bind(base + 5, g.gpu_index);
            if (g.uuid.empty()) {
                stmt->BindNull(base + 6);
            } else {
                stmt->Bind(base + 6, std::string_view(g.uuid));
            }
            stmt->Bind(base + 7, std::string_view(g.name))
                .Bind(base + 8, g.util_avg)
                .Bind(base + 9, g.util_max)
                .Bind(base + 10, g.idle_fraction)
                .Bind(base + 11, g.mem_used_mib)
                .Bind(base + 12, g.mem_total_mib)
                .Bind(base + 13, g.temperature_c)
                .Bind(base + 14, g.power_w)
                .Bind(base + 15, g.power_limit_w)
                .Bind(base + 16, g.cost_per_hour)
                .Bind(base + 17, std::max<int64_t>(1, (span.window_ms + 999) / 1000))
                .Bind(base + 18, FormatUtc(std::chrono::floor<std::chrono::seconds>(
                                     SysMillis(std::chrono::milliseconds(span.counted_end_ms)))))
                .Bind(base + 19, std::string_view(g.processes_json))
                .Bind(base + 20, g.idle_held_fraction)
                .Bind(base + 21, g.mem_util)
                .Bind(base + 22, g.sm_clock_mhz)
                .Bind(base + 23, span.counted_end_ms)
                .Bind(base + 24, span.window_ms)
                .Bind(base + 25, span.counted_ms)
                .Bind(base + 26, static_cast<int64_t>(rep.host_from_address ? 1 : 0));
            if (g.telemetry_json.empty()) {
                stmt->BindNull(base + 27);
            } else {
                stmt->Bind(base + 27, std::string_view(g.telemetry_json));
            }
            stmt->Bind(base + 28, g.sm_active);
            base += kGpuColumns;
        }
        if (auto r = stmt->Run(); !r) return r.error();
    }
    // gpus_seen only needs minute precision for a limit counted over hours, so a GPU that reports every
    // minute is written about once a minute, not once per report. seen_written_ belongs to this thread.
    for (const auto& g : rep.gpus) {
        std::string key = std::to_string(req.account_id) + '\x1f' + g.gpu_key;
        auto it = seen_written_.find(key);
        if (it != seen_written_.end() && req.now - it->second < kSeenRefresh && req.now >= it->second) continue;
        auto stmt = db.Prepare(
            "INSERT INTO gpus_seen (account_id, gpu_key, first_seen, last_seen, last_report_pk, covered_until_ms)"
            " VALUES (?1, ?2, ?3, ?3, ?4, ?5)"
            " ON CONFLICT (account_id, gpu_key) DO UPDATE SET last_seen = excluded.last_seen,"
            " last_report_pk = excluded.last_report_pk,"
            " covered_until_ms = MAX(COALESCE(gpus_seen.covered_until_ms, 0), excluded.covered_until_ms)"
            " WHERE excluded.last_seen > gpus_seen.last_seen");
        if (!stmt) return stmt.error();
        auto coverage = coverage_.find(key);
        stmt->Bind(1, req.account_id)
            .Bind(2, std::string_view(g.gpu_key))
            .Bind(3, std::string_view(now))
            .Bind(4, report_pk)
            .Bind(5, coverage != coverage_.end() ? coverage->second.High()
                                                 : SysMillis(rep.window_end).time_since_epoch().count());
        if (auto r = stmt->Run(); !r) return r.error();
        if (seen_written_.size() >= kMaxSeenEntries) seen_written_.clear();
        seen_written_[std::move(key)] = req.now;
    }
    return IngestOutcome{false};
}

}  // namespace gpuopt::store::sqlite
