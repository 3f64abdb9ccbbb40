// SqliteStore: what the operator panel reads and changes (store/panel.hpp).
#include <filesystem>

#include "store/panel_sql.hpp"
#include "store/sealing.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"

namespace gpuopt::store::sqlite {

namespace {

std::optional<SysSeconds> OptTime(const Statement& s, int column) {
    if (s.IsNull(column)) return std::nullopt;
    return ParseUtc(s.Text(column));
}

SysSeconds Time(const Statement& s, int column) { return ParseUtc(s.Text(column)).value_or(SysSeconds{}); }

void BindOpt(Statement& st, int index, const std::optional<int64_t>& value) {
    if (value) {
        st.Bind(index, *value);
    } else {
        st.BindNull(index);
    }
}

CustomerRow ReadCustomer(const Statement& s) {
    CustomerRow c;
    c.id = s.Int(0);
    c.email = s.Text(1);
    c.tier = StoredTier(s.TextView(2));
    c.created_at = Time(s, 3);
    c.disabled_at = OptTime(s, 4);
    c.disabled_reason = s.Text(5);
    if (!s.IsNull(6)) c.subscription = SubscriptionStatusNamed(s.TextView(6));
    c.period_end = OptTime(s, 7);
    c.gpus = s.Int(8);
    c.last_report_at = OptTime(s, 9);
    return c;
}

Result<std::optional<CustomerRow>> CustomerById(Connection& db, int64_t account_id) {
    static const std::string sql = std::string(kCustomerSelect) + "WHERE a.id = ?1 AND a.deleted_at IS NULL";
    auto st = db.Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, account_id);
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row) return std::optional<CustomerRow>();
    return std::optional<CustomerRow>(ReadCustomer(*st));
}

Result<CustomerRow> ExistingCustomer(Connection& db, int64_t account_id) {
    auto found = CustomerById(db, account_id);
    if (!found) return found.error();
    if (!*found) return Error{ErrorCode::kNotFound, "no such customer", {}};
    return std::move(**found);
}

const std::string& PaymentRowSelect() {
    static const std::string sql = store::PaymentRowSelect(kPaymentColumns);
    return sql;
}

PaymentRow ReadPaymentRow(const Statement& s) {
    PaymentRow row{ReadPayment(s), s.Text(20)};
    row.refunded = row.payment.status == PaymentStatus::kRefunded || s.Int(21) != 0;
    return row;
}

Result<PaymentRow> PaymentRowById(Connection& db, int64_t payment_id) {
    const std::string sql = PaymentRowSelect() + "WHERE p.id = ?1";
    auto st = db.Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, payment_id);
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row) return Error{ErrorCode::kNotFound, "no such payment", {}};
    return ReadPaymentRow(*st);
}

MailRow ReadMail(const Statement& s) {
    MailRow m;
    m.id = s.Int(0);
    m.account_id = s.Int(1);
    m.to = s.Text(2);
    m.subject = s.Text(3);
    m.kind = s.Text(4);
    m.status = MailStatusNamed(s.TextView(5)).value_or(MailStatus::kPending);  // CHECKed by the table
    m.attempts = static_cast<int>(s.Int(6));
    m.next_attempt = Time(s, 7);
    m.last_error = s.Text(8);
    m.created_at = Time(s, 9);
    m.sent_at = OptTime(s, 10);
    return m;
}

Result<MailRow> MailById(Connection& db, int64_t id) {
    const std::string sql = std::string(kMailSelect) + "WHERE id = ?1";
    auto st = db.Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, id);
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row) return Error{ErrorCode::kNotFound, "no such mail", {}};
    return ReadMail(*st);
}

Result<void> Run(Connection& db, const char* sql, const std::function<void(Statement&)>& bind) {
    auto st = db.Prepare(sql);
    if (!st) return st.error();
    bind(*st);
    return st->Run();
}

}  // namespace

