// The operator's revenue figures, read from the revenue ledger (revenue_events) alone, month by month
// (decision 0028; definitions after Stripe's MRR with Lago's rule that a plan change is never churn plus
// new, ../shared/reference/billing-marketing.md §3):
//   MRR            the monthly price of every account on a paid plan at that moment (a plan is paid from its
//                  upgrade or renewal until its downgrade: grace days included, as GET /api/stats counts)
//   new            MRR of accounts on a paid plan for the first time
//   expansion      MRR added by a move to a dearer plan, or by an account that comes back to a paid plan
//   contraction    MRR lost by a move to a cheaper paid plan
//   churned        MRR lost by accounts going back to free (or deleted)
//   conversion     accounts that signed up in the month and were on a paid plan by its end, over its sign-ups
// Amounts are the plans' list prices in USD, never what a payment happened to be in another currency.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/tier.hpp"
#include "common/time.hpp"

namespace gpuopt::billing {

// One row of the revenue ledger as the figures read it.
struct LedgerEntry {
    int64_t account_id = 0;
    std::string kind;  // "signup", "payment", "upgrade", "renewal", "downgrade", "refund"
    Tier tier = Tier::kFree;
    std::string gateway;  // the gateway of the payment behind an upgrade or renewal, "" otherwise
    double amount = 0;    // what a payment row took, in `currency`
    std::string currency;
    SysSeconds at;
};

struct RevenueMonth {
    std::string month;  // "2026-11" (UTC)
    double mrr_start = 0;
    double mrr_end = 0;
    double new_mrr = 0;
    double expansion_mrr = 0;
    double contraction_mrr = 0;  // as a positive amount
    double churned_mrr = 0;      // as a positive amount
    int64_t signups = 0;
    int64_t converted = 0;                             // of this month's sign-ups, those on a paid plan at its end
    int64_t new_paying = 0;                            // accounts on a paid plan for the first time
    int64_t churned_customers = 0;                     // accounts that went from a paid plan to free
    int64_t paying_end = 0;                            // accounts on a paid plan at the month's end
    double revenue_usd = 0;                            // payments taken in USD in the month
    std::map<std::string, double> mrr_end_by_plan;     // plan name -> MRR
    std::map<std::string, double> mrr_end_by_gateway;  // gateway -> MRR (the gateway of the latest payment)
};

// The months from `first_month` (any moment in it) to the one holding `now`, oldest first. `ledger` in any
// order; `prices` the monthly price of each plan (free: 0).
std::vector<RevenueMonth> RevenueByMonth(std::vector<LedgerEntry> ledger, const std::map<Tier, double>& prices,
                                         SysSeconds first_month, SysSeconds now);

}  // namespace gpuopt::billing
