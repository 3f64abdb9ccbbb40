#include "store/copy/sqlite_to_postgres.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <array>
#include <charconv>
#include <filesystem>
#include <map>
#include <memory>

#include "common/time.hpp"
#include "store/postgres/connection.hpp"
#include "store/postgres/schema.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace gpuopt::store::copy {

namespace {

using postgres::ArrayLiteral;
using postgres::Params;

// Every table of the store, parents before children. `id`: copied in chunks along it; otherwise the
// table is copied whole in one transaction (small tables, and the roll-up whose key is composite).
struct TableSpec {
    const char* name;
    bool id;
    const char* key;  // the order rows are compared in
};
constexpr std::array<TableSpec, 45> kTables{{
    {"accounts", true, "id"},
    {"usage_reports", true, "id"},
    {"gpu_windows", true, "id"},
    {"gpus_seen", false, "account_id, gpu_key"},
    {"gpu_days", false, "account_id, day, gpu_key"},
    {"rollup_state", false, "id"},
    {"alert_settings", false, "account_id"},
    {"alerts", true, "id"},
    {"payments", true, "id"},
    {"gateway_events", true, "id"},
    {"subscriptions", false, "account_id"},
    {"revenue_events", true, "id"},
    {"outbox", true, "id"},
    {"security_events", true, "id"},
    {"operator_events", true, "id"},
    {"recommendation_tracks", true, "id"},
    {"idle_policies", false, "account_id"},
    {"idle_snoozes", false, "account_id, gpu_key"},
    {"idle_events", true, "id"},
    {"report_settings", false, "account_id"},
    {"webhook_endpoints", true, "id"},
    {"webhook_deliveries", true, "id"},
    {"webhook_scan", false, "id"},
    {"sign_in_links", false, "token_hash"},
    {"web_sessions", false, "id_hash"},
    {"recommendation_marks", false, "account_id, action, target"},
    {"api_keys", true, "id"},
    {"admin_users", true, "id"},
    {"admin_sessions", false, "id_hash"},
    {"audit_log", true, "id"},
    {"address_blocks", false, "ip"},
    {"leads", true, "id"},
    {"lead_events", true, "id"},
    {"prospects", true, "id"},
    {"conversations", true, "id"},
    {"discovery_cursors", false, "source, query, day"},
    {"discovery_sources", false, "source"},
    {"referral_codes", false, "code"},
    {"sequence_states", false, "name"},
    {"enrollments", true, "id"},
    {"sequence_sends", true, "id"},
    {"send_counts", false, "sender, day"},
    {"domain_sends", false, "domain"},
    {"suppressions", true, "id"},
    {"mail_events", true, "id"},
}};

// What FinishTarget computes again on the target, so not compared by the verification.
bool Recomputed(std::string_view table, std::string_view column) {
    return table == "gpus_seen" && column == "covered_until_ms";
}

enum class Kind { kInteger, kDouble, kText, kBytes };

struct Column {
    std::string name;
    Kind kind;
    std::string pg_type;  // for the cast from text
};

struct SqliteDb {
    sqlite3* db = nullptr;
    ~SqliteDb() {
        if (db != nullptr) sqlite3_close_v2(db);
    }
};

struct SqliteStmt {
    sqlite3_stmt* st = nullptr;
    ~SqliteStmt() { sqlite3_finalize(st); }
};

Error Failed(const std::string& what) { return Error{ErrorCode::kInternal, what, {}}; }

std::string Hex(const unsigned char* bytes, size_t n) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < n; ++i) {
        out += kDigits[bytes[i] >> 4];
        out += kDigits[bytes[i] & 15];
    }
    return out;
}

std::string ExactDouble(double v) {
    std::array<char, 32> buf{};
    const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    return std::string(buf.data(), ec == std::errc() ? end : buf.data());
}

// Rows hashed the same way on both sides: each value in a canonical text (integers in decimal, doubles in
// their shortest exact form, text as it is, NULL as \N), unit separators between values, record
// separators between rows.
class RowHash {
public:
    RowHash() { crypto_generichash_init(&state_, nullptr, 0, crypto_generichash_BYTES); }
    void Value(std::string_view v) {
        if (!first_) Update("\x1f");
        first_ = false;
        Update(v);
    }
    void EndRow() {
        Update("\x1e");
        first_ = true;
        ++rows_;
    }
    int64_t rows() const { return rows_; }
    std::string Final() {
        std::array<unsigned char, crypto_generichash_BYTES> out{};
        crypto_generichash_final(&state_, out.data(), out.size());
        return Hex(out.data(), out.size());
    }

private:
    void Update(std::string_view v) {
        crypto_generichash_update(&state_, reinterpret_cast<const unsigned char*>(v.data()), v.size());
    }
    crypto_generichash_state state_{};
    bool first_ = true;
    int64_t rows_ = 0;
};

