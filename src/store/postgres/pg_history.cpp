// PgStore: history reads, the hourly roll-up, retention (whole days of raw windows dropped at once) and
// idle alerts.
#include <spdlog/spdlog.h>

#include <unordered_map>

#include "store/packed_day.hpp"
#include "store/postgres/connection.hpp"
#include "store/postgres/pg_store.hpp"
#include "store/postgres/pg_store_internal.hpp"
#include "store/sealing.hpp"

namespace gpuopt::store::postgres {

const char* const kWindowColumns =
    "g.id, g.account_id, g.gpu_key, g.host, COALESCE(g.uuid, ''), g.gpu_name, g.gpu_index, g.window_end,"
    " g.window_seconds, g.util_avg, g.util_max, g.idle_fraction, g.idle_held_fraction, g.mem_util, g.mem_used_mib,"
    " g.mem_total_mib, g.temperature_c, g.power_w, g.power_limit_w, g.sm_clock_mhz, g.cost_per_hour, g.processes,"
    " g.window_end_ms, g.window_ms, g.counted_ms, g.host_from_address, g.telemetry, g.sm_active";

StoredWindow ReadWindowRow(const Rows& r, int i, int c) {
    StoredWindow w;
    w.id = r.Int(i, c + 0);
    w.account_id = r.Int(i, c + 1);
    w.gpu_key = r.Text(i, c + 2);
    w.host = r.Text(i, c + 3);
    w.uuid = r.Text(i, c + 4);
    w.name = r.Text(i, c + 5);
    w.gpu_index = static_cast<int>(r.Int(i, c + 6));
    w.window_end = TimeAt(r, i, c + 7);
    w.window_seconds = r.Int(i, c + 8);
    w.util_avg = r.Double(i, c + 9);
    w.util_max = OptDoubleAt(r, i, c + 10);
    w.idle_fraction = OptDoubleAt(r, i, c + 11);
    w.idle_held_fraction = OptDoubleAt(r, i, c + 12);
    w.mem_util = OptDoubleAt(r, i, c + 13);
    w.mem_used_mib = r.Double(i, c + 14);
    w.mem_total_mib = r.Double(i, c + 15);
    w.temperature_c = OptDoubleAt(r, i, c + 16);
    w.power_w = OptDoubleAt(r, i, c + 17);
    w.power_limit_w = OptDoubleAt(r, i, c + 18);
    w.sm_clock_mhz = OptDoubleAt(r, i, c + 19);
    w.cost_per_hour = r.Double(i, c + 20);
    w.processes_json = r.Text(i, c + 21);
    if (!r.IsNull(i, c + 22)) w.window_end_ms = SysMillis(std::chrono::milliseconds(r.Int(i, c + 22)));
    w.window_ms = OptIntAt(r, i, c + 23);
    w.counted_ms = OptIntAt(r, i, c + 24);
    w.host_from_address = r.Int(i, c + 25) != 0;
    if (!r.IsNull(i, c + 26)) w.telemetry_json = r.Text(i, c + 26);
    w.sm_active = OptDoubleAt(r, i, c + 27);
    return w;
}

namespace {

StoredWindow ReadWindow(const Rows& r, int i) { return ReadWindowRow(r, i, 0); }

// A roll-up day's columns as the roll-up writes them (store/packed_day.hpp).
constexpr const char* kDayColumns =
    "account_id, day, gpu_key, host, uuid, gpu_name, gpu_index, windows, cost_usd, idle_cost_usd, idle_held_cost_usd,"
    " hours";

constexpr const char* kAlertColumns =
    "id, account_id, gpu_key, idle_since, opened_at, closed_at, message, delivery, attempts, next_attempt";

Alert ReadAlert(const Rows& r, int i) {
    Alert a;
    a.id = r.Int(i, 0);
    a.account_id = r.Int(i, 1);
    a.gpu_key = r.Text(i, 2);
    a.idle_since = TimeAt(r, i, 3);
    a.opened_at = TimeAt(r, i, 4);
    a.closed_at = OptTimeAt(r, i, 5);
    a.message = r.Text(i, 6);
    a.delivery = AlertDeliveryNamed(r.Text(i, 7)).value_or(AlertDelivery::kPending);
    a.attempts = static_cast<int>(r.Int(i, 8));
    a.next_attempt = OptTimeAt(r, i, 9);
    return a;
}

// Orders by the time text byte by byte, as SQLite does.
constexpr const char* kByEnd = " ORDER BY g.window_end COLLATE \"C\", g.id";

}  // namespace

// ---------------------------------------------------------------------------------------------------
// History reads

Result<std::vector<StoredWindow>> PgStore::ReadWindows(int64_t account_id, SysSeconds from, SysSeconds to,
                                                       const std::string& gpu_key) {
    auto db = LeaseReader();
    if (!db) return db.error();
    // Through the reports of the range, then each report's windows by index, as the SQLite store does.
    static const std::string sql = std::string("SELECT ") + kWindowColumns +
                                   " FROM usage_reports r JOIN gpu_windows g ON g.report_pk = r.id"
                                   " WHERE r.account_id = $1 AND r.window_end > $2 AND r.window_end <= $3"
                                   " AND ($4 = '' OR g.gpu_key = $4) ORDER BY r.window_end, g.id";
    auto rows = (*db)->QueryBinary(sql, Params().Add(account_id).Add(FormatUtc(from)).Add(FormatUtc(to)).Add(gpu_key));
    if (!rows) return rows.error();
    return CollectRows<StoredWindow>(*rows, ReadWindow);
}

Result<std::vector<StoredWindow>> PgStore::ReadRecentGpus(SysSeconds since) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kWindowColumns +
        " FROM gpus_seen s JOIN gpu_windows g ON g.id = s.last_window_id AND g.window_end = s.last_window_end"
        " WHERE s.last_seen >= $1 ORDER BY g.account_id, g.host COLLATE \"C\", g.gpu_index";
    auto rows = (*db)->QueryBinary(sql, Params().Add(FormatUtc(since)));
    if (!rows) return rows.error();
    return CollectRows<StoredWindow>(*rows, ReadWindow);
}

