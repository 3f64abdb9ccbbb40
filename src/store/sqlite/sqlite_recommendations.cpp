// SqliteStore: recommendations followed over time (store/recommendations.hpp).
#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"

namespace gpuopt::store::sqlite {

namespace {

constexpr const char* kTrackColumns =
    "id, account_id, gpu_key, host, action, summary, estimate_monthly, before_gpu_name, before_cost_per_hour,"
    " before_idle_fraction, before_util_avg, before_monthly_cost, before_monthly_idle_cost, first_recommended,"
    " last_recommended, state, change, changed_at, after_gpu_name, after_cost_per_hour, after_idle_fraction,"
    " after_util_avg, after_monthly_cost, after_monthly_idle_cost, realized_monthly, replaced_by";

GpuCostSnapshot SnapshotAt(const Statement& s, int first) {
    return GpuCostSnapshot{s.Text(first),       s.Double(first + 1), s.Double(first + 2),
                           s.Double(first + 3), s.Double(first + 4), s.Double(first + 5)};
}

TrackedRecommendation ReadTrack(const Statement& s) {
    TrackedRecommendation t;
    t.id = s.Int(0);
    t.account_id = s.Int(1);
    t.gpu_key = s.Text(2);
    t.host = s.Text(3);
    t.action = s.Text(4);
    t.summary = s.Text(5);
    t.estimate_monthly = s.Double(6);
    t.before = SnapshotAt(s, 7);
    t.first_recommended = ParseUtc(s.Text(13)).value_or(SysSeconds{});
    t.last_recommended = ParseUtc(s.Text(14)).value_or(SysSeconds{});
    t.state = TrackStateNamed(s.TextView(15)).value_or(TrackState::kOpen);
    if (!s.IsNull(16)) t.change = GpuChangeNamed(s.TextView(16));
    if (!s.IsNull(17)) t.changed_at = ParseUtc(s.Text(17));
    if (!s.IsNull(18)) t.after = SnapshotAt(s, 18);
    if (!s.IsNull(24)) t.realized_monthly = s.Double(24);
    if (!s.IsNull(25)) t.replaced_by = s.Text(25);
    return t;
}

}  // namespace

void SqliteStore::RecordRecommended(int64_t account_id, std::vector<TrackedRecommendation> recommended, SysSeconds now,
                                    Callback<void> done) {
    Submit<void>(
        [account_id, recommended = std::move(recommended), now](Connection& db) -> Result<void> {
            const std::string at = FormatUtc(now);
            for (const auto& r : recommended) {
                auto st = db.Prepare(
                    "INSERT INTO recommendation_tracks (account_id, gpu_key, host, action, summary, estimate_monthly,"
                    " before_gpu_name, before_cost_per_hour, before_idle_fraction, before_util_avg,"
                    " before_monthly_cost, before_monthly_idle_cost, first_recommended, last_recommended, state)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, 'open')"
                    " ON CONFLICT (account_id, gpu_key) WHERE state = 'open' DO UPDATE SET action = excluded.action,"
                    " summary = excluded.summary, estimate_monthly = excluded.estimate_monthly,"
                    " host = excluded.host, last_recommended = excluded.last_recommended");
                if (!st) return st.error();
                st->Bind(1, account_id)
                    .Bind(2, std::string_view(r.gpu_key))
                    .Bind(3, std::string_view(r.host))
                    .Bind(4, std::string_view(r.action))
                    .Bind(5, std::string_view(r.summary))
                    .Bind(6, r.estimate_monthly)
                    .Bind(7, std::string_view(r.before.gpu_name))
                    .Bind(8, r.before.cost_per_hour)
                    .Bind(9, r.before.idle_fraction)
                    .Bind(10, r.before.util_avg)
                    .Bind(11, r.before.monthly_cost)
                    .Bind(12, r.before.monthly_idle_cost)
                    .Bind(13, std::string_view(at));
                if (auto run = st->Run(); !run) return run.error();
            }
            return {};
        },
        std::move(done));
}

void SqliteStore::RecordRealized(std::vector<Realization> realized, Callback<void> done) {
    Submit<void>(
        [realized = std::move(realized)](Connection& db) -> Result<void> {
            for (const auto& r : realized) {
                auto st = db.Prepare(
                    "UPDATE recommendation_tracks SET state = 'realized', change = ?2, changed_at = ?3,"
                    " after_gpu_name = ?4, after_cost_per_hour = ?5, after_idle_fraction = ?6, after_util_avg = ?7,"
                    " after_monthly_cost = ?8, after_monthly_idle_cost = ?9, realized_monthly = ?10, replaced_by = ?11"
                    " WHERE id = ?1 AND state = 'open'");
                if (!st) return st.error();
                st->Bind(1, r.id)
                    .Bind(2, NameOf(r.change))
                    .Bind(3, FormatUtc(r.changed_at))
                    .Bind(4, std::string_view(r.after.gpu_name))
                    .Bind(5, r.after.cost_per_hour)
                    .Bind(6, r.after.idle_fraction)
                    .Bind(7, r.after.util_avg)
                    .Bind(8, r.after.monthly_cost)
                    .Bind(9, r.after.monthly_idle_cost)
                    .Bind(10, r.realized_monthly);
                if (r.replaced_by.empty()) {
                    st->BindNull(11);
                } else {
                    st->Bind(11, std::string_view(r.replaced_by));
                }
                if (auto run = st->Run(); !run) return run.error();
            }
            return {};
        },
        std::move(done));
}

Result<std::vector<TrackedRecommendation>> SqliteStore::ListTracked(int64_t account_id, std::optional<TrackState> state,
                                                                    size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string("SELECT ") + kTrackColumns +
                                   " FROM recommendation_tracks WHERE account_id = ?1 AND (?2 = '' OR state = ?2)"
                                   " ORDER BY id DESC LIMIT ?3";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, account_id).Bind(2, state ? NameOf(*state) : std::string_view("")).Bind(3, static_cast<int64_t>(limit));
    return Collect<TrackedRecommendation>(*st, ReadTrack);
}

