// SqliteStore: payments, the gateway inbox, subscriptions, the revenue ledger, the mail outbox and
// security events. Every write that changes money or access is one transaction guarded by the state it
// expects (a payment completes only from pending, a reminder is marked once per period), so duplicates,
// retries and concurrent runs change nothing more.
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>

#include "common/json.hpp"
#include "store/sealing.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"

namespace gpuopt::store::sqlite {

namespace {

SysSeconds Time(const Statement& st, int col) { return ParseUtc(st.Text(col)).value_or(SysSeconds{}); }

std::optional<SysSeconds> OptTime(const Statement& st, int col) {
    if (st.IsNull(col)) return std::nullopt;
    return ParseUtc(st.Text(col));
}

void BindOptTime(Statement& st, int index, const std::optional<SysSeconds>& t) {
    if (t) {
        st.Bind(index, FormatUtc(*t));
    } else {
        st.BindNull(index);
    }
}

constexpr const char* kSubscriptionColumns =
    "s.account_id, a.email, s.tier, s.status, s.period_start, s.period_end, s.gateway, s.reminded_7d_for, "
    "s.reminded_1d_for";

Subscription ReadSubscription(const Statement& st) {
    Subscription s;
    s.account_id = st.Int(0);
    s.email = st.Text(1);
    s.tier = StoredTier(st.TextView(2));
    s.status = SubscriptionStatusNamed(st.TextView(3)).value_or(SubscriptionStatus::kEnded);  // CHECKed
    s.period_start = Time(st, 4);
    s.period_end = Time(st, 5);
    s.gateway = st.Text(6);
    s.reminded_7d_for = OptTime(st, 7);
    s.reminded_1d_for = OptTime(st, 8);
    return s;
}

Result<void> Exec1(Connection& db, const char* sql, const std::function<void(Statement&)>& bind) {
    auto st = db.Prepare(sql);
    if (!st) return st.error();
    bind(*st);
    return st->Run();
}

}  // namespace

Payment ReadPayment(const Statement& st) {
    Payment p;
    p.id = st.Int(0);
    p.account_id = st.Int(1);
    p.reference = st.Text(2);
    p.gateway = st.Text(3);
    p.tier = StoredTier(st.TextView(4));
    p.amount = st.Double(5);
    p.currency = st.Text(6);
    p.purpose = st.Text(7);
    p.status = PaymentStatusNamed(st.TextView(8)).value_or(PaymentStatus::kPending);  // CHECKed by the table
    p.gateway_id = st.Text(9);
    p.checkout_url = st.Text(10);
    if (!st.IsNull(11)) p.paid_amount = st.Double(11);
    p.paid_currency = st.Text(12);
    p.created_at = Time(st, 13);
    p.updated_at = Time(st, 14);
    p.completed_at = OptTime(st, 15);
    p.expires_at = OptTime(st, 16);
    p.renews_period_end = OptTime(st, 17);
    p.gateway_payment_id = st.Text(18);
    p.note = st.Text(19);
    return p;
}

Result<Payment> PaymentById(Connection& db, int64_t id) {
    static const std::string sql = std::string("SELECT ") + kPaymentColumns + " FROM payments WHERE id = ?1";
    auto st = db.Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, id);
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row) return Error{ErrorCode::kNotFound, "no such payment", {}};
    return ReadPayment(*st);
}

GatewayEvent ReadGatewayEvent(const Statement& st) {
    GatewayEvent e;
    e.id = st.Int(0);
    e.gateway = st.Text(1);
    e.dedup_key = st.Text(2);
    e.reference = st.Text(3);
    e.body = st.Text(4);
    e.received_at = Time(st, 5);
    e.state = GatewayEventStateNamed(st.TextView(6)).value_or(GatewayEventState::kPending);
    e.attempts = static_cast<int>(st.Int(7));
    e.next_attempt = OptTime(st, 8);
    e.result = st.Text(9);
    return e;
}

