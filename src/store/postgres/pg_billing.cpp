// PgStore: payments, the gateway inbox, subscriptions, the revenue ledger, the mail outbox, operator and
// security events. Every write that changes money or access is guarded by the state it expects, exactly
// as in the SQLite store, and row locks make the guards hold across servers.
#include <boost/json/object.hpp>

#include <algorithm>

#include "common/json.hpp"
#include "store/postgres/connection.hpp"
#include "store/postgres/pg_store.hpp"
#include "store/postgres/pg_store_internal.hpp"
#include "store/sealing.hpp"

namespace gpuopt::store::postgres {

namespace {

constexpr const char* kSubscriptionColumns =
    "s.account_id, a.email, s.tier, s.status, s.period_start, s.period_end, s.gateway, s.reminded_7d_for,"
    " s.reminded_1d_for";

Subscription ReadSubscription(const Rows& r, int i) {
    Subscription s;
    s.account_id = r.Int(i, 0);
    s.email = r.Text(i, 1);
    s.tier = StoredTier(r.Text(i, 2));
    s.status = SubscriptionStatusNamed(r.Text(i, 3)).value_or(SubscriptionStatus::kEnded);  // CHECKed
    s.period_start = TimeAt(r, i, 4);
    s.period_end = TimeAt(r, i, 5);
    s.gateway = r.Text(i, 6);
    s.reminded_7d_for = OptTimeAt(r, i, 7);
    s.reminded_1d_for = OptTimeAt(r, i, 8);
    return s;
}

// Runs one statement; answers the rows it touched.
Result<int64_t> Change(Connection& db, const std::string& sql, const Params& params) {
    auto r = db.Query(sql, params);
    if (!r) return r.error();
    return r->Affected();
}

// Whether the statement touched a row.
Result<bool> Touched(Result<int64_t> n) {
    if (!n) return n.error();
    return *n > 0;
}

Result<bool> InsertOperatorEvent(Connection& db, const OperatorEvent& e) {
    return Touched(Change(
        db,
        "INSERT INTO operator_events (kind, dedup_key, account_id, payment_id, detail, at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (dedup_key) DO NOTHING",
        Params().Add(e.kind).Add(e.dedup_key).Add(e.account_id).Add(e.payment_id).Add(e.detail).Add(FormatUtc(e.at))));
}

}  // namespace

Payment ReadPayment(const Rows& r, int i) {
    Payment p;
    p.id = r.Int(i, 0);
    p.account_id = r.Int(i, 1);
    p.reference = r.Text(i, 2);
    p.gateway = r.Text(i, 3);
    p.tier = StoredTier(r.Text(i, 4));
    p.amount = r.Double(i, 5);
    p.currency = r.Text(i, 6);
    p.purpose = r.Text(i, 7);
    p.status = PaymentStatusNamed(r.Text(i, 8)).value_or(PaymentStatus::kPending);  // CHECKed by the table
    p.gateway_id = r.Text(i, 9);
    p.checkout_url = r.Text(i, 10);
    p.paid_amount = OptDoubleAt(r, i, 11);
    p.paid_currency = r.Text(i, 12);
    p.created_at = TimeAt(r, i, 13);
    p.updated_at = TimeAt(r, i, 14);
    p.completed_at = OptTimeAt(r, i, 15);
    p.expires_at = OptTimeAt(r, i, 16);
    p.renews_period_end = OptTimeAt(r, i, 17);
    p.gateway_payment_id = r.Text(i, 18);
    p.note = r.Text(i, 19);
    return p;
}

Result<Payment> PaymentById(Connection& db, int64_t id) {
    static const std::string sql = std::string("SELECT ") + kPaymentColumns + " FROM payments WHERE id = $1";
    auto rows = db.Query(sql, Params().Add(id));
    if (!rows) return rows.error();
    if (rows->empty()) return Error{ErrorCode::kNotFound, "no such payment", {}};
    return ReadPayment(*rows, 0);
}

GatewayEvent ReadGatewayEvent(const Rows& r, int i) {
    GatewayEvent e;
    e.id = r.Int(i, 0);
    e.gateway = r.Text(i, 1);
    e.dedup_key = r.Text(i, 2);
    e.reference = r.Text(i, 3);
    e.body = r.Text(i, 4);
    e.received_at = TimeAt(r, i, 5);
    e.state = GatewayEventStateNamed(r.Text(i, 6)).value_or(GatewayEventState::kPending);
    e.attempts = static_cast<int>(r.Int(i, 7));
    e.next_attempt = OptTimeAt(r, i, 8);
    e.result = r.Text(i, 9);
    return e;
}

Result<bool> InsertOutbox(Connection& db, const OutboxMessage& m, SysSeconds now) {
    boost::json::object headers;
    for (const auto& [k, v] : m.headers) headers[k] = v;
    auto n = Change(db,
                    "INSERT INTO outbox (dedup_key, account_id, to_address, subject, body_text, body_html, kind,"
                    " headers, status, attempts, next_attempt, created_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, $9) ON CONFLICT (dedup_key) DO NOTHING",
                    Params()
                        .Add(m.dedup_key)
                        .Add(m.account_id)
                        .Add(m.to)
                        .Add(m.subject)
                        .Add(m.text)
                        .Add(m.html)
                        .Add(m.kind)
                        .Add(ToJson(headers))
                        .Add(FormatUtc(now)));
    if (!n) return n.error();
    return *n > 0;
}

Result<void> AppendRevenue(Connection& db, int64_t account_id, std::string_view kind, Tier tier, double amount,
                           std::string_view currency, std::optional<int64_t> payment_id, SysSeconds at,
                           std::string_view detail) {
    auto r = db.Query(
        "INSERT INTO revenue_events (account_id, kind, tier, amount, currency, payment_id, at, detail)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        Params()
            .Add(account_id)
            .Add(kind)
            .Add(NameOf(tier))
            .Add(amount)
            .Add(currency)
            .Add(payment_id)
            .Add(FormatUtc(at))
            .Add(detail));
    if (!r) return r.error();
    return {};
}

// ---------------------------------------------------------------------------------------------------
// Payments

void PgStore::CreatePayment(NewPayment p, Callback<Payment> done) {
    Submit<Payment>(
        [p = std::move(p)](Connection& db) -> Result<Payment> {
            const std::string now = FormatUtc(p.now);
            static const std::string sql =
                std::string(
                    "INSERT INTO payments (account_id, reference, gateway, tier, amount, currency, purpose, status,"
                    " created_at, updated_at, expires_at, renews_period_end)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8, $9, $10) RETURNING ") +
                kPaymentColumns;
            auto rows = db.Query(sql, Params()
                                          .Add(p.account_id)
                                          .Add(p.reference)
                                          .Add(p.gateway)
                                          .Add(NameOf(p.tier))
                                          .Add(p.amount)
                                          .Add(p.currency)
                                          .Add(p.purpose)
                                          .Add(now)
                                          .Add(FormatUtc(p.expires_at))
                                          .Add(OptTimeText(p.renews_period_end)));
            if (!rows) return rows.error();
            return ReadPayment(*rows, 0);
        },
        std::move(done));
}

void PgStore::SetPaymentCheckout(int64_t payment_id, std::string gateway_id, std::string checkout_url,
                                 Callback<void> done) {
    Submit<void>(
        [=](Connection& db) -> Result<void> {
            auto n = Change(db, "UPDATE payments SET gateway_id = $1, checkout_url = $2, updated_at = $3 WHERE id = $4",
                            Params().Add(gateway_id).Add(checkout_url).Add(FormatUtc(UtcNow())).Add(payment_id));
            if (!n) return n.error();
            return {};
        },
        std::move(done));
}

Result<Payment> PgStore::FindPaymentByReference(const std::string& reference) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string("SELECT ") + kPaymentColumns + " FROM payments WHERE reference = $1";
    auto rows = (*db)->Query(sql, Params().Add(reference));
    if (!rows) return rows.error();
    if (rows->empty()) return Error{ErrorCode::kNotFound, "no such payment", {}};
    return ReadPayment(*rows, 0);
}

