// PgStore: job leases and runs (store/leases.hpp): the row lock of the lease's row decides between servers
// asking at the same moment.
#include "store/postgres/connection.hpp"
#include "store/postgres/pg_store.hpp"
#include "store/postgres/pg_store_internal.hpp"

namespace gpuopt::store::postgres {

void PgStore::AcquireLease(std::string job, std::string holder, SysSeconds now, std::chrono::seconds ttl,
                           Callback<std::optional<LeaseGrant>> done) {
    Submit<std::optional<LeaseGrant>>(
        [job = std::move(job), holder = std::move(holder), now,
         ttl](Connection& db) -> Result<std::optional<LeaseGrant>> {
            const SysSeconds expires = now + ttl;
            auto rows = db.Query(
                "INSERT INTO job_leases (job, holder, token, expires) VALUES ($1, $2, 1, $3)"
                " ON CONFLICT (job) DO UPDATE SET"
                " token = CASE WHEN job_leases.holder = excluded.holder AND job_leases.expires > $4"
                " THEN job_leases.token ELSE job_leases.token + 1 END,"
                " holder = excluded.holder, expires = excluded.expires"
                " WHERE job_leases.holder = excluded.holder OR job_leases.expires <= $4"
                " RETURNING token",
                Params().Add(job).Add(holder).Add(FormatUtc(expires)).Add(FormatUtc(now)));
            if (!rows) return rows.error();
            if (rows->empty()) return std::optional<LeaseGrant>{};
            return std::optional<LeaseGrant>(LeaseGrant{rows->Int(0, 0), expires});
        },
        std::move(done));
}

void PgStore::ReleaseLease(std::string job, std::string holder, Callback<void> done) {
    Submit<void>(
        [job = std::move(job), holder = std::move(holder)](Connection& db) -> Result<void> {
            auto r = db.Query("UPDATE job_leases SET expires = '' WHERE job = $1 AND holder = $2",
                              Params().Add(job).Add(holder));
            if (!r) return r.error();
            return {};
        },
        std::move(done));
}

void PgStore::RecordJobRun(JobRun run, Callback<bool> done) {
    Submit<bool>(
        [run = std::move(run)](Connection& db) -> Result<bool> {
            auto rows = db.Query(
                "INSERT INTO job_runs (job, token, holder, started, finished, result, fenced)"
                " SELECT $1, $2, $3, $4, $5, $6,"
                " CASE WHEN EXISTS (SELECT 1 FROM job_leases WHERE job = $1 AND token = $2"
                " AND holder = $3) THEN 0 ELSE 1 END RETURNING fenced",
                Params()
                    .Add(run.job)
                    .Add(run.token)
                    .Add(run.holder)
                    .Add(FormatUtc(run.started))
                    .Add(FormatUtc(run.finished))
                    .Add(run.result.substr(0, 500)));
            if (!rows) return rows.error();
            return rows->Int(0, 0) == 0;
        },
        std::move(done));
}

namespace {

JobRun ReadJobRun(const Rows& r, int i) {
    return JobRun{r.Int(i, 0),     std::string(r.Text(i, 1)), r.Int(i, 2), std::string(r.Text(i, 3)), TimeAt(r, i, 4),
                  TimeAt(r, i, 5), std::string(r.Text(i, 6))};
}

}  // namespace

Result<std::vector<JobRun>> PgStore::ListJobRuns(const std::string& job, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto rows = (*db)->Query(
        "SELECT id, job, token, holder, started, finished, result FROM job_runs WHERE job = $1"
        " ORDER BY id DESC LIMIT $2",
        Params().Add(job).Add(static_cast<int64_t>(limit)));
    if (!rows) return rows.error();
    return CollectRows<JobRun>(*rows, ReadJobRun);
}

Result<std::vector<JobRun>> PgStore::LatestJobRuns() {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto rows = (*db)->Query(
        "SELECT DISTINCT ON (job) id, job, token, holder, started, finished, result FROM job_runs"
        " ORDER BY job, id DESC",
        Params());
    if (!rows) return rows.error();
    return CollectRows<JobRun>(*rows, ReadJobRun);
}

}  // namespace gpuopt::store::postgres