Result<RolledHistory> PgStore::ReadRolledHistory(int64_t account_id, SysSeconds from, SysSeconds to,
                                                 const std::string& gpu_key) {
    auto db = LeaseReader();
    if (!db) return db.error();
    // One snapshot for the watermark, the hours and the windows past it (see the SQLite store).
    if (auto r = (*db)->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !r) return r.error();
    struct EndRead {
        Connection& c;
        ~EndRead() { (void)c.Exec("COMMIT"); }
    } end_read{**db};
    RolledHistory out;
    auto mark = (*db)->Query("SELECT watermark FROM rollup_state WHERE id = 1");
    if (!mark) return mark.error();
    const int64_t watermark = mark->empty() ? 0 : mark->Int(0, 0);
    {
        // Days that overlap [from, to), by day and then GPU as the primary key gives them; each day's hours
        // go out hour by hour, so `hours` stays oldest first.
        static const std::string sql =
            "SELECT gpu_key, day, host, uuid, gpu_name, gpu_index, hours FROM gpu_days"
            " WHERE account_id = $1 AND day >= $2 AND day < $3 AND ($4 = '' OR gpu_key = $4) ORDER BY day, gpu_key";
        auto rows = (*db)->QueryBinary(
            sql, Params().Add(account_id).Add(FormatUtc(DayOf(from))).Add(FormatUtc(to)).Add(gpu_key));
        if (!rows) return rows.error();
        struct Hash {
            using is_transparent = void;
            size_t operator()(std::string_view v) const { return std::hash<std::string_view>{}(v); }
        };
        std::unordered_map<std::string, size_t, Hash, std::equal_to<>> index;
        auto set_if_changed = [](std::string& field, std::string_view value) {
            if (field != value) field.assign(value);
        };
        DayHours day_rows(from, to, out);
        std::string day_text;
        for (int i = 0; i < rows->size(); ++i) {
            const std::string_view key = rows->Text(i, 0);
            auto it = index.find(key);
            if (it == index.end()) {
                it = index.emplace(std::string(key), out.gpus.size()).first;
                out.gpus.push_back({std::string(key), {}, {}, {}, 0});
            }
            GpuIdentity& id = out.gpus[it->second];
            set_if_changed(id.host, rows->Text(i, 2));
            set_if_changed(id.uuid, rows->Text(i, 3));
            set_if_changed(id.name, rows->Text(i, 4));
            id.gpu_index = static_cast<int>(rows->Int(i, 5));
            if (const std::string_view day = rows->Text(i, 1); day != day_text) {
                day_text.assign(day);
                day_rows.StartDay(TimeAt(*rows, i, 1));
            }
            if (auto r = day_rows.Add(it->second, rows->Text(i, 6)); !r) return r.error();
        }
        day_rows.Flush();
    }
    {
        static const std::string sql = std::string("SELECT ") + kWindowColumns +
                                       " FROM gpu_windows g WHERE g.id > $5 AND g.account_id = $1 AND g.window_end > $2"
                                       " AND g.window_end <= $3 AND ($4 = '' OR g.gpu_key = $4)" +
                                       kByEnd;
        auto rows = (*db)->QueryBinary(
            sql, Params().Add(account_id).Add(FormatUtc(from)).Add(FormatUtc(to)).Add(gpu_key).Add(watermark));
        if (!rows) return rows.error();
        out.unmerged = CollectRows<StoredWindow>(*rows, ReadWindow);
    }
    return out;
}