Result<std::vector<Payment>> PgStore::ListPayments(int64_t account_id, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kPaymentColumns + " FROM payments WHERE account_id = $1 ORDER BY id DESC LIMIT $2";
    auto rows = (*db)->Query(sql, Params().Add(account_id).Add(static_cast<int64_t>(limit)));
    if (!rows) return rows.error();
    return CollectRows<Payment>(*rows, ReadPayment);
}

Result<std::vector<Payment>> PgStore::ListPendingPayments(SysSeconds from, SysSeconds to, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string("SELECT ") + kPaymentColumns +
                                   " FROM payments WHERE status = 'pending' AND created_at >= $1 AND created_at < $2"
                                   " ORDER BY created_at, id LIMIT $3";
    auto rows = (*db)->Query(sql, Params().Add(FormatUtc(from)).Add(FormatUtc(to)).Add(static_cast<int64_t>(limit)));
    if (!rows) return rows.error();
    return CollectRows<Payment>(*rows, ReadPayment);
}

Result<std::vector<Payment>> PgStore::ListExpiringPayments(SysSeconds now, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string("SELECT ") + kPaymentColumns +
                                   " FROM payments WHERE status = 'pending' AND expires_at <= $1"
                                   " ORDER BY expires_at, id LIMIT $2";
    auto rows = (*db)->Query(sql, Params().Add(FormatUtc(now)).Add(static_cast<int64_t>(limit)));
    if (!rows) return rows.error();
    return CollectRows<Payment>(*rows, ReadPayment);
}