Result<bool> InsertOutbox(Connection& db, const OutboxMessage& m, SysSeconds now) {
    boost::json::object headers;
    for (const auto& [k, v] : m.headers) headers[k] = v;
    auto st = db.Prepare(
        "INSERT INTO outbox (dedup_key, account_id, to_address, subject, body_text, body_html, kind, headers, status,"
        " attempts, next_attempt, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', 0, ?9, ?9)"
        " ON CONFLICT (dedup_key) DO NOTHING");
    if (!st) return st.error();
    st->Bind(1, std::string_view(m.dedup_key))
        .Bind(2, m.account_id)
        .Bind(3, std::string_view(m.to))
        .Bind(4, std::string_view(m.subject))
        .Bind(5, std::string_view(m.text))
        .Bind(6, std::string_view(m.html))
        .Bind(7, std::string_view(m.kind))
        .Bind(8, ToJson(headers))
        .Bind(9, FormatUtc(now));
    if (auto r = st->Run(); !r) return r.error();
    return db.Changes() > 0;
}

Result<void> AppendRevenue(Connection& db, int64_t account_id, std::string_view kind, Tier tier, double amount,
                           std::string_view currency, std::optional<int64_t> payment_id, SysSeconds at,
                           std::string_view detail) {
    auto st = db.Prepare(
        "INSERT INTO revenue_events (account_id, kind, tier, amount, currency, payment_id, at, detail)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (!st) return st.error();
    st->Bind(1, account_id).Bind(2, kind).Bind(3, NameOf(tier)).Bind(4, amount).Bind(5, currency);
    if (payment_id) {
        st->Bind(6, *payment_id);
    } else {
        st->BindNull(6);
    }
    st->Bind(7, FormatUtc(at)).Bind(8, detail);
    return st->Run();
}

// ---------------------------------------------------------------------------------------------------
// Payments

void SqliteStore::CreatePayment(NewPayment p, Callback<Payment> done) {
    Submit<Payment>(
        [p = std::move(p)](Connection& db) -> Result<Payment> {
            const std::string now = FormatUtc(p.now);
            auto st = db.Prepare(
                "INSERT INTO payments (account_id, reference, gateway, tier, amount, currency, purpose, status, "
                "created_at, updated_at, expires_at, renews_period_end)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?8, ?9, ?10)");
            if (!st) return st.error();
            st->Bind(1, p.account_id)
                .Bind(2, std::string_view(p.reference))
                .Bind(3, std::string_view(p.gateway))
                .Bind(4, NameOf(p.tier))
                .Bind(5, p.amount)
                .Bind(6, std::string_view(p.currency))
                .Bind(7, std::string_view(p.purpose))
                .Bind(8, std::string_view(now))
                .Bind(9, FormatUtc(p.expires_at));
            BindOptTime(*st, 10, p.renews_period_end);
            if (auto r = st->Run(); !r) return r.error();
            return PaymentById(db, db.LastInsertId());
        },
        std::move(done));
}

void SqliteStore::SetPaymentCheckout(int64_t payment_id, std::string gateway_id, std::string checkout_url,
                                     Callback<void> done) {
    Submit<void>(
        [=](Connection& db) -> Result<void> {
            return Exec1(db, "UPDATE payments SET gateway_id = ?1, checkout_url = ?2, updated_at = ?3 WHERE id = ?4",
                         [&](Statement& st) {
                             st.Bind(1, std::string_view(gateway_id))
                                 .Bind(2, std::string_view(checkout_url))
                                 .Bind(3, FormatUtc(UtcNow()))
                                 .Bind(4, payment_id);
                         });
        },
        std::move(done));
}

Result<Payment> SqliteStore::FindPaymentByReference(const std::string& reference) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string("SELECT ") + kPaymentColumns + " FROM payments WHERE reference = ?1";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, std::string_view(reference));
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row) return Error{ErrorCode::kNotFound, "no such payment", {}};
    return ReadPayment(*st);
}

Result<std::vector<Payment>> SqliteStore::ListPayments(int64_t account_id, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kPaymentColumns + " FROM payments WHERE account_id = ?1 ORDER BY id DESC LIMIT ?2";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, account_id).Bind(2, static_cast<int64_t>(limit));
    return Collect<Payment>(*st, ReadPayment);
}

