// PgStore: what the operator panel reads and changes (store/panel.hpp). Writes lock the row they change
// (FOR UPDATE), so two operators acting on one customer, mail or payment at once take turns.
#include "store/panel_sql.hpp"
#include "store/postgres/connection.hpp"
#include "store/postgres/pg_store.hpp"
#include "store/postgres/pg_store_internal.hpp"
#include "store/sealing.hpp"

namespace gpuopt::store::postgres {

namespace {

CustomerRow ReadCustomer(const Rows& r, int i) {
    CustomerRow c;
    c.id = r.Int(i, 0);
    c.email = r.Text(i, 1);
    c.tier = StoredTier(r.Text(i, 2));
    c.created_at = TimeAt(r, i, 3);
    c.disabled_at = OptTimeAt(r, i, 4);
    c.disabled_reason = r.Text(i, 5);
    if (!r.IsNull(i, 6)) c.subscription = SubscriptionStatusNamed(r.Text(i, 6));
    c.period_end = OptTimeAt(r, i, 7);
    c.gpus = r.Int(i, 8);
    c.last_report_at = OptTimeAt(r, i, 9);
    return c;
}

Result<CustomerRow> ExistingCustomer(Connection& db, int64_t account_id) {
    static const std::string sql = std::string(kCustomerSelect) + "WHERE a.id = $1 AND a.deleted_at IS NULL";
    auto rows = db.Query(sql, Params().Add(account_id));
    if (!rows) return rows.error();
    if (rows->empty()) return Error{ErrorCode::kNotFound, "no such customer", {}};
    return ReadCustomer(*rows, 0);
}

// Locks the account's row for the rest of the transaction; kNotFound for an unknown or deleted one.
Result<void> LockCustomer(Connection& db, int64_t account_id) {
    auto rows =
        db.Query("SELECT id FROM accounts WHERE id = $1 AND deleted_at IS NULL FOR UPDATE", Params().Add(account_id));
    if (!rows) return rows.error();
    if (rows->empty()) return Error{ErrorCode::kNotFound, "no such customer", {}};
    return {};
}

const std::string& PaymentRowSelect() {
    static const std::string sql = store::PaymentRowSelect(kPaymentColumns);
    return sql;
}

PaymentRow ReadPaymentRow(const Rows& r, int i) {
    PaymentRow row{ReadPayment(r, i), std::string(r.Text(i, 20))};
    row.refunded = row.payment.status == PaymentStatus::kRefunded || r.Bool(i, 21);
    return row;
}

Result<PaymentRow> PaymentRowById(Connection& db, int64_t payment_id, bool lock) {
    auto rows = db.Query(PaymentRowSelect() + (lock ? "WHERE p.id = $1 FOR UPDATE OF p" : "WHERE p.id = $1"),
                         Params().Add(payment_id));
    if (!rows) return rows.error();
    if (rows->empty()) return Error{ErrorCode::kNotFound, "no such payment", {}};
    return ReadPaymentRow(*rows, 0);
}

MailRow ReadMail(const Rows& r, int i) {
    MailRow m;
    m.id = r.Int(i, 0);
    m.account_id = r.Int(i, 1);
    m.to = r.Text(i, 2);
    m.subject = r.Text(i, 3);
    m.kind = r.Text(i, 4);
    m.status = MailStatusNamed(r.Text(i, 5)).value_or(MailStatus::kPending);  // CHECKed by the table
    m.attempts = static_cast<int>(r.Int(i, 6));
    m.next_attempt = TimeAt(r, i, 7);
    m.last_error = r.Text(i, 8);
    m.created_at = TimeAt(r, i, 9);
    m.sent_at = OptTimeAt(r, i, 10);
    return m;
}

Result<MailRow> MailById(Connection& db, int64_t id, bool lock) {
    auto rows =
        db.Query(std::string(kMailSelect) + (lock ? "WHERE id = $1 FOR UPDATE" : "WHERE id = $1"), Params().Add(id));
    if (!rows) return rows.error();
    if (rows->empty()) return Error{ErrorCode::kNotFound, "no such mail", {}};
    return ReadMail(*rows, 0);
}

std::string_view NameOrEmpty(const auto& value) {
    if (!value) return "";
    return NameOf(*value);
}

}  // namespace

Result<std::vector<CustomerRow>> PgStore::ListCustomers(const CustomerQuery& query) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string(kCustomerSelect) +
                                   "WHERE a.deleted_at IS NULL AND ($1 = '' OR strpos(a.email, $1) > 0)"
                                   " AND ($2 = '' OR a.tier = $2) AND ($3::bigint IS NULL OR a.id < $3::bigint)"
                                   " ORDER BY a.id DESC LIMIT $4";
    auto rows = (*db)->Query(sql, Params()
                                      .Add(query.email_contains)
                                      .Add(NameOrEmpty(query.tier))
                                      .Add(query.before_id)
                                      .Add(static_cast<int64_t>(query.limit)));
    if (!rows) return rows.error();
    return CollectRows<CustomerRow>(*rows, ReadCustomer);
}