Result<std::vector<CustomerRow>> SqliteStore::ListCustomers(const CustomerQuery& query) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string(kCustomerSelect) +
                                   "WHERE a.deleted_at IS NULL AND (?1 = '' OR instr(a.email, ?1) > 0)"
                                   " AND (?2 = '' OR a.tier = ?2) AND (?3 IS NULL OR a.id < ?3)"
                                   " ORDER BY a.id DESC LIMIT ?4";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, std::string_view(query.email_contains))
        .Bind(2, query.tier ? NameOf(*query.tier) : std::string_view(""));
    BindOpt(*st, 3, query.before_id);
    st->Bind(4, static_cast<int64_t>(query.limit));
    return Collect<CustomerRow>(*st, ReadCustomer);
}

Result<std::optional<CustomerRow>> SqliteStore::GetCustomer(int64_t account_id) {
    auto db = LeaseReader();
    if (!db) return db.error();
    return CustomerById(**db, account_id);
}

Result<std::vector<PaymentRow>> SqliteStore::ListAllPayments(const PaymentQuery& query) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = PaymentRowSelect() +
                                   "WHERE (?1 = '' OR p.status = ?1) AND (?2 = '' OR p.gateway = ?2)"
                                   " AND (?3 IS NULL OR p.account_id = ?3) AND (?4 IS NULL OR p.id < ?4)"
                                   " ORDER BY p.id DESC LIMIT ?5";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, query.status ? NameOf(*query.status) : std::string_view("")).Bind(2, std::string_view(query.gateway));
    BindOpt(*st, 3, query.account_id);
    BindOpt(*st, 4, query.before_id);
    st->Bind(5, static_cast<int64_t>(query.limit));
    return Collect<PaymentRow>(*st, ReadPaymentRow);
}

Result<std::optional<PaymentRow>> SqliteStore::GetPaymentRow(int64_t payment_id) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto row = PaymentRowById(**db, payment_id);
    if (!row) {
        if (row.error().code == ErrorCode::kNotFound) return std::optional<PaymentRow>();
        return row.error();
    }
    return std::optional<PaymentRow>(std::move(*row));
}

Result<std::vector<GatewayEvent>> SqliteStore::ListGatewayEvents(const GatewayEventQuery& query) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string("SELECT ") + kGatewayEventColumns +
                                   " FROM gateway_events WHERE (?1 = '' OR state = ?1) AND (?2 = '' OR gateway = ?2)"
                                   " AND (?3 = '' OR reference = ?3) AND (?4 IS NULL OR id < ?4)"
                                   " ORDER BY id DESC LIMIT ?5";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, query.state ? NameOf(*query.state) : std::string_view(""))
        .Bind(2, std::string_view(query.gateway))
        .Bind(3, std::string_view(query.reference));
    BindOpt(*st, 4, query.before_id);
    st->Bind(5, static_cast<int64_t>(query.limit));
    auto events = Collect<GatewayEvent>(*st, ReadGatewayEvent);
    if (!events) return events.error();
    if (auto r = OpenFields(encryption_keys_, *events, &GatewayEvent::body); !r) return r.error();
    return events;
}

Result<std::vector<MailRow>> SqliteStore::ListMail(const MailQuery& query) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string(kMailSelect) +
                                   "WHERE (?1 = '' OR status = ?1) AND (?2 = '' OR kind = ?2)"
                                   " AND (?3 IS NULL OR account_id = ?3) AND (?4 IS NULL OR id < ?4)"
                                   " ORDER BY id DESC LIMIT ?5";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, query.status ? NameOf(*query.status) : std::string_view("")).Bind(2, std::string_view(query.kind));
    BindOpt(*st, 3, query.account_id);
    BindOpt(*st, 4, query.before_id);
    st->Bind(5, static_cast<int64_t>(query.limit));
    return Collect<MailRow>(*st, ReadMail);
}

Result<std::vector<SecurityEvent>> SqliteStore::ListSecurityEvents(const SecurityEventQuery& query) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto st = (*db)->Prepare(
        "SELECT id, kind, ip, detail, at FROM security_events"
        " WHERE (?1 = '' OR substr(kind, 1, length(?1)) = ?1) AND (?2 = '' OR ip = ?2)"
        " AND (?3 IS NULL OR id < ?3) ORDER BY id DESC LIMIT ?4");
    if (!st) return st.error();
    st->Bind(1, std::string_view(query.kind_prefix)).Bind(2, std::string_view(query.ip));
    BindOpt(*st, 3, query.before_id);
    st->Bind(4, static_cast<int64_t>(query.limit));
    return Collect<SecurityEvent>(*st, [](const Statement& s) {
        return SecurityEvent{s.Int(0), s.Text(1), s.Text(2), s.Text(3), Time(s, 4)};
    });
}

