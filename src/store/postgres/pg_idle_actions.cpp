// PgStore: idle policies, snoozes and what agents did about idle GPUs (store/idle_actions.hpp).
#include "store/postgres/connection.hpp"
#include "store/postgres/pg_store.hpp"
#include "store/postgres/pg_store_internal.hpp"

namespace gpuopt::store::postgres {

namespace {

constexpr const char* kPolicyColumns =
    "account_id, enabled, dry_run, idle_trigger, idle_minutes, grace_minutes, action, kill_after_seconds, version,"
    " updated_at";

IdlePolicy ReadPolicy(const Rows& r, int i) {
    IdlePolicy p;
    p.account_id = r.Int(i, 0);
    p.enabled = r.Int(i, 1) != 0;
    p.dry_run = r.Int(i, 2) != 0;
    p.trigger = IdleTriggerNamed(r.Text(i, 3)).value_or(IdleTrigger::kIdleHoldingMemory);
    p.idle_minutes = r.Double(i, 4);
    p.grace_minutes = r.Double(i, 5);
    p.action = IdleActionNamed(r.Text(i, 6)).value_or(IdleAction::kNotify);
    p.kill_after_seconds = static_cast<int>(r.Int(i, 7));
    p.version = r.Int(i, 8);
    p.updated_at = TimeAt(r, i, 9);
    return p;
}

constexpr const char* kEventColumns =
    "id, account_id, event_key, host, gpu_key, uuid, kind, action, dry_run, detail, processes, happened_at, "
    "received_at";

IdleEvent ReadEvent(const Rows& r, int i) {
    IdleEvent e;
    e.id = r.Int(i, 0);
    e.account_id = r.Int(i, 1);
    e.event_key = std::string(r.Text(i, 2));
    e.host = std::string(r.Text(i, 3));
    e.gpu_key = std::string(r.Text(i, 4));
    e.uuid = std::string(r.Text(i, 5));
    e.kind = IdleEventKindNamed(r.Text(i, 6)).value_or(IdleEventKind::kWarned);
    e.action = std::string(r.Text(i, 7));
    e.dry_run = r.Int(i, 8) != 0;
    e.detail = std::string(r.Text(i, 9));
    e.processes_json = std::string(r.Text(i, 10));
    e.at = TimeAt(r, i, 11);
    e.received_at = TimeAt(r, i, 12);
    return e;
}

}  // namespace

Result<std::optional<IdlePolicy>> PgStore::GetIdlePolicy(int64_t account_id) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kPolicyColumns + " FROM idle_policies WHERE account_id = $1";
    auto rows = (*db)->Query(sql, Params().Add(account_id));
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<IdlePolicy>{};
    return std::optional<IdlePolicy>(ReadPolicy(*rows, 0));
}

void PgStore::SetIdlePolicy(IdlePolicy policy, SysSeconds now, Callback<IdlePolicy> done) {
    Submit<IdlePolicy>(
        [policy, now](Connection& db) -> Result<IdlePolicy> {
            static const std::string sql =
                std::string("INSERT INTO idle_policies (") + kPolicyColumns +
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9) ON CONFLICT (account_id) DO UPDATE SET"
                " enabled = excluded.enabled, dry_run = excluded.dry_run, idle_trigger = excluded.idle_trigger,"
                " idle_minutes = excluded.idle_minutes, grace_minutes = excluded.grace_minutes,"
                " action = excluded.action, kill_after_seconds = excluded.kill_after_seconds,"
                " version = idle_policies.version + 1, updated_at = excluded.updated_at RETURNING " +
                kPolicyColumns;
            auto rows = db.Query(sql, Params()
                                          .Add(policy.account_id)
                                          .Add(static_cast<int64_t>(policy.enabled ? 1 : 0))
                                          .Add(static_cast<int64_t>(policy.dry_run ? 1 : 0))
                                          .Add(NameOf(policy.trigger))
                                          .Add(policy.idle_minutes)
                                          .Add(policy.grace_minutes)
                                          .Add(NameOf(policy.action))
                                          .Add(static_cast<int64_t>(policy.kill_after_seconds))
                                          .Add(FormatUtc(now)));
            if (!rows) return rows.error();
            if (rows->empty()) return Error{ErrorCode::kInternal, "the idle policy was not stored", {}};
            return ReadPolicy(*rows, 0);
        },
        std::move(done));
}

void PgStore::SnoozeGpu(IdleSnooze snooze, Callback<void> done) {
    Submit<void>(
        [snooze](Connection& db) -> Result<void> {
            auto rows = db.Query(
                "INSERT INTO idle_snoozes (account_id, gpu_key, host, uuid, snoozed_until, created_at)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account_id, gpu_key) DO UPDATE SET"
                " host = excluded.host, uuid = excluded.uuid, snoozed_until = excluded.snoozed_until,"
                " created_at = excluded.created_at",
                Params()
                    .Add(snooze.account_id)
                    .Add(snooze.gpu_key)
                    .Add(snooze.host)
                    .Add(snooze.uuid)
                    .Add(FormatUtc(snooze.until))
                    .Add(FormatUtc(snooze.created_at)));
            if (!rows) return rows.error();
            return {};
        },
        std::move(done));
}

Result<std::vector<IdleSnooze>> PgStore::ActiveSnoozes(int64_t account_id, SysSeconds now) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto rows = (*db)->Query(
        "SELECT account_id, gpu_key, host, uuid, snoozed_until, created_at FROM idle_snoozes"
        " WHERE account_id = $1 AND snoozed_until > $2 ORDER BY gpu_key",
        Params().Add(account_id).Add(FormatUtc(now)));
    if (!rows) return rows.error();
    return CollectRows<IdleSnooze>(*rows, [](const Rows& r, int i) {
        return IdleSnooze{r.Int(i, 0),
                          std::string(r.Text(i, 1)),
                          std::string(r.Text(i, 2)),
                          std::string(r.Text(i, 3)),
                          TimeAt(r, i, 4),
                          TimeAt(r, i, 5)};
    });
}

void PgStore::RecordIdleEvents(std::vector<IdleEvent> events, Callback<int> done) {
    Submit<int>(
        [events = std::move(events)](Connection& db) -> Result<int> {
            int added = 0;
            for (const auto& e : events) {
                auto rows = db.Query(
                    "INSERT INTO idle_events (account_id, event_key, host, gpu_key, uuid, kind, action, dry_run,"
                    " detail, processes, happened_at, received_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                    " ON CONFLICT (account_id, event_key) DO NOTHING",
                    Params()
                        .Add(e.account_id)
                        .Add(e.event_key)
                        .Add(e.host)
                        .Add(e.gpu_key)
                        .Add(e.uuid)
                        .Add(NameOf(e.kind))
                        .Add(e.action)
                        .Add(static_cast<int64_t>(e.dry_run ? 1 : 0))
                        .Add(e.detail)
                        .Add(e.processes_json.empty() ? std::string("[]") : e.processes_json)
                        .Add(FormatUtc(e.at))
                        .Add(FormatUtc(e.received_at)));
                if (!rows) return rows.error();
                added += static_cast<int>(rows->Affected());
            }
            return added;
        },
        std::move(done));
}

Result<std::vector<IdleEvent>> PgStore::ListIdleEvents(int64_t account_id, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kEventColumns + " FROM idle_events WHERE account_id = $1 ORDER BY id DESC LIMIT $2";
    auto rows = (*db)->Query(sql, Params().Add(account_id).Add(static_cast<int64_t>(limit)));
    if (!rows) return rows.error();
    return CollectRows<IdleEvent>(*rows, ReadEvent);
}

}  // namespace gpuopt::store::postgres