Result<std::vector<Payment>> SqliteStore::ListPendingPayments(SysSeconds from, SysSeconds to, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kPaymentColumns +
        " FROM payments WHERE status = 'pending' AND created_at >= ?1 AND created_at < ?2 ORDER BY created_at LIMIT ?3";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, FormatUtc(from)).Bind(2, FormatUtc(to)).Bind(3, static_cast<int64_t>(limit));
    return Collect<Payment>(*st, ReadPayment);
}

Result<std::vector<Payment>> SqliteStore::ListExpiringPayments(SysSeconds now, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kPaymentColumns +
        " FROM payments WHERE status = 'pending' AND expires_at <= ?1 ORDER BY expires_at LIMIT ?2";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, FormatUtc(now)).Bind(2, static_cast<int64_t>(limit));
    return Collect<Payment>(*st, ReadPayment);
}

Result<std::optional<Payment>> SqliteStore::FindRenewalPayment(int64_t account_id, SysSeconds period_end) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kPaymentColumns +
        " FROM payments WHERE account_id = ?1 AND renews_period_end = ?2 AND status = 'pending'"
        " AND checkout_url <> '' ORDER BY id DESC LIMIT 1";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, account_id).Bind(2, FormatUtc(period_end));
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row) return std::optional<Payment>{};
    return std::optional<Payment>(ReadPayment(*st));
}

void SqliteStore::DiscardPayment(int64_t payment_id, Callback<bool> done) {
    Submit<bool>(
        [=](Connection& db) -> Result<bool> {
            if (auto r = Exec1(db,
                               "DELETE FROM payments WHERE id = ?1 AND status = 'pending' AND gateway_id = ''"
                               " AND checkout_url = ''",
                               [&](Statement& st) { st.Bind(1, payment_id); });
                !r) {
                return r.error();
            }
            return db.Changes() > 0;
        },
        std::move(done));
}

void SqliteStore::SetGatewayPaymentId(int64_t payment_id, std::string gateway_payment_id, Callback<void> done) {
    Submit<void>(
        [=](Connection& db) -> Result<void> {
            return Exec1(db, "UPDATE payments SET gateway_payment_id = ?1 WHERE id = ?2 AND gateway_payment_id = ''",
                         [&](Statement& st) { st.Bind(1, std::string_view(gateway_payment_id)).Bind(2, payment_id); });
        },
        std::move(done));
}

namespace {

Result<bool> InsertOperatorEvent(Connection& db, const OperatorEvent& e) {
    auto st = db.Prepare(
        "INSERT INTO operator_events (kind, dedup_key, account_id, payment_id, detail, at) VALUES (?1, ?2, ?3, ?4, ?5, "
        "?6)"
        " ON CONFLICT (dedup_key) DO NOTHING");
    if (!st) return st.error();
    st->Bind(1, std::string_view(e.kind)).Bind(2, std::string_view(e.dedup_key));
    if (e.account_id) {
        st->Bind(3, *e.account_id);
    } else {
        st->BindNull(3);
    }
    if (e.payment_id) {
        st->Bind(4, *e.payment_id);
    } else {
        st->BindNull(4);
    }
    st->Bind(5, std::string_view(e.detail)).Bind(6, FormatUtc(e.at));
    if (auto r = st->Run(); !r) return r.error();
    return db.Changes() > 0;
}

}  // namespace