Result<std::vector<FleetGpu>> PgStore::ReadFleet(int64_t account_id, SysSeconds since) {
    auto db = LeaseReader();
    if (!db) return db.error();
    // Each GPU's last window is named by its gpus_seen row (id and day), so it is one index probe in one
    // partition.
    static const std::string sql =
        std::string("SELECT s.gpu_key, s.first_seen, s.last_seen, ") + kWindowColumns +
        " FROM gpus_seen s LEFT JOIN gpu_windows g ON g.id = s.last_window_id AND g.window_end = s.last_window_end"
        " WHERE s.account_id = $1 AND s.last_seen >= $2 ORDER BY s.gpu_key COLLATE \"C\"";
    auto rows = (*db)->Query(sql, Params().Add(account_id).Add(FormatUtc(since)));
    if (!rows) return rows.error();
    std::vector<FleetGpu> out;
    for (int i = 0; i < rows->size(); ++i) {
        FleetGpu g;
        g.gpu_key = rows->Text(i, 0);
        g.first_seen = TimeAt(*rows, i, 1);
        g.last_seen = TimeAt(*rows, i, 2);
        if (!rows->IsNull(i, 3)) g.latest = ReadWindowRow(*rows, i, 3);
        out.push_back(std::move(g));
    }
    return out;
}

// ---------------------------------------------------------------------------------------------------
// Roll-up and retention

Result<std::vector<StoredWindow>> PgStore::ReadWindowsAfter(int64_t after_id, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kWindowColumns + " FROM gpu_windows g WHERE g.id > $1 ORDER BY g.id LIMIT $2";
    auto rows = (*db)->Query(sql, Params().Add(after_id).Add(static_cast<int64_t>(limit)));
    if (!rows) return rows.error();
    return CollectRows<StoredWindow>(*rows, ReadWindow);
}

Result<int64_t> PgStore::RollupWatermark() {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto rows = (*db)->Query("SELECT watermark FROM rollup_state WHERE id = 1");
    if (!rows) return rows.error();
    return rows->empty() ? 0 : rows->Int(0, 0);
}

void PgStore::ApplyRollup(std::vector<HourlyRow> hours, int64_t expected, int64_t new_watermark, Callback<void> done) {
    Submit<void>(
        [hours = std::move(hours), expected, new_watermark](Connection& db) -> Result<void> {
            auto moved = db.Query("UPDATE rollup_state SET watermark = $1 WHERE id = 1 AND watermark = $2",
                                  Params().Add(new_watermark).Add(expected));
            if (!moved) return moved.error();
            if (moved->Affected() == 0) {
                return Error{ErrorCode::kAlreadyExists, "the roll-up moved on meanwhile", {}};
            }
            return MergeRolledHours(db, hours);
        },
        std::move(done));
}