Result<std::optional<CustomerRow>> PgStore::GetCustomer(int64_t account_id) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto found = ExistingCustomer(**db, account_id);
    if (!found) {
        if (found.error().code == ErrorCode::kNotFound) return std::optional<CustomerRow>();
        return found.error();
    }
    return std::optional<CustomerRow>(std::move(*found));
}

Result<std::vector<PaymentRow>> PgStore::ListAllPayments(const PaymentQuery& query) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = PaymentRowSelect() +
                                   "WHERE ($1 = '' OR p.status = $1) AND ($2 = '' OR p.gateway = $2)"
                                   " AND ($3::bigint IS NULL OR p.account_id = $3::bigint)"
                                   " AND ($4::bigint IS NULL OR p.id < $4::bigint) ORDER BY p.id DESC LIMIT $5";
    auto rows = (*db)->Query(sql, Params()
                                      .Add(NameOrEmpty(query.status))
                                      .Add(query.gateway)
                                      .Add(query.account_id)
                                      .Add(query.before_id)
                                      .Add(static_cast<int64_t>(query.limit)));
    if (!rows) return rows.error();
    return CollectRows<PaymentRow>(*rows, ReadPaymentRow);
}

Result<std::optional<PaymentRow>> PgStore::GetPaymentRow(int64_t payment_id) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto row = PaymentRowById(**db, payment_id, false);
    if (!row) {
        if (row.error().code == ErrorCode::kNotFound) return std::optional<PaymentRow>();
        return row.error();
    }
    return std::optional<PaymentRow>(std::move(*row));
}

Result<std::vector<GatewayEvent>> PgStore::ListGatewayEvents(const GatewayEventQuery& query) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string("SELECT ") + kGatewayEventColumns +
                                   " FROM gateway_events WHERE ($1 = '' OR state = $1) AND ($2 = '' OR gateway = $2)"
                                   " AND ($3 = '' OR reference = $3) AND ($4::bigint IS NULL OR id < $4::bigint)"
                                   " ORDER BY id DESC LIMIT $5";
    auto rows = (*db)->Query(sql, Params()
                                      .Add(NameOrEmpty(query.state))
                                      .Add(query.gateway)
                                      .Add(query.reference)
                                      .Add(query.before_id)
                                      .Add(static_cast<int64_t>(query.limit)));
    if (!rows) return rows.error();
    auto events = CollectRows<GatewayEvent>(*rows, ReadGatewayEvent);
    if (auto r = OpenFields(encryption_keys_, events, &GatewayEvent::body); !r) return r.error();
    return events;
}

Result<std::vector<MailRow>> PgStore::ListMail(const MailQuery& query) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string(kMailSelect) +
                                   "WHERE ($1 = '' OR status = $1) AND ($2 = '' OR kind = $2)"
                                   " AND ($3::bigint IS NULL OR account_id = $3::bigint)"
                                   " AND ($4::bigint IS NULL OR id < $4::bigint) ORDER BY id DESC LIMIT $5";
    auto rows = (*db)->Query(sql, Params()
                                      .Add(NameOrEmpty(query.status))
                                      .Add(query.kind)
                                      .Add(query.account_id)
                                      .Add(query.before_id)
                                      .Add(static_cast<int64_t>(query.limit)));
    if (!rows) return rows.error();
    return CollectRows<MailRow>(*rows, ReadMail);
}