Result<std::optional<Payment>> PgStore::FindRenewalPayment(int64_t account_id, SysSeconds period_end) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string("SELECT ") + kPaymentColumns +
                                   " FROM payments WHERE account_id = $1 AND renews_period_end = $2"
                                   " AND status = 'pending' AND checkout_url <> '' ORDER BY id DESC LIMIT 1";
    auto rows = (*db)->Query(sql, Params().Add(account_id).Add(FormatUtc(period_end)));
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<Payment>{};
    return std::optional<Payment>(ReadPayment(*rows, 0));
}

void PgStore::DiscardPayment(int64_t payment_id, Callback<bool> done) {
    Submit<bool>(
        [=](Connection& db) -> Result<bool> {
            return Touched(Change(db,
                                  "DELETE FROM payments WHERE id = $1 AND status = 'pending' AND gateway_id = ''"
                                  " AND checkout_url = ''",
                                  Params().Add(payment_id)));
        },
        std::move(done));
}

void PgStore::SetGatewayPaymentId(int64_t payment_id, std::string gateway_payment_id, Callback<void> done) {
    Submit<void>(
        [=](Connection& db) -> Result<void> {
            auto n = Change(db, "UPDATE payments SET gateway_payment_id = $1 WHERE id = $2 AND gateway_payment_id = ''",
                            Params().Add(gateway_payment_id).Add(payment_id));
            if (!n) return n.error();
            return {};
        },
        std::move(done));
}

void PgStore::RecordOperatorEvent(OperatorEvent event, std::optional<OutboxMessage> mail, Callback<bool> done) {
    Submit<bool>(
        [event = std::move(event), mail = std::move(mail)](Connection& db) -> Result<bool> {
            auto added = InsertOperatorEvent(db, event);
            if (!added || !*added) return added;
            if (mail) {
                if (auto r = InsertOutbox(db, *mail, event.at); !r) return r.error();
            }
            return true;
        },
        std::move(done));
}