Result<void> MergeRolledHours(Connection& db, const std::vector<HourlyRow>& hours) {
    static const std::string read =
        "SELECT hours FROM gpu_days WHERE account_id = $1 AND day = $2 AND gpu_key = $3 FOR UPDATE";
    static const std::string upsert =
        std::string("INSERT INTO gpu_days (") + kDayColumns +
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        " ON CONFLICT (account_id, day, gpu_key) DO UPDATE SET host = excluded.host, uuid = excluded.uuid,"
        " gpu_name = excluded.gpu_name, gpu_index = excluded.gpu_index, windows = excluded.windows,"
        " cost_usd = excluded.cost_usd, idle_cost_usd = excluded.idle_cost_usd,"
        " idle_held_cost_usd = excluded.idle_held_cost_usd, hours = excluded.hours";
    for (const DayGroup& g : GroupByDay(hours)) {
        const std::string day = FormatUtc(g.day);
        auto stored = db.QueryBinary(read, Params().Add(g.account_id).Add(day).Add(g.gpu_key));
        if (!stored) return stored.error();
        PackedDay before;
        if (!stored->empty()) {
            auto decoded = PackedDay::Decode(stored->Text(0, 0));
            if (!decoded) return decoded.error();
            before = *decoded;
        }
        const PackedDay merged = MergeDay(before, g);
        Params p;
        p.Add(g.account_id)
            .Add(day)
            .Add(g.gpu_key)
            .Add(g.host)
            .Add(g.uuid)
            .Add(g.name)
            .Add(g.gpu_index)
            .Add(merged.Windows())
            .Add(merged.Cost())
            .Add(merged.IdleCost())
            .Add(merged.IdleHeldCost())
            .AddBytes(merged.Encode());
        if (auto r = db.Query(upsert, p); !r) return r.error();
    }
    return {};
}

void PgStore::PruneHistory(SysSeconds raw_before, SysSeconds hourly_before, size_t max_rows, Callback<int64_t> done) {
    Submit<int64_t>(
        [raw_before, hourly_before, max_rows](Connection& db) -> Result<int64_t> {
            const std::string raw_cut = FormatUtc(raw_before);
            const std::string hourly_cut = FormatUtc(hourly_before);
            // A roll-up day goes when its last hour is before the cut: days are kept whole.
            const std::string day_cut = FormatUtc(hourly_before - std::chrono::hours(23));
            const auto limit = static_cast<int64_t>(max_rows);
            // Whole days: a day's partition goes when the day ended before the cut and every window in it is
            // rolled up. Names are gpu_windows_YYYYMMDD (schema.cpp). Each candidate is counted before the
            // ingest lock is taken, so a day of a large fleet is not read while ingest waits.
            auto parts = db.Query(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = 'gpu_windows'::regclass AND c.relname ~ '^gpu_windows_[0-9]{8}$'"
                " ORDER BY c.relname");
            if (!parts) return parts.error();
            struct Day {
                std::string name;
                int64_t rows = 0;
                int64_t max_id = 0;
            };
            std::vector<Day> days;
            for (int i = 0; i < parts->size(); ++i) {
                const std::string name(parts->Text(i, 0));
                const std::string day = name.substr(12, 4) + "-" + name.substr(16, 2) + "-" + name.substr(18, 2);
                const auto start = ParseUtc(day + "T00:00:00Z");
                if (!start || FormatUtc(*start + std::chrono::days(1)) > raw_cut) continue;
                auto count = db.Exec("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM " + name);
                if (!count) return count.error();
                days.push_back({name, count->Int(0, 0), count->Int(0, 1)});
            }
            // In turn with ingest across the cluster (ingest takes this lock before any row lock).
            if (auto r = db.Exec("SELECT pg_advisory_xact_lock(7460002)"); !r) return r.error();
            auto mark = db.Query("SELECT watermark FROM rollup_state WHERE id = 1");
            if (!mark) return mark.error();
            const int64_t watermark = mark->empty() ? 0 : mark->Int(0, 0);
            int64_t deleted = 0;
            for (const auto& d : days) {
                if (d.max_id > watermark) continue;  // not rolled up yet: next run
                // Ids are drawn under the ingest lock, so a window that arrived since the count (a late
                // back-fill) has a larger id than any counted: an unchanged largest id (one index probe)
                // means the count still holds.
                auto now_max = db.Exec("SELECT COALESCE(MAX(id), 0) FROM " + d.name);
                if (!now_max) return now_max.error();
                if (now_max->Int(0, 0) != d.max_id) continue;  // changed under us: next run
                if (auto r = db.Exec("DROP TABLE " + d.name); !r) return r.error();
                deleted += d.rows;
            }
            // What lies in the default partition (days without a partition of their own) goes row by row,
            // oldest first, as in the SQLite store.
            {
                auto rows = db.Query("SELECT id, window_end FROM gpu_windows_default ORDER BY id LIMIT $1",
                                     Params().Add(limit));
                if (!rows) return rows.error();
                int64_t last = 0;
                for (int i = 0; i < rows->size(); ++i) {
                    if (rows->Text(i, 1) >= raw_cut || rows->Int(i, 0) > watermark) break;
                    last = rows->Int(i, 0);
                }
                if (last > 0) {
                    auto r = db.Query("DELETE FROM gpu_windows_default WHERE id <= $1", Params().Add(last));
                    if (!r) return r.error();
                    deleted += r->Affected();
                }
            }
            for (const char* sql :
                 {"DELETE FROM usage_reports WHERE id IN (SELECT id FROM usage_reports r WHERE r.window_end < $1"
                  " AND NOT EXISTS (SELECT 1 FROM gpu_windows g WHERE g.report_pk = r.id) ORDER BY id LIMIT $2)",
                  "DELETE FROM gpu_days WHERE (account_id, day, gpu_key) IN"
                  " (SELECT account_id, day, gpu_key FROM gpu_days WHERE day < $1 LIMIT $2)",
                  "DELETE FROM gpus_seen WHERE (account_id, gpu_key) IN (SELECT account_id, gpu_key FROM gpus_seen"
                  " WHERE last_seen < $1 LIMIT $2)",
                  "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE closed_at < $1 LIMIT $2)"}) {
                const std::string_view text(sql);
                const std::string& cut = text.find("usage_reports") != std::string_view::npos ? raw_cut
                                         : text.find("gpu_days") != std::string_view::npos    ? day_cut
                                                                                              : hourly_cut;
                auto r = db.Query(sql, Params().Add(cut).Add(limit));
                if (!r) return r.error();
                deleted += r->Affected();
            }
            // What a job read before an account was deleted and wrote after it (a roll-up, an alert) goes
            // on the next run: accounts deleted in the last two days are swept again.
            auto swept = SweepDeletedAccounts(db, UtcNow() - std::chrono::hours(48));
            if (!swept) return swept.error();
            return deleted + *swept;
        },
        std::move(done));
}

