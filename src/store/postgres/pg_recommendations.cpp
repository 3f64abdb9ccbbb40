// PgStore: recommendations followed over time (store/recommendations.hpp).
#include "store/postgres/connection.hpp"
#include "store/postgres/pg_store.hpp"
#include "store/postgres/pg_store_internal.hpp"

namespace gpuopt::store::postgres {

namespace {

constexpr const char* kTrackColumns =
    "id, account_id, gpu_key, host, action, summary, estimate_monthly, before_gpu_name, before_cost_per_hour,"
    " before_idle_fraction, before_util_avg, before_monthly_cost, before_monthly_idle_cost, first_recommended,"
    " last_recommended, state, change, changed_at, after_gpu_name, after_cost_per_hour, after_idle_fraction,"
    " after_util_avg, after_monthly_cost, after_monthly_idle_cost, realized_monthly, replaced_by";

GpuCostSnapshot SnapshotAt(const Rows& r, int i, int first) {
    return GpuCostSnapshot{std::string(r.Text(i, first)), r.Double(i, first + 1), r.Double(i, first + 2),
                           r.Double(i, first + 3),        r.Double(i, first + 4), r.Double(i, first + 5)};
}

TrackedRecommendation ReadTrack(const Rows& r, int i) {
    TrackedRecommendation t;
    t.id = r.Int(i, 0);
    t.account_id = r.Int(i, 1);
    t.gpu_key = std::string(r.Text(i, 2));
    t.host = std::string(r.Text(i, 3));
    t.action = std::string(r.Text(i, 4));
    t.summary = std::string(r.Text(i, 5));
    t.estimate_monthly = r.Double(i, 6);
    t.before = SnapshotAt(r, i, 7);
    t.first_recommended = TimeAt(r, i, 13);
    t.last_recommended = TimeAt(r, i, 14);
    t.state = TrackStateNamed(r.Text(i, 15)).value_or(TrackState::kOpen);
    if (!r.IsNull(i, 16)) t.change = GpuChangeNamed(r.Text(i, 16));
    t.changed_at = OptTimeAt(r, i, 17);
    if (!r.IsNull(i, 18)) t.after = SnapshotAt(r, i, 18);
    t.realized_monthly = OptDoubleAt(r, i, 24);
    if (!r.IsNull(i, 25)) t.replaced_by = std::string(r.Text(i, 25));
    return t;
}

}  // namespace

void PgStore::RecordRecommended(int64_t account_id, std::vector<TrackedRecommendation> recommended, SysSeconds now,
                                Callback<void> done) {
    Submit<void>(
        [account_id, recommended = std::move(recommended), now](Connection& db) -> Result<void> {
            const std::string at = FormatUtc(now);
            for (const auto& r : recommended) {
                auto rows = db.Query(
                    "INSERT INTO recommendation_tracks (account_id, gpu_key, host, action, summary, estimate_monthly,"
                    " before_gpu_name, before_cost_per_hour, before_idle_fraction, before_util_avg,"
                    " before_monthly_cost, before_monthly_idle_cost, first_recommended, last_recommended, state)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, 'open')"
                    " ON CONFLICT (account_id, gpu_key) WHERE state = 'open' DO UPDATE SET action = excluded.action,"
                    " summary = excluded.summary, estimate_monthly = excluded.estimate_monthly,"
                    " host = excluded.host, last_recommended = excluded.last_recommended",
                    Params()
                        .Add(account_id)
                        .Add(r.gpu_key)
                        .Add(r.host)
                        .Add(r.action)
                        .Add(r.summary)
                        .Add(r.estimate_monthly)
                        .Add(r.before.gpu_name)
                        .Add(r.before.cost_per_hour)
                        .Add(r.before.idle_fraction)
                        .Add(r.before.util_avg)
                        .Add(r.before.monthly_cost)
                        .Add(r.before.monthly_idle_cost)
                        .Add(at));
                if (!rows) return rows.error();
            }
            return {};
        },
        std::move(done));
}

void PgStore::RecordRealized(std::vector<Realization> realized, Callback<void> done) {
    Submit<void>(
        [realized = std::move(realized)](Connection& db) -> Result<void> {
            for (const auto& r : realized) {
                auto rows = db.Query(
                    "UPDATE recommendation_tracks SET state = 'realized', change = $2, changed_at = $3,"
                    " after_gpu_name = $4, after_cost_per_hour = $5, after_idle_fraction = $6, after_util_avg = $7,"
                    " after_monthly_cost = $8, after_monthly_idle_cost = $9, realized_monthly = $10, replaced_by = $11"
                    " WHERE id = $1 AND state = 'open'",
                    Params()
                        .Add(r.id)
                        .Add(NameOf(r.change))
                        .Add(FormatUtc(r.changed_at))
                        .Add(r.after.gpu_name)
                        .Add(r.after.cost_per_hour)
                        .Add(r.after.idle_fraction)
                        .Add(r.after.util_avg)
                        .Add(r.after.monthly_cost)
                        .Add(r.after.monthly_idle_cost)
                        .Add(r.realized_monthly)
                        .Add(r.replaced_by.empty() ? std::optional<std::string>() : std::optional(r.replaced_by)));
                if (!rows) return rows.error();
            }
            return {};
        },
        std::move(done));
}

Result<std::vector<TrackedRecommendation>> PgStore::ListTracked(int64_t account_id, std::optional<TrackState> state,
                                                                size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string("SELECT ") + kTrackColumns +
                                   " FROM recommendation_tracks WHERE account_id = $1 AND ($2 = '' OR state = $2)"
                                   " ORDER BY id DESC LIMIT $3";
    auto rows = (*db)->Query(
        sql,
        Params().Add(account_id).Add(state ? NameOf(*state) : std::string_view("")).Add(static_cast<int64_t>(limit)));
    if (!rows) return rows.error();
    return CollectRows<TrackedRecommendation>(*rows, ReadTrack);
}

Result<std::vector<int64_t>> PgStore::AccountsWithOpenTracks(size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto rows = (*db)->Query(
        "SELECT DISTINCT account_id FROM recommendation_tracks WHERE state = 'open' ORDER BY account_id LIMIT $1",
        Params().Add(static_cast<int64_t>(limit)));
    if (!rows) return rows.error();
    return CollectRows<int64_t>(*rows, [](const Rows& r, int i) { return r.Int(i, 0); });
}

void PgStore::MarkRecommendation(RecommendationMark mark, Callback<void> done) {
    Submit<void>(
        [mark = std::move(mark)](Connection& db) -> Result<void> {
            auto rows = db.Query(
                "INSERT INTO recommendation_marks (account_id, action, target, state, summary, monthly_savings, note,"
                " marked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                " ON CONFLICT (account_id, action, target) DO UPDATE SET state = excluded.state,"
                " summary = excluded.summary, monthly_savings = excluded.monthly_savings, note = excluded.note,"
                " marked_at = excluded.marked_at",
                Params()
                    .Add(mark.account_id)
                    .Add(mark.action)
                    .Add(mark.target)
                    .Add(NameOf(mark.state))
                    .Add(mark.summary)
                    .Add(mark.monthly_savings)
                    .Add(mark.note)
                    .Add(FormatUtc(mark.marked_at)));
            if (!rows) return rows.error();
            return {};
        },
        std::move(done));
}

void PgStore::UnmarkRecommendation(int64_t account_id, std::string action, std::string target, Callback<bool> done) {
    Submit<bool>(
        [account_id, action = std::move(action), target = std::move(target)](Connection& db) -> Result<bool> {
            auto rows =
                db.Query("DELETE FROM recommendation_marks WHERE account_id = $1 AND action = $2 AND target = $3",
                         Params().Add(account_id).Add(action).Add(target));
            if (!rows) return rows.error();
            return rows->Affected() > 0;
        },
        std::move(done));
}

Result<std::vector<RecommendationMark>> PgStore::ListRecommendationMarks(int64_t account_id) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto rows = (*db)->Query(
        "SELECT account_id, action, target, state, summary, monthly_savings, note, marked_at"
        " FROM recommendation_marks WHERE account_id = $1 ORDER BY marked_at DESC, action, target",
        Params().Add(account_id));
    if (!rows) return rows.error();
    return CollectRows<RecommendationMark>(*rows, [](const Rows& r, int i) {
        RecommendationMark m;
        m.account_id = r.Int(i, 0);
        m.action = std::string(r.Text(i, 1));
        m.target = std::string(r.Text(i, 2));
        m.state = MarkStateNamed(r.Text(i, 3)).value_or(MarkState::kDismissed);
        m.summary = std::string(r.Text(i, 4));
        m.monthly_savings = r.Double(i, 5);
        m.note = std::string(r.Text(i, 6));
        m.marked_at = ParseUtc(r.Text(i, 7)).value_or(SysSeconds{});
        return m;
    });
}

}  // namespace gpuopt::store::postgres
