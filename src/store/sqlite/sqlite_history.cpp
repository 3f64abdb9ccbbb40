// SqliteStore: history reads, the hourly roll-up, retention, and idle alerts.
#include <sqlite3.h>

#include <unordered_map>

#include "store/packed_day.hpp"
#include "store/sealing.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"

namespace gpuopt::store::sqlite {

namespace {

std::optional<double> OptDouble(const Statement& st, int col) {
    if (st.IsNull(col)) return std::nullopt;
    return st.Double(col);
}

SysSeconds Time(const Statement& st, int col) { return ParseUtc(st.Text(col)).value_or(SysSeconds{}); }

std::optional<SysSeconds> OptTime(const Statement& st, int col) {
    if (st.IsNull(col)) return std::nullopt;
    return ParseUtc(st.Text(col));
}

constexpr const char* kWindowColumns =
    "g.id, g.account_id, g.gpu_key, g.host, g.uuid, g.gpu_name, g.gpu_index, g.window_end, g.window_seconds,"
    " g.util_avg, g.util_max, g.idle_fraction, g.idle_held_fraction, g.mem_util, g.mem_used_mib, g.mem_total_mib,"
    " g.temperature_c, g.power_w, g.power_limit_w, g.sm_clock_mhz, g.cost_per_hour, g.processes, g.window_end_ms,"
    " g.window_ms, g.counted_ms, g.host_from_address, g.telemetry, g.sm_active";

StoredWindow ReadWindow(const Statement& st) {
    StoredWindow w;
    w.id = st.Int(0);
    w.account_id = st.Int(1);
    w.gpu_key = st.Text(2);
    w.host = st.Text(3);
    w.uuid = st.Text(4);
    w.name = st.Text(5);
    w.gpu_index = static_cast<int>(st.Int(6));
    w.window_end = Time(st, 7);
    w.window_seconds = st.Int(8);
    w.util_avg = st.Double(9);
    w.util_max = OptDouble(st, 10);
    w.idle_fraction = OptDouble(st, 11);
    w.idle_held_fraction = OptDouble(st, 12);
    w.mem_util = OptDouble(st, 13);
    w.mem_used_mib = st.Double(14);
    w.mem_total_mib = st.Double(15);
    w.temperature_c = OptDouble(st, 16);
    w.power_w = OptDouble(st, 17);
    w.power_limit_w = OptDouble(st, 18);
    w.sm_clock_mhz = OptDouble(st, 19);
    w.cost_per_hour = st.Double(20);
    w.processes_json = st.Text(21);
    // Rows from before migration 6 have no millisecond figures: they count as sent.
    if (!st.IsNull(22)) w.window_end_ms = SysMillis(std::chrono::milliseconds(st.Int(22)));
    if (!st.IsNull(23)) w.window_ms = st.Int(23);
    if (!st.IsNull(24)) w.counted_ms = st.Int(24);
    w.host_from_address = st.Int(25) != 0;
    if (!st.IsNull(26)) w.telemetry_json = st.Text(26);
    w.sm_active = OptDouble(st, 27);
    return w;
}

// A roll-up day's columns as the roll-up writes them (store/packed_day.hpp).
constexpr const char* kDayColumns =
    "account_id, day, gpu_key, host, uuid, gpu_name, gpu_index, windows, cost_usd, idle_cost_usd, idle_held_cost_usd,"
    " hours";

constexpr const char* kAlertColumns =
    "id, account_id, gpu_key, idle_since, opened_at, closed_at, message, delivery, attempts, next_attempt";

Alert ReadAlert(const Statement& st) {
    Alert a;
    a.id = st.Int(0);
    a.account_id = st.Int(1);
    a.gpu_key = st.Text(2);
    a.idle_since = Time(st, 3);
    a.opened_at = Time(st, 4);
    a.closed_at = OptTime(st, 5);
    a.message = st.Text(6);
    a.delivery = AlertDeliveryNamed(st.TextView(7)).value_or(AlertDelivery::kPending);
    a.attempts = static_cast<int>(st.Int(8));
    a.next_attempt = OptTime(st, 9);
    return a;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// History reads

Result<std::vector<StoredWindow>> SqliteStore::ReadWindows(int64_t account_id, SysSeconds from, SysSeconds to,
                                                           const std::string& gpu_key) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string all = std::string("SELECT ") + kWindowColumns +
                                   " FROM usage_reports r JOIN gpu_windows g ON g.report_pk = r.id"
                                   " WHERE r.account_id = ?1 AND r.window_end > ?2 AND r.window_end <= ?3"
                                   " ORDER BY r.window_end, g.id";
    static const std::string one =
        std::string("SELECT ") + kWindowColumns +
        " FROM usage_reports r JOIN gpu_windows g ON g.report_pk = r.id"
        " WHERE r.account_id = ?1 AND r.window_end > ?2 AND r.window_end <= ?3 AND g.gpu_key = ?4"
        " ORDER BY r.window_end, g.id";
    auto st = (*db)->Prepare(gpu_key.empty() ? all.c_str() : one.c_str());
    if (!st) return st.error();
    st->Bind(1, account_id).Bind(2, FormatUtc(from)).Bind(3, FormatUtc(to));
    if (!gpu_key.empty()) st->Bind(4, std::string_view(gpu_key));
    return Collect<StoredWindow>(*st, ReadWindow);
}

Result<std::vector<StoredWindow>> SqliteStore::ReadRecentGpus(SysSeconds since) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kWindowColumns +
        " FROM gpus_seen s JOIN gpu_windows g ON g.report_pk = s.last_report_pk AND g.gpu_key = s.gpu_key"
        " WHERE s.last_seen >= ?1 ORDER BY g.account_id, g.host, g.gpu_index";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, FormatUtc(since));
    return Collect<StoredWindow>(*st, ReadWindow);
}

