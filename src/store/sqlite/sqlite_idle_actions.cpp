// SqliteStore: idle policies, snoozes and what agents did about idle GPUs (store/idle_actions.hpp).
#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"

namespace gpuopt::store::sqlite {

namespace {

constexpr const char* kPolicyColumns =
    "account_id, enabled, dry_run, idle_trigger, idle_minutes, grace_minutes, action, kill_after_seconds, version,"
    " updated_at";

IdlePolicy ReadPolicy(const Statement& s) {
    IdlePolicy p;
    p.account_id = s.Int(0);
    p.enabled = s.Int(1) != 0;
    p.dry_run = s.Int(2) != 0;
    p.trigger = IdleTriggerNamed(s.TextView(3)).value_or(IdleTrigger::kIdleHoldingMemory);
    p.idle_minutes = s.Double(4);
    p.grace_minutes = s.Double(5);
    p.action = IdleActionNamed(s.TextView(6)).value_or(IdleAction::kNotify);
    p.kill_after_seconds = static_cast<int>(s.Int(7));
    p.version = s.Int(8);
    p.updated_at = ParseUtc(s.Text(9)).value_or(SysSeconds{});
    return p;
}

constexpr const char* kEventColumns =
    "id, account_id, event_key, host, gpu_key, uuid, kind, action, dry_run, detail, processes, happened_at, "
    "received_at";

IdleEvent ReadEvent(const Statement& s) {
    IdleEvent e;
    e.id = s.Int(0);
    e.account_id = s.Int(1);
    e.event_key = s.Text(2);
    e.host = s.Text(3);
    e.gpu_key = s.Text(4);
    e.uuid = s.Text(5);
    e.kind = IdleEventKindNamed(s.TextView(6)).value_or(IdleEventKind::kWarned);
    e.action = s.Text(7);
    e.dry_run = s.Int(8) != 0;
    e.detail = s.Text(9);
    e.processes_json = s.Text(10);
    e.at = ParseUtc(s.Text(11)).value_or(SysSeconds{});
    e.received_at = ParseUtc(s.Text(12)).value_or(SysSeconds{});
    return e;
}

}  // namespace

Result<std::optional<IdlePolicy>> SqliteStore::GetIdlePolicy(int64_t account_id) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kPolicyColumns + " FROM idle_policies WHERE account_id = ?1";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, account_id);
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row) return std::optional<IdlePolicy>{};
    return std::optional<IdlePolicy>(ReadPolicy(*st));
}

void SqliteStore::SetIdlePolicy(IdlePolicy policy, SysSeconds now, Callback<IdlePolicy> done) {
    Submit<IdlePolicy>(
        [policy, now](Connection& db) mutable -> Result<IdlePolicy> {
            static const std::string sql =
                std::string("INSERT INTO idle_policies (") + kPolicyColumns +
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9) ON CONFLICT (account_id) DO UPDATE SET"
                " enabled = excluded.enabled, dry_run = excluded.dry_run, idle_trigger = excluded.idle_trigger,"
                " idle_minutes = excluded.idle_minutes, grace_minutes = excluded.grace_minutes,"
                " action = excluded.action, kill_after_seconds = excluded.kill_after_seconds,"
                " version = idle_policies.version + 1, updated_at = excluded.updated_at RETURNING " +
                kPolicyColumns;
            auto st = db.Prepare(sql.c_str());
            if (!st) return st.error();
            st->Bind(1, policy.account_id)
                .Bind(2, static_cast<int64_t>(policy.enabled ? 1 : 0))
                .Bind(3, static_cast<int64_t>(policy.dry_run ? 1 : 0))
                .Bind(4, NameOf(policy.trigger))
                .Bind(5, policy.idle_minutes)
                .Bind(6, policy.grace_minutes)
                .Bind(7, NameOf(policy.action))
                .Bind(8, static_cast<int64_t>(policy.kill_after_seconds))
                .Bind(9, std::string_view(FormatUtc(now)));
            auto row = st->Step();
            if (!row) return row.error();
            if (!*row) return Error{ErrorCode::kInternal, "the idle policy was not stored", {}};
            return ReadPolicy(*st);
        },
        std::move(done));
}

