#include "billing/decision.hpp"

#include <cctype>
#include <cmath>

namespace gpuopt::billing {

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

}  // namespace

GatewayState FlutterwaveState(std::string_view status) {
    if (status == "successful") return GatewayState::kPaid;
    if (status == "pending") return GatewayState::kPending;
    if (status == "failed" || status == "cancelled") return GatewayState::kFailed;
    return GatewayState::kUnknown;
}

GatewayState NowPaymentsState(std::string_view status) {
    if (status == "finished") return GatewayState::kPaid;
    if (status == "waiting" || status == "confirming" || status == "confirmed" || status == "sending") {
        return GatewayState::kPending;
    }
    if (status == "partially_paid") return GatewayState::kPartiallyPaid;
    if (status == "failed") return GatewayState::kFailed;
    if (status == "expired") return GatewayState::kExpired;
    if (status == "refunded") return GatewayState::kRefunded;
    return GatewayState::kUnknown;
}

GatewayAnswer GatewayAnswer::NotFound(std::string why) {
    GatewayAnswer a;
    a.kind = Kind::kNotFound;
    a.why = std::move(why);
    return a;
}

GatewayAnswer GatewayAnswer::Transient(std::string why, std::optional<std::chrono::seconds> retry_after) {
    GatewayAnswer a;
    a.kind = Kind::kTransient;
    a.why = std::move(why);
    a.retry_after = retry_after;
    return a;
}

LocalPayment::State LocalStateOf(store::PaymentStatus status) {
    using S = LocalPayment::State;
    using P = store::PaymentStatus;
    switch (status) {
        case P::kPending:
            return S::kPending;
        case P::kCompleted:
            return S::kCompleted;
        case P::kFailed:
            return S::kFailed;
        case P::kExpired:
            return S::kExpired;
        case P::kPaidUnapplied:
            return S::kPaidUnapplied;
        case P::kRefunded:
            return S::kRefunded;
    }
    return S::kMissing;
}

bool Covers(double paid, std::string_view currency, double owed, std::string_view owed_currency) {
    return EqualsIgnoreCase(currency, owed_currency) && std::round(paid * 100) >= std::round(owed * 100);
}

std::string_view ActionName(Action action) {
    switch (action) {
        case Action::kComplete:
            return "complete";
        case Action::kHoldUnapplied:
            return "hold_unapplied";
        case Action::kReportUnmatched:
            return "report_unmatched";
        case Action::kFail:
            return "fail";
        case Action::kExpire:
            return "expire";
        case Action::kRefund:
            return "refund";
        case Action::kNotifyPartial:
            return "notify_partial";
        case Action::kIgnore:
            return "ignore";
        case Action::kRetry:
            return "retry";
    }
    return "ignore";
}

Decision Decide(const LocalPayment& local, std::string_view gateway, const GatewayAnswer& answer) {
    using S = LocalPayment::State;
    switch (answer.kind) {
        case GatewayAnswer::Kind::kTransient:
            return {Action::kRetry, "the gateway could not answer: " + answer.why};
        case GatewayAnswer::Kind::kNotFound:
            return {Action::kIgnore, "the gateway knows no such transaction"};
        case GatewayAnswer::Kind::kFound:
            break;
    }
    const bool paid = answer.state == GatewayState::kPaid;
    if (local.state == S::kMissing || local.gateway != gateway) {
        if (paid) return {Action::kReportUnmatched, "paid at the gateway, but the reference is not one of ours"};
        return {Action::kIgnore, "not one of our payments"};
    }
    const bool open = local.state == S::kPending || local.state == S::kExpired || local.state == S::kFailed;
    switch (answer.state) {
        case GatewayState::kPaid:
            if (!open) return {Action::kIgnore, "already settled"};
            if (!Covers(answer.amount, answer.currency, local.amount, local.currency)) {
                return {Action::kHoldUnapplied, "paid, but not the amount or currency owed"};
            }
            return {Action::kComplete, local.state == S::kPending ? "paid" : "paid after our record had ended"};
        case GatewayState::kPending:
            return {Action::kIgnore, "still pending at the gateway"};
        case GatewayState::kPartiallyPaid:
            if (local.state != S::kPending) return {Action::kIgnore, "partial payment for a settled payment"};
            return {Action::kNotifyPartial, "partially paid"};
        case GatewayState::kFailed:
            if (local.state != S::kPending) return {Action::kIgnore, "failed, but our record is settled"};
            return {Action::kFail, "failed at the gateway"};
        case GatewayState::kExpired:
            if (local.state != S::kPending) return {Action::kIgnore, "expired, but our record is settled"};
            return {Action::kExpire, "expired at the gateway"};
        case GatewayState::kRefunded:
            if (local.state == S::kCompleted || local.state == S::kPaidUnapplied) {
                return {Action::kRefund, "refunded at the gateway"};
            }
            if (local.state == S::kPending) return {Action::kFail, "refunded before it completed"};
            return {Action::kIgnore, "refunded, nothing was applied"};
        case GatewayState::kUnknown:
            return {Action::kIgnore, "unknown gateway status " + answer.status};
    }
    return {Action::kIgnore, "unknown gateway status"};
}

}  // namespace gpuopt::billing