Result<std::vector<LedgerRow>> SqliteStore::ListLedger(int64_t after_id, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string(kLedgerSelect) + "WHERE r.id > ?1 ORDER BY r.id LIMIT ?2";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, after_id).Bind(2, static_cast<int64_t>(limit));
    return Collect<LedgerRow>(*st, [](const Statement& s) {
        LedgerRow row;
        row.event.id = s.Int(0);
        row.event.account_id = s.Int(1);
        row.event.kind = s.Text(2);
        row.event.tier = StoredTier(s.TextView(3));
        row.event.amount = s.Double(4);
        row.event.currency = s.Text(5);
        if (!s.IsNull(6)) row.event.payment_id = s.Int(6);
        row.event.at = Time(s, 7);
        row.event.detail = s.Text(8);
        row.gateway = s.Text(9);
        return row;
    });
}

Result<StorageSize> SqliteStore::GetStorageSize() {
    auto db = LeaseReader();
    if (!db) return db.error();
    StorageSize out{"sqlite", 0};
    auto st = (*db)->Prepare("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()");
    if (!st) return st.error();
    auto row = st->Step();
    if (!row) return row.error();
    if (*row) out.bytes = st->Int(0);
    std::error_code ec;
    const auto wal = std::filesystem::file_size(options_.path + "-wal", ec);
    if (!ec) out.bytes += static_cast<int64_t>(wal);
    return out;
}

void SqliteStore::ChangeCustomerPlan(CustomerPlanChange change, AuditEntry audit, Callback<CustomerRow> done) {
    if (change.tier != Tier::kFree && (!change.period_end || *change.period_end <= change.now)) {
        return done(Error::Validation("period_end", "must be in the future for a paid plan"));
    }
    Submit<CustomerRow>(
        [change = std::move(change), audit = std::move(audit),
         key = AuditKey()](Connection& db) -> Result<CustomerRow> {
            auto before = ExistingCustomer(db, change.account_id);
            if (!before) return before.error();
            const std::string now = FormatUtc(change.now);
            const std::string detail = "operator: " + change.reason;
            std::string_view kind = "renewal";
            if (change.tier == Tier::kFree) {
                kind = "downgrade";
                if (auto r = Run(db,
                                 "UPDATE subscriptions SET status = 'ended', updated_at = ?2 WHERE account_id = ?1"
                                 " AND status IN ('active', 'grace')",
                                 [&](Statement& st) { st.Bind(1, change.account_id).Bind(2, std::string_view(now)); });
                    !r) {
                    return r.error();
                }
            } else {
                if (change.tier != before->tier) kind = "upgrade";
                // The period keeps its start while the plan stays the same and has not ended.
                if (auto r =
                        Run(db,
                            "INSERT INTO subscriptions (account_id, tier, status, period_start, period_end, gateway,"
                            " updated_at) VALUES (?1, ?2, 'active', ?3, ?4, 'operator', ?3)"
                            " ON CONFLICT (account_id) DO UPDATE SET tier = excluded.tier, status = 'active',"
                            " period_start = CASE WHEN subscriptions.tier = excluded.tier AND subscriptions.status"
                            " <> 'ended' THEN subscriptions.period_start ELSE excluded.period_start END,"
                            " period_end = excluded.period_end, updated_at = excluded.updated_at",
                            [&](Statement& st) {
                                st.Bind(1, change.account_id)
                                    .Bind(2, NameOf(change.tier))
                                    .Bind(3, std::string_view(now))
                                    .Bind(4, FormatUtc(*change.period_end));
                            });
                    !r) {
                    return r.error();
                }
            }
            if (auto r = Run(db, "UPDATE accounts SET tier = ?2 WHERE id = ?1",
                             [&](Statement& st) { st.Bind(1, change.account_id).Bind(2, NameOf(change.tier)); });
                !r) {
                return r.error();
            }
            if (auto r =
                    AppendRevenue(db, change.account_id, kind, change.tier, 0, "USD", std::nullopt, change.now, detail);
                !r) {
                return r.error();
            }
            if (auto r = InsertAudit(db, audit, key); !r) return r.error();
            return ExistingCustomer(db, change.account_id);
        },
        Callback<CustomerRow>([this, done = std::move(done)](Result<CustomerRow> r) {
            if (r.ok()) ForgetCachedAccounts();  // the new plan counts from the next request
            done(std::move(r));
        }));
}