Result<RolledHistory> SqliteStore::ReadRolledHistory(int64_t account_id, SysSeconds from, SysSeconds to,
                                                     const std::string& gpu_key) {
    auto db = LeaseReader();
    if (!db) return db.error();
    // One read transaction: the watermark, the hours and the windows past it come from one snapshot,
    // so a roll-up finishing meanwhile can neither hide a window nor count it twice.
    if (auto r = (*db)->Run("BEGIN"); !r) return r.error();
    struct EndRead {
        Connection& c;
        ~EndRead() { (void)c.Run("COMMIT"); }
    } end_read{**db};
    RolledHistory out;
    int64_t watermark = 0;
    {
        auto st = (*db)->Prepare("SELECT watermark FROM rollup_state WHERE id = 1");
        if (!st) return st.error();
        auto row = st->Step();
        if (!row) return row.error();
        if (*row) watermark = st->Int(0);
    }
    // Days that overlap [from, to), by day; each day's hours go out hour by hour, so `hours` stays oldest
    // first. Within a day rows come by GPU key, as the primary key gives them.
    static const std::string days_all =
        "SELECT gpu_key, day, host, uuid, gpu_name, gpu_index, hours FROM gpu_days"
        " WHERE account_id = ?1 AND day >= ?2 AND day < ?3 ORDER BY day, gpu_key";
    static const std::string days_one =
        "SELECT gpu_key, day, host, uuid, gpu_name, gpu_index, hours FROM gpu_days"
        " WHERE account_id = ?1 AND day >= ?2 AND day < ?3 AND gpu_key = ?4 ORDER BY day";
    {
        auto st = (*db)->Prepare(gpu_key.empty() ? days_all.c_str() : days_one.c_str());
        if (!st) return st.error();
        st->Bind(1, account_id).Bind(2, FormatUtc(DayOf(from))).Bind(3, FormatUtc(to));
        if (!gpu_key.empty()) st->Bind(4, std::string_view(gpu_key));
        struct Hash {
            using is_transparent = void;
            size_t operator()(std::string_view v) const { return std::hash<std::string_view>{}(v); }
        };
        std::unordered_map<std::string, size_t, Hash, std::equal_to<>> index;  // looked up by view: no copy a row
        auto set_if_changed = [](std::string& field, std::string_view value) {
            if (field != value) field.assign(value);
        };
        DayHours day_rows(from, to, out);
        std::string day_text;
        for (;;) {
            auto row = st->Step();
            if (!row) return row.error();
            if (!*row) break;
            const std::string_view key = st->TextView(0);
            auto it = index.find(key);
            if (it == index.end()) {
                it = index.emplace(std::string(key), out.gpus.size()).first;
                out.gpus.push_back({std::string(key), {}, {}, {}, 0});
            }
            GpuIdentity& id = out.gpus[it->second];
            set_if_changed(id.host, st->TextView(2));
            set_if_changed(id.uuid, st->TextView(3));
            set_if_changed(id.name, st->TextView(4));
            id.gpu_index = static_cast<int>(st->Int(5));
            if (const std::string_view day = st->TextView(1); day != day_text) {
                day_text.assign(day);
                day_rows.StartDay(ParseUtc(day).value_or(SysSeconds{}));
            }
            if (auto r = day_rows.Add(it->second, st->BlobView(6)); !r) return r.error();
        }
        day_rows.Flush();
    }
    // Every window the roll-up has not merged yet, however old its time (a back-filled spool): answers
    // must not depend on whether the roll-up has caught up. Found from the watermark along the id, so
    // only the roll-up's backlog is read.
    static const std::string tail_all =
        std::string("SELECT ") + kWindowColumns +
        " FROM gpu_windows g WHERE g.id > ?5 AND g.account_id = ?1 AND g.window_end > ?2"
        " AND g.window_end <= ?3 ORDER BY g.window_end, g.id";
    static const std::string tail_one =
        std::string("SELECT ") + kWindowColumns +
        " FROM gpu_windows g WHERE g.id > ?5 AND g.account_id = ?1 AND g.window_end > ?2"
        " AND g.window_end <= ?3 AND g.gpu_key = ?4 ORDER BY g.window_end, g.id";
    {
        auto st = (*db)->Prepare(gpu_key.empty() ? tail_all.c_str() : tail_one.c_str());
        if (!st) return st.error();
        st->Bind(1, account_id).Bind(2, FormatUtc(from)).Bind(3, FormatUtc(to)).Bind(5, watermark);
        if (!gpu_key.empty()) st->Bind(4, std::string_view(gpu_key));
        auto tail = Collect<StoredWindow>(*st, ReadWindow);
        if (!tail) return tail.error();
        out.unmerged = std::move(*tail);
    }
    return out;
}