void SqliteStore::RecordOperatorEvent(OperatorEvent event, std::optional<OutboxMessage> mail, Callback<bool> done) {
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

Result<std::vector<OperatorEvent>> SqliteStore::ListOperatorEvents(size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto st = (*db)->Prepare(
        "SELECT id, kind, dedup_key, account_id, payment_id, detail, at FROM operator_events ORDER BY id DESC LIMIT "
        "?1");
    if (!st) return st.error();
    st->Bind(1, static_cast<int64_t>(limit));
    return Collect<OperatorEvent>(*st, [](const Statement& s) {
        OperatorEvent e;
        e.id = s.Int(0);
        e.kind = s.Text(1);
        e.dedup_key = s.Text(2);
        if (!s.IsNull(3)) e.account_id = s.Int(3);
        if (!s.IsNull(4)) e.payment_id = s.Int(4);
        e.detail = s.Text(5);
        e.at = Time(s, 6);
        return e;
    });
}

void SqliteStore::HoldUnappliedPayment(int64_t payment_id, std::string gateway_id, double paid_amount,
                                       std::string paid_currency, std::string note, OperatorEvent event,
                                       std::optional<OutboxMessage> mail, SysSeconds now, Callback<bool> done) {
    Submit<bool>(
        [=, event = std::move(event), mail = std::move(mail)](Connection& db) -> Result<bool> {
            if (auto r = Exec1(db,
                               "UPDATE payments SET status = 'paid_unapplied', gateway_id = CASE WHEN ?1 <> '' THEN ?1"
                               " ELSE gateway_id END, paid_amount = ?2, paid_currency = ?3, note = ?4, updated_at = ?5"
                               " WHERE id = ?6 AND status IN ('pending', 'expired', 'failed')",
                               [&](Statement& st) {
                                   st.Bind(1, std::string_view(gateway_id))
                                       .Bind(2, paid_amount)
                                       .Bind(3, std::string_view(paid_currency))
                                       .Bind(4, std::string_view(note))
                                       .Bind(5, FormatUtc(now))
                                       .Bind(6, payment_id);
                               });
                !r) {
                return r.error();
            }
            if (db.Changes() == 0) return false;
            if (auto r = InsertOperatorEvent(db, event); !r) return r.error();
            if (mail) {
                if (auto r = InsertOutbox(db, *mail, now); !r) return r.error();
            }
            return true;
        },
        std::move(done));
}

void SqliteStore::CompletePayment(Completion c, Callback<CompletionOutcome> done) {
    Submit<CompletionOutcome>(
        [c = std::move(c)](Connection& db) -> Result<CompletionOutcome> {
            CompletionOutcome out;
            const std::string now = FormatUtc(c.now);
            // The guard: only a payment not settled yet completes (pending, or expired or failed locally
            // while the gateway took the money), so whatever delivers the news a second time (a duplicate,
            // a retry, the reconciler, another process) writes nothing.
            if (auto r = Exec1(db,
                               "UPDATE payments SET status = 'completed', gateway_id = CASE WHEN ?1 <> '' THEN ?1 ELSE "
                               "gateway_id END,"
                               " paid_amount = ?2, paid_currency = ?3, completed_at = ?4, updated_at = ?4"
                               " WHERE id = ?5 AND status IN ('pending', 'expired', 'failed')",
                               [&](Statement& st) {
                                   st.Bind(1, std::string_view(c.gateway_id))
                                       .Bind(2, c.paid_amount)
                                       .Bind(3, std::string_view(c.paid_currency))
                                       .Bind(4, std::string_view(now))
                                       .Bind(5, c.payment_id);
                               });
                !r) {
                return r.error();
            }
            if (db.Changes() == 0) return out;  // applied = false
            auto payment = PaymentById(db, c.payment_id);
            if (!payment) return Error{ErrorCode::kInternal, "payment vanished", {}};
            out.applied = true;
            out.tier = payment->tier;
            std::string email;
            {
                auto st = db.Prepare("SELECT tier, email FROM accounts WHERE id = ?1");
                if (!st) return st.error();
                st->Bind(1, payment->account_id);
                if (auto row = st->Step(); !row || !*row) return Error{ErrorCode::kInternal, "account vanished", {}};
                out.previous_tier = StoredTier(st->TextView(0));
                email = st->Text(1);
            }
            // A subscription of the same tier that has not ended extends from the later of now and its end
            // (a renewal paid early follows on; one paid in grace starts now); otherwise a period starts now.
            out.period_start = c.now;
            {
                auto st = db.Prepare("SELECT tier, status, period_end FROM subscriptions WHERE account_id = ?1");
                if (!st) return st.error();
                st->Bind(1, payment->account_id);
                auto row = st->Step();
                if (!row) return row.error();
                if (*row && st->Text(1) != "ended" && st->TextView(0) == NameOf(payment->tier)) {
                    out.period_start = std::max(c.now, Time(*st, 2));
                    out.renewal = true;
                }
            }
            out.period_end = AddMonths(out.period_start, 1);
            if (auto r = Exec1(db,
                               "INSERT INTO subscriptions (account_id, tier, status, period_start, period_end, "
                               "gateway, last_payment_id,"
                               " updated_at) VALUES (?1, ?2, 'active', ?3, ?4, ?5, ?6, ?7)"
                               " ON CONFLICT (account_id) DO UPDATE SET tier = excluded.tier, status = 'active',"
                               " period_start = excluded.period_start, period_end = excluded.period_end, gateway = "
                               "excluded.gateway,"
                               " last_payment_id = excluded.last_payment_id, updated_at = excluded.updated_at",
                               [&](Statement& st) {
                                   st.Bind(1, payment->account_id)
                                       .Bind(2, NameOf(payment->tier))
                                       .Bind(3, FormatUtc(out.period_start))
                                       .Bind(4, FormatUtc(out.period_end))
                                       .Bind(5, std::string_view(payment->gateway))
                                       .Bind(6, payment->id)
                                       .Bind(7, std::string_view(now));
                               });
                !r) {
                return r.error();
            }
            if (auto r = Exec1(db, "UPDATE accounts SET tier = ?1 WHERE id = ?2",
                               [&](Statement& st) { st.Bind(1, NameOf(payment->tier)).Bind(2, payment->account_id); });
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
            return out;
        },
        Callback<CompletionOutcome>([this, done = std::move(done)](Result<CompletionOutcome> r) {
            if (r.ok() && r->applied) ForgetCachedAccounts();  // the new tier counts from now
            done(std::move(r));
        }));
}

void SqliteStore::EndPayment(int64_t payment_id, PaymentEnd end, SysSeconds now, Callback<bool> done) {
    Submit<bool>(
        [=](Connection& db) -> Result<bool> {
            const std::string_view status = NameOf(StatusOf(end));
            if (auto r =
                    Exec1(db, "UPDATE payments SET status = ?1, updated_at = ?2 WHERE id = ?3 AND status = 'pending'",
                          [&](Statement& st) { st.Bind(1, status).Bind(2, FormatUtc(now)).Bind(3, payment_id); });
                !r) {
                return r.error();
            }
            return db.Changes() != 0;
        },
        std::move(done));
}

void SqliteStore::RecordRefund(int64_t payment_id, SysSeconds now, Callback<bool> done) {
    Submit<bool>(
        [=](Connection& db) -> Result<bool> {
            auto payment = PaymentById(db, payment_id);
            if (!payment) return payment.error();
            // Never counted as revenue: it is simply given back.
            if (payment->status == PaymentStatus::kPaidUnapplied) {
                if (auto r = Exec1(db, "UPDATE payments SET status = 'refunded', updated_at = ?1 WHERE id = ?2",
                                   [&](Statement& st) { st.Bind(1, FormatUtc(now)).Bind(2, payment_id); });
                    !r) {
                    return r.error();
                }
                return true;
            }
            if (payment->status != PaymentStatus::kCompleted) return false;
            auto st = db.Prepare(
                "INSERT INTO revenue_events (account_id, kind, tier, amount, currency, payment_id, at, detail)"
                " VALUES (?1, 'refund', ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING");
            if (!st) return st.error();
            st->Bind(1, payment->account_id)
                .Bind(2, NameOf(payment->tier))
                .Bind(3, -payment->paid_amount.value_or(payment->amount))
                .Bind(4, std::string_view(payment->currency))
                .Bind(5, payment_id)
                .Bind(6, FormatUtc(now))
                .Bind(7, std::string_view(payment->gateway));
            if (auto r = st->Run(); !r) return r.error();
            return db.Changes() > 0;
        },
        std::move(done));
}

// ---------------------------------------------------------------------------------------------------
// Inbox

void SqliteStore::RecordGatewayEvent(GatewayEvent e, Callback<bool> done) {
    auto sealed = Seal(e.body);
    if (!sealed) return done(sealed.error());
    e.body = std::move(*sealed);
    Submit<bool>(
        [e = std::move(e)](Connection& db) -> Result<bool> {
            auto st = db.Prepare(
                e.rearm_after
                    ? "INSERT INTO gateway_events (gateway, dedup_key, reference, body, received_at, state, attempts,"
                      " next_attempt) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?5) ON CONFLICT (gateway, dedup_key)"
                      " DO UPDATE SET state = 'pending', next_attempt = ?6"
                      " WHERE gateway_events.state IN ('applied', 'ignored')"
                    : "INSERT INTO gateway_events (gateway, dedup_key, reference, body, received_at, state, attempts,"
                      " next_attempt) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?5)"
                      " ON CONFLICT (gateway, dedup_key) DO NOTHING");
            if (!st) return st.error();
            st->Bind(1, std::string_view(e.gateway))
                .Bind(2, std::string_view(e.dedup_key))
                .Bind(3, std::string_view(e.reference))
                .Bind(4, std::string_view(e.body))
                .Bind(5, FormatUtc(e.received_at));
            if (e.rearm_after) st->Bind(6, FormatUtc(e.received_at + *e.rearm_after));
            if (auto r = st->Run(); !r) return r.error();
            return db.Changes() > 0;
        },
        std::move(done));
}

Result<std::vector<GatewayEvent>> SqliteStore::DueGatewayEvents(SysSeconds now, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kGatewayEventColumns +
        " FROM gateway_events WHERE state = 'pending' AND next_attempt <= ?1 ORDER BY id LIMIT ?2";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, FormatUtc(now)).Bind(2, static_cast<int64_t>(limit));
    auto due = Collect<GatewayEvent>(*st, ReadGatewayEvent);
    if (!due) return due;
    if (auto r = OpenFields(encryption_keys_, *due, &GatewayEvent::body); !r) return r.error();
    return due;
}

void SqliteStore::FinishGatewayEvent(int64_t id, GatewayEventState state, std::string result, int attempts,
                                     std::optional<SysSeconds> next_attempt, Callback<void> done) {
    Submit<void>(
        [=](Connection& db) -> Result<void> {
            return Exec1(
                db, "UPDATE gateway_events SET state = ?1, result = ?2, attempts = ?3, next_attempt = ?4 WHERE id = ?5",
                [&](Statement& st) {
                    st.Bind(1, NameOf(state)).Bind(2, std::string_view(result)).Bind(3, attempts);
                    BindOptTime(st, 4, next_attempt);
                    st.Bind(5, id);
                });
        },
        std::move(done));
}

// ---------------------------------------------------------------------------------------------------
// Subscriptions and the ledger

Result<std::vector<Subscription>> SqliteStore::ListSubscriptionsEndingBefore(SysSeconds before) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string("SELECT ") + kSubscriptionColumns +
                                   " FROM subscriptions s JOIN accounts a ON a.id = s.account_id"
                                   " WHERE s.status <> 'ended' AND s.period_end < ?1 ORDER BY s.period_end";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, FormatUtc(before));
    return Collect<Subscription>(*st, ReadSubscription);
}