void SqliteStore::SetCustomerDisabled(int64_t account_id, bool disabled, std::string reason, SysSeconds now,
                                      AuditEntry audit, Callback<CustomerRow> done) {
    Submit<CustomerRow>(
        [=, reason = std::move(reason), audit = std::move(audit),
         key = AuditKey()](Connection& db) -> Result<CustomerRow> {
            auto before = ExistingCustomer(db, account_id);
            if (!before) return before.error();
            if (before->disabled_at.has_value() == disabled) {
                return Error{ErrorCode::kConflict,
                             disabled ? "the customer is disabled already" : "the customer is not disabled",
                             {}};
            }
            const std::string at = FormatUtc(now);
            if (auto r = Run(db, "UPDATE accounts SET disabled_at = ?2, disabled_reason = ?3 WHERE id = ?1",
                             [&](Statement& st) {
                                 st.Bind(1, account_id);
                                 if (disabled) {
                                     st.Bind(2, std::string_view(at));
                                 } else {
                                     st.BindNull(2);
                                 }
                                 st.Bind(3, disabled ? std::string_view(reason) : std::string_view(""));
                             });
                !r) {
                return r.error();
            }
            if (disabled) {
                // Signed out everywhere, and no link mailed earlier signs in again.
                if (auto r =
                        Run(db, "UPDATE web_sessions SET revoked_at = ?2 WHERE account_id = ?1 AND revoked_at IS NULL",
                            [&](Statement& st) { st.Bind(1, account_id).Bind(2, std::string_view(at)); });
                    !r) {
                    return r.error();
                }
                if (auto r = Run(db, "UPDATE sign_in_links SET used_at = ?2 WHERE account_id = ?1 AND used_at IS NULL",
                                 [&](Statement& st) { st.Bind(1, account_id).Bind(2, std::string_view(at)); });
                    !r) {
                    return r.error();
                }
            }
            if (auto r = InsertAudit(db, audit, key); !r) return r.error();
            return ExistingCustomer(db, account_id);
        },
        Callback<CustomerRow>([this, done = std::move(done)](Result<CustomerRow> r) {
            if (r.ok()) ForgetCachedAccounts();  // its keys stop before the operator hears of it
            done(std::move(r));
        }));
}