void SqliteStore::SnoozeGpu(IdleSnooze snooze, Callback<void> done) {
    Submit<void>(
        [snooze](Connection& db) -> Result<void> {
            auto st = db.Prepare(
                "INSERT INTO idle_snoozes (account_id, gpu_key, host, uuid, snoozed_until, created_at)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (account_id, gpu_key) DO UPDATE SET"
                " host = excluded.host, uuid = excluded.uuid, snoozed_until = excluded.snoozed_until,"
                " created_at = excluded.created_at");
            if (!st) return st.error();
            const std::string until = FormatUtc(snooze.until);
            const std::string created = FormatUtc(snooze.created_at);
            st->Bind(1, snooze.account_id)
                .Bind(2, std::string_view(snooze.gpu_key))
                .Bind(3, std::string_view(snooze.host))
                .Bind(4, std::string_view(snooze.uuid))
                .Bind(5, std::string_view(until))
                .Bind(6, std::string_view(created));
            return st->Run();
        },
        std::move(done));
}

Result<std::vector<IdleSnooze>> SqliteStore::ActiveSnoozes(int64_t account_id, SysSeconds now) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto st = (*db)->Prepare(
        "SELECT account_id, gpu_key, host, uuid, snoozed_until, created_at FROM idle_snoozes"
        " WHERE account_id = ?1 AND snoozed_until > ?2 ORDER BY gpu_key");
    if (!st) return st.error();
    const std::string at = FormatUtc(now);
    st->Bind(1, account_id).Bind(2, std::string_view(at));
    return Collect<IdleSnooze>(*st, [](const Statement& s) {
        return IdleSnooze{s.Int(0),
                          s.Text(1),
                          s.Text(2),
                          s.Text(3),
                          ParseUtc(s.Text(4)).value_or(SysSeconds{}),
                          ParseUtc(s.Text(5)).value_or(SysSeconds{})};
    });
}

void SqliteStore::RecordIdleEvents(std::vector<IdleEvent> events, Callback<int> done) {
    Submit<int>(
        [events = std::move(events)](Connection& db) -> Result<int> {
            int added = 0;
            for (const auto& e : events) {
                auto st = db.Prepare(
                    "INSERT INTO idle_events (account_id, event_key, host, gpu_key, uuid, kind, action, dry_run,"
                    " detail, processes, happened_at, received_at)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
                    " ON CONFLICT (account_id, event_key) DO NOTHING");
                if (!st) return st.error();
                const std::string at = FormatUtc(e.at);
                const std::string received = FormatUtc(e.received_at);
                st->Bind(1, e.account_id)
                    .Bind(2, std::string_view(e.event_key))
                    .Bind(3, std::string_view(e.host))
                    .Bind(4, std::string_view(e.gpu_key))
                    .Bind(5, std::string_view(e.uuid))
                    .Bind(6, NameOf(e.kind))
                    .Bind(7, std::string_view(e.action))
                    .Bind(8, static_cast<int64_t>(e.dry_run ? 1 : 0))
                    .Bind(9, std::string_view(e.detail))
                    .Bind(10, std::string_view(e.processes_json.empty() ? std::string_view("[]")
                                                                        : std::string_view(e.processes_json)))
                    .Bind(11, std::string_view(at))
                    .Bind(12, std::string_view(received));
                if (auto r = st->Run(); !r) return r.error();
                added += static_cast<int>(db.Changes());
            }
            return added;
        },
        std::move(done));
}

Result<std::vector<IdleEvent>> SqliteStore::ListIdleEvents(int64_t account_id, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kEventColumns + " FROM idle_events WHERE account_id = ?1 ORDER BY id DESC LIMIT ?2";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, account_id).Bind(2, static_cast<int64_t>(limit));
    return Collect<IdleEvent>(*st, ReadEvent);
}

}  // namespace gpuopt::store::sqlite
