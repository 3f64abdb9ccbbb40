// SqliteStore: job leases and runs (store/leases.hpp). One machine has one server on its SQLite file, so
// its leases are always granted; they are kept all the same, so that the job runs are recorded.
#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"

namespace gpuopt::store::sqlite {

void SqliteStore::AcquireLease(std::string job, std::string holder, SysSeconds now, std::chrono::seconds ttl,
                               Callback<std::optional<LeaseGrant>> done) {
    Submit<std::optional<LeaseGrant>>(
        [job = std::move(job), holder = std::move(holder), now,
         ttl](Connection& db) -> Result<std::optional<LeaseGrant>> {
            const SysSeconds expires = now + ttl;
            // Free, expired or ours: taken (a new token unless we held it and it had not run out).
            auto st = db.Prepare(
                "INSERT INTO job_leases (job, holder, token, expires) VALUES (?1, ?2, 1, ?3)"
                " ON CONFLICT (job) DO UPDATE SET"
                " token = CASE WHEN job_leases.holder = excluded.holder AND job_leases.expires > ?4"
                " THEN job_leases.token ELSE job_leases.token + 1 END,"
                " holder = excluded.holder, expires = excluded.expires"
                " WHERE job_leases.holder = excluded.holder OR job_leases.expires <= ?4"
                " RETURNING token");
            if (!st) return st.error();
            st->Bind(1, std::string_view(job))
                .Bind(2, std::string_view(holder))
                .Bind(3, FormatUtc(expires))
                .Bind(4, FormatUtc(now));
            auto row = st->Step();
            if (!row) return row.error();
            if (!*row) return std::optional<LeaseGrant>{};
            const int64_t token = st->Int(0);
            if (auto rest = st->Step(); !rest) return rest.error();  // finish the statement
            return std::optional<LeaseGrant>(LeaseGrant{token, expires});
        },
        std::move(done));
}

void SqliteStore::ReleaseLease(std::string job, std::string holder, Callback<void> done) {
    Submit<void>(
        [job = std::move(job), holder = std::move(holder)](Connection& db) -> Result<void> {
            // Expired at once; the token stays, so the next holder's is greater.
            auto st = db.Prepare("UPDATE job_leases SET expires = '' WHERE job = ?1 AND holder = ?2");
            if (!st) return st.error();
            st->Bind(1, std::string_view(job)).Bind(2, std::string_view(holder));
            return st->Run();
        },
        std::move(done));
}

void SqliteStore::RecordJobRun(JobRun run, Callback<bool> done) {
    Submit<bool>(
        [run = std::move(run)](Connection& db) -> Result<bool> {
            bool current = false;
            {
                auto st = db.Prepare("SELECT 1 FROM job_leases WHERE job = ?1 AND token = ?2 AND holder = ?3");
                if (!st) return st.error();
                st->Bind(1, std::string_view(run.job)).Bind(2, run.token).Bind(3, std::string_view(run.holder));
                auto row = st->Step();
                if (!row) return row.error();
                current = *row;
            }
            auto st = db.Prepare(
                "INSERT INTO job_runs (job, token, holder, started, finished, fenced, result)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
            if (!st) return st.error();
            st->Bind(1, std::string_view(run.job))
                .Bind(2, run.token)
                .Bind(3, std::string_view(run.holder))
                .Bind(4, FormatUtc(run.started))
                .Bind(5, FormatUtc(run.finished))
                .Bind(6, static_cast<int64_t>(current ? 0 : 1))
                .Bind(7, std::string_view(run.result).substr(0, 500));
            if (auto r = st->Run(); !r) return r.error();
            return current;
        },
        std::move(done));
}

namespace {

JobRun ReadJobRun(const Statement& s) {
    return JobRun{s.Int(0),
                  s.Text(1),
                  s.Int(2),
                  s.Text(3),
                  ParseUtc(s.Text(4)).value_or(SysSeconds{}),
                  ParseUtc(s.Text(5)).value_or(SysSeconds{}),
                  s.Text(6)};
}

}  // namespace

Result<std::vector<JobRun>> SqliteStore::ListJobRuns(const std::string& job, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto st = (*db)->Prepare(
        "SELECT id, job, token, holder, started, finished, result FROM job_runs WHERE job = ?1"
        " ORDER BY id DESC LIMIT ?2");
    if (!st) return st.error();
    st->Bind(1, std::string_view(job)).Bind(2, static_cast<int64_t>(limit));
    return Collect<JobRun>(*st, ReadJobRun);
}

Result<std::vector<JobRun>> SqliteStore::LatestJobRuns() {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto st = (*db)->Prepare(
        "SELECT id, job, token, holder, started, finished, result FROM job_runs"
        " WHERE id IN (SELECT MAX(id) FROM job_runs GROUP BY job) ORDER BY job");
    if (!st) return st.error();
    return Collect<JobRun>(*st, ReadJobRun);
}

}  // namespace gpuopt::store::sqlite
