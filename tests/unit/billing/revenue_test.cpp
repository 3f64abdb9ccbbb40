// The revenue figures from a ledger whose MRR, movements and conversions are known by hand: a first paid
// plan is new MRR, a move up expansion, a move down contraction, back to free churn, a return expansion; a
// renewal moves nothing; grace days count until the downgrade; payments in USD are revenue.
#include "billing/revenue.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace gpuopt::billing {
namespace {

using std::chrono::hours;
using std::chrono::sys_days;

SysSeconds Day(int month, int day) { return SysSeconds(sys_days{std::chrono::year{2026} / month / day}) + hours(12); }

LedgerEntry Row(int64_t account, const char* kind, Tier tier, SysSeconds at, const char* gateway = "",
                double amount = 0) {
    LedgerEntry e;
    e.account_id = account;
    e.kind = kind;
    e.tier = tier;
    e.gateway = gateway;
    e.amount = amount;
    e.currency = amount > 0 ? "USD" : "";
    e.at = at;
    return e;
}

const std::map<Tier, double> kPrices{{Tier::kFree, 0}, {Tier::kProfessional, 49}, {Tier::kEnterprise, 199}};

TEST(Revenue, MonthsFollowTheLedger) {
    std::vector<LedgerEntry> ledger{
        // August: three sign-ups; one pays for Professional by card.
        Row(1, "signup", Tier::kFree, Day(8, 1)),
        Row(2, "signup", Tier::kFree, Day(8, 2)),
        Row(3, "signup", Tier::kFree, Day(8, 3)),
        Row(1, "payment", Tier::kProfessional, Day(8, 5), "flutterwave", 49),
        Row(1, "upgrade", Tier::kProfessional, Day(8, 5), "flutterwave"),
        // September: 1 renews; 2 goes straight to Enterprise in crypto; 1 moves up to Enterprise.
        Row(1, "payment", Tier::kProfessional, Day(9, 5), "flutterwave", 49),
        Row(1, "renewal", Tier::kProfessional, Day(9, 5), "flutterwave"),
        Row(2, "upgrade", Tier::kEnterprise, Day(9, 10), "nowpayments"),
        Row(1, "upgrade", Tier::kEnterprise, Day(9, 20), "flutterwave"),
        // October: 2 lets it lapse (downgraded after its grace days); 1 moves down; a sign-up converts.
        Row(2, "downgrade", Tier::kFree, Day(10, 14)),
        Row(1, "downgrade", Tier::kProfessional, Day(10, 20)),
        Row(4, "signup", Tier::kFree, Day(10, 21)),
        Row(4, "upgrade", Tier::kProfessional, Day(10, 22), "nowpayments"),
        // November: 2 comes back.
        Row(2, "upgrade", Tier::kProfessional, Day(11, 3), "flutterwave"),
    };
    // Given out of order: the figures sort it.
    std::reverse(ledger.begin(), ledger.end());
    const auto months = RevenueByMonth(ledger, kPrices, Day(8, 1), Day(11, 30));
    ASSERT_EQ(months.size(), 4u);

    const RevenueMonth& aug = months[0];
    EXPECT_EQ(aug.month, "2026-08");
    EXPECT_EQ(aug.mrr_start, 0);
    EXPECT_EQ(aug.mrr_end, 49);
    EXPECT_EQ(aug.new_mrr, 49);
    EXPECT_EQ(aug.new_paying, 1);
    EXPECT_EQ(aug.signups, 3);
    EXPECT_EQ(aug.converted, 1);
    EXPECT_EQ(aug.paying_end, 1);
    EXPECT_EQ(aug.revenue_usd, 49);
    EXPECT_EQ(aug.mrr_end_by_gateway.at("flutterwave"), 49);

    const RevenueMonth& sep = months[1];
    EXPECT_EQ(sep.mrr_start, 49);
    EXPECT_EQ(sep.new_mrr, 199);        // account 2, first paid plan
    EXPECT_EQ(sep.expansion_mrr, 150);  // account 1, 49 -> 199; the renewal moved nothing
    EXPECT_EQ(sep.mrr_end, 49 + 199 + 150);
    EXPECT_EQ(sep.mrr_end_by_plan.at("enterprise"), 398);
    EXPECT_EQ(sep.mrr_end_by_gateway.at("nowpayments"), 199);
    EXPECT_EQ(sep.signups, 0);
    EXPECT_EQ(sep.revenue_usd, 49);

    const RevenueMonth& oct = months[2];
    EXPECT_EQ(oct.churned_mrr, 199);
    EXPECT_EQ(oct.churned_customers, 1);
    EXPECT_EQ(oct.contraction_mrr, 150);
    EXPECT_EQ(oct.new_mrr, 49);
    EXPECT_EQ(oct.mrr_end, 398 - 199 - 150 + 49);
    EXPECT_EQ(oct.mrr_start + oct.new_mrr + oct.expansion_mrr - oct.contraction_mrr - oct.churned_mrr, oct.mrr_end);
    EXPECT_EQ(oct.signups, 1);
    EXPECT_EQ(oct.converted, 1);
    EXPECT_EQ(oct.paying_end, 2);

    const RevenueMonth& nov = months[3];
    EXPECT_EQ(nov.new_mrr, 0) << "a return is not new";
    EXPECT_EQ(nov.expansion_mrr, 49);
    EXPECT_EQ(nov.mrr_end, 147);
    EXPECT_EQ(nov.paying_end, 3);
    EXPECT_EQ(nov.mrr_end_by_plan.at("professional"), 147);
}

TEST(Revenue, HistoryBeforeTheFirstMonthSetsItsStart) {
    const std::vector<LedgerEntry> ledger{Row(1, "signup", Tier::kFree, Day(1, 1)),
                                          Row(1, "upgrade", Tier::kEnterprise, Day(1, 2), "flutterwave")};
    const auto months = RevenueByMonth(ledger, kPrices, Day(3, 1), Day(3, 31));
    ASSERT_EQ(months.size(), 1u);
    EXPECT_EQ(months[0].mrr_start, 199);
    EXPECT_EQ(months[0].mrr_end, 199);
    EXPECT_EQ(months[0].new_mrr, 0);
    EXPECT_EQ(months[0].signups, 0);
}

}  // namespace
}  // namespace gpuopt::billing