Result<std::vector<OperatorEvent>> PgStore::ListOperatorEvents(size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto rows = (*db)->Query(
        "SELECT id, kind, dedup_key, account_id, payment_id, detail, at FROM operator_events ORDER BY id DESC LIMIT $1",
        Params().Add(static_cast<int64_t>(limit)));
    if (!rows) return rows.error();
    return CollectRows<OperatorEvent>(*rows, [](const Rows& r, int i) {
        OperatorEvent e;
        e.id = r.Int(i, 0);
        e.kind = r.Text(i, 1);
        e.dedup_key = r.Text(i, 2);
        e.account_id = OptIntAt(r, i, 3);
        e.payment_id = OptIntAt(r, i, 4);
        e.detail = r.Text(i, 5);
        e.at = TimeAt(r, i, 6);
        return e;
    });
}

void PgStore::HoldUnappliedPayment(int64_t payment_id, std::string gateway_id, double paid_amount,
                                   std::string paid_currency, std::string note, OperatorEvent event,
                                   std::optional<OutboxMessage> mail, SysSeconds now, Callback<bool> done) {
    Submit<bool>(
        [=, event = std::move(event), mail = std::move(mail)](Connection& db) -> Result<bool> {
            auto n = Change(db,
                            "UPDATE payments SET status = 'paid_unapplied', gateway_id = CASE WHEN $1 <> '' THEN $1"
                            " ELSE gateway_id END, paid_amount = $2, paid_currency = $3, note = $4, updated_at = $5"
                            " WHERE id = $6 AND status IN ('pending', 'expired', 'failed')",
                            Params()
                                .Add(gateway_id)
                                .Add(paid_amount)
                                .Add(paid_currency)
                                .Add(note)
                                .Add(FormatUtc(now))
                                .Add(payment_id));
            if (!n) return n.error();
            if (*n == 0) return false;
            if (auto r = InsertOperatorEvent(db, event); !r) return r.error();
            if (mail) {
                if (auto r = InsertOutbox(db, *mail, now); !r) return r.error();
            }
            return true;
        },
        std::move(done));
}

void PgStore::CompletePayment(Completion c, Callback<CompletionOutcome> done) {
    Submit<CompletionOutcome>(
        [c = std::move(c)](Connection& db) -> Result<CompletionOutcome> {
            CompletionOutcome out;
            const std::string now = FormatUtc(c.now);
            // The guard (see the SQLite store); the UPDATE's row lock makes a second server's attempt wait
            // for this one and then find nothing to complete.
            auto n =
                Change(db,
                       "UPDATE payments SET status = 'completed', gateway_id = CASE WHEN $1 <> '' THEN $1 ELSE"
                       " gateway_id END, paid_amount = $2, paid_currency = $3, completed_at = $4, updated_at = $4"
                       " WHERE id = $5 AND status IN ('pending', 'expired', 'failed')",
                       Params().Add(c.gateway_id).Add(c.paid_amount).Add(c.paid_currency).Add(now).Add(c.payment_id));
            if (!n) return n.error();
            if (*n == 0) return out;  // applied = false
            auto payment = PaymentById(db, c.payment_id);
            if (!payment) return Error{ErrorCode::kInternal, "payment vanished", {}};
            out.applied = true;
            out.tier = payment->tier;
            std::string email;
            {
                auto rows = db.Query("SELECT tier, email FROM accounts WHERE id = $1 FOR UPDATE",
                                     Params().Add(payment->account_id));
                if (!rows) return rows.error();
                if (rows->empty()) return Error{ErrorCode::kInternal, "account vanished", {}};
                out.previous_tier = StoredTier(rows->Text(0, 0));
                email = rows->Text(0, 1);
            }
            out.period_start = c.now;
            {
                auto rows = db.Query("SELECT tier, status, period_end FROM subscriptions WHERE account_id = $1",
                                     Params().Add(payment->account_id));
                if (!rows) return rows.error();
                if (!rows->empty() && rows->Text(0, 1) != "ended" && rows->Text(0, 0) == NameOf(payment->tier)) {
                    out.period_start = std::max(c.now, TimeAt(*rows, 0, 2));
                    out.renewal = true;
                }
            }
            out.period_end = AddMonths(out.period_start, 1);
            if (auto r =
                    Change(db,
                           "INSERT INTO subscriptions (account_id, tier, status, period_start, period_end, gateway,"
                           " last_payment_id, updated_at) VALUES ($1, $2, 'active', $3, $4, $5, $6, $7)"
                           " ON CONFLICT (account_id) DO UPDATE SET tier = excluded.tier, status = 'active',"
                           " period_start = excluded.period_start, period_end = excluded.period_end,"
                           " gateway = excluded.gateway, last_payment_id = excluded.last_payment_id,"
                           " updated_at = excluded.updated_at",
                           Params()
                               .Add(payment->account_id)
                               .Add(NameOf(payment->tier))
                               .Add(FormatUtc(out.period_start))
                               .Add(FormatUtc(out.period_end))
                               .Add(payment->gateway)
                               .Add(payment->id)
                               .Add(now));
                !r) {
                return r.error();
            }
            if (auto r = Change(db, "UPDATE accounts SET tier = $1 WHERE id = $2",
                                Params().Add(NameOf(payment->tier)).Add(payment->account_id));
                !r) {
                return r.error();
            }
            if (auto r = AppendRevenue(db, payment->account_id, "payment", payment->tier, c.paid_amount,
                                       c.paid_currency, payment->id, c.now, payment->gateway);
                !r) {
                return r.error();
            }
            const bool upgrade = out.previous_tier != payment->tier;
            if (auto r = AppendRevenue(
                    db, payment->account_id, upgrade ? "upgrade" : "renewal", payment->tier, payment->amount,
                    payment->currency, payment->id, c.now,
                    upgrade ? std::string(NameOf(out.previous_tier)) + " -> " + std::string(NameOf(payment->tier))
                            : FormatUtc(out.period_end));
                !r) {
                return r.error();
            }
            if (c.mails) {
                payment->status = PaymentStatus::kCompleted;
                for (const auto& m : c.mails(*payment, out, email)) {
                    if (auto r = InsertOutbox(db, m, c.now); !r) return r.error();
                }
            }
            if (auto r = AnnounceAccountsChanged(db); !r) return r.error();
            return out;
        },
        Callback<CompletionOutcome>([this, done = std::move(done)](Result<CompletionOutcome> r) {
            if (r.ok() && r->applied) ForgetCachedAccounts();
            done(std::move(r));
        }));
}