// ---------------------------------------------------------------------------------------------------
// Alerts

Result<std::optional<AlertSettings>> PgStore::GetAlertSettings(int64_t account_id) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto rows = (*db)->Query(
        "SELECT account_id, webhook_url, idle_minutes, email_alerts FROM alert_settings WHERE account_id = $1",
        Params().Add(account_id));
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<AlertSettings>{};
    AlertSettings settings{rows->Int(0, 0), std::string(rows->Text(0, 1)), static_cast<int>(rows->Int(0, 2)), {}};
    settings.email = rows->Int(0, 3) != 0;
    auto url = Unseal(settings.webhook_url);
    if (!url) return url.error();
    settings.webhook_url = std::move(*url);
    return std::optional<AlertSettings>(std::move(settings));
}

void PgStore::SetAlertSettings(AlertSettings settings, Callback<AlertSettings> done) {
    auto sealed = Seal(settings.webhook_url);
    if (!sealed) return done(sealed.error());
    Submit<AlertSettings>(
        [settings = std::move(settings), sealed = std::move(*sealed)](Connection& db) -> Result<AlertSettings> {
            auto r = db.Query(
                "INSERT INTO alert_settings (account_id, webhook_url, idle_minutes, updated_at, email_alerts)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id) DO UPDATE SET webhook_url = "
                "excluded.webhook_url,"
                " idle_minutes = excluded.idle_minutes, updated_at = excluded.updated_at,"
                " email_alerts = excluded.email_alerts",
                Params()
                    .Add(settings.account_id)
                    .Add(sealed)
                    .Add(settings.idle_minutes)
                    .Add(FormatUtc(UtcNow()))
                    .Add(static_cast<int64_t>(settings.email ? 1 : 0)));
            if (!r) return r.error();
            return settings;
        },
        std::move(done));
}