Result<std::vector<FleetGpu>> SqliteStore::ReadFleet(int64_t account_id, SysSeconds since) {
    auto db = LeaseReader();
    if (!db) return db.error();
    std::vector<std::pair<FleetGpu, int64_t>> gpus;  // with the report the seen-row last pointed at
    {
        auto st = (*db)->Prepare(
            "SELECT gpu_key, first_seen, last_seen, last_report_pk FROM gpus_seen WHERE account_id = ?1 AND last_seen "
            ">= ?2"
            " ORDER BY gpu_key");
        if (!st) return st.error();
        st->Bind(1, account_id).Bind(2, FormatUtc(since));
        for (;;) {
            auto row = st->Step();
            if (!row) return row.error();
            if (!*row) break;
            FleetGpu g;
            g.gpu_key = st->Text(0);
            g.first_seen = Time(*st, 1);
            g.last_seen = Time(*st, 2);
            gpus.emplace_back(std::move(g), st->IsNull(3) ? 0 : st->Int(3));
        }
    }
    // gpus_seen is refreshed about once a minute per GPU; the latest window is the newest one from the
    // report it names onwards (a short scan along the report index).
    static const std::string latest =
        std::string("SELECT ") + kWindowColumns +
        " FROM gpu_windows g WHERE g.report_pk >= ?1 AND g.account_id = ?2 AND g.gpu_key = ?3"
        " ORDER BY g.report_pk DESC LIMIT 1";
    std::vector<FleetGpu> out;
    for (auto& [g, report_pk] : gpus) {
        auto st = (*db)->Prepare(latest.c_str());
        if (!st) return st.error();
        st->Bind(1, report_pk).Bind(2, account_id).Bind(3, std::string_view(g.gpu_key));
        auto row = st->Step();
        if (!row) return row.error();
        if (*row) g.latest = ReadWindow(*st);
        out.push_back(std::move(g));
    }
    return out;
}

// ---------------------------------------------------------------------------------------------------
// Roll-up and retention

Result<std::vector<StoredWindow>> SqliteStore::ReadWindowsAfter(int64_t after_id, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kWindowColumns + " FROM gpu_windows g WHERE g.id > ?1 ORDER BY g.id LIMIT ?2";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, after_id).Bind(2, static_cast<int64_t>(limit));
    return Collect<StoredWindow>(*st, ReadWindow);
}