Result<std::optional<Subscription>> SqliteStore::GetSubscription(int64_t account_id) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kSubscriptionColumns +
        " FROM subscriptions s JOIN accounts a ON a.id = s.account_id WHERE s.account_id = ?1";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, account_id);
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row) return std::optional<Subscription>{};
    return std::optional<Subscription>(ReadSubscription(*st));
}

void SqliteStore::MarkRenewalReminder(int64_t account_id, int days, SysSeconds period_end, OutboxMessage mail,
                                      Callback<bool> done) {
    Submit<bool>(
        [=, mail = std::move(mail)](Connection& db) -> Result<bool> {
            const char* sql =
                days == 7 ? "UPDATE subscriptions SET reminded_7d_for = ?1 WHERE account_id = ?2 AND period_end = ?1"
                            " AND status <> 'ended' AND (reminded_7d_for IS NULL OR reminded_7d_for <> ?1)"
                          : "UPDATE subscriptions SET reminded_1d_for = ?1 WHERE account_id = ?2 AND period_end = ?1"
                            " AND status <> 'ended' AND (reminded_1d_for IS NULL OR reminded_1d_for <> ?1)";
            if (auto r = Exec1(db, sql, [&](Statement& st) { st.Bind(1, FormatUtc(period_end)).Bind(2, account_id); });
                !r) {
                return r.error();
            }
            if (db.Changes() == 0) return false;
            if (auto r = InsertOutbox(db, mail, UtcNow()); !r) return r.error();
            return true;
        },
        std::move(done));
}

