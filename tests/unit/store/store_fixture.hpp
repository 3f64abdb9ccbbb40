// The fixture of the store's typed contract suites (store_contract.hpp, billing_contract.hpp): the store
// opened from a Backend (backend_fixture.hpp) and the helpers the tests share. Defines no tests.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "store/database.hpp"
#include "store/wait.hpp"
#include "support/db_snapshot.hpp"
#include "unit/store/backend_fixture.hpp"

namespace gpuopt::store::contract {

using namespace std::chrono;

inline const SysSeconds kNow = sys_days{2026y / 11 / 25} + 12h;
// Later than anything a test writes, UtcNow() included: DueMail(kFar) is every mail still pending.
inline const SysSeconds kFar = sys_days{2100y / 1 / 1};

template <class Backend>
class StoreContract : public BackendFixture<Backend> {
protected:
    Result<Account> Create(const std::string& email, const std::string& key_hash, SysSeconds now = kNow,
                           std::optional<OutboxMessage> welcome = std::nullopt) {
        return Wait<Account>([&](Callback<Account> done) {
            this->db().accounts().CreateAccount({email, key_hash, "gopt_abcd", Tier::kFree, now, std::move(welcome)},
                                                std::move(done));
        });
    }

    static UsageReport Report(std::optional<std::string> id, const std::vector<std::string>& uuids, double util = 5) {
        UsageReport r;
        r.report_id = std::move(id);
        r.agent_id = "agent";
        r.hostname = "host";
        r.window_start = kNow - seconds(60);
        r.window_end = kNow;
        r.samples = 6;
        int i = 0;
        for (const auto& u : uuids) {
            GpuWindow g;
            g.gpu_index = i++;
            g.uuid = u;
            g.gpu_key = "host/" + u;
            g.name = "A100";
            g.util_avg = util;
            g.mem_used_mib = 1;
            g.mem_total_mib = 2;
            g.cost_per_hour = 3.6;
            g.processes_json = "[]";
            r.gpus.push_back(std::move(g));
        }
        return r;
    }

    Result<IngestOutcome> Ingest(int64_t account, UsageReport report, std::optional<int> limit = std::nullopt,
                                 SysSeconds now = kNow) {
        return Wait<IngestOutcome>([&](Callback<IngestOutcome> done) {
            this->db().usage().IngestReport({account, std::move(report), limit, hours(24), now}, std::move(done));
        });
    }

    // Raw windows the account has stored, whatever their GPU, within a month of kNow.
    size_t WindowCount(int64_t account) {
        return this->db().usage().ReadWindows(account, kNow - days(30), kNow + days(30)).value().size();
    }

    int64_t Customers() { return this->db().stats().GetStats({kNow, 30, 15, 0.5}).value().total_customers; }

    static OutboxMessage Mail(const std::string& key, int64_t account, const std::string& kind = "notice",
                              const std::string& to = "a@example.com") {
        OutboxMessage m;
        m.dedup_key = key;
        m.account_id = account;
        m.to = to;
        m.subject = "Subject of " + key;
        m.text = "Text of " + key;
        m.html = "<p>" + key + "</p>";
        m.kind = kind;
        return m;
    }

    // The dedup keys of every mail still pending, in the order they were enqueued.
    std::vector<std::string> MailKeys() {
        std::vector<std::string> keys;
        for (const auto& item : this->db().outbox().DueMail(kFar, 1000).value()) keys.push_back(item.message.dedup_key);
        return keys;
    }

    std::vector<RevenueEvent> Ledger(int64_t account) {
        return this->db().billing().ListRevenueEvents(account, 100).value();
    }
    std::vector<std::string> LedgerKinds(int64_t account) {
        std::vector<std::string> kinds;
        for (const auto& e : Ledger(account)) kinds.push_back(e.kind);
        return kinds;
    }

    // A checkout for the professional plan at 49 USD through Flutterwave, offered for an hour; a renewal
    // when it names the period it extends.
    Result<Payment> Pay(int64_t account, const std::string& reference, SysSeconds now = kNow,
                        std::optional<SysSeconds> renews_period_end = std::nullopt) {
        NewPayment p;
        p.account_id = account;
        p.reference = reference;
        p.gateway = "flutterwave";
        p.tier = Tier::kProfessional;
        p.amount = 49;
        p.currency = "USD";
        p.purpose = renews_period_end ? "renewal" : "upgrade";
        p.now = now;
        p.expires_at = now + hours(1);
        p.renews_period_end = renews_period_end;
        return Wait<Payment>(
            [&](Callback<Payment> done) { this->db().billing().CreatePayment(std::move(p), std::move(done)); });
    }
    Payment PaymentOf(const std::string& reference) {
        return this->db().billing().FindPaymentByReference(reference).value();
    }

    // What the store showed the mail builder of a completion.
    struct MailBuild {
        PaymentStatus status = PaymentStatus::kPending;
        Tier previous_tier = Tier::kFree;
        Tier tier = Tier::kFree;
        std::string email;
    };

    // Confirms a payment the way billing does: a receipt, and an upgrade notice when the plan changes.
    Result<CompletionOutcome> Complete(int64_t payment_id, SysSeconds now, double paid = 49) {
        Completion c;
        c.payment_id = payment_id;
        c.gateway_id = "flw-" + std::to_string(payment_id);
        c.paid_amount = paid;
        c.paid_currency = "USD";
        c.now = now;
        c.mails = [this](const Payment& p, const CompletionOutcome& o, const std::string& email) {
            builds_.push_back({p.status, o.previous_tier, o.tier, email});  // the caller waits meanwhile
            std::vector<OutboxMessage> mails{Mail("receipt:" + p.reference, p.account_id, "receipt", email)};
            if (o.previous_tier != o.tier)
                mails.push_back(Mail("upgrade:" + p.reference, p.account_id, "upgrade", email));
            return mails;
        };
        return Wait<CompletionOutcome>([&](Callback<CompletionOutcome> done) {
            this->db().billing().CompletePayment(std::move(c), std::move(done));
        });
    }

    std::optional<Subscription> SubscriptionOf(int64_t account) {
        return this->db().billing().GetSubscription(account).value();
    }

    Result<bool> RecordEvent(GatewayEvent e) {
        return Wait<bool>(
            [&](Callback<bool> done) { this->db().billing().RecordGatewayEvent(std::move(e), std::move(done)); });
    }
    Result<void> FinishEvent(int64_t id, GatewayEventState state, const std::string& result, int attempts,
                             std::optional<SysSeconds> next_attempt) {
        return Wait<void>([&](Callback<void> done) {
            this->db().billing().FinishGatewayEvent(id, state, result, attempts, next_attempt, std::move(done));
        });
    }
    std::vector<std::string> DueEventKeys(SysSeconds now, size_t limit = 100) {
        std::vector<std::string> keys;
        for (const auto& e : this->db().billing().DueGatewayEvents(now, limit).value()) keys.push_back(e.dedup_key);
        return keys;
    }

    std::vector<MailBuild> builds_;
};

}  // namespace gpuopt::store::contract