Result<int64_t> SqliteStore::RollupWatermark() {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto st = (*db)->Prepare("SELECT watermark FROM rollup_state WHERE id = 1");
    if (!st) return st.error();
    auto row = st->Step();
    if (!row) return row.error();
    return *row ? st->Int(0) : 0;
}

void SqliteStore::ApplyRollup(std::vector<HourlyRow> hours, int64_t expected, int64_t new_watermark,
                              Callback<void> done) {
    Submit<void>(
        [hours = std::move(hours), expected, new_watermark](Connection& db) -> Result<void> {
            {
                // Moving the watermark first makes a concurrent run's update match nothing: then this
                // job writes nothing at all (an expected failure before any write).
                auto st = db.Prepare("UPDATE rollup_state SET watermark = ?1 WHERE id = 1 AND watermark = ?2");
                if (!st) return st.error();
                st->Bind(1, new_watermark).Bind(2, expected);
                if (auto r = st->Run(); !r) return r.error();
                if (db.Changes() == 0) return Error{ErrorCode::kAlreadyExists, "the roll-up moved on meanwhile", {}};
            }
            return MergeRolledHours(db, hours);
        },
        std::move(done));
}

Result<void> MergeRolledHours(Connection& db, const std::vector<HourlyRow>& hours) {
    static const std::string upsert =
        std::string("INSERT INTO gpu_days (") + kDayColumns +
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        " ON CONFLICT (account_id, day, gpu_key) DO UPDATE SET host = excluded.host, uuid = excluded.uuid,"
        " gpu_name = excluded.gpu_name, gpu_index = excluded.gpu_index, windows = excluded.windows,"
        " cost_usd = excluded.cost_usd, idle_cost_usd = excluded.idle_cost_usd,"
        " idle_held_cost_usd = excluded.idle_held_cost_usd, hours = excluded.hours";
    for (const DayGroup& g : GroupByDay(hours)) {
        const std::string day = FormatUtc(g.day);
        PackedDay stored;
        {
            auto st = db.Prepare("SELECT hours FROM gpu_days WHERE account_id = ?1 AND day = ?2 AND gpu_key = ?3");
            if (!st) return st.error();
            st->Bind(1, g.account_id).Bind(2, std::string_view(day)).Bind(3, std::string_view(g.gpu_key));
            auto row = st->Step();
            if (!row) return row.error();
            if (*row) {
                auto decoded = PackedDay::Decode(st->BlobView(0));
                if (!decoded) return decoded.error();
                stored = *decoded;
            }
        }
        const PackedDay merged = MergeDay(stored, g);
        auto st = db.Prepare(upsert.c_str());
        if (!st) return st.error();
        st->Bind(1, g.account_id)
            .Bind(2, std::string_view(day))
            .Bind(3, std::string_view(g.gpu_key))
            .Bind(4, std::string_view(g.host))
            .Bind(5, std::string_view(g.uuid))
            .Bind(6, std::string_view(g.name))
            .Bind(7, g.gpu_index)
            .Bind(8, merged.Windows())
            .Bind(9, merged.Cost())
            .Bind(10, merged.IdleCost())
            .Bind(11, merged.IdleHeldCost())
            .BindBlob(12, merged.Encode());
        if (auto r = st->Run(); !r) return r.error();
    }
    return {};
}