Result<std::vector<AlertSettings>> PgStore::ListAlertSettings() {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto rows = (*db)->Query(
        "SELECT s.account_id, s.webhook_url, s.idle_minutes, a.tier, s.email_alerts FROM alert_settings s"
        " JOIN accounts a ON a.id = s.account_id WHERE s.webhook_url <> '' OR s.email_alerts <> 0"
        " ORDER BY s.account_id");
    if (!rows) return rows.error();
    auto all = CollectRows<AlertSettings>(*rows, [](const Rows& r, int i) {
        AlertSettings settings{r.Int(i, 0), std::string(r.Text(i, 1)), static_cast<int>(r.Int(i, 2)),
                               StoredTier(r.Text(i, 3))};
        settings.email = r.Int(i, 4) != 0;
        return settings;
    });
    if (auto r = OpenFields(encryption_keys_, all, &AlertSettings::webhook_url); !r) return r.error();
    return all;
}

Result<std::vector<Alert>> PgStore::OpenAlerts(int64_t account_id) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kAlertColumns + " FROM alerts WHERE account_id = $1 AND closed_at IS NULL ORDER BY id";
    auto rows = (*db)->Query(sql, Params().Add(account_id));
    if (!rows) return rows.error();
    return CollectRows<Alert>(*rows, ReadAlert);
}

void PgStore::OpenAlert(Alert alert, Callback<Alert> done) {
    Submit<Alert>(
        [alert = std::move(alert)](Connection& db) mutable -> Result<Alert> {
            auto rows = db.Query(
                "INSERT INTO alerts (account_id, gpu_key, idle_since, opened_at, message, delivery, attempts,"
                " next_attempt) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $4) RETURNING id",
                Params()
                    .Add(alert.account_id)
                    .Add(alert.gpu_key)
                    .Add(FormatUtc(alert.idle_since))
                    .Add(FormatUtc(alert.opened_at))
                    .Add(alert.message));
            if (!rows) return rows.error();  // kAlreadyExists: one is open (alerts_open)
            Alert out = alert;
            out.id = rows->Int(0, 0);
            out.delivery = AlertDelivery::kPending;
            out.attempts = 0;
            out.next_attempt = out.opened_at;
            return out;
        },
        std::move(done));
}

void PgStore::CloseAlert(int64_t alert_id, SysSeconds at, Callback<void> done) {
    Submit<void>(
        [alert_id, at](Connection& db) -> Result<void> {
            auto r = db.Query("UPDATE alerts SET closed_at = $1 WHERE id = $2 AND closed_at IS NULL",
                              Params().Add(FormatUtc(at)).Add(alert_id));
            if (!r) return r.error();
            return {};
        },
        std::move(done));
}

Result<std::vector<Alert>> PgStore::DueAlertDeliveries(SysSeconds now, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kAlertColumns +
        " FROM alerts WHERE delivery = 'pending' AND next_attempt <= $1 ORDER BY next_attempt, id LIMIT $2";
    auto rows = (*db)->Query(sql, Params().Add(FormatUtc(now)).Add(static_cast<int64_t>(limit)));
    if (!rows) return rows.error();
    return CollectRows<Alert>(*rows, ReadAlert);
}

void PgStore::RecordAlertDelivery(int64_t alert_id, AlertDelivery delivery, int attempts,
                                  std::optional<SysSeconds> next_attempt, Callback<void> done) {
    Submit<void>(
        [alert_id, delivery, attempts, next_attempt](Connection& db) -> Result<void> {
            auto r =
                db.Query("UPDATE alerts SET delivery = $1, attempts = $2, next_attempt = $3 WHERE id = $4",
                         Params().Add(NameOf(delivery)).Add(attempts).Add(OptTimeText(next_attempt)).Add(alert_id));
            if (!r) return r.error();
            return {};
        },
        std::move(done));
}

Result<std::vector<Alert>> PgStore::ListAlerts(int64_t account_id, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kAlertColumns + " FROM alerts WHERE account_id = $1 ORDER BY id DESC LIMIT $2";
    auto rows = (*db)->Query(sql, Params().Add(account_id).Add(static_cast<int64_t>(limit)));
    if (!rows) return rows.error();
    return CollectRows<Alert>(*rows, ReadAlert);
}

}  // namespace gpuopt::store::postgres