void PgStore::EndPayment(int64_t payment_id, PaymentEnd end, SysSeconds now, Callback<bool> done) {
    Submit<bool>(
        [=](Connection& db) -> Result<bool> {
            auto n = Change(db, "UPDATE payments SET status = $1, updated_at = $2 WHERE id = $3 AND status = 'pending'",
                            Params().Add(NameOf(StatusOf(end))).Add(FormatUtc(now)).Add(payment_id));
            if (!n) return n.error();
            return *n != 0;
        },
        std::move(done));
}

void PgStore::RecordRefund(int64_t payment_id, SysSeconds now, Callback<bool> done) {
    Submit<bool>(
        [=](Connection& db) -> Result<bool> {
            static const std::string lock =
                std::string("SELECT ") + kPaymentColumns + " FROM payments WHERE id = $1 FOR UPDATE";
            auto rows = db.Query(lock, Params().Add(payment_id));
            if (!rows) return rows.error();
            if (rows->empty()) return Error{ErrorCode::kNotFound, "no such payment", {}};
            const Payment payment = ReadPayment(*rows, 0);
            if (payment.status == PaymentStatus::kPaidUnapplied) {
                auto n = Change(db, "UPDATE payments SET status = 'refunded', updated_at = $1 WHERE id = $2",
                                Params().Add(FormatUtc(now)).Add(payment_id));
                if (!n) return n.error();
                return true;
            }
            if (payment.status != PaymentStatus::kCompleted) return false;
            return Touched(
                Change(db,
                       "INSERT INTO revenue_events (account_id, kind, tier, amount, currency, payment_id, at, detail)"
                       " VALUES ($1, 'refund', $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                       Params()
                           .Add(payment.account_id)
                           .Add(NameOf(payment.tier))
                           .Add(-payment.paid_amount.value_or(payment.amount))
                           .Add(payment.currency)
                           .Add(payment_id)
                           .Add(FormatUtc(now))
                           .Add(payment.gateway)));
        },
        std::move(done));
}