void SqliteStore::PruneHistory(SysSeconds raw_before, SysSeconds hourly_before, size_t max_rows,
                               Callback<int64_t> done) {
    Submit<int64_t>(
        [raw_before, hourly_before, max_rows](Connection& db) -> Result<int64_t> {
            const std::string raw_cut = FormatUtc(raw_before);
            const std::string hourly_cut = FormatUtc(hourly_before);
            // A roll-up day goes when its last hour is before the cut: days are kept whole.
            const std::string day_cut = FormatUtc(hourly_before - std::chrono::hours(23));
            const auto limit = static_cast<int64_t>(max_rows);
            int64_t deleted = 0;
            // Raw windows go oldest id first, as long as they are old and rolled up. Ids follow arrival,
            // so the oldest rows sit at the start; a young row stops the sweep (a late replay behind it
            // waits for the next one), which keeps every run to the rows it deletes.
            int64_t watermark = 0;
            {
                auto st = db.Prepare("SELECT watermark FROM rollup_state WHERE id = 1");
                if (!st) return st.error();
                if (auto row = st->Step(); !row) return row.error();
                watermark = st->Int(0);
            }
            for (auto [select, remove] : {std::pair{"SELECT id, window_end FROM gpu_windows ORDER BY id LIMIT ?1",
                                                    "DELETE FROM gpu_windows WHERE id <= ?1"},
                                          {"SELECT id, window_end FROM usage_reports r WHERE NOT EXISTS (SELECT 1 FROM "
                                           "gpu_windows g WHERE g.report_pk = r.id)"
                                           " ORDER BY id LIMIT ?1",
                                           "DELETE FROM usage_reports WHERE id <= ?1 AND NOT EXISTS (SELECT 1 FROM "
                                           "gpu_windows g WHERE g.report_pk = usage_reports.id)"}}) {
                int64_t last = 0;
                {
                    auto st = db.Prepare(select);
                    if (!st) return st.error();
                    st->Bind(1, limit);
                    for (;;) {
                        auto row = st->Step();
                        if (!row) return row.error();
                        if (!*row) break;
                        const bool windows =
                            std::string_view(select).find("gpu_windows ORDER") != std::string_view::npos;
                        if (st->Text(1) >= raw_cut || (windows && st->Int(0) > watermark)) break;
                        last = st->Int(0);
                    }
                }
                if (last == 0) continue;
                auto st = db.Prepare(remove);
                if (!st) return st.error();
                st->Bind(1, last);
                if (auto r = st->Run(); !r) return r.error();
                deleted += db.Changes();
            }
            for (const char* sql :
                 {"DELETE FROM gpu_days WHERE (account_id, day, gpu_key) IN"
                  " (SELECT account_id, day, gpu_key FROM gpu_days WHERE day < ?1 LIMIT ?2)",
                  "DELETE FROM gpus_seen WHERE (account_id, gpu_key) IN (SELECT account_id, gpu_key FROM gpus_seen "
                  "WHERE last_seen < ?1 LIMIT ?2)",
                  "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE closed_at < ?1 LIMIT ?2)"}) {
                auto st = db.Prepare(sql);
                if (!st) return st.error();
                const bool days = std::string_view(sql).find("gpu_days") != std::string_view::npos;
                st->Bind(1, std::string_view(days ? day_cut : hourly_cut)).Bind(2, limit);
                if (auto r = st->Run(); !r) return r.error();
                deleted += db.Changes();
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

Result<std::optional<AlertSettings>> SqliteStore::GetAlertSettings(int64_t account_id) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto st = (*db)->Prepare(
        "SELECT account_id, webhook_url, idle_minutes, email_alerts FROM alert_settings WHERE account_id = ?1");
    if (!st) return st.error();
    st->Bind(1, account_id);
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row) return std::optional<AlertSettings>{};
    AlertSettings settings{st->Int(0), st->Text(1), static_cast<int>(st->Int(2)), {}};
    settings.email = st->Int(3) != 0;
    auto url = Unseal(settings.webhook_url);
    if (!url) return url.error();
    settings.webhook_url = std::move(*url);
    return std::optional<AlertSettings>(std::move(settings));
}

void SqliteStore::SetAlertSettings(AlertSettings settings, Callback<AlertSettings> done) {
    auto sealed = Seal(settings.webhook_url);
    if (!sealed) return done(sealed.error());
    Submit<AlertSettings>(
        [settings = std::move(settings), sealed = std::move(*sealed)](Connection& db) -> Result<AlertSettings> {
            auto st = db.Prepare(
                "INSERT INTO alert_settings (account_id, webhook_url, idle_minutes, updated_at, email_alerts)"
                " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (account_id) DO UPDATE SET webhook_url = "
                "excluded.webhook_url,"
                " idle_minutes = excluded.idle_minutes, updated_at = excluded.updated_at,"
                " email_alerts = excluded.email_alerts");
            if (!st) return st.error();
            st->Bind(1, settings.account_id)
                .Bind(2, std::string_view(sealed))
                .Bind(3, settings.idle_minutes)
                .Bind(4, FormatUtc(UtcNow()))
                .Bind(5, static_cast<int64_t>(settings.email ? 1 : 0));
            if (auto r = st->Run(); !r) return r.error();
            return settings;
        },
        std::move(done));
}

Result<std::vector<AlertSettings>> SqliteStore::ListAlertSettings() {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto st = (*db)->Prepare(
        "SELECT s.account_id, s.webhook_url, s.idle_minutes, a.tier, s.email_alerts FROM alert_settings s"
        " JOIN accounts a ON a.id = s.account_id"
        " WHERE s.webhook_url <> '' OR s.email_alerts <> 0 ORDER BY s.account_id");
    if (!st) return st.error();
    auto all = Collect<AlertSettings>(*st, [](const Statement& s) {
        AlertSettings settings{s.Int(0), s.Text(1), static_cast<int>(s.Int(2)), StoredTier(s.TextView(3))};
        settings.email = s.Int(4) != 0;
        return settings;
    });
    if (!all) return all;
    if (auto r = OpenFields(encryption_keys_, *all, &AlertSettings::webhook_url); !r) return r.error();
    return all;
}

Result<std::vector<Alert>> SqliteStore::OpenAlerts(int64_t account_id) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kAlertColumns + " FROM alerts WHERE account_id = ?1 AND closed_at IS NULL";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, account_id);
    return Collect<Alert>(*st, ReadAlert);
}