void SqliteStore::EnterGrace(int64_t account_id, SysSeconds period_end, Callback<bool> done) {
    Submit<bool>(
        [=](Connection& db) -> Result<bool> {
            if (auto r = Exec1(db,
                               "UPDATE subscriptions SET status = 'grace', updated_at = ?1 WHERE account_id = ?2 AND "
                               "period_end = ?3"
                               " AND status = 'active'",
                               [&](Statement& st) {
                                   st.Bind(1, FormatUtc(UtcNow())).Bind(2, account_id).Bind(3, FormatUtc(period_end));
                               });
                !r) {
                return r.error();
            }
            return db.Changes() > 0;
        },
        std::move(done));
}

void SqliteStore::EndSubscription(int64_t account_id, SysSeconds period_end, SysSeconds now, OutboxMessage mail,
                                  Callback<bool> done) {
    Submit<bool>(
        [=, mail = std::move(mail)](Connection& db) -> Result<bool> {
            if (auto r = Exec1(db,
                               "UPDATE subscriptions SET status = 'ended', updated_at = ?1 WHERE account_id = ?2 AND "
                               "period_end = ?3"
                               " AND status IN ('active', 'grace')",
                               [&](Statement& st) {
                                   st.Bind(1, FormatUtc(now)).Bind(2, account_id).Bind(3, FormatUtc(period_end));
                               });
                !r) {
                return r.error();
            }
            if (db.Changes() == 0) return false;
            std::string previous;
            {
                auto st = db.Prepare("SELECT tier FROM accounts WHERE id = ?1");
                if (!st) return st.error();
                st->Bind(1, account_id);
                if (auto row = st->Step(); !row || !*row) return Error{ErrorCode::kInternal, "account vanished", {}};
                previous = st->Text(0);
            }
            if (auto r = Exec1(db, "UPDATE accounts SET tier = 'free' WHERE id = ?1",
                               [&](Statement& st) { st.Bind(1, account_id); });
                !r) {
                return r.error();
            }
            if (auto r = AppendRevenue(db, account_id, "downgrade", Tier::kFree, 0, "", std::nullopt, now,
                                       previous + " -> free");
                !r) {
                return r.error();
            }
            if (auto r = InsertOutbox(db, mail, now); !r) return r.error();
            return true;
        },
        Callback<bool>([this, done = std::move(done)](Result<bool> r) {
            if (r.ok() && *r) ForgetCachedAccounts();
            done(std::move(r));
        }));
}

