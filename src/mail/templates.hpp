// The transactional mails (SPEC §8), each a store::OutboxMessage with its dedup key, so that whatever
// runs twice enqueues it once. Copy is plain and honest: what happened, the figures, what to do next.
// No mail carries an API key.
#pragma once

#include <string>

#include "store/accounts.hpp"
#include "store/billing.hpp"

namespace gpuopt::mail {

struct Brand {
    std::string product = "GPUOptimizer";
    std::string base_url = "http://127.0.0.1:5000";
};

store::OutboxMessage Welcome(const Brand& b, const store::Account& account);
store::OutboxMessage Receipt(const Brand& b, const std::string& email, const store::Payment& payment,
                             const store::CompletionOutcome& outcome, double paid_amount,
                             const std::string& paid_currency);
store::OutboxMessage UpgradeNotice(const Brand& b, const std::string& email, const store::Payment& payment,
                                   const store::CompletionOutcome& outcome, const std::string& plan_name);
store::OutboxMessage RenewalReminder(const Brand& b, const store::Subscription& sub, int days,
                                     const std::string& checkout_url, double price, const std::string& currency);
store::OutboxMessage DowngradeNotice(const Brand& b, const store::Subscription& sub);
store::OutboxMessage PartialPaymentNotice(const Brand& b, const std::string& email, const store::Payment& payment,
                                          double paid, const std::string& paid_currency);

// To the operator (OPERATOR_EMAIL): something that needs a person, with the event's dedup key, so the
// mail goes once per event.
store::OutboxMessage OperatorNotice(const Brand& b, const std::string& to, const store::OperatorEvent& event);

// Escapes text for HTML.
std::string Html(const std::string& text);

}  // namespace gpuopt::mail