void SqliteStore::OpenAlert(Alert alert, Callback<Alert> done) {
    Submit<Alert>(
        [alert = std::move(alert)](Connection& db) mutable -> Result<Alert> {
            auto st = db.Prepare(
                "INSERT INTO alerts (account_id, gpu_key, idle_since, opened_at, message, delivery, attempts, "
                "next_attempt)"
                " VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?4)");
            if (!st) return st.error();
            st->Bind(1, alert.account_id)
                .Bind(2, std::string_view(alert.gpu_key))
                .Bind(3, FormatUtc(alert.idle_since))
                .Bind(4, FormatUtc(alert.opened_at))
                .Bind(5, std::string_view(alert.message));
            if (auto r = st->Run(); !r) return r.error();  // kAlreadyExists: one is open (alerts_open)
            alert.id = db.LastInsertId();
            alert.delivery = AlertDelivery::kPending;
            alert.attempts = 0;
            alert.next_attempt = alert.opened_at;
            return alert;
        },
        std::move(done));
}

void SqliteStore::CloseAlert(int64_t alert_id, SysSeconds at, Callback<void> done) {
    Submit<void>(
        [alert_id, at](Connection& db) -> Result<void> {
            auto st = db.Prepare("UPDATE alerts SET closed_at = ?1 WHERE id = ?2 AND closed_at IS NULL");
            if (!st) return st.error();
            st->Bind(1, FormatUtc(at)).Bind(2, alert_id);
            return st->Run();
        },
        std::move(done));
}

Result<std::vector<Alert>> SqliteStore::DueAlertDeliveries(SysSeconds now, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kAlertColumns +
        " FROM alerts WHERE delivery = 'pending' AND next_attempt <= ?1 ORDER BY next_attempt LIMIT ?2";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, FormatUtc(now)).Bind(2, static_cast<int64_t>(limit));
    return Collect<Alert>(*st, ReadAlert);
}

void SqliteStore::RecordAlertDelivery(int64_t alert_id, AlertDelivery delivery, int attempts,
                                      std::optional<SysSeconds> next_attempt, Callback<void> done) {
    Submit<void>(
        [alert_id, delivery, attempts, next_attempt](Connection& db) -> Result<void> {
            auto st = db.Prepare("UPDATE alerts SET delivery = ?1, attempts = ?2, next_attempt = ?3 WHERE id = ?4");
            if (!st) return st.error();
            st->Bind(1, NameOf(delivery)).Bind(2, attempts);
            if (next_attempt) {
                st->Bind(3, FormatUtc(*next_attempt));
            } else {
                st->BindNull(3);
            }
            st->Bind(4, alert_id);
            return st->Run();
        },
        std::move(done));
}

Result<std::vector<Alert>> SqliteStore::ListAlerts(int64_t account_id, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kAlertColumns + " FROM alerts WHERE account_id = ?1 ORDER BY id DESC LIMIT ?2";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, account_id).Bind(2, static_cast<int64_t>(limit));
    return Collect<Alert>(*st, ReadAlert);
}

}  // namespace gpuopt::store::sqlite