// ---------------------------------------------------------------------------------------------------
// Inbox

void PgStore::RecordGatewayEvent(GatewayEvent e, Callback<bool> done) {
    auto sealed = Seal(e.body);
    if (!sealed) return done(sealed.error());
    e.body = std::move(*sealed);
    Submit<bool>(
        [e = std::move(e)](Connection& db) -> Result<bool> {
            Params p;
            p.Add(e.gateway).Add(e.dedup_key).Add(e.reference).Add(e.body).Add(FormatUtc(e.received_at));
            Result<bool> recorded = false;
            if (e.rearm_after) {
                p.Add(FormatUtc(e.received_at + *e.rearm_after));
                recorded = Touched(
                    Change(db,
                           "INSERT INTO gateway_events (gateway, dedup_key, reference, body, received_at, state,"
                           " attempts, next_attempt) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $5)"
                           " ON CONFLICT (gateway, dedup_key) DO UPDATE SET state = 'pending', next_attempt = $6"
                           " WHERE gateway_events.state IN ('applied', 'ignored')",
                           p));
            } else {
                recorded = Touched(
                    Change(db,
                           "INSERT INTO gateway_events (gateway, dedup_key, reference, body, received_at, state,"
                           " attempts, next_attempt) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $5)"
                           " ON CONFLICT (gateway, dedup_key) DO NOTHING",
                           p));
            }
            // A new event wakes the billing worker on whichever server holds its lease, at this commit.
            if (recorded.ok() && *recorded) {
                if (auto r = NotifyWake(db, "billing-events"); !r) return r.error();
            }
            return recorded;
        },
        std::move(done));
}

Result<std::vector<GatewayEvent>> PgStore::DueGatewayEvents(SysSeconds now, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kGatewayEventColumns +
        " FROM gateway_events WHERE state = 'pending' AND next_attempt <= $1 ORDER BY id LIMIT $2";
    auto rows = (*db)->Query(sql, Params().Add(FormatUtc(now)).Add(static_cast<int64_t>(limit)));
    if (!rows) return rows.error();
    auto due = CollectRows<GatewayEvent>(*rows, ReadGatewayEvent);
    if (auto r = OpenFields(encryption_keys_, due, &GatewayEvent::body); !r) return r.error();
    return due;
}

void PgStore::FinishGatewayEvent(int64_t id, GatewayEventState state, std::string result, int attempts,
                                 std::optional<SysSeconds> next_attempt, Callback<void> done) {
    Submit<void>(
        [=](Connection& db) -> Result<void> {
            auto n =
                Change(db,
                       "UPDATE gateway_events SET state = $1, result = $2, attempts = $3, next_attempt = $4"
                       " WHERE id = $5",
                       Params().Add(NameOf(state)).Add(result).Add(attempts).Add(OptTimeText(next_attempt)).Add(id));
            if (!n) return n.error();
            return {};
        },
        std::move(done));
}

// ---------------------------------------------------------------------------------------------------
// Subscriptions and the ledger

Result<std::vector<Subscription>> PgStore::ListSubscriptionsEndingBefore(SysSeconds before) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kSubscriptionColumns +
        " FROM subscriptions s JOIN accounts a ON a.id = s.account_id"
        " WHERE s.status <> 'ended' AND s.period_end < $1 ORDER BY s.period_end, s.account_id";
    auto rows = (*db)->Query(sql, Params().Add(FormatUtc(before)));
    if (!rows) return rows.error();
    return CollectRows<Subscription>(*rows, ReadSubscription);
}

Result<std::optional<Subscription>> PgStore::GetSubscription(int64_t account_id) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kSubscriptionColumns +
        " FROM subscriptions s JOIN accounts a ON a.id = s.account_id WHERE s.account_id = $1";
    auto rows = (*db)->Query(sql, Params().Add(account_id));
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<Subscription>{};
    return std::optional<Subscription>(ReadSubscription(*rows, 0));
}

