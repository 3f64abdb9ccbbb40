#include "billing/revenue.hpp"

#include <algorithm>
#include <chrono>
#include <set>

namespace gpuopt::billing {

namespace {

using std::chrono::sys_days;
using std::chrono::year_month_day;

std::string MonthName(SysSeconds t) {
    const year_month_day d{std::chrono::floor<std::chrono::days>(t)};
    const auto month = static_cast<unsigned>(d.month());
    return std::to_string(static_cast<int>(d.year())) + (month < 10 ? "-0" : "-") + std::to_string(month);
}

SysSeconds MonthStart(SysSeconds t) {
    const year_month_day d{std::chrono::floor<std::chrono::days>(t)};
    return SysSeconds(sys_days{d.year() / d.month() / 1});
}

SysSeconds NextMonth(SysSeconds month_start) {
    const year_month_day d{std::chrono::floor<std::chrono::days>(month_start)};
    return SysSeconds(sys_days{(d.year() / d.month() + std::chrono::months(1)) / 1});
}

struct Account {
    Tier tier = Tier::kFree;
    std::string gateway;
    bool ever_paid = false;
    SysSeconds signed_up{};
    bool known = false;
};

}  // namespace

std::vector<RevenueMonth> RevenueByMonth(std::vector<LedgerEntry> ledger, const std::map<Tier, double>& prices,
                                         SysSeconds first_month, SysSeconds now) {
    std::stable_sort(ledger.begin(), ledger.end(),
                     [](const LedgerEntry& a, const LedgerEntry& b) { return a.at < b.at; });
    auto price = [&prices](Tier t) {
        auto it = prices.find(t);
        return it == prices.end() ? 0.0 : it->second;
    };
    std::map<int64_t, Account> accounts;
    double mrr = 0;
    auto apply = [&](const LedgerEntry& e, RevenueMonth* month) {
        Account& a = accounts[e.account_id];
        if (e.kind == "signup") {
            a.known = true;
            a.signed_up = e.at;
            if (month != nullptr) ++month->signups;
            return;
        }
        if (e.kind == "payment") {
            if (month != nullptr && e.currency == "USD") month->revenue_usd += e.amount;
            return;
        }
        Tier next = a.tier;
        if (e.kind == "upgrade" || e.kind == "renewal") {
            next = e.tier;
            if (!e.gateway.empty()) a.gateway = e.gateway;
        } else if (e.kind == "downgrade") {
            next = e.tier;
        } else {
            return;  // a refund changes no plan by itself: the downgrade that may follow does
        }
        const double before = price(a.tier);
        const double after = price(next);
        if (month != nullptr && after != before) {
            if (before == 0 && !a.ever_paid) {
                month->new_mrr += after;
                ++month->new_paying;
            } else if (after == 0) {
                month->churned_mrr += before;
                ++month->churned_customers;
            } else if (after > before) {
                month->expansion_mrr += after - before;
            } else {
                month->contraction_mrr += before - after;
            }
        }
        mrr += after - before;
        if (after > 0) a.ever_paid = true;
        a.tier = next;
    };

    std::vector<RevenueMonth> out;
    size_t i = 0;
    const SysSeconds start = MonthStart(first_month);
    while (i < ledger.size() && ledger[i].at < start) apply(ledger[i++], nullptr);
    for (SysSeconds m = start; m <= now; m = NextMonth(m)) {
        const SysSeconds end = NextMonth(m);
        RevenueMonth month;
        month.month = MonthName(m);
        month.mrr_start = mrr;
        std::set<int64_t> signed_up;
        for (; i < ledger.size() && ledger[i].at < end; ++i) {
            if (ledger[i].kind == "signup") signed_up.insert(ledger[i].account_id);
            apply(ledger[i], &month);
        }
        month.mrr_end = mrr;
        for (const auto& [id, a] : accounts) {
            const double p = price(a.tier);
            if (p <= 0) continue;
            ++month.paying_end;
            month.mrr_end_by_plan[std::string(NameOf(a.tier))] += p;
            month.mrr_end_by_gateway[a.gateway.empty() ? "none" : a.gateway] += p;
            if (signed_up.count(id) != 0) ++month.converted;
        }
        out.push_back(std::move(month));
    }
    return out;
}

}  // namespace gpuopt::billing
