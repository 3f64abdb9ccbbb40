// The SQL that both store backends share for the operator panel (sqlite_panel.cpp, pg_panel.cpp): the
// columns and joins of a customer, a payment with its customer, and a mail, to which each backend adds its
// own WHERE with its own placeholders.
#pragma once

#include <string>
#include <string_view>

namespace gpuopt::store {

// Every column of a list ("a, b") named through `alias` ("p.a, p.b").
inline std::string QualifiedColumns(std::string_view columns, std::string_view alias) {
    std::string out;
    size_t start = 0;
    while (start < columns.size()) {
        size_t end = columns.find(',', start);
        if (end == std::string_view::npos) end = columns.size();
        std::string_view name = columns.substr(start, end - start);
        while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
        if (!out.empty()) out += ", ";
        out.append(alias).append(".").append(name);
        start = end + 1;
    }
    return out;
}

// A customer: the account, its subscription, and its GPUs counted from gpus_seen.
inline constexpr const char* kCustomerSelect =
    "SELECT a.id, a.email, a.tier, a.created_at, a.disabled_at, a.disabled_reason, s.status, s.period_end,"
    " (SELECT COUNT(*) FROM gpus_seen g WHERE g.account_id = a.id),"
    " (SELECT MAX(g.last_seen) FROM gpus_seen g WHERE g.account_id = a.id)"
    " FROM accounts a LEFT JOIN subscriptions s ON s.account_id = a.id ";

// A payment (`payment_columns`, the backend's list) with its customer's address ("" once deleted) and
// whether a refund of it is in the ledger.
inline std::string PaymentRowSelect(std::string_view payment_columns) {
    return "SELECT " + QualifiedColumns(payment_columns, "p") +
           ", CASE WHEN a.deleted_at IS NULL THEN COALESCE(a.email, '') ELSE '' END,"
           " EXISTS (SELECT 1 FROM revenue_events r WHERE r.payment_id = p.id AND r.kind = 'refund')"
           " FROM payments p LEFT JOIN accounts a ON a.id = p.account_id ";
}

inline constexpr const char* kMailSelect =
    "SELECT id, account_id, to_address, subject, kind, status, attempts, next_attempt, last_error, created_at, sent_at"
    " FROM outbox ";

// The revenue ledger with the gateway of the payment behind each row: "operator" for a move to a paid plan
// an operator made, "" for other rows without a payment.
inline constexpr const char* kLedgerSelect =
    "SELECT r.id, r.account_id, r.kind, r.tier, r.amount, r.currency, r.payment_id, r.at, r.detail,"
    " COALESCE(p.gateway, CASE WHEN r.kind = 'upgrade' THEN 'operator' ELSE '' END)"
    " FROM revenue_events r LEFT JOIN payments p ON p.id = r.payment_id ";

}  // namespace gpuopt::store