void SqliteStore::EnqueueOperatorMail(OutboxMessage mail, SysSeconds now, AuditEntry audit, Callback<bool> done) {
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

void SqliteStore::RetryMail(int64_t mail_id, SysSeconds now, AuditEntry audit, Callback<MailRow> done) {
    Submit<MailRow>(
        [=, audit = std::move(audit), key = AuditKey()](Connection& db) -> Result<MailRow> {
            auto before = MailById(db, mail_id);
            if (!before) return before.error();
            if (before->status == MailStatus::kSent) return Error{ErrorCode::kConflict, "the mail was sent", {}};
            if (auto r = Run(db,
                             "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt = ?2, last_error = ''"
                             " WHERE id = ?1",
                             [&](Statement& st) { st.Bind(1, mail_id).Bind(2, FormatUtc(now)); });
                !r) {
                return r.error();
            }
            if (auto r = InsertAudit(db, audit, key); !r) return r.error();
            return MailById(db, mail_id);
        },
        std::move(done));
}

void SqliteStore::CancelMail(int64_t mail_id, std::string why, AuditEntry audit, Callback<MailRow> done) {
    Submit<MailRow>(
        [=, why = std::move(why), audit = std::move(audit), key = AuditKey()](Connection& db) -> Result<MailRow> {
            auto before = MailById(db, mail_id);
            if (!before) return before.error();
            if (before->status != MailStatus::kPending) {
                return Error{ErrorCode::kConflict, "only a mail waiting to be sent can be cancelled", {}};
            }
            if (auto r = Run(db, "UPDATE outbox SET status = 'failed', last_error = ?2 WHERE id = ?1",
                             [&](Statement& st) { st.Bind(1, mail_id).Bind(2, std::string_view(why)); });
                !r) {
                return r.error();
            }
            if (auto r = InsertAudit(db, audit, key); !r) return r.error();
            return MailById(db, mail_id);
        },
        std::move(done));
}

void SqliteStore::RecordOperatorRefund(int64_t payment_id, SysSeconds now, AuditEntry audit,
                                       Callback<PaymentRow> done) {
    Submit<PaymentRow>(
        [=, audit = std::move(audit), key = AuditKey()](Connection& db) -> Result<PaymentRow> {
            auto before = PaymentRowById(db, payment_id);
            if (!before) return before.error();
            const Payment& p = before->payment;
            if (before->refunded) return Error{ErrorCode::kConflict, "the payment is refunded already", {}};
            if (p.status == PaymentStatus::kPaidUnapplied) {
                if (auto r = Run(db, "UPDATE payments SET status = 'refunded', updated_at = ?2 WHERE id = ?1",
                                 [&](Statement& st) { st.Bind(1, payment_id).Bind(2, FormatUtc(now)); });
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
            return PaymentRowById(db, payment_id);
        },
        std::move(done));
}

void SqliteStore::BlockAddress(AddressBlock block, AuditEntry audit, Callback<void> done) {
    Submit<void>(
        [block = std::move(block), audit = std::move(audit), key = AuditKey()](Connection& db) -> Result<void> {
            if (auto r = Run(db,
                             "INSERT INTO address_blocks (ip, reason, created_by, created_at, until)"
                             " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (ip) DO UPDATE SET reason = excluded.reason,"
                             " created_by = excluded.created_by, created_at = excluded.created_at,"
                             " until = excluded.until",
                             [&](Statement& st) {
                                 st.Bind(1, std::string_view(block.ip))
                                     .Bind(2, std::string_view(block.reason))
                                     .Bind(3, std::string_view(block.created_by))
                                     .Bind(4, FormatUtc(block.created_at));
                                 if (block.until) {
                                     st.Bind(5, FormatUtc(*block.until));
                                 } else {
                                     st.BindNull(5);
                                 }
                             });
                !r) {
                return r.error();
            }
            if (auto r = InsertAudit(db, audit, key); !r) return r.error();
            return {};
        },
        std::move(done));
}

void SqliteStore::UnblockAddress(std::string ip, AuditEntry audit, Callback<bool> done) {
    Submit<bool>(
        [ip = std::move(ip), audit = std::move(audit), key = AuditKey()](Connection& db) -> Result<bool> {
            if (auto r = Run(db, "DELETE FROM address_blocks WHERE ip = ?1",
                             [&](Statement& st) { st.Bind(1, std::string_view(ip)); });
                !r) {
                return r.error();
            }
            const bool removed = db.Changes() > 0;
            if (auto r = InsertAudit(db, audit, key); !r) return r.error();
            return removed;
        },
        std::move(done));
}

Result<std::vector<AddressBlock>> SqliteStore::ListAddressBlocks(SysSeconds now) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto st = (*db)->Prepare(
        "SELECT ip, reason, created_by, created_at, until FROM address_blocks WHERE until IS NULL OR until > ?1"
        " ORDER BY created_at DESC, ip");
    if (!st) return st.error();
    st->Bind(1, FormatUtc(now));
    return Collect<AddressBlock>(*st, [](const Statement& s) {
        return AddressBlock{s.Text(0), s.Text(1), s.Text(2), Time(s, 3), OptTime(s, 4)};
    });
}

}  // namespace gpuopt::store::sqlite