Result<std::vector<RevenueEvent>> SqliteStore::ListRevenueEvents(int64_t account_id, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto st = (*db)->Prepare(
        "SELECT id, account_id, kind, tier, amount, currency, payment_id, at, detail FROM revenue_events"
        " WHERE account_id = ?1 ORDER BY id LIMIT ?2");
    if (!st) return st.error();
    st->Bind(1, account_id).Bind(2, static_cast<int64_t>(limit));
    return Collect<RevenueEvent>(*st, [](const Statement& s) {
        RevenueEvent e;
        e.id = s.Int(0);
        e.account_id = s.Int(1);
        e.kind = s.Text(2);
        e.tier = StoredTier(s.TextView(3));
        e.amount = s.Double(4);
        e.currency = s.Text(5);
        if (!s.IsNull(6)) e.payment_id = s.Int(6);
        e.at = Time(s, 7);
        e.detail = s.Text(8);
        return e;
    });
}

// ---------------------------------------------------------------------------------------------------
// Outbox and security events

void SqliteStore::EnqueueMail(OutboxMessage message, SysSeconds now, Callback<bool> done) {
    Submit<bool>([message = std::move(message), now](Connection& db) { return InsertOutbox(db, message, now); },
                 std::move(done));
}

Result<bool> SqliteStore::MailExists(const std::string& dedup_key) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto st = (*db)->Prepare("SELECT 1 FROM outbox WHERE dedup_key = ?1");
    if (!st) return st.error();
    st->Bind(1, std::string_view(dedup_key));
    auto row = st->Step();
    if (!row) return row.error();
    return *row;
}