Result<std::vector<int64_t>> SqliteStore::AccountsWithOpenTracks(size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto st = (*db)->Prepare(
        "SELECT DISTINCT account_id FROM recommendation_tracks WHERE state = 'open' ORDER BY account_id LIMIT ?1");
    if (!st) return st.error();
    st->Bind(1, static_cast<int64_t>(limit));
    return Collect<int64_t>(*st, [](const Statement& s) { return s.Int(0); });
}

void SqliteStore::MarkRecommendation(RecommendationMark mark, Callback<void> done) {
    Submit<void>(
        [mark = std::move(mark)](Connection& db) -> Result<void> {
            auto st = db.Prepare(
                "INSERT INTO recommendation_marks (account_id, action, target, state, summary, monthly_savings, note,"
                " marked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                " ON CONFLICT (account_id, action, target) DO UPDATE SET state = excluded.state,"
                " summary = excluded.summary, monthly_savings = excluded.monthly_savings, note = excluded.note,"
                " marked_at = excluded.marked_at");
            if (!st) return st.error();
            st->Bind(1, mark.account_id)
                .Bind(2, std::string_view(mark.action))
                .Bind(3, std::string_view(mark.target))
                .Bind(4, NameOf(mark.state))
                .Bind(5, std::string_view(mark.summary))
                .Bind(6, mark.monthly_savings)
                .Bind(7, std::string_view(mark.note))
                .Bind(8, FormatUtc(mark.marked_at));
            return st->Run();
        },
        std::move(done));
}

void SqliteStore::UnmarkRecommendation(int64_t account_id, std::string action, std::string target,
                                       Callback<bool> done) {
    Submit<bool>(
        [account_id, action = std::move(action), target = std::move(target)](Connection& db) -> Result<bool> {
            auto st =
                db.Prepare("DELETE FROM recommendation_marks WHERE account_id = ?1 AND action = ?2 AND target = ?3");
            if (!st) return st.error();
            st->Bind(1, account_id).Bind(2, std::string_view(action)).Bind(3, std::string_view(target));
            if (auto r = st->Run(); !r) return r.error();
            return db.Changes() > 0;
        },
        std::move(done));
}

Result<std::vector<RecommendationMark>> SqliteStore::ListRecommendationMarks(int64_t account_id) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto st = (*db)->Prepare(
        "SELECT account_id, action, target, state, summary, monthly_savings, note, marked_at"
        " FROM recommendation_marks WHERE account_id = ?1 ORDER BY marked_at DESC, action, target");
    if (!st) return st.error();
    st->Bind(1, account_id);
    return Collect<RecommendationMark>(*st, [](const Statement& s) {
        RecommendationMark m;
        m.account_id = s.Int(0);
        m.action = s.Text(1);
        m.target = s.Text(2);
        m.state = MarkStateNamed(s.Text(3)).value_or(MarkState::kDismissed);
        m.summary = s.Text(4);
        m.monthly_savings = s.Double(5);
        m.note = s.Text(6);
        m.marked_at = ParseUtc(s.Text(7)).value_or(SysSeconds{});
        return m;
    });
}

}  // namespace gpuopt::store::sqlite