Result<std::vector<SecurityEvent>> PgStore::ListSecurityEvents(const SecurityEventQuery& query) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto rows = (*db)->Query(
        "SELECT id, kind, ip, detail, at FROM security_events WHERE ($1 = '' OR left(kind, length($1)) = $1)"
        " AND ($2 = '' OR ip = $2) AND ($3::bigint IS NULL OR id < $3::bigint) ORDER BY id DESC LIMIT $4",
        Params().Add(query.kind_prefix).Add(query.ip).Add(query.before_id).Add(static_cast<int64_t>(query.limit)));
    if (!rows) return rows.error();
    return CollectRows<SecurityEvent>(*rows, [](const Rows& r, int i) {
        return SecurityEvent{r.Int(i, 0), std::string(r.Text(i, 1)), std::string(r.Text(i, 2)),
                             std::string(r.Text(i, 3)), TimeAt(r, i, 4)};
    });
}

Result<std::vector<LedgerRow>> PgStore::ListLedger(int64_t after_id, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto rows = (*db)->Query(std::string(kLedgerSelect) + "WHERE r.id > $1 ORDER BY r.id LIMIT $2",
                             Params().Add(after_id).Add(static_cast<int64_t>(limit)));
    if (!rows) return rows.error();
    return CollectRows<LedgerRow>(*rows, [](const Rows& r, int i) {
        LedgerRow row;
        row.event.id = r.Int(i, 0);
        row.event.account_id = r.Int(i, 1);
        row.event.kind = r.Text(i, 2);
        row.event.tier = StoredTier(r.Text(i, 3));
        row.event.amount = r.Double(i, 4);
        row.event.currency = r.Text(i, 5);
        if (!r.IsNull(i, 6)) row.event.payment_id = r.Int(i, 6);
        row.event.at = TimeAt(r, i, 7);
        row.event.detail = r.Text(i, 8);
        row.gateway = r.Text(i, 9);
        return row;
    });
}

Result<StorageSize> PgStore::GetStorageSize() {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto rows = (*db)->Query("SELECT pg_database_size(current_database())");
    if (!rows) return rows.error();
    return StorageSize{"postgresql", rows->empty() ? 0 : rows->Int(0, 0)};
}

void PgStore::ChangeCustomerPlan(CustomerPlanChange change, AuditEntry audit, Callback<CustomerRow> done) {
    if (change.tier != Tier::kFree && (!change.period_end || *change.period_end <= change.now)) {
        return done(Error::Validation("period_end", "must be in the future for a paid plan"));
    }
    Submit<CustomerRow>(
        [change = std::move(change), audit = std::move(audit),
         key = AuditKey()](Connection& db) -> Result<CustomerRow> {
            if (auto r = LockCustomer(db, change.account_id); !r) return r.error();
            auto before = ExistingCustomer(db, change.account_id);
            if (!before) return before.error();
            const std::string now = FormatUtc(change.now);
            std::string_view kind = "renewal";
            if (change.tier == Tier::kFree) {
                kind = "downgrade";
                auto r = db.Query(
                    "UPDATE subscriptions SET status = 'ended', updated_at = $2 WHERE account_id = $1"
                    " AND status IN ('active', 'grace')",
                    Params().Add(change.account_id).Add(now));
                if (!r) return r.error();
            } else {
                if (change.tier != before->tier) kind = "upgrade";
                // The period keeps its start while the plan stays the same and has not ended.
                auto r = db.Query(
                    "INSERT INTO subscriptions (account_id, tier, status, period_start, period_end, gateway, "
                    "updated_at)"
                    " VALUES ($1, $2, 'active', $3, $4, 'operator', $3) ON CONFLICT (account_id) DO UPDATE SET"
                    " tier = excluded.tier, status = 'active', period_start = CASE WHEN subscriptions.tier ="
                    " excluded.tier AND subscriptions.status <> 'ended' THEN subscriptions.period_start ELSE"
                    " excluded.period_start END, period_end = excluded.period_end, updated_at = excluded.updated_at",
                    Params()
                        .Add(change.account_id)
                        .Add(NameOf(change.tier))
                        .Add(now)
                        .Add(FormatUtc(*change.period_end)));
                if (!r) return r.error();
            }
            if (auto r = db.Query("UPDATE accounts SET tier = $2 WHERE id = $1",
                                  Params().Add(change.account_id).Add(NameOf(change.tier)));
                !r) {
                return r.error();
            }
            if (auto r = AppendRevenue(db, change.account_id, kind, change.tier, 0, "USD", std::nullopt, change.now,
                                       "operator: " + change.reason);
                !r) {
                return r.error();
            }
            if (auto r = InsertAudit(db, audit, key); !r) return r.error();
            if (auto r = AnnounceAccountsChanged(db); !r) return r.error();
            return ExistingCustomer(db, change.account_id);
        },
        Callback<CustomerRow>([this, done = std::move(done)](Result<CustomerRow> r) {
            if (r.ok()) ForgetCachedAccounts();  // the new plan counts from the next request
            done(std::move(r));
        }));
}