Result<std::vector<OutboxItem>> SqliteStore::DueMail(SysSeconds now, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto st = (*db)->Prepare(
        "SELECT id, dedup_key, account_id, to_address, subject, body_text, body_html, kind, headers, status, attempts,"
        " next_attempt, last_error FROM outbox WHERE status = 'pending' AND next_attempt <= ?1 ORDER BY id LIMIT ?2");
    if (!st) return st.error();
    st->Bind(1, FormatUtc(now)).Bind(2, static_cast<int64_t>(limit));
    return Collect<OutboxItem>(*st, [](const Statement& s) {
        OutboxItem item;
        item.id = s.Int(0);
        item.message.dedup_key = s.Text(1);
        item.message.account_id = s.Int(2);
        item.message.to = s.Text(3);
        item.message.subject = s.Text(4);
        item.message.text = s.Text(5);
        item.message.html = s.Text(6);
        item.message.kind = s.Text(7);
        if (auto headers = ParseJson(s.Text(8), 4); headers && headers->is_object()) {
            for (const auto& kv : headers->get_object()) {
                if (kv.value().is_string())
                    item.message.headers[std::string(kv.key())] = std::string(kv.value().get_string());
            }
        }
        item.status = MailStatusNamed(s.TextView(9)).value_or(MailStatus::kPending);
        item.attempts = static_cast<int>(s.Int(10));
        item.next_attempt = Time(s, 11);
        item.last_error = s.Text(12);
        return item;
    });
}

void SqliteStore::FinishMail(int64_t id, MailStatus status, int attempts, SysSeconds next_attempt, std::string error,
                             std::string message_id, Callback<void> done) {
    Submit<void>(
        [=](Connection& db) -> Result<void> {
            return Exec1(
                db,
                "UPDATE outbox SET status = ?1, attempts = ?2, next_attempt = ?3, last_error = ?4, message_id = ?5,"
                " sent_at = CASE WHEN ?1 = 'sent' THEN ?6 ELSE sent_at END WHERE id = ?7",
                [&](Statement& st) {
                    st.Bind(1, NameOf(status))
                        .Bind(2, attempts)
                        .Bind(3, FormatUtc(next_attempt))
                        .Bind(4, std::string_view(error))
                        .Bind(5, std::string_view(message_id))
                        .Bind(6, FormatUtc(UtcNow()))
                        .Bind(7, id);
                });
        },
        std::move(done));
}

void SqliteStore::RecordSecurityEvent(std::string kind, std::string ip, std::string detail, SysSeconds now,
                                      Callback<void> done) {
    Submit<void>(
        [=](Connection& db) -> Result<void> {
            return Exec1(db, "INSERT INTO security_events (kind, ip, detail, at) VALUES (?1, ?2, ?3, ?4)",
                         [&](Statement& st) {
                             st.Bind(1, std::string_view(kind))
                                 .Bind(2, std::string_view(ip))
                                 .Bind(3, std::string_view(detail))
                                 .Bind(4, FormatUtc(now));
                         });
        },
        std::move(done));
}

}  // namespace gpuopt::store::sqlite