void PgStore::MarkRenewalReminder(int64_t account_id, int days, SysSeconds period_end, OutboxMessage mail,
                                  Callback<bool> done) {
    Submit<bool>(
        [=, mail = std::move(mail)](Connection& db) -> Result<bool> {
            const char* sql =
                days == 7 ? "UPDATE subscriptions SET reminded_7d_for = $1 WHERE account_id = $2 AND period_end = $1"
                            " AND status <> 'ended' AND (reminded_7d_for IS NULL OR reminded_7d_for <> $1)"
                          : "UPDATE subscriptions SET reminded_1d_for = $1 WHERE account_id = $2 AND period_end = $1"
                            " AND status <> 'ended' AND (reminded_1d_for IS NULL OR reminded_1d_for <> $1)";
            auto n = Change(db, sql, Params().Add(FormatUtc(period_end)).Add(account_id));
            if (!n) return n.error();
            if (*n == 0) return false;
            if (auto r = InsertOutbox(db, mail, UtcNow()); !r) return r.error();
            return true;
        },
        std::move(done));
}

void PgStore::EnterGrace(int64_t account_id, SysSeconds period_end, Callback<bool> done) {
    Submit<bool>(
        [=](Connection& db) -> Result<bool> {
            return Touched(Change(db,
                                  "UPDATE subscriptions SET status = 'grace', updated_at = $1 WHERE account_id = $2"
                                  " AND period_end = $3 AND status = 'active'",
                                  Params().Add(FormatUtc(UtcNow())).Add(account_id).Add(FormatUtc(period_end))));
        },
        std::move(done));
}

void PgStore::EndSubscription(int64_t account_id, SysSeconds period_end, SysSeconds now, OutboxMessage mail,
                              Callback<bool> done) {
    Submit<bool>(
        [=, mail = std::move(mail)](Connection& db) -> Result<bool> {
            auto n = Change(db,
                            "UPDATE subscriptions SET status = 'ended', updated_at = $1 WHERE account_id = $2"
                            " AND period_end = $3 AND status IN ('active', 'grace')",
                            Params().Add(FormatUtc(now)).Add(account_id).Add(FormatUtc(period_end)));
            if (!n) return n.error();
            if (*n == 0) return false;
            auto rows = db.Query("SELECT tier FROM accounts WHERE id = $1 FOR UPDATE", Params().Add(account_id));
            if (!rows) return rows.error();
            if (rows->empty()) return Error{ErrorCode::kInternal, "account vanished", {}};
            const std::string previous(rows->Text(0, 0));
            if (auto r = Change(db, "UPDATE accounts SET tier = 'free' WHERE id = $1", Params().Add(account_id)); !r) {
                return r.error();
            }
            if (auto r = AppendRevenue(db, account_id, "downgrade", Tier::kFree, 0, "", std::nullopt, now,
                                       previous + " -> free");
                !r) {
                return r.error();
            }
            if (auto r = InsertOutbox(db, mail, now); !r) return r.error();
            if (auto r = AnnounceAccountsChanged(db); !r) return r.error();
            return true;
        },
        Callback<bool>([this, done = std::move(done)](Result<bool> r) {
            if (r.ok() && *r) ForgetCachedAccounts();
            done(std::move(r));
        }));
}

Result<std::vector<RevenueEvent>> PgStore::ListRevenueEvents(int64_t account_id, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto rows = (*db)->Query(
        "SELECT id, account_id, kind, tier, amount, currency, payment_id, at, detail FROM revenue_events"
        " WHERE account_id = $1 ORDER BY id LIMIT $2",
        Params().Add(account_id).Add(static_cast<int64_t>(limit)));
    if (!rows) return rows.error();
    return CollectRows<RevenueEvent>(*rows, [](const Rows& r, int i) {
        RevenueEvent e;
        e.id = r.Int(i, 0);
        e.account_id = r.Int(i, 1);
        e.kind = r.Text(i, 2);
        e.tier = StoredTier(r.Text(i, 3));
        e.amount = r.Double(i, 4);
        e.currency = r.Text(i, 5);
        e.payment_id = OptIntAt(r, i, 6);
        e.at = TimeAt(r, i, 7);
        e.detail = r.Text(i, 8);
        return e;
    });
}