void PgStore::SetCustomerDisabled(int64_t account_id, bool disabled, std::string reason, SysSeconds now,
                                  AuditEntry audit, Callback<CustomerRow> done) {
    Submit<CustomerRow>(
        [=, reason = std::move(reason), audit = std::move(audit),
         key = AuditKey()](Connection& db) -> Result<CustomerRow> {
            if (auto r = LockCustomer(db, account_id); !r) return r.error();
            auto before = ExistingCustomer(db, account_id);
            if (!before) return before.error();
            if (before->disabled_at.has_value() == disabled) {
                return Error{ErrorCode::kConflict,
                             disabled ? "the customer is disabled already" : "the customer is not disabled",
                             {}};
            }
            const std::string at = FormatUtc(now);
            Params params;
            params.Add(account_id);
            if (disabled) {
                params.Add(at);
            } else {
                params.AddNull();
            }
            params.Add(disabled ? std::string_view(reason) : std::string_view(""));
            if (auto r = db.Query("UPDATE accounts SET disabled_at = $2, disabled_reason = $3 WHERE id = $1", params);
                !r) {
                return r.error();
            }
            if (disabled) {
                // Signed out everywhere, and no link mailed earlier signs in again.
                if (auto r =
                        db.Query("UPDATE web_sessions SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL",
                                 Params().Add(account_id).Add(at));
                    !r) {
                    return r.error();
                }
                if (auto r = db.Query("UPDATE sign_in_links SET used_at = $2 WHERE account_id = $1 AND used_at IS NULL",
                                      Params().Add(account_id).Add(at));
                    !r) {
                    return r.error();
                }
            }
            if (auto r = InsertAudit(db, audit, key); !r) return r.error();
            if (auto r = AnnounceAccountsChanged(db); !r) return r.error();
            return ExistingCustomer(db, account_id);
        },
        Callback<CustomerRow>([this, done = std::move(done)](Result<CustomerRow> r) {
            if (r.ok()) ForgetCachedAccounts();  // its keys stop before the operator hears of it
            done(std::move(r));
        }));
}

void PgStore::EnqueueOperatorMail(OutboxMessage mail, SysSeconds now, AuditEntry audit, Callback<bool> done) {
    Submit<bool>(
        [mail = std::move(mail), now, audit = std::move(audit), key = AuditKey()](Connection& db) -> Result<bool> {
            auto added = InsertOutbox(db, mail, now);
            if (!added) return added.error();
            if (!*added) return false;
            if (auto r = InsertAudit(db, audit, key); !r) return r.error();
            return true;
        },
        std::move(done));
}

void PgStore::RetryMail(int64_t mail_id, SysSeconds now, AuditEntry audit, Callback<MailRow> done) {
    Submit<MailRow>(
        [=, audit = std::move(audit), key = AuditKey()](Connection& db) -> Result<MailRow> {
            auto before = MailById(db, mail_id, true);
            if (!before) return before.error();
            if (before->status == MailStatus::kSent) return Error{ErrorCode::kConflict, "the mail was sent", {}};
            if (auto r =
                    db.Query("UPDATE outbox SET status = 'pending', attempts = 0, next_attempt = $2, last_error = ''"
                             " WHERE id = $1",
                             Params().Add(mail_id).Add(FormatUtc(now)));
                !r) {
                return r.error();
            }
            if (auto r = InsertAudit(db, audit, key); !r) return r.error();
            return MailById(db, mail_id, false);
        },
        std::move(done));
}