class Copier {
public:
    Copier(const CopyOptions& options, const std::function<void(const std::string&)>& progress)
        : options_(options), progress_(progress) {}

    Result<CopyReport> Run() {
        if (auto r = OpenBoth(); !r) return r.error();
        if (auto r = CheckTarget(); !r) return r.error();
        CopyReport report;
        for (const auto& spec : kTables) {
            auto columns = ColumnsOf(spec.name);
            if (!columns) return columns.error();
            auto copied = CopyTable(spec, *columns);
            if (!copied) return copied.error();
            report.rows_copied += copied->first;
            if (!copied->second) {
                progress_(std::string("stopped after ") + std::to_string(report.rows_copied) +
                          " rows (--max-rows); run the same command again to go on");
                return report;
            }
        }
        if (auto r = FinishTarget(); !r) return r.error();
        report.finished = true;
        for (const auto& spec : kTables) {
            auto columns = ColumnsOf(spec.name);
            if (!columns) return columns.error();
            std::erase_if(*columns, [&](const Column& c) { return Recomputed(spec.name, c.name); });
            auto check = Verify(spec, *columns);
            if (!check) return check.error();
            report.tables.push_back(std::move(*check));
        }
        return report;
    }

private:
    Result<void> OpenBoth() {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(options_.sqlite_path, ec)) {
            return Error::Validation("--from", "no SQLite database at " + options_.sqlite_path);
        }
        source_name_ = std::filesystem::absolute(options_.sqlite_path, ec).string();
        {
            // The file gets the latest SQLite schema first, so that both sides have the same tables.
            sqlite::SqliteStore::Options o;
            o.path = options_.sqlite_path;
            auto migrated = sqlite::SqliteStore::Open(o);
            if (!migrated) return migrated.error();
            (*migrated)->Close();
        }
        if (sqlite3_open_v2(options_.sqlite_path.c_str(), &source_.db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
            return Failed("cannot open " + options_.sqlite_path);
        }
        sqlite3_busy_timeout(source_.db, 10000);
        // One read transaction: the copy and its verification see one snapshot of the file.
        if (sqlite3_exec(source_.db, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) return Failed("BEGIN");
        auto target =
            postgres::Connection::Open({options_.postgres_url, std::chrono::seconds(10), {}, "gpuopt-migrate"});
        if (!target) return target.error();
        target_ = std::move(*target);
        if (auto r = postgres::Migrate(*target_, UtcNow()); !r) return r.error();
        return {};
    }

    // A target that holds data is refused, unless it is being filled from this very file (a copy that
    // stopped) or the operator said so.
    Result<void> CheckTarget() {
        if (auto r = target_->Exec(
                "CREATE TABLE IF NOT EXISTS copy_progress (table_name TEXT PRIMARY KEY, source TEXT NOT NULL,"
                " last_key BIGINT NOT NULL, rows BIGINT NOT NULL, done BOOLEAN NOT NULL)");
            !r) {
            return r.error();
        }
        auto sources = target_->Query("SELECT DISTINCT source FROM copy_progress");
        if (!sources) return sources.error();
        for (int i = 0; i < sources->size(); ++i) {
            if (sources->Text(i, 0) != source_name_) {
                return Error::Validation(
                    "--to", "the target is being filled from another file (" + std::string(sources->Text(i, 0)) + ")");
            }
        }
        if (!sources->empty()) {
            progress_("continuing the copy from " + source_name_);
            return {};
        }
        for (const auto& spec : kTables) {
            if (std::string_view(spec.name) == "rollup_state") continue;  // made with the schema
            auto rows = target_->Exec(std::string("SELECT EXISTS (SELECT 1 FROM ") + spec.name + ")");
            if (!rows) return rows.error();
            if (rows->Bool(0, 0) && !options_.force) {
                return Error::Validation("--to", std::string("the target database is not empty (") + spec.name +
                                                     " has rows); copy into an empty one, or pass --force");
            }
        }
        return {};
    }

    // The columns the SQLite table has (the PostgreSQL one may have more), with PostgreSQL's types.
    Result<std::vector<Column>> ColumnsOf(const std::string& table) {
        auto types = target_->Query(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'public'"
            " AND table_name = $1",
            Params().Add(table));
        if (!types) return types.error();
        std::map<std::string, std::string> pg;
        for (int i = 0; i < types->size(); ++i) pg[std::string(types->Text(i, 0))] = types->Text(i, 1);
        SqliteStmt info;
        const std::string sql = "PRAGMA table_info(\"" + table + "\")";
        if (sqlite3_prepare_v2(source_.db, sql.c_str(), -1, &info.st, nullptr) != SQLITE_OK) {
            return Failed("cannot read the columns of " + table);
        }
        std::vector<Column> out;
        while (sqlite3_step(info.st) == SQLITE_ROW) {
            const std::string name = reinterpret_cast<const char*>(sqlite3_column_text(info.st, 1));
            auto it = pg.find(name);
            if (it == pg.end()) return Failed("PostgreSQL has no column " + table + "." + name);
            const Kind kind = it->second == "bigint" || it->second == "integer" ? Kind::kInteger
                              : it->second == "double precision"                ? Kind::kDouble
                              : it->second == "bytea"                           ? Kind::kBytes
                                                                                : Kind::kText;
            out.push_back({name, kind, it->second});
        }
        if (out.empty()) return Failed("SQLite has no table " + table);
        return out;
    }

    static std::string ColumnList(const std::vector<Column>& columns, std::string_view prefix = "") {
        std::string out;
        for (const auto& c : columns) {
            if (!out.empty()) out += ", ";
            out += prefix;
            out += c.name;
        }
        return out;
    }

    // Rows copied, and whether the table is complete.
    Result<std::pair<int64_t, bool>> CopyTable(const TableSpec& spec, const std::vector<Column>& columns) {
        auto state =
            target_->Query("SELECT last_key, done FROM copy_progress WHERE table_name = $1", Params().Add(spec.name));
        if (!state) return state.error();
        int64_t last_key = state->empty() ? 0 : state->Int(0, 0);
        if (!state->empty() && state->Bool(0, 1)) return std::make_pair(int64_t{0}, true);
        if (std::string_view(spec.name) == "gpu_windows") {
            if (auto r = MakePartitions(); !r) return r.error();
        }
        std::string insert = std::string("INSERT INTO ") + spec.name + " (" + ColumnList(columns) + ") SELECT ";
        for (size_t i = 0; i < columns.size(); ++i) {
            if (i > 0) insert += ", ";
            insert += "u.c" + std::to_string(i) + "::" + columns[i].pg_type;
        }
        insert += " FROM unnest(";
        for (size_t i = 0; i < columns.size(); ++i) {
            if (i > 0) insert += ", ";
            insert += "$" + std::to_string(i + 1) + "::text[]";
        }
        insert += ") AS u (";
        for (size_t i = 0; i < columns.size(); ++i) insert += (i > 0 ? ", c" : "c") + std::to_string(i);
        insert += ")";

        const std::string select = "SELECT " + ColumnList(columns) + " FROM \"" + spec.name + "\"" +
                                   (spec.id ? " WHERE id > ?1 ORDER BY id LIMIT ?2" : "");
        SqliteStmt st;
        if (sqlite3_prepare_v2(source_.db, select.c_str(), -1, &st.st, nullptr) != SQLITE_OK) {
            return Failed(std::string("cannot read ") + spec.name + ": " + sqlite3_errmsg(source_.db));
        }
        int64_t copied = 0;
        int64_t chunk = 0;
        for (;;) {
            if (options_.max_rows > 0 && copied_total_ >= static_cast<int64_t>(options_.max_rows)) {
                return std::make_pair(copied, false);
            }
            if (spec.id) {
                sqlite3_reset(st.st);
                sqlite3_bind_int64(st.st, 1, last_key);
                int64_t limit = static_cast<int64_t>(options_.batch_rows);
                if (options_.max_rows > 0)
                    limit = std::min(limit, static_cast<int64_t>(options_.max_rows) - copied_total_);
                chunk = limit;
                sqlite3_bind_int64(st.st, 2, limit);
            }
            std::vector<ArrayLiteral> values(columns.size());
            int64_t rows = 0;
            int rc = SQLITE_ROW;
            while ((rc = sqlite3_step(st.st)) == SQLITE_ROW) {
                for (size_t c = 0; c < columns.size(); ++c) {
                    const int i = static_cast<int>(c);
                    switch (sqlite3_column_type(st.st, i)) {
                        case SQLITE_NULL:
                            values[c].AddNull();
                            break;
                        case SQLITE_INTEGER:
                            values[c].Add(static_cast<int64_t>(sqlite3_column_int64(st.st, i)));
                            break;
                        case SQLITE_FLOAT:
                            values[c].Add(sqlite3_column_double(st.st, i));
                            break;
                        case SQLITE_BLOB:
                            // bytea's hex input form, cast from the text element below.
                            values[c].Add("\\x" + Hex(static_cast<const unsigned char*>(sqlite3_column_blob(st.st, i)),
                                                      static_cast<size_t>(sqlite3_column_bytes(st.st, i))));
                            break;
                        default:
                            values[c].Add(std::string_view(reinterpret_cast<const char*>(sqlite3_column_text(st.st, i)),
                                                           static_cast<size_t>(sqlite3_column_bytes(st.st, i))));
                    }
                }
                if (spec.id) last_key = sqlite3_column_int64(st.st, 0);
                ++rows;
            }
            if (rc != SQLITE_DONE)
                return Failed(std::string("reading ") + spec.name + ": " + sqlite3_errmsg(source_.db));
            const bool done = !spec.id || rows < chunk;
            if (auto r = target_->Exec("BEGIN"); !r) return r.error();
            auto fail = [&](const Error& e) {
                (void)target_->Exec("ROLLBACK");
                return e;
            };
            if (!spec.id) {
                // Copied whole: whatever an interrupted run left goes first (the schema's own roll-up row too).
                if (auto r = target_->Exec(std::string("DELETE FROM ") + spec.name); !r) return fail(r.error());
            }
            if (rows > 0) {
                Params p;
                for (const auto& v : values) p.Add(v.Text());
                if (auto r = target_->Query(insert, p); !r) return fail(r.error());
            }
            if (auto r = target_->Query(
                    "INSERT INTO copy_progress (table_name, source, last_key, rows, done) VALUES ($1, $2, $3, $4, $5)"
                    " ON CONFLICT (table_name) DO UPDATE SET last_key = excluded.last_key,"
                    " rows = copy_progress.rows + excluded.rows, done = excluded.done",
                    Params().Add(spec.name).Add(source_name_).Add(last_key).Add(rows).Add(done));
                !r) {
                return fail(r.error());
            }
            if (auto r = target_->Exec("COMMIT"); !r) return fail(r.error());
            copied += rows;
            copied_total_ += rows;
            if (done) {
                progress_(std::string(spec.name) + ": copied");
                return std::make_pair(copied, true);
            }
        }
    }

    // A partition for every day the file has windows of.
    Result<void> MakePartitions() {
        SqliteStmt st;
        if (sqlite3_prepare_v2(source_.db, "SELECT DISTINCT substr(window_end, 1, 10) FROM gpu_windows", -1, &st.st,
                               nullptr) != SQLITE_OK) {
            return Failed("cannot read the days of gpu_windows");
        }
        while (sqlite3_step(st.st) == SQLITE_ROW) {
            const std::string day = reinterpret_cast<const char*>(sqlite3_column_text(st.st, 0));
            auto t = ParseUtc(day + "T00:00:00Z");
            if (!t) continue;  // not a time: it goes to the default partition
            if (auto r = postgres::EnsureDayPartitions(*target_, *t, *t); !r) return r;
        }
        return {};
    }

    // Sequences continue after the copied ids; each GPU's last window is found for the fleet view.
    Result<void> FinishTarget() {
        for (const auto& spec : kTables) {
            if (!spec.id) continue;
            const std::string sequence = std::string_view(spec.name) == "gpu_windows"
                                             ? "'gpu_windows_id_seq'"
                                             : std::string("pg_get_serial_sequence('") + spec.name + "', 'id')";
            if (auto r = target_->Exec("SELECT setval(" + sequence +
                                       ", GREATEST(COALESCE(MAX(id), 0), 1), MAX(id) IS "
                                       "NOT NULL) FROM " +
                                       spec.name);
                !r) {
                return r.error();
            }
        }
        if (auto r = target_->Exec(
                "UPDATE gpus_seen s SET last_window_id = w.id, last_window_end = w.window_end FROM"
                " (SELECT DISTINCT ON (g.account_id, g.gpu_key) g.account_id, g.gpu_key, g.id, g.window_end"
                " FROM gpu_windows g ORDER BY g.account_id, g.gpu_key, g.id DESC) w"
                " WHERE w.account_id = s.account_id AND w.gpu_key = s.gpu_key AND s.last_window_id IS NULL");
            !r) {
            return r.error();
        }
        // SQLite refreshes a GPU's covered_until_ms about once a minute and reads the windows stored since
        // (from last_report_pk) for the rest; PostgreSQL keeps it exact at every commit and reads only it.
        if (auto r = target_->Exec(
                "UPDATE gpus_seen s SET covered_until_ms = w.covered FROM"
                " (SELECT g.account_id, g.gpu_key, MAX(COALESCE(g.window_end_ms,"
                " (EXTRACT(EPOCH FROM g.window_end::timestamptz) * 1000)::bigint)) AS covered"
                " FROM gpu_windows g JOIN gpus_seen t ON t.account_id = g.account_id AND t.gpu_key = g.gpu_key"
                " AND g.report_pk >= COALESCE(t.last_report_pk, 0) GROUP BY g.account_id, g.gpu_key) w"
                " WHERE w.account_id = s.account_id AND w.gpu_key = s.gpu_key"
                " AND w.covered > COALESCE(s.covered_until_ms, -1)");
            !r) {
            return r.error();
        }
        return {};
    }

    Result<TableCheck> Verify(const TableSpec& spec, const std::vector<Column>& columns) {
        TableCheck check;
        check.table = spec.name;
        {
            RowHash hash;
            SqliteStmt st;
            const std::string sql =
                "SELECT " + ColumnList(columns) + " FROM \"" + spec.name + "\" ORDER BY " + spec.key;
            if (sqlite3_prepare_v2(source_.db, sql.c_str(), -1, &st.st, nullptr) != SQLITE_OK) {
                return Failed(std::string("cannot read ") + spec.name);
            }
            while (sqlite3_step(st.st) == SQLITE_ROW) {
                for (size_t c = 0; c < columns.size(); ++c) {
                    const int i = static_cast<int>(c);
                    if (sqlite3_column_type(st.st, i) == SQLITE_NULL) {
                        hash.Value("\\N");
                    } else if (columns[c].kind == Kind::kInteger) {
                        hash.Value(std::to_string(sqlite3_column_int64(st.st, i)));
                    } else if (columns[c].kind == Kind::kDouble) {
                        hash.Value(ExactDouble(sqlite3_column_double(st.st, i)));
                    } else if (columns[c].kind == Kind::kBytes) {
                        hash.Value(Hex(static_cast<const unsigned char*>(sqlite3_column_blob(st.st, i)),
                                       static_cast<size_t>(sqlite3_column_bytes(st.st, i))));
                    } else {
                        hash.Value(std::string_view(reinterpret_cast<const char*>(sqlite3_column_text(st.st, i)),
                                                    static_cast<size_t>(sqlite3_column_bytes(st.st, i))));
                    }
                }
                hash.EndRow();
            }
            check.source_rows = hash.rows();
            check.source_hash = hash.Final();
        }
        {
            // Text keys in byte order, as SQLite compares them.
            std::string order;
            for (std::string_view rest = spec.key; !rest.empty();) {
                const size_t comma = rest.find(',');
                std::string key(rest.substr(0, comma));
                while (!key.empty() && key.front() == ' ') key.erase(key.begin());
                if (!order.empty()) order += ", ";
                // gpu_days.day is text; discovery_cursors.day and send_counts.day are numbers.
                const bool text = key == "gpu_key" || (key == "day" && std::string_view(spec.name) == "gpu_days");
                order += text ? key + " COLLATE \"C\"" : key;
                rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            }
            RowHash hash;
            const std::string sql = "SELECT " + ColumnList(columns) + " FROM " + spec.name + " ORDER BY " + order;
            auto rows = target_->Exec(sql);
            if (!rows) return rows.error();
            for (int r = 0; r < rows->size(); ++r) {
                for (size_t c = 0; c < columns.size(); ++c) {
                    const int i = static_cast<int>(c);
                    if (rows->IsNull(r, i)) {
                        hash.Value("\\N");
                    } else if (columns[c].kind == Kind::kDouble) {
                        hash.Value(ExactDouble(rows->Double(r, i)));
                    } else if (columns[c].kind == Kind::kBytes) {
                        std::string_view text = rows->Text(r, i);  // \x and the hex digits
                        if (text.starts_with("\\x")) text.remove_prefix(2);
                        hash.Value(text);
                    } else {
                        hash.Value(rows->Text(r, i));
                    }
                }
                hash.EndRow();
            }
            check.target_rows = hash.rows();
            check.target_hash = hash.Final();
        }
        return check;
    }

    const CopyOptions& options_;
    const std::function<void(const std::string&)>& progress_;
    std::string source_name_;
    SqliteDb source_;
    std::unique_ptr<postgres::Connection> target_;
    int64_t copied_total_ = 0;
};

}  // namespace

bool CopyReport::Verified() const {
    if (!finished) return false;
    for (const auto& t : tables) {
        if (!t.Same()) return false;
    }
    return true;
}

Result<CopyReport> CopySqliteToPostgres(const CopyOptions& options,
                                        const std::function<void(const std::string&)>& progress) {
    Copier copier(options, progress);
    return copier.Run();
}

}  // namespace gpuopt::store::copy
