#include "store/postgres/pg_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_set>

#include "store/acquisition.hpp"
#include "store/postgres/connection.hpp"
#include "store/postgres/pg_store_internal.hpp"
#include "store/postgres/schema.hpp"

namespace gpuopt::store::postgres {

namespace {

// Held (transaction-scoped) by every ingest batch in the cluster: see pg_store.hpp.
constexpr const char* kIngestLock = "SELECT pg_advisory_xact_lock(7460002)";

constexpr const char* kSelectAccount = "SELECT id, email, tier, api_key_prefix, created_at FROM accounts ";

Account ReadAccount(const Rows& rows, int row) {
    return Account{rows.Int(row, 0), std::string(rows.Text(row, 1)), StoredTier(rows.Text(row, 2)),
                   std::string(rows.Text(row, 3)), std::string(rows.Text(row, 4))};
}

std::string SeenKey(int64_t account_id, std::string_view gpu_key) {
    std::string key = std::to_string(account_id);
    key += '\x1f';
    key += gpu_key;
    return key;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Life cycle

PgStore::PgStore(Options options) : options_(std::move(options)) {
    acquisition_ = std::make_unique<AcquisitionStore>(*this);
}

Result<std::unique_ptr<Connection>> PgStore::Connect() {
    Connection::Options o;
    o.url = options_.url;
    o.statement_timeout = options_.statement_timeout;
    return Connection::Open(o);
}

Result<std::unique_ptr<PgStore>> PgStore::Open(const Options& options) {
    std::unique_ptr<PgStore> store(new PgStore(options));
    auto db = store->Connect();
    if (!db) return db.error();
    const SysSeconds now = UtcNow();
    if (auto r = Migrate(**db, now); !r) return r.error();
    if (auto r = EnsureDayPartitions(**db, now - std::chrono::days(1),
                                     now + std::chrono::days(std::max(0, options.partitions_ahead_days)));
        !r) {
        return r.error();
    }
    store->writer_db_ = std::move(*db);
    store->writer_ = std::thread([s = store.get()] { s->WriterLoop(); });
    return store;
}

PgStore::~PgStore() { Close(); }

void PgStore::Close() {
    {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        stopping_ = true;
        cv_.notify_all();
    }
    if (writer_.joinable()) writer_.join();
    if (listener_.joinable()) listener_.join();  // it sees stopping_ within one poll
    closed_ = true;
    std::lock_guard lock(read_mu_);
    readers_.clear();
    read_cv_.notify_all();
    writer_db_.reset();
}

void PgStore::WriterLoop() {
    // Under load, the clients a commit answered send their next reports right away, and a transaction
    // started for the first of them alone costs a whole commit of its own (round trips and a WAL flush)
    // while the rest queue behind it. So when the last batch was large and the queue holds less than half
    // as much, the writer waits a moment for the rest. An idle or lightly loaded store never waits.
    constexpr size_t kGatherFrom = 8;
    constexpr auto kGather = std::chrono::microseconds(1500);
    std::vector<std::unique_ptr<Job>> batch;
    size_t last = 0;
    for (;;) {
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, and everything queued has been written
            if (last >= kGatherFrom && queue_.size() < last / 2) {
                cv_.wait_for(lock, kGather, [&] { return stopping_ || queue_.size() >= last / 2; });
            }
            while (!queue_.empty() && batch.size() < options_.max_batch) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        last = batch.size();
        RunBatch(batch);
        batch.clear();
    }
}

Result<void> PgStore::EnsurePartitions(Connection& db, SysSeconds from, SysSeconds to) {
    using namespace std::chrono;
    bool missing = false;
    for (auto day = floor<days>(from); day <= floor<days>(to); day += days(1)) {
        if (!partitions_.contains(day.time_since_epoch().count())) missing = true;
    }
    if (!missing) return {};
    if (auto r = EnsureDayPartitions(db, from, to); !r) return r;
    for (auto day = floor<days>(from); day <= floor<days>(to); day += days(1)) {
        partitions_[day.time_since_epoch().count()] = true;
    }
    return {};
}

void PgStore::RunBatch(std::vector<std::unique_ptr<Job>>& batch) {
    auto fail_all = [&](const Error& e) {
        writer_healthy_ = false;
        for (auto& job : batch) job->Fail(e);
    };
    bool careful = false;
    Error last{ErrorCode::kUnavailable, "The store cannot write now; nothing was changed. Retry later", {}};
    // A lost connection, a deadlock or a serialization failure undoes the whole transaction: it runs again
    // (on a new connection when the old one is gone), a few times. An internal error in the bulk ingest
    // makes it run again with each report on its own, so one bad report cannot sink its neighbours.
    for (int attempt = 0; attempt < 4; ++attempt) {
        if (!writer_db_ || !writer_db_->Healthy()) {
            auto db = Connect();
            if (!db) {
                last = db.error();
                std::this_thread::sleep_for(std::chrono::milliseconds(100 << attempt));
                continue;
            }
            writer_db_ = std::move(*db);
            partitions_.clear();
        }
        // Partitions are made outside the batch's transaction: a failed DDL would abort it.
        const SysSeconds now = UtcNow();
        if (auto r = EnsurePartitions(*writer_db_, now - std::chrono::days(1),
                                      now + std::chrono::days(std::max(0, options_.partitions_ahead_days)));
            !r) {
            spdlog::warn("store: cannot make the partitions of raw windows: {}", r.error().message);
        }
        for (auto& job : batch) job->Reset();
        auto r = RunInTransaction(batch, careful);
        if (r) {
            writer_healthy_ = true;
            commits_.fetch_add(1);
            for (auto& job : batch) job->Complete();
            return;
        }
        (void)writer_db_->Exec("ROLLBACK");
        coverage_.clear();  // it may describe rows that were rolled back
        last = r.error();
        if (r.error().code == ErrorCode::kInternal) {
            if (careful) break;
            careful = true;
            continue;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20 << attempt));
    }
    fail_all(last);
}

Result<void> PgStore::RunInTransaction(std::vector<std::unique_ptr<Job>>& batch, bool careful) {
    Connection& db = *writer_db_;
    // A batch with reports takes the ingest lock with its BEGIN. One that starts with reports opens its
    // transaction in the round trip of their first look, and one that ends with them commits in the round
    // trip of their rows (IngestGroup).
    const bool ingest =
        std::any_of(batch.begin(), batch.end(), [](const auto& job) { return job->Ingest() != nullptr; });
    bool begun = careful || batch.empty() || batch.front()->Ingest() == nullptr;
    if (begun) {
        if (auto r = db.Exec(ingest ? std::string("BEGIN; ") + kIngestLock : std::string("BEGIN")); !r) {
            return r.error();
        }
    }
    bool committed = false;
    std::vector<Job*> group;
    auto flush = [&](bool last) -> Result<void> {
        if (group.empty()) return {};
        if (careful) {
            // One report at a time under a savepoint: a report that fails gets its error alone.
            for (Job* job : group) {
                if (auto s = db.Exec("SAVEPOINT job"); !s) return s.error();
                std::vector<Job*> one{job};
                auto done = IngestGroup(db, one, false, false);
                if (!done) {
                    if (auto s = db.Exec("ROLLBACK TO SAVEPOINT job"); !s) return s.error();
                    coverage_.clear();
                    job->SetIngestResult(done.error());
                } else if (!job->Succeeded()) {
                    coverage_.clear();
                }
                if (auto s = db.Exec("RELEASE SAVEPOINT job"); !s) return s.error();
            }
        } else {
            auto done = IngestGroup(db, group, !begun, last);
            if (!done) return done.error();
            begun = true;
            committed = *done;
        }
        group.clear();
        return {};
    };
    for (auto& job : batch) {
        if (job->Ingest() != nullptr) {
            group.push_back(job.get());
            continue;
        }
        if (auto r = flush(false); !r) return r;
        if (auto s = db.Exec("SAVEPOINT job"); !s) return s.error();
        job->Run(db);
        if (!job->Succeeded()) {
            if (!db.Healthy()) return Error{ErrorCode::kUnavailable, "the connection was lost", {}};
            if (auto s = db.Exec("ROLLBACK TO SAVEPOINT job"); !s) return s.error();
            // A deadlock or serialization failure would strike again in this transaction: run it all again.
            const std::string& state = db.LastSqlState();
            if (state == "40P01" || state == "40001") return Error{ErrorCode::kUnavailable, "deadlock", {}};
        }
        if (auto s = db.Exec("RELEASE SAVEPOINT job"); !s) return s.error();
    }
    if (auto r = flush(true); !r) return r;
    if (!committed) {
        if (auto r = db.Exec("COMMIT"); !r) return r.error();
    }
    return {};
}

// ---------------------------------------------------------------------------------------------------
// Ingest: every report of a run of ingest jobs in one statement per table.

void PgStore::IngestReport(IngestRequest req, Callback<IngestOutcome> done) {
    auto job = std::make_unique<IngestJob>();
    job->request = std::move(req);
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

Result<bool> PgStore::IngestGroup(Connection& db, std::vector<Job*>& group, bool begin, bool commit) {
    constexpr size_t kMaxCoverageEntries = 200000;
    // Every ingest batch of the cluster in turn, from its BEGIN (RunInTransaction took the lock) to its commit.

    // 1. One look at what is stored: report ids seen before (replays), and how far each GPU of the batch
    // has its time counted (its mark; -1 when never seen). With it, ids for every report and window of the
    // batch, taken in commit order (RunInTransaction holds the lock); those of a replay or a refused report
    // are left unused.
    std::vector<bool> duplicate(group.size(), false);
    std::set<std::pair<int64_t, std::string>> stored;
    std::unordered_map<std::string, int64_t> marks;  // absent: never seen
    std::vector<int64_t> report_ids, window_ids;
    {
        ArrayLiteral accounts, ids, gpu_accounts, gpu_keys;
        std::unordered_set<std::string> asked;
        int64_t all_windows = 0;
        for (Job* job : group) {
            const IngestRequest& req = *job->Ingest();
            if (req.report.report_id) {
                accounts.Add(req.account_id);
                ids.Add(*req.report.report_id);
            }
            all_windows += static_cast<int64_t>(req.report.gpus.size());
            for (const auto& g : req.report.gpus) {
                if (!asked.insert(SeenKey(req.account_id, g.gpu_key)).second) continue;
                gpu_accounts.Add(req.account_id);
                gpu_keys.Add(g.gpu_key);
            }
        }
        // Planned for its arrays on every run: a generic plan made while the tables were still empty (a new
        // database, before autovacuum's first ANALYZE) would scan usage_reports and gpus_seen whole for every
        // batch from then on.
        static const std::string kLook =
            "SELECT 'r', u.account_id, u.report_id, 0 FROM usage_reports u"
            " JOIN unnest($1::bigint[], $2::text[]) AS k (account_id, report_id)"
            " ON u.account_id = k.account_id AND u.report_id = k.report_id"
            " UNION ALL SELECT 'g', s.account_id, s.gpu_key, COALESCE(s.covered_until_ms, -1)"
            " FROM gpus_seen s JOIN unnest($3::bigint[], $4::text[]) AS k (account_id, gpu_key)"
            " ON s.account_id = k.account_id AND s.gpu_key = k.gpu_key"
            " UNION ALL SELECT 'i', nextval('usage_reports_id_seq'), NULL, 0 FROM generate_series(1, $5::int)"
            " UNION ALL SELECT 'w', nextval('gpu_windows_id_seq'), NULL, 0 FROM generate_series(1, $6::int)";
        static const std::string kBegin = "BEGIN";
        static const std::string kLock = kIngestLock;
        Params look;
        look.Add(accounts.Text())
            .Add(ids.Text())
            .Add(gpu_accounts.Text())
            .Add(gpu_keys.Text())
            .Add(static_cast<int64_t>(group.size()))
            .Add(all_windows);
        std::vector<Connection::Statement> statements;
        if (begin) {
            statements.push_back({&kBegin, nullptr, true});
            statements.push_back({&kLock, nullptr, true});
        }
        statements.push_back({&kLook, &look, true});
        auto answers = db.Pipeline(statements);
        if (!answers) return answers.error();
        const Rows* rows = &answers->back();
        for (int i = 0; i < rows->size(); ++i) {
            const std::string_view kind = rows->Text(i, 0);
            if (kind == "r") {
                stored.emplace(rows->Int(i, 1), std::string(rows->Text(i, 2)));
            } else if (kind == "g") {
                marks[SeenKey(rows->Int(i, 1), rows->Text(i, 2))] = rows->Int(i, 3);
            } else if (kind == "i") {
                report_ids.push_back(rows->Int(i, 1));
            } else {
                window_ids.push_back(rows->Int(i, 1));
            }
        }
        if (report_ids.size() != group.size() || window_ids.size() != static_cast<size_t>(all_windows)) {
            return Error{ErrorCode::kInternal, "the sequences gave too few ids", {}};
        }
    }
    {
        for (size_t j = 0; j < group.size(); ++j) {
            const IngestRequest& req = *group[j]->Ingest();
            if (!req.report.report_id) continue;
            duplicate[j] = !stored.emplace(req.account_id, *req.report.report_id).second;
        }
    }

    // 2. Plans' GPU limits, counted with what the batch adds before each report.
    std::vector<bool> accepted(group.size(), false);
    {
        std::map<int64_t, std::set<std::string>> seen;  // per limited account: GPUs in its window
        for (size_t j = 0; j < group.size(); ++j) {
            const IngestRequest& req = *group[j]->Ingest();
            if (duplicate[j]) {
                group[j]->SetIngestResult(IngestOutcome{true});
                continue;
            }
            if (req.gpu_limit) {
                auto it = seen.find(req.account_id);
                if (it == seen.end()) {
                    auto rows = db.QueryPlannedEachTime(
                        "SELECT gpu_key FROM gpus_seen WHERE account_id = $1::bigint AND last_seen >= $2::text",
                        Params().Add(req.account_id).Add(FormatUtc(req.now - req.limit_window)));
                    if (!rows) return rows.error();
                    it = seen.emplace(req.account_id, std::set<std::string>{}).first;
                    for (int i = 0; i < rows->size(); ++i) it->second.emplace(rows->Text(i, 0));
                }
                std::set<std::string> with = it->second;
                for (const auto& g : req.report.gpus) with.insert(g.gpu_key);
                if (static_cast<int>(with.size()) > *req.gpu_limit) {
                    group[j]->SetIngestResult(
                        Error{ErrorCode::kTierLimitExceeded,
                              "Your plan monitors up to " + std::to_string(*req.gpu_limit) + " distinct GPUs per " +
                                  std::to_string(req.limit_window.count()) + " h; this report would make " +
                                  std::to_string(with.size()) + ". Upgrade to monitor more.",
                              {}});
                    continue;
                }
                it->second = std::move(with);
            }
            accepted[j] = true;
        }
    }

    // 3. How far each GPU's time is counted: the database's mark, unless this process wrote it last.
    size_t reports = 0;
    {
        std::unordered_set<std::string> asked;
        for (size_t j = 0; j < group.size(); ++j) {
            if (!accepted[j]) continue;
            const IngestRequest& req = *group[j]->Ingest();
            ++reports;
            for (const auto& g : req.report.gpus) asked.insert(SeenKey(req.account_id, g.gpu_key));
        }
        if (reports == 0) return false;
        if (coverage_.size() + asked.size() >= kMaxCoverageEntries) coverage_.clear();
        for (const auto& key : asked) {
            auto mark = marks.find(key);
            const int64_t db_mark = mark == marks.end() ? -1 : mark->second;
            auto it = coverage_.find(key);
            if (it != coverage_.end() && it->second.written == db_mark) continue;  // ours: spans still true
            Coverage& c = coverage_[key];
            c = Coverage{};
            c.floor = db_mark;
            c.written = db_mark;
        }
    }

    // 4. The rows.
    ArrayLiteral r_id, r_account, r_report, r_agent, r_host, r_version, r_cloud, r_start, r_end, r_samples, r_received;
    ArrayLiteral w_id, w_report, w_account, w_host, w_key, w_index, w_uuid, w_name, w_util, w_util_max, w_idle,
        w_mem_used, w_mem_total, w_temp, w_power, w_power_limit, w_cost, w_seconds, w_end, w_processes, w_idle_held,
        w_mem_util, w_clock, w_end_ms, w_window_ms, w_counted_ms, w_from_address, w_telemetry, w_sm_active;
    struct Seen {
        int64_t account_id;
        std::string gpu_key;
        std::string now;
        int64_t report_pk;
        int64_t window_id;
        std::string window_end;
    };
    std::map<std::string, Seen> seen_rows;  // one per GPU: the latest
    size_t next_report = 0, next_window = 0;
    for (size_t j = 0; j < group.size(); ++j) {
        if (!accepted[j]) continue;
        const IngestRequest& req = *group[j]->Ingest();
        const UsageReport& rep = req.report;
        const std::string now = FormatUtc(req.now);
        const int64_t report_pk = report_ids[next_report++];
        r_id.Add(report_pk);
        r_account.Add(req.account_id);
        r_report.Add(rep.report_id);
        r_agent.Add(rep.agent_id);
        r_host.Add(rep.hostname);
        r_version.Add(rep.agent_version);
        if (rep.cloud_json.empty()) {
            r_cloud.AddNull();
        } else {
            r_cloud.Add(rep.cloud_json);
        }
        r_start.Add(FormatUtc(rep.window_start));
        r_end.Add(FormatUtc(rep.window_end));
        r_samples.Add(rep.samples);
        r_received.Add(now);

        // As in the SQLite store: each GPU's window counts only for the time not covered before.
        const bool whole_seconds = rep.window_end_ms == SysMillis{};
        const int64_t end_ms =
            (whole_seconds ? SysMillis(rep.window_end) : rep.window_end_ms).time_since_epoch().count();
        const int64_t start_ms =
            (whole_seconds ? SysMillis(rep.window_start) : rep.window_start_ms).time_since_epoch().count();
        const int64_t sent_ms = std::max<int64_t>(0, end_ms - start_ms);
        for (const auto& g : rep.gpus) {
            const std::string key = SeenKey(req.account_id, g.gpu_key);
            Coverage& c = coverage_[key];
            int64_t from_ms = end_ms - sent_ms;
            if (rep.implicit_window && c.High() >= 0) {
                from_ms = std::max(c.High(), end_ms - static_cast<int64_t>(req.implicit_window_max.count()));
                from_ms = std::min(from_ms, end_ms);
            }
            const auto claimed = c.Claim(from_ms, end_ms);
            const int64_t window_ms = end_ms - from_ms;
            const int64_t counted_ms = claimed ? claimed->second - claimed->first : 0;
            const int64_t counted_end = claimed ? claimed->second : end_ms;
            const std::string window_end =
                FormatUtc(std::chrono::floor<std::chrono::seconds>(SysMillis(std::chrono::milliseconds(counted_end))));
            const int64_t window_id = window_ids[next_window++];
            w_id.Add(window_id);
            w_report.Add(report_pk);
            w_account.Add(req.account_id);
            w_host.Add(rep.hostname);
            w_key.Add(g.gpu_key);
            w_index.Add(g.gpu_index);
            if (g.uuid.empty()) {
                w_uuid.AddNull();
            } else {
                w_uuid.Add(g.uuid);
            }
            w_name.Add(g.name);
            w_util.Add(g.util_avg);
            w_util_max.Add(g.util_max);
            w_idle.Add(g.idle_fraction);
            w_mem_used.Add(g.mem_used_mib);
            w_mem_total.Add(g.mem_total_mib);
            w_temp.Add(g.temperature_c);
            w_power.Add(g.power_w);
            w_power_limit.Add(g.power_limit_w);
            w_cost.Add(g.cost_per_hour);
            w_seconds.Add(std::max<int64_t>(1, (window_ms + 999) / 1000));
            w_end.Add(window_end);
            w_processes.Add(g.processes_json);
            w_idle_held.Add(g.idle_held_fraction);
            w_mem_util.Add(g.mem_util);
            w_clock.Add(g.sm_clock_mhz);
            w_end_ms.Add(counted_end);
            w_window_ms.Add(window_ms);
            w_counted_ms.Add(counted_ms);
            w_from_address.Add(static_cast<int64_t>(rep.host_from_address ? 1 : 0));
            if (g.telemetry_json.empty()) {
                w_telemetry.AddNull();
            } else {
                w_telemetry.Add(g.telemetry_json);
            }
            w_sm_active.Add(g.sm_active);
            seen_rows[key] = Seen{req.account_id, g.gpu_key, now, report_pk, window_id, window_end};
        }
        group[j]->SetIngestResult(IngestOutcome{false});
    }
    // One statement for the three tables (the reports, their windows, the GPUs' marks): one round trip.
    ArrayLiteral s_account, s_key, s_now, s_report, s_covered, s_window, s_end;
    for (auto& [key, s] : seen_rows) {
        s_account.Add(s.account_id);
        s_key.Add(s.gpu_key);
        s_now.Add(s.now);
        s_report.Add(s.report_pk);
        s_covered.Add(coverage_[key].High());
        s_window.Add(s.window_id);
        s_end.Add(s.window_end);
    }
    Params p;
    for (const auto* a :
         {&r_id,        &r_account,    &r_report,       &r_agent,     &r_host,      &r_version,     &r_cloud,
          &r_start,     &r_end,        &r_samples,      &r_received,  &w_id,        &w_report,      &w_account,
          &w_host,      &w_key,        &w_index,        &w_uuid,      &w_name,      &w_util,        &w_util_max,
          &w_idle,      &w_mem_used,   &w_mem_total,    &w_temp,      &w_power,     &w_power_limit, &w_cost,
          &w_seconds,   &w_end,        &w_processes,    &w_idle_held, &w_mem_util,  &w_clock,       &w_end_ms,
          &w_window_ms, &w_counted_ms, &w_from_address, &w_telemetry, &w_sm_active, &s_account,     &s_key,
          &s_now,       &s_report,     &s_covered,      &s_window,    &s_end}) {
        p.Add(a->Text());
    }
    static const std::string kInsert =
        "WITH reports AS (INSERT INTO usage_reports (id, account_id, report_id, agent_id, hostname, agent_version,"
        " cloud, window_start, window_end, samples, received_at)"
        " SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],"
        " $7::text[], $8::text[], $9::text[], $10::int[], $11::text[])),"
        " windows AS (INSERT INTO gpu_windows (id, report_pk, account_id, host, gpu_key, gpu_index, uuid, gpu_name,"
        " util_avg, util_max, idle_fraction, mem_used_mib, mem_total_mib, temperature_c, power_w, power_limit_w,"
        " cost_per_hour, window_seconds, window_end, processes, idle_held_fraction, mem_util, sm_clock_mhz,"
        " window_end_ms, window_ms, counted_ms, host_from_address, telemetry, sm_active)"
        " SELECT * FROM unnest($12::bigint[], $13::bigint[], $14::bigint[], $15::text[], $16::text[], $17::int[],"
        " $18::text[], $19::text[], $20::float8[], $21::float8[], $22::float8[], $23::float8[], $24::float8[],"
        " $25::float8[], $26::float8[], $27::float8[], $28::float8[], $29::bigint[], $30::text[], $31::text[],"
        " $32::float8[], $33::float8[], $34::float8[], $35::bigint[], $36::bigint[], $37::bigint[], $38::int[],"
        " $39::text[], $40::float8[]))"
        " INSERT INTO gpus_seen (account_id, gpu_key, first_seen, last_seen, last_report_pk, covered_until_ms,"
        " last_window_id, last_window_end)"
        " SELECT a, k, n, n, r, c, w, e FROM unnest($41::bigint[], $42::text[], $43::text[], $44::bigint[],"
        " $45::bigint[], $46::bigint[], $47::text[]) AS u (a, k, n, r, c, w, e)"
        " ON CONFLICT (account_id, gpu_key) DO UPDATE SET"
        " last_seen = GREATEST(gpus_seen.last_seen, excluded.last_seen),"
        " last_report_pk = excluded.last_report_pk,"
        " covered_until_ms = GREATEST(COALESCE(gpus_seen.covered_until_ms, -1), excluded.covered_until_ms),"
        " last_window_id = excluded.last_window_id, last_window_end = excluded.last_window_end";
    static const std::string kCommit = "COMMIT";
    std::vector<Connection::Statement> statements{{&kInsert, &p, false}};
    if (commit) statements.push_back({&kCommit, nullptr, true});
    if (auto r = db.Pipeline(statements); !r) return r.error();
    for (auto& [key, s] : seen_rows) {
        Coverage& c = coverage_[key];
        c.written = c.High();
    }
    return commit;
}

// ---------------------------------------------------------------------------------------------------
// Reads

Result<PgStore::ReadLease> PgStore::LeaseReader() {
    std::unique_lock lock(read_mu_);
    for (;;) {
        if (closed_) return Closed();
        if (!readers_.empty()) {
            auto conn = std::move(readers_.back());
            readers_.pop_back();
            return ReadLease(this, std::move(conn));
        }
        if (readers_open_ < options_.read_connections) {
            ++readers_open_;
            lock.unlock();
            auto conn = Connect();
            // Reads are planned for their own parameters every time: a plan cached while a table was small
            // (a new day, a new database) would otherwise stay in use after it has grown.
            if (conn) {
                if (auto r = (*conn)->Exec("SET plan_cache_mode = force_custom_plan"); !r) conn = r.error();
            }
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

void PgStore::ReturnReader(std::unique_ptr<Connection> conn) {
    std::lock_guard lock(read_mu_);
    if (closed_ || !conn->Healthy()) {
        --readers_open_;  // a lost connection is not reused: the next lease opens a new one
        read_cv_.notify_one();
        return;
    }
    readers_.push_back(std::move(conn));
    read_cv_.notify_one();
}

std::optional<Account> PgStore::CachedAccountByKeyHash(const std::string& key_hash) {
    return account_cache_.Get(key_hash);
}

Result<Account> PgStore::FindAccountByKeyHash(const std::string& key_hash) {
    if (auto cached = account_cache_.Get(key_hash)) return std::move(*cached);
    const auto read_at = std::chrono::steady_clock::now();
    auto db = LeaseReader();
    if (!db) return db.error();
    // The account of an active key, with that key's prefix (an account may have several keys).
    static const std::string sql =
        "SELECT a.id, a.email, a.tier, k.key_prefix, a.created_at FROM api_keys k JOIN accounts a ON a.id = "
        "k.account_id"
        " WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND a.disabled_at IS NULL";
    auto rows = (*db)->Query(sql, Params().Add(key_hash));
    if (!rows) return rows.error();
    if (rows->empty()) return Error{ErrorCode::kNotFound, "no such account", {}};
    Account account = ReadAccount(*rows, 0);
    account_cache_.Put(key_hash, account, read_at);
    return account;
}

Result<Account> PgStore::GetAccount(int64_t id) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string(kSelectAccount) + "WHERE id = $1 AND deleted_at IS NULL";
    auto rows = (*db)->Query(sql, Params().Add(id));
    if (!rows) return rows.error();
    if (rows->empty()) return Error{ErrorCode::kNotFound, "no such account", {}};
    return ReadAccount(*rows, 0);
}

void PgStore::ForgetCachedAccounts() { account_cache_.Clear(); }

Result<Stats> PgStore::GetStats(const StatsQuery& q) {
    auto db = LeaseReader();
    if (!db) return db.error();
    Stats s;
    for (Tier tier : kTiers) s.customers_by_tier[std::string(NameOf(tier))] = 0;
    {
        auto rows = (*db)->Query("SELECT tier, COUNT(*) FROM accounts WHERE deleted_at IS NULL GROUP BY tier");
        if (!rows) return rows.error();
        for (int i = 0; i < rows->size(); ++i) {
            s.customers_by_tier[std::string(rows->Text(i, 0))] = rows->Int(i, 1);
            s.total_customers += rows->Int(i, 1);
        }
    }
    {
        using namespace std::chrono;
        const auto today = floor<days>(q.now);
        const auto first = today - days(q.signup_days - 1);
        std::map<std::string, int64_t> by_day;
        for (auto d = first; d <= today; d += days(1)) by_day[FormatUtc(d).substr(0, 10)] = 0;
        auto rows = (*db)->Query(
            "SELECT substr(created_at, 1, 10) AS day, COUNT(*) FROM accounts WHERE created_at >= $1 GROUP BY day",
            Params().Add(FormatUtc(first)));
        if (!rows) return rows.error();
        for (int i = 0; i < rows->size(); ++i) by_day[std::string(rows->Text(i, 0))] = rows->Int(i, 1);
        for (auto& [day, n] : by_day) s.daily_signups.push_back({day, n});
    }
    {
        auto rows = (*db)->Query("SELECT COUNT(*) FROM gpus_seen WHERE last_seen >= $1",
                                 Params().Add(FormatUtc(q.now - std::chrono::hours(24))));
        if (!rows) return rows.error();
        s.gpus_last_24h = rows->Int(0, 0);
    }
    {
        // As in the SQLite store: the roll-up plus the windows it has not merged yet.
        auto rows = (*db)->Query(
            "SELECT (SELECT COALESCE(SUM(idle_cost_usd), 0) FROM gpu_days) +"
            " (SELECT COALESCE(SUM((CASE WHEN idle_fraction IS NOT NULL THEN idle_fraction"
            " WHEN util_avg < $1::float8 THEN 1.0 ELSE 0.0 END)"
            " * COALESCE(counted_ms / 1000.0::float8, window_seconds::float8) * cost_per_hour), 0) / 3600.0::float8"
            " FROM gpu_windows WHERE id > (SELECT watermark FROM rollup_state WHERE id = 1))",
            Params().Add(q.idle_threshold_percent));
        if (!rows) return rows.error();
        s.total_idle_cost = rows->Double(0, 0);
        s.total_customer_savings = s.total_idle_cost * q.recoverable_fraction;
    }
    {
        auto rows =
            (*db)->Query("SELECT tier, COUNT(*) FROM subscriptions WHERE status IN ('active', 'grace') GROUP BY tier");
        if (!rows) return rows.error();
        for (int i = 0; i < rows->size(); ++i) {
            s.active_subscriptions_by_tier[std::string(rows->Text(i, 0))] = rows->Int(i, 1);
        }
    }
    {
        using namespace std::chrono;
        const year_month_day today{floor<days>(q.now)};
        const SysSeconds month_start = sys_days{today.year() / today.month() / 1};
        auto rows = (*db)->Query(
            "SELECT COALESCE(SUM(paid_amount), 0) FROM payments WHERE status = 'completed' AND completed_at >= $1",
            Params().Add(FormatUtc(month_start)));
        if (!rows) return rows.error();
        s.revenue_this_month = rows->Double(0, 0);
    }
    {
        auto rows = (*db)->Query(
            "SELECT gateway, status, COUNT(*), COALESCE(SUM(amount), 0) FROM payments GROUP BY gateway, status"
            " ORDER BY gateway COLLATE \"C\", status COLLATE \"C\"");
        if (!rows) return rows.error();
        for (int i = 0; i < rows->size(); ++i) {
            s.payments.push_back(
                {std::string(rows->Text(i, 0)), std::string(rows->Text(i, 1)), rows->Int(i, 2), rows->Double(i, 3)});
        }
    }
    return s;
}

// ---------------------------------------------------------------------------------------------------
// Wake-ups across servers: NOTIFY on the channel gpuopt_wake with the job's name.

namespace {
constexpr std::chrono::milliseconds kListenPoll{250};
}  // namespace

Result<void> NotifyWake(Connection& db, const std::string& topic) {
    auto r = db.Query("SELECT pg_notify($1, $2)", Params().Add(kWakeChannel).Add(topic));
    if (!r) return r.error();
    return {};
}

Result<void> AnnounceAccountsChanged(Connection& db) { return NotifyWake(db, kAccountsChanged); }

void PgStore::Announce(const std::string& topic) {
    auto db = LeaseReader();
    if (db) {
        if (auto r = NotifyWake(**db, topic); r) return;
    }
    // Not fatal: the job's holder still runs it at its next interval.
    spdlog::debug("wake-up for {} not sent; it runs at its next interval", topic);
}

void PgStore::Listen(std::function<void(const std::string&)> heard) {
    if (listener_.joinable()) return;
    listener_ = std::thread([this, heard = std::move(heard)] { ListenLoop(heard); });
}

void PgStore::ListenLoop(std::function<void(const std::string&)> heard) {
    auto stopping = [this] {
        std::lock_guard lock(mu_);
        return stopping_;
    };
    std::unique_ptr<Connection> conn;
    bool warned = false;
    while (!stopping()) {
        if (!conn) {
            auto opened = Connect();
            if (opened) {
                if (auto r = (*opened)->Exec(std::string("LISTEN ") + kWakeChannel); r) conn = std::move(*opened);
            }
            if (!conn) {
                if (!warned) spdlog::warn("wake-ups from other servers: cannot listen; jobs run at their intervals");
                warned = true;
                std::unique_lock lock(mu_);
                cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
                continue;
            }
            if (warned) spdlog::info("wake-ups from other servers: listening again");
            warned = false;
        }
        auto got = conn->Notifications(kListenPoll);
        if (!got) {
            conn.reset();
            continue;
        }
        for (const auto& topic : *got) {
            if (topic == kAccountsChanged) {
                ForgetCachedAccounts();  // another server changed a plan: no stale tier for the cache's TTL
            } else {
                heard(topic);
            }
        }
    }
}

Result<void> PgStore::Ping() {
    if (!writer_healthy_) return Error{ErrorCode::kUnavailable, "the store's last write failed", {}};
    auto db = LeaseReader();
    if (!db) return db.error();
    auto rows = (*db)->Query("SELECT COUNT(*) FROM schema_migrations");
    if (!rows) return rows.error();
    return {};
}

// ---------------------------------------------------------------------------------------------------
// Accounts

void PgStore::CreateAccount(NewAccount a, Callback<Account> done) {
    Submit<Account>(
        [a = std::move(a)](Connection& db) -> Result<Account> {
            const std::string created = FormatUtc(a.now);
            auto rows = db.Query(
                "INSERT INTO accounts (email, api_key_hash, api_key_prefix, tier, created_at)"
                " VALUES ($1, $2, $3, $4, $5) RETURNING id",
                Params().Add(a.email).Add(a.key_hash).Add(a.key_prefix).Add(NameOf(a.tier)).Add(created));
            if (!rows) return rows.error();  // kAlreadyExists: nothing written
            const int64_t id = rows->Int(0, 0);
            auto key = db.Query(
                "INSERT INTO api_keys (account_id, name, key_hash, key_prefix, created_at)"
                " VALUES ($1, 'default', $2, $3, $4)",
                Params().Add(id).Add(a.key_hash).Add(a.key_prefix).Add(created));
            if (!key) return key.error();
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

void PgStore::SetTier(std::string email, Tier tier, Callback<Account> done) {
    Submit<Account>(
        [email = std::move(email), tier](Connection& db) -> Result<Account> {
            static const std::string sql =
                "UPDATE accounts SET tier = $1 WHERE email = $2 RETURNING id, email, tier, api_key_prefix, created_at";
            auto rows = db.Query(sql, Params().Add(NameOf(tier)).Add(email));
            if (!rows) return rows.error();
            if (rows->empty()) return Error{ErrorCode::kNotFound, "no account with that email", {}};
            if (auto r = AnnounceAccountsChanged(db); !r) return r.error();
            return ReadAccount(*rows, 0);
        },
        Callback<Account>([this, done = std::move(done)](Result<Account> r) {
            if (r.ok()) ForgetCachedAccounts();  // before the caller hears of the change
            done(std::move(r));
        }));
}

}  // namespace gpuopt::store::postgres