void PgStore::CancelMail(int64_t mail_id, std::string why, AuditEntry audit, Callback<MailRow> done) {
    Submit<MailRow>(
        [=, why = std::move(why), audit = std::move(audit), key = AuditKey()](Connection& db) -> Result<MailRow> {
            auto before = MailById(db, mail_id, true);
            if (!before) return before.error();
            if (before->status != MailStatus::kPending) {
                return Error{ErrorCode::kConflict, "only a mail waiting to be sent can be cancelled", {}};
            }
            if (auto r = db.Query("UPDATE outbox SET status = 'failed', last_error = $2 WHERE id = $1",
                                  Params().Add(mail_id).Add(why));
                !r) {
                return r.error();
            }
            if (auto r = InsertAudit(db, audit, key); !r) return r.error();
            return MailById(db, mail_id, false);
        },
        std::move(done));
}

void PgStore::RecordOperatorRefund(int64_t payment_id, SysSeconds now, AuditEntry audit, Callback<PaymentRow> done) {
    Submit<PaymentRow>(
        [=, audit = std::move(audit), key = AuditKey()](Connection& db) -> Result<PaymentRow> {
            auto before = PaymentRowById(db, payment_id, true);
            if (!before) return before.error();
            const Payment& p = before->payment;
            if (before->refunded) return Error{ErrorCode::kConflict, "the payment is refunded already", {}};
            if (p.status == PaymentStatus::kPaidUnapplied) {
                if (auto r = db.Query("UPDATE payments SET status = 'refunded', updated_at = $2 WHERE id = $1",
                                      Params().Add(payment_id).Add(FormatUtc(now)));
                    !r) {
                    return r.error();
                }
            } else if (p.status == PaymentStatus::kCompleted) {
                if (auto r =
                        AppendRevenue(db, p.account_id, "refund", p.tier, -p.paid_amount.value_or(p.amount),
                                      p.paid_currency.empty() ? p.currency : p.paid_currency, p.id, now, p.gateway);
                    !r) {
                    return r.error();
                }
            } else {
                return Error{ErrorCode::kConflict, "only a completed or paid_unapplied payment can be refunded", {}};
            }
            if (auto r = InsertAudit(db, audit, key); !r) return r.error();
            return PaymentRowById(db, payment_id, false);
        },
        std::move(done));
}

void PgStore::BlockAddress(AddressBlock block, AuditEntry audit, Callback<void> done) {
    Submit<void>(
        [block = std::move(block), audit = std::move(audit), key = AuditKey()](Connection& db) -> Result<void> {
            Params params;
            params.Add(block.ip).Add(block.reason).Add(block.created_by).Add(FormatUtc(block.created_at));
            if (block.until) {
                params.Add(FormatUtc(*block.until));
            } else {
                params.AddNull();
            }
            if (auto r = db.Query(
                    "INSERT INTO address_blocks (ip, reason, created_by, created_at, until)"
                    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (ip) DO UPDATE SET reason = excluded.reason,"
                    " created_by = excluded.created_by, created_at = excluded.created_at, until = excluded.until",
                    params);
                !r) {
                return r.error();
            }
            if (auto r = InsertAudit(db, audit, key); !r) return r.error();
            return {};
        },
        std::move(done));
}

void PgStore::UnblockAddress(std::string ip, AuditEntry audit, Callback<bool> done) {
    Submit<bool>(
        [ip = std::move(ip), audit = std::move(audit), key = AuditKey()](Connection& db) -> Result<bool> {
            auto removed = db.Query("DELETE FROM address_blocks WHERE ip = $1", Params().Add(ip));
            if (!removed) return removed.error();
            if (auto r = InsertAudit(db, audit, key); !r) return r.error();
            return removed->Affected() > 0;
        },
        std::move(done));
}

Result<std::vector<AddressBlock>> PgStore::ListAddressBlocks(SysSeconds now) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto rows = (*db)->Query(
        "SELECT ip, reason, created_by, created_at, until FROM address_blocks WHERE until IS NULL OR until > $1"
        " ORDER BY created_at DESC, ip",
        Params().Add(FormatUtc(now)));
    if (!rows) return rows.error();
    return CollectRows<AddressBlock>(*rows, [](const Rows& r, int i) {
        return AddressBlock{std::string(r.Text(i, 0)), std::string(r.Text(i, 1)), std::string(r.Text(i, 2)),
                            TimeAt(r, i, 3), OptTimeAt(r, i, 4)};
    });
}

}  // namespace gpuopt::store::postgres
