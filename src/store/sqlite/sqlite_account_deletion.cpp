// SqliteStore: deleting an account and everything it holds (store/accounts.hpp, decision 0025).
#include <string>
#include <vector>

#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"

namespace gpuopt::store::sqlite {

namespace {

// Its lead (SPEC §9) is erased with it: a hashed suppression entry, the funnel's counts without detail, no tie
// to the deleted account kept. Named apart: each is one statement made of adjacent literals.
constexpr const char* kLeadSuppressed =
    "INSERT INTO suppressions (kind, value, hash, reason, source, created_at) SELECT 'address', '', email_hash,"
    " 'erased', 'account deleted', CAST(strftime('%s', 'now') AS INTEGER) FROM leads WHERE account_id = ?1 AND "
    "email_hash IS NOT NULL"
    " ON CONFLICT (kind, hash) DO UPDATE SET value = ''";
constexpr const char* kLeadErasedEvent =
    "INSERT INTO lead_events (lead_id, at, kind, source) SELECT id, CAST(strftime('%s', 'now') AS INTEGER), 'erased', "
    "source FROM leads WHERE account_id = ?1";
constexpr const char* kLeadHistoryCleared =
    "UPDATE lead_events SET detail = '' WHERE lead_id IN (SELECT id FROM leads WHERE account_id = ?1)";
constexpr const char* kLeadSequencesStopped =
    "UPDATE enrollments SET state = 'stopped', stop_reason = 'account deleted' WHERE state = 'active'"
    " AND lead_id IN (SELECT id FROM leads WHERE account_id = ?1)";
constexpr const char* kLeadErased =
    "UPDATE leads SET email = NULL, email_hash = NULL, domain = '', company_key = '', name = '', company = '',"
    " consent_text = '', consent_ip = '', confirm_token_hash = NULL, status = 'erased', account_id = NULL"
    " WHERE account_id = ?1";

// Every table that holds an account's own data, children before their parents (foreign keys are on).
// payments, revenue_events and operator_events are the books and stay.
constexpr const char* kAccountData[] = {
    "DELETE FROM gpu_windows WHERE account_id = ?1",
    "DELETE FROM usage_reports WHERE account_id = ?1",
    "DELETE FROM gpus_seen WHERE account_id = ?1",
    "DELETE FROM gpu_days WHERE account_id = ?1",
    "DELETE FROM alerts WHERE account_id = ?1",
    "DELETE FROM alert_settings WHERE account_id = ?1",
    "DELETE FROM recommendation_marks WHERE account_id = ?1",
    "DELETE FROM recommendation_tracks WHERE account_id = ?1",
    "DELETE FROM idle_events WHERE account_id = ?1",
    "DELETE FROM idle_snoozes WHERE account_id = ?1",
    "DELETE FROM idle_policies WHERE account_id = ?1",
    "DELETE FROM report_settings WHERE account_id = ?1",
    "DELETE FROM webhook_deliveries WHERE account_id = ?1",
    "DELETE FROM webhook_endpoints WHERE account_id = ?1",
    "DELETE FROM sign_in_links WHERE account_id = ?1",
    "DELETE FROM web_sessions WHERE account_id = ?1",
    "DELETE FROM api_keys WHERE account_id = ?1",
    "DELETE FROM subscriptions WHERE account_id = ?1",
    "DELETE FROM outbox WHERE account_id = ?1",
    // What the gateways sent about its payments names the payer; the dedup keys stay, the bodies go (a
    // delivery still waiting to be applied keeps its body: it is needed, and is looked at once).
    ("UPDATE gateway_events SET body = '{}' WHERE state <> 'pending'"
     " AND reference IN (SELECT reference FROM payments WHERE account_id = ?1)"),
    kLeadSuppressed,
    kLeadErasedEvent,
    kLeadHistoryCleared,
    kLeadSequencesStopped,
    kLeadErased,
};

}  // namespace

Result<int64_t> RemoveAccountData(Connection& db, int64_t account_id) {
    int64_t removed = 0;
    for (const char* sql : kAccountData) {
        auto st = db.Prepare(sql);
        if (!st) return st.error();
        st->Bind(1, account_id);
        if (auto r = st->Run(); !r) return r.error();
        removed += db.Changes();
    }
    return removed;
}

Result<int64_t> SweepDeletedAccounts(Connection& db, SysSeconds since) {
    std::vector<int64_t> ids;
    {
        auto st = db.Prepare("SELECT id FROM accounts WHERE deleted_at >= ?1");
        if (!st) return st.error();
        st->Bind(1, FormatUtc(since));
        auto collected = Collect<int64_t>(*st, [](const Statement& s) { return s.Int(0); });
        if (!collected) return collected.error();
        ids = std::move(*collected);
    }
    int64_t removed = 0;
    for (int64_t id : ids) {
        auto n = RemoveAccountData(db, id);
        if (!n) return n.error();
        removed += *n;
    }
    return removed;
}

void SqliteStore::DeleteAccount(AccountDeletion deletion, Callback<DeletedAccount> done) {
    Submit<DeletedAccount>(
        [deletion = std::move(deletion), key = AuditKey()](Connection& db) -> Result<DeletedAccount> {
            const int64_t id = deletion.account_id;
            DeletedAccount out;
            {
                auto st = db.Prepare("SELECT email, tier FROM accounts WHERE id = ?1 AND deleted_at IS NULL");
                if (!st) return st.error();
                st->Bind(1, id);
                auto row = st->Step();
                if (!row) return row.error();
                if (!*row) return Error{ErrorCode::kNotFound, "no such account", {}};
                out.email = st->Text(0);
                out.tier = StoredTier(st->TextView(1));
            }
            // A paid plan still running ends with the account: the ledger says so, as for any downgrade.
            {
                auto st = db.Prepare(
                    "SELECT tier FROM subscriptions WHERE account_id = ?1 AND status IN ('active', 'grace')"
                    " AND tier <> 'free'");
                if (!st) return st.error();
                st->Bind(1, id);
                auto row = st->Step();
                if (!row) return row.error();
                if (*row) {
                    const std::string previous = st->Text(0);
                    if (auto r = AppendRevenue(db, id, "downgrade", Tier::kFree, 0, "", std::nullopt, deletion.now,
                                               previous + " -> free (account deleted)");
                        !r) {
                        return r.error();
                    }
                }
            }
            // Unpaid checkouts stop being offered; one the gateway still takes money for is held for a refund.
            {
                auto st = db.Prepare(
                    "UPDATE payments SET status = 'expired', updated_at = ?2 WHERE account_id = ?1 AND status = "
                    "'pending'");
                if (!st) return st.error();
                st->Bind(1, id).Bind(2, FormatUtc(deletion.now));
                if (auto r = st->Run(); !r) return r.error();
                out.checkouts_closed = db.Changes();
            }
            auto removed = RemoveAccountData(db, id);
            if (!removed) return removed.error();
            out.rows_removed = *removed;
            {
                // The row stays for the ledger: no address, no key, on the free plan.
                auto st = db.Prepare(
                    "UPDATE accounts SET email = 'deleted-' || id || '@deleted.invalid', api_key_hash = 'deleted:' || "
                    "id, api_key_prefix = '', tier = 'free', deleted_at = ?2 WHERE id = ?1");
                if (!st) return st.error();
                st->Bind(1, id).Bind(2, FormatUtc(deletion.now));
                if (auto r = st->Run(); !r) return r.error();
            }
            if (deletion.farewell) {
                OutboxMessage mail = *deletion.farewell;
                mail.account_id = 0;
                if (auto r = InsertOutbox(db, mail, deletion.now); !r) return r.error();
            }
            if (deletion.audit) {
                if (auto r = InsertAudit(db, *deletion.audit, key); !r) return r.error();
            }
            return out;
        },
        Callback<DeletedAccount>([this, done = std::move(done)](Result<DeletedAccount> r) {
            if (r.ok()) ForgetCachedAccounts();  // its keys stop before the caller hears of it
            done(std::move(r));
        }));
}

}  // namespace gpuopt::store::sqlite
