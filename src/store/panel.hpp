// What the operator panel reads and changes beyond the operator's own accounts (store/admin.hpp): the
// customers, every payment and gateway event, the mail outbox, the security log, blocked addresses, the
// revenue ledger, the periodic jobs' runs and the database's size.
//
// Every change here is an operator action: it takes its audit row (AuditEntry) and the store writes both in
// one transaction, so an action is never done without its row nor recorded without being done. A change
// that finds nothing to change (an unknown customer, a mail already sent) answers kNotFound or kConflict and
// writes nothing, the audit row included; the caller records the refusal itself when it wants it kept.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "common/tier.hpp"
#include "common/time.hpp"
#include "store/admin.hpp"
#include "store/billing.hpp"
#include "store/callback.hpp"
#include "store/leases.hpp"
#include "store/outbox.hpp"

namespace gpuopt::store {

// A customer as the panel lists them. Deleted accounts are not customers any more (their rows keep no
// address); disabled ones are, until enabled again or deleted.
struct CustomerRow {
    int64_t id = 0;
    std::string email;
    Tier tier = Tier::kFree;
    SysSeconds created_at;
    std::optional<SysSeconds> disabled_at;
    std::string disabled_reason;
    std::optional<SubscriptionStatus> subscription;  // nullopt: never paid
    std::optional<SysSeconds> period_end;
    int64_t gpus = 0;                          // GPUs its agents have reported, ever
    std::optional<SysSeconds> last_report_at;  // the newest report of any of them
};

struct CustomerQuery {
    std::string email_contains;  // a part of the address, "" for all
    std::optional<Tier> tier;
    std::optional<int64_t> before_id;  // paging back: older than this customer
    size_t limit = 50;
};

// A payment with its customer's address ("" once the account was deleted).
struct PaymentRow {
    Payment payment;
    std::string email;
    bool refunded = false;  // refunded (paid_unapplied given back), or a refund of it is in the ledger
};

struct PaymentQuery {
    std::optional<PaymentStatus> status;
    std::string gateway;  // "" for all
    std::optional<int64_t> account_id;
    std::optional<int64_t> before_id;
    size_t limit = 50;
};

struct GatewayEventQuery {
    std::optional<GatewayEventState> state;
    std::string gateway;    // "" for all
    std::string reference;  // ours, exact; "" for all
    std::optional<int64_t> before_id;
    size_t limit = 50;
};

// A message of the outbox as the panel shows it (the body stays in the table).
struct MailRow {
    int64_t id = 0;
    int64_t account_id = 0;
    std::string to;
    std::string subject;
    std::string kind;
    MailStatus status = MailStatus::kPending;
    int attempts = 0;
    SysSeconds next_attempt;
    std::string last_error;  // the transport's last answer; "cancelled by ..." for a cancelled one
    SysSeconds created_at;
    std::optional<SysSeconds> sent_at;
};

struct MailQuery {
    std::optional<MailStatus> status;
    std::string kind;  // "" for all
    std::optional<int64_t> account_id;
    std::optional<int64_t> before_id;
    size_t limit = 50;
};

struct SecurityEvent {
    int64_t id = 0;
    std::string kind;
    std::string ip;
    std::string detail;
    SysSeconds at;
};

struct SecurityEventQuery {
    std::string kind_prefix;  // "auth" matches auth_failure, ...; "" for all
    std::string ip;           // exact; "" for all
    std::optional<int64_t> before_id;
    size_t limit = 50;
};

// An address blocked by an operator: refused on every route but health until `until` (nullopt: until
// unblocked). Blocks for repeated failures are made and kept by the address guard (http/address_guard.hpp).
struct AddressBlock {
    std::string ip;
    std::string reason;
    std::string created_by;
    SysSeconds created_at;
    std::optional<SysSeconds> until;
};

// One row of the revenue ledger with the gateway of the payment behind it: "operator" for a move to a paid
// plan that an operator made, "" for other rows without a payment (the account keeps its gateway).
struct LedgerRow {
    RevenueEvent event;
    std::string gateway;
};

struct StorageSize {
    std::string backend;  // "sqlite" or "postgresql"
    int64_t bytes = 0;    // the database file and its WAL, or pg_database_size
};

// An operator's change to a customer's plan or period. The subscription follows: a paid plan gets (or
// keeps) an active subscription ending at `period_end`, free ends it. The ledger gets an "upgrade",
// "downgrade" or "renewal" row with amount 0 and the reason, so the revenue figures see the change.
struct CustomerPlanChange {
    int64_t account_id = 0;
    Tier tier = Tier::kFree;
    std::optional<SysSeconds> period_end;  // required for a paid plan
    std::string reason;
    SysSeconds now;
};

class PanelRepository {
public:
    virtual ~PanelRepository() = default;