// ---------------------------------------------------------------------------------------------------
// Outbox and security events

void PgStore::EnqueueMail(OutboxMessage message, SysSeconds now, Callback<bool> done) {
    Submit<bool>([message = std::move(message), now](Connection& db) { return InsertOutbox(db, message, now); },
                 std::move(done));
}

Result<bool> PgStore::MailExists(const std::string& dedup_key) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto rows = (*db)->Query("SELECT 1 FROM outbox WHERE dedup_key = $1", Params().Add(dedup_key));
    if (!rows) return rows.error();
    return !rows->empty();
}

Result<std::vector<OutboxItem>> PgStore::DueMail(SysSeconds now, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto rows = (*db)->Query(
        "SELECT id, dedup_key, account_id, to_address, subject, body_text, body_html, kind, headers, status, attempts,"
        " next_attempt, last_error FROM outbox WHERE status = 'pending' AND next_attempt <= $1 ORDER BY id LIMIT $2",
        Params().Add(FormatUtc(now)).Add(static_cast<int64_t>(limit)));
    if (!rows) return rows.error();
    return CollectRows<OutboxItem>(*rows, [](const Rows& r, int i) {
        OutboxItem item;
        item.id = r.Int(i, 0);
        item.message.dedup_key = r.Text(i, 1);
        item.message.account_id = r.Int(i, 2);
        item.message.to = r.Text(i, 3);
        item.message.subject = r.Text(i, 4);
        item.message.text = r.Text(i, 5);
        item.message.html = r.Text(i, 6);
        item.message.kind = r.Text(i, 7);
        if (auto headers = ParseJson(r.Text(i, 8), 4); headers && headers->is_object()) {
            for (const auto& kv : headers->get_object()) {
                if (kv.value().is_string()) {
                    item.message.headers[std::string(kv.key())] = std::string(kv.value().get_string());
                }
            }
        }
        item.status = MailStatusNamed(r.Text(i, 9)).value_or(MailStatus::kPending);
        item.attempts = static_cast<int>(r.Int(i, 10));
        item.next_attempt = TimeAt(r, i, 11);
        item.last_error = r.Text(i, 12);
        return item;
    });
}

void PgStore::FinishMail(int64_t id, MailStatus status, int attempts, SysSeconds next_attempt, std::string error,
                         std::string message_id, Callback<void> done) {
    Submit<void>(
        [=](Connection& db) -> Result<void> {
            auto n = Change(db,
                            "UPDATE outbox SET status = $1, attempts = $2, next_attempt = $3, last_error = $4,"
                            " message_id = $5, sent_at = CASE WHEN $1 = 'sent' THEN $6 ELSE sent_at END WHERE id = $7",
                            Params()
                                .Add(NameOf(status))
                                .Add(attempts)
                                .Add(FormatUtc(next_attempt))
                                .Add(error)
                                .Add(message_id)
                                .Add(FormatUtc(UtcNow()))
                                .Add(id));
            if (!n) return n.error();
            return {};
        },
        std::move(done));
}

void PgStore::RecordSecurityEvent(std::string kind, std::string ip, std::string detail, SysSeconds now,
                                  Callback<void> done) {
    Submit<void>(
        [=](Connection& db) -> Result<void> {
            auto n = Change(db, "INSERT INTO security_events (kind, ip, detail, at) VALUES ($1, $2, $3, $4)",
                            Params().Add(kind).Add(ip).Add(detail).Add(FormatUtc(now)));
            if (!n) return n.error();
            return {};
        },
        std::move(done));
}

}  // namespace gpuopt::store::postgres