    // Newest first.
    virtual Result<std::vector<CustomerRow>> ListCustomers(const CustomerQuery& query) = 0;
    // nullopt for an unknown or deleted account.
    virtual Result<std::optional<CustomerRow>> GetCustomer(int64_t account_id) = 0;

    virtual Result<std::vector<PaymentRow>> ListAllPayments(const PaymentQuery& query) = 0;
    virtual Result<std::optional<PaymentRow>> GetPaymentRow(int64_t payment_id) = 0;
    // Newest first, raw payloads opened (they are sealed at rest).
    virtual Result<std::vector<GatewayEvent>> ListGatewayEvents(const GatewayEventQuery& query) = 0;
    virtual Result<std::vector<MailRow>> ListMail(const MailQuery& query) = 0;
    virtual Result<std::vector<SecurityEvent>> ListSecurityEvents(const SecurityEventQuery& query) = 0;
    // The ledger in id order from `after_id`, for the revenue figures and the export.
    virtual Result<std::vector<LedgerRow>> ListLedger(int64_t after_id, size_t limit) = 0;
    // The latest run of every job that has run, by job name.
    virtual Result<std::vector<JobRun>> LatestJobRuns() = 0;
    virtual Result<StorageSize> GetStorageSize() = 0;

    // Changes a customer's plan or period with its ledger row and audit row; answers the customer after it.
    // kNotFound for an unknown or deleted account; kValidation for a paid plan without a future period end.
    virtual void ChangeCustomerPlan(CustomerPlanChange change, AuditEntry audit, Callback<CustomerRow> done) = 0;
    // Disables (true) or enables (false) a customer: a disabled account's keys, sessions and sign-in links
    // stop working (its sessions end in the same transaction); its data stays. kNotFound, or kConflict when
    // it is in that state already.
    virtual void SetCustomerDisabled(int64_t account_id, bool disabled, std::string reason, SysSeconds now,
                                     AuditEntry audit, Callback<CustomerRow> done) = 0;
    // Enqueues a mail on an operator's request (a welcome mail sent again) with its audit row. False when a
    // mail with that dedup key exists already.
    virtual void EnqueueOperatorMail(OutboxMessage mail, SysSeconds now, AuditEntry audit, Callback<bool> done) = 0;
    // A failed (or still pending) mail sent again at once with its attempts counted from zero; kConflict for
    // one sent already.
    virtual void RetryMail(int64_t mail_id, SysSeconds now, AuditEntry audit, Callback<MailRow> done) = 0;
    // A pending mail not sent after all: marked failed with `why`; kConflict unless it is pending.
    virtual void CancelMail(int64_t mail_id, std::string why, AuditEntry audit, Callback<MailRow> done) = 0;
    // A refund the operator made at the gateway, recorded: a completed payment gets a "refund" ledger row
    // (the plan stays to the period's end, as for a refund the gateway reports), a paid_unapplied one
    // becomes refunded. kConflict for a payment in another state or refunded already.
    virtual void RecordOperatorRefund(int64_t payment_id, SysSeconds now, AuditEntry audit,
                                      Callback<PaymentRow> done) = 0;

    // Blocks by hand, replacing any earlier block of the address.
    virtual void BlockAddress(AddressBlock block, AuditEntry audit, Callback<void> done) = 0;
    // False when the address had no block by hand (the audit row is still written: the guard's own block
    // may have been lifted).
    virtual void UnblockAddress(std::string ip, AuditEntry audit, Callback<bool> done) = 0;
    // The blocks still in force at `now`.
    virtual Result<std::vector<AddressBlock>> ListAddressBlocks(SysSeconds now) = 0;
};

}  // namespace gpuopt::store
