// What the acquisition store keeps, on every backend (store/acquisition.hpp): audit requests wait for their
// confirmation and record the consent; signups become leads credited to their referral's source; sequences
// enrol by segment, send each step once, and stop by every exit rule; a step's send holds the sender's cap
// and the domain's spacing or changes nothing; suppression is checked in the step's own transaction;
// erasure leaves only a hash; prospects and conversations keep the operator's decision; mail events apply
// once; the funnel counts what happened, by source and by sequence.
//
// This header defines tests: include it from exactly one .cpp file per test binary.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "store/acquisition.hpp"
#include "unit/store/store_fixture.hpp"

namespace gpuopt::store::contract {

template <class Backend>
class AcquisitionContract : public StoreContract<Backend> {
protected:
    void SetUp() override {
        StoreContract<Backend>::SetUp();
        if (this->HasFatalFailure()) return;
        this->db().admin().SetAuditKey("test audit key");
    }

    AcquisitionStore& acq() { return this->db().acquisition(); }

    static AuditEntry Audit(std::string action) {
        AuditEntry e;
        e.at = kNow;
        e.actor_type = "admin";
        e.actor = "ops@example.com";
        e.action = std::move(action);
        e.ip = "192.0.2.10";
        return e;
    }

    Result<AuditRequestOutcome> RequestAudit(const std::string& email, const std::string& token_hash,
                                             SysSeconds now = kNow, const std::string& ref = "") {
        AuditRequest r;
        r.email = email;
        r.name = "Ada Lovelace";
        r.company = "Acme";
        r.consent_text = "I agree to receive my audit.";
        r.ip = "198.51.100.7";
        r.utc_offset_minutes = 60;
        r.referral_code = ref;
        r.confirm_token_hash = token_hash;
        r.now = now;
        r.confirmation = this->Mail("audit-confirm:" + token_hash, 0, "audit_confirm", email);
        return Wait<AuditRequestOutcome>(
            [&](Callback<AuditRequestOutcome> done) { acq().RequestAudit(std::move(r), std::move(done)); });
    }
    Result<std::optional<Lead>> Confirm(const std::string& token_hash, SysSeconds now = kNow) {
        return Wait<std::optional<Lead>>([&](Callback<std::optional<Lead>> done) {
            acq().ConfirmAudit(token_hash, now, now - hours(72), std::move(done));
        });
    }
    Lead Signup(const std::string& email, const std::string& ref = "", SysSeconds now = kNow) {
        auto account = this->Create(email, "hash-" + email, now);
        EXPECT_TRUE(account.ok());
        auto lead = Wait<Lead>([&](Callback<Lead> done) {
            acq().RecordSignup({account.ok() ? account->id : 0, email, ref, std::nullopt, now}, std::move(done));
        });
        EXPECT_TRUE(lead.ok()) << lead.error().message;
        return lead.ok() ? *lead : Lead{};
    }
    static SyncRules Rules() {
        SyncRules rules;
        rules.sequences = {{"activation", "signup_no_agent", "activated", 3600, 2},
                           {"upgrade", "free_at_limit", "paid", 0, 1},
                           {"audit", "audit_confirmed", "activated", 0, 3}};
        rules.free_gpu_limit = 2;
        return rules;
    }
    SyncOutcome Sync(SysSeconds now = kNow) {
        auto r = Wait<SyncOutcome>([&](Callback<SyncOutcome> done) { acq().SyncLeads(Rules(), now, std::move(done)); });
        EXPECT_TRUE(r.ok()) << r.error().message;
        return r.ok() ? *r : SyncOutcome{};
    }
    std::vector<DueStep> Due(SysSeconds now) { return acq().DueSteps(now, 100).value(); }
    const DueStep* DueFor(const std::vector<DueStep>& due, int64_t lead_id, const std::string& sequence) {
        for (const auto& d : due) {
            if (d.lead.id == lead_id && d.enrollment.sequence == sequence) return &d;
        }
        return nullptr;
    }
    Result<StepOutcome> Send(const DueStep& d, SysSeconds now, int cap = 50, int64_t domain_interval = 0,
                             bool last = false) {
        StepSend s;
        s.enrollment_id = d.enrollment.id;
        s.step = d.enrollment.step;
        s.last = last;
        s.next_at = now + hours(48);
        s.sender = "hello@gpuopt.test";
        s.daily_cap = cap;
        s.day = now.time_since_epoch().count() / 86400;
        s.domain = d.lead.domain;
        s.domain_interval_seconds = domain_interval;
        s.message = this->Mail("sequence:" + d.enrollment.sequence + ":" + std::to_string(d.enrollment.step) + ":" +
                                   std::to_string(d.lead.id),
                               d.lead.account_id.value_or(0), "sequence:" + d.enrollment.sequence, "");
        s.now = now;
        return Wait<StepOutcome>([&](Callback<StepOutcome> done) { acq().SendStep(std::move(s), std::move(done)); });
    }
    std::vector<Enrollment> EnrollmentsOf(int64_t lead_id) {
        return acq().GetLeadHistory(lead_id).value()->enrollments;
    }
    std::vector<std::string> EventKinds(int64_t lead_id) {
        std::vector<std::string> out;
        const auto history = acq().GetLeadHistory(lead_id).value();
        for (const auto& e : history->events) out.push_back(e.kind);
        return out;
    }
    size_t MailsTo(const std::string& to) {
        size_t n = 0;
        for (const auto& m : this->db().outbox().DueMail(kFar, 1000).value()) n += m.message.to == to ? 1 : 0;
        return n;
    }
    size_t AuditRows(const std::string& prefix) {
        return this->db().admin().ListAudit({prefix, "", "", std::nullopt, 100}).value().size();
    }
};

TYPED_TEST_SUITE_P(AcquisitionContract);

TYPED_TEST_P(AcquisitionContract, AnAuditRequestWaitsForItsConfirmationAndRecordsTheConsent) {
    auto first = this->RequestAudit("Ada@Acme.io", "token-1");
    ASSERT_TRUE(first.ok()) << first.error().message;
    EXPECT_EQ(*first, AuditRequestOutcome::kCreated);
    EXPECT_EQ(this->MailsTo("Ada@Acme.io"), 1u) << "the confirmation alone";
    auto lead = this->acq().FindLead("ada@acme.io").value();
    ASSERT_TRUE(lead.has_value());
    EXPECT_EQ(lead->status, LeadStatus::kPending);
    EXPECT_EQ(lead->basis, "consent");
    EXPECT_EQ(lead->source, "audit");
    EXPECT_EQ(lead->email, "ada@acme.io");
    EXPECT_EQ(lead->company_key, "acme.io");
    EXPECT_EQ(lead->consent_text, "I agree to receive my audit.");
    EXPECT_EQ(lead->consent_ip, "198.51.100.7");
    EXPECT_FALSE(lead->consent_at.has_value()) << "consent counts from the confirmation";

    // Asked again at once: nothing sent; ten minutes on, a new link replaces the old one.
    EXPECT_EQ(this->RequestAudit("ada@acme.io", "token-2", kNow + minutes(5)).value(), AuditRequestOutcome::kTooSoon);
    EXPECT_EQ(this->MailsTo("ada@acme.io"), 0u);
    EXPECT_EQ(this->RequestAudit("ada@acme.io", "token-3", kNow + minutes(11)).value(), AuditRequestOutcome::kResent);
    EXPECT_EQ(this->MailsTo("ada@acme.io"), 1u);
    EXPECT_FALSE(this->Confirm("token-1", kNow + minutes(12)).value().has_value()) << "the old link no longer works";
    EXPECT_FALSE(this->Confirm("token-3", kNow + hours(80)).value().has_value()) << "an expired link";

    auto confirmed = this->Confirm("token-3", kNow + minutes(12)).value();
    ASSERT_TRUE(confirmed.has_value());
    EXPECT_EQ(confirmed->status, LeadStatus::kActive);
    EXPECT_EQ(confirmed->confirmed_at, kNow + minutes(12));
    EXPECT_EQ(confirmed->consent_at, kNow + minutes(12));
    auto again = this->Confirm("token-3", kNow + minutes(20)).value();
    ASSERT_TRUE(again.has_value()) << "a second click finds the confirmed lead";
    EXPECT_EQ(again->confirmed_at, kNow + minutes(12));
    EXPECT_EQ(this->EventKinds(confirmed->id), (std::vector<std::string>{"created", "confirmed"}));
    EXPECT_EQ(this->RequestAudit("ada@acme.io", "token-4", kNow + hours(1)).value(),
              AuditRequestOutcome::kAlreadyConfirmed);

    // A suppressed domain: nothing stored, nothing sent.
    ASSERT_TRUE(Wait<bool>([&](Callback<bool> done) {
                    this->acq().Suppress({0, "domain", "blocked.example", "", "manual", "operator", kNow}, std::nullopt,
                                         std::move(done));
                }).value());
    EXPECT_EQ(this->RequestAudit("bob@blocked.example", "token-5").value(), AuditRequestOutcome::kSuppressed);
    EXPECT_FALSE(this->acq().FindLead("bob@blocked.example").value().has_value());
    EXPECT_EQ(this->MailsTo("bob@blocked.example"), 0u);
}

TYPED_TEST_P(AcquisitionContract, SignupsBecomeLeadsCreditedToTheirReferralSource) {
    Conversation post;
    post.post_id = "t3_abc123";
    post.subreddit = "mlops";
    post.title = "Idle A100s";
    post.url = "https://www.reddit.com/r/mlops/comments/abc123/";
    post.posted_at = kNow - hours(5);
    post.found_at = kNow;
    auto saved =
        Wait<Conversation>([&](Callback<Conversation> done) { this->acq().SaveConversation(post, std::move(done)); });
    ASSERT_TRUE(saved.ok()) << saved.error().message;
    auto answered = Wait<Conversation>([&](Callback<Conversation> done) {
        this->acq().DecideConversation(saved->id, "answered", "replied in the thread",
                                       this->Audit("conversation.answer"), kNow, std::move(done));
    });
    ASSERT_TRUE(answered.ok()) << answered.error().message;
    EXPECT_EQ(answered->referral_code, "rd-abc123");

    const Lead referred = this->Signup("cy@datalab.dev", "rd-abc123");
    EXPECT_EQ(referred.source, "reddit");
    EXPECT_EQ(referred.referral_code, "rd-abc123");
    EXPECT_EQ(referred.basis, "customer");
    EXPECT_TRUE(referred.signed_up_at.has_value());
    EXPECT_EQ(this->Signup("dee@datalab.dev", "no-such-code").source, "signup");

    // An audit lead who signs up is the same lead, now a customer, its source kept.
    ASSERT_EQ(this->RequestAudit("eve@corp.example", "token-e").value(), AuditRequestOutcome::kCreated);
    const Lead eve = this->Signup("eve@corp.example", "rd-abc123");
    EXPECT_EQ(eve.source, "audit");
    EXPECT_EQ(eve.referral_code, "rd-abc123");
    EXPECT_TRUE(eve.account_id.has_value());
    EXPECT_EQ(this->EventKinds(eve.id), (std::vector<std::string>{"created", "signed_up"}));

    // An account whose sign-up recorded no lead gets one from the sync.
    ASSERT_TRUE(this->Create("fay@quiet.example", "hash-fay").ok());
    EXPECT_EQ(this->Sync().leads_created, 1);
    EXPECT_EQ(this->acq().FindLead("fay@quiet.example").value()->source, "signup");
    EXPECT_EQ(this->Sync().leads_created, 0);

    auto codes = this->acq().ListReferralCodes().value();
    ASSERT_EQ(codes.size(), 1u);
    EXPECT_EQ(codes[0].code, "rd-abc123");
    EXPECT_EQ(codes[0].source, "reddit");
    EXPECT_EQ(codes[0].leads, 2);
    EXPECT_EQ(this->AuditRows("conversation."), 1u);
}

TYPED_TEST_P(AcquisitionContract, SequencesEnrolBySegmentSendEachStepOnceAndStopByEveryRule) {
    const Lead ann = this->Signup("ann@acme.io");
    const Lead ben = this->Signup("ben@acme.io");
    const Lead cat = this->Signup("cat@other.example");
    const Lead dan = this->Signup("dan@fourth.example");
    auto synced = this->Sync();
    EXPECT_EQ(synced.enrolled, 4);
    EXPECT_EQ(this->Sync().enrolled, 0) << "once per sequence";
    EXPECT_TRUE(this->Due(kNow + minutes(59)).empty()) << "the first step waits its delay";
    auto due = this->Due(kNow + hours(1));
    ASSERT_EQ(due.size(), 4u);

    const DueStep* a = this->DueFor(due, ann.id, "activation");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(this->Send(*a, kNow + hours(1)).value(), StepOutcome::kQueued);
    EXPECT_EQ(this->Send(*a, kNow + hours(1)).value(), StepOutcome::kGone) << "the step was sent";
    EXPECT_EQ(this->MailsTo("ann@acme.io"), 1u);
    EXPECT_EQ(this->EnrollmentsOf(ann.id).at(0).step, 1);
    EXPECT_EQ(this->EnrollmentsOf(ann.id).at(0).next_at, kNow + hours(49));

    // Someone at the same company replies: the others there stop too.
    auto replied = Wait<Lead>([&](Callback<Lead> done) {
        this->acq().MarkLead(ann.id, LeadStatus::kReplied, "asked for a call", this->Audit("lead.mark"),
                             kNow + hours(2), std::move(done));
    });
    ASSERT_TRUE(replied.ok()) << replied.error().message;
    EXPECT_EQ(this->EnrollmentsOf(ann.id).at(0).state, "stopped");
    EXPECT_EQ(this->EnrollmentsOf(ann.id).at(0).stop_reason, "replied");
    EXPECT_EQ(this->EnrollmentsOf(ben.id).at(0).stop_reason, "company replied");
    EXPECT_FALSE(this->acq().IsSuppressed("ann@acme.io").value()) << "a reply is not an opt-out";
    EXPECT_EQ(Wait<Lead>([&](Callback<Lead> done) {
                  this->acq().MarkLead(ann.id, LeadStatus::kReplied, "", std::nullopt, kNow, std::move(done));
              })
                  .error()
                  .code,
              ErrorCode::kConflict);

    // The goal reached: an agent reports, the activation sequence is done.
    ASSERT_TRUE(this->Ingest(*cat.account_id, this->Report("r:cat", {"GPU-1"})).ok());
    EXPECT_EQ(this->Sync(kNow + hours(3)).activated, 1);
    EXPECT_EQ(this->EnrollmentsOf(cat.id).at(0).state, "done");
    EXPECT_EQ(this->EnrollmentsOf(cat.id).at(0).stop_reason, "goal reached");

    // An unsubscribe stops it and suppresses the address.
    EXPECT_TRUE(Wait<bool>([&](Callback<bool> done) {
                    this->acq().Unsubscribe(dan.id, "one-click", kNow + hours(3), std::move(done));
                }).value());
    EXPECT_FALSE(Wait<bool>([&](Callback<bool> done) {
                     this->acq().Unsubscribe(dan.id, "link", kNow + hours(3), std::move(done));
                 }).value())
        << "once";
    EXPECT_EQ(this->EnrollmentsOf(dan.id).at(0).stop_reason, "unsubscribed");
    EXPECT_TRUE(this->acq().IsSuppressed("DAN@fourth.example").value());
    EXPECT_TRUE(this->Due(kNow + days(30)).empty());

    // A free account at its GPU limit joins the upgrade sequence; paying ends it as a conversion.
    const Lead eli = this->Signup("eli@fifth.example");
    ASSERT_TRUE(this->Ingest(*eli.account_id, this->Report("r:eli", {"GPU-1", "GPU-2"})).ok());
    auto later = this->Sync(kNow + hours(4));
    EXPECT_EQ(later.enrolled, 1) << "upgrade only: the agent reported before activation could enrol";
    ASSERT_EQ(this->EnrollmentsOf(eli.id).size(), 1u);
    EXPECT_EQ(this->EnrollmentsOf(eli.id).at(0).sequence, "upgrade");
    ASSERT_TRUE(Wait<Account>([&](Callback<Account> done) {
                    this->db().accounts().SetTier("eli@fifth.example", Tier::kProfessional, std::move(done));
                }).ok());
    EXPECT_EQ(this->Sync(kNow + hours(5)).paid, 1);
    EXPECT_EQ(this->EnrollmentsOf(eli.id).at(0).state, "stopped");
    EXPECT_EQ(this->EnrollmentsOf(eli.id).at(0).stop_reason, "converted");
    EXPECT_TRUE(this->acq().GetLead(eli.id).value()->paid_at.has_value());
}

TYPED_TEST_P(AcquisitionContract, AStepHoldsTheCapTheDomainSpacingAndTheSuppressionListOrChangesNothing) {
    const Lead a = this->Signup("a@one.example");
    const Lead b = this->Signup("b@one.example");
    const Lead c = this->Signup("c@two.example");
    const Lead d = this->Signup("d@three.example");
    this->Sync();
    const SysSeconds t = kNow + hours(2);
    auto due = this->Due(t);
    ASSERT_EQ(due.size(), 4u);
    EXPECT_EQ(this->Send(*this->DueFor(due, a.id, "activation"), t, 2, 3600).value(), StepOutcome::kQueued);
    // The same domain within the hour: not sent, and the enrollment did not move.
    EXPECT_EQ(this->Send(*this->DueFor(due, b.id, "activation"), t, 2, 3600).value(), StepOutcome::kDomainThrottled);
    EXPECT_EQ(this->EnrollmentsOf(b.id).at(0).step, 0);
    EXPECT_EQ(this->MailsTo("b@one.example"), 0u);
    EXPECT_EQ(this->Send(*this->DueFor(due, c.id, "activation"), t, 2, 3600).value(), StepOutcome::kQueued);
    // The day's cap of 2 is spent.
    EXPECT_EQ(this->Send(*this->DueFor(due, d.id, "activation"), t, 2, 3600).value(), StepOutcome::kCapReached);
    EXPECT_EQ(this->EnrollmentsOf(d.id).at(0).step, 0);
    EXPECT_EQ(this->acq().SentToday("hello@gpuopt.test", t.time_since_epoch().count() / 86400).value(), 2);
    // Later, the domain is free again; a suppression added meanwhile is seen by the step itself.
    ASSERT_TRUE(Wait<bool>([&](Callback<bool> done) {
                    this->acq().Suppress({0, "address", "B@one.example", "", "manual", "operator", t},
                                         this->Audit("suppression.add"), std::move(done));
                }).value());
    EXPECT_EQ(this->EnrollmentsOf(b.id).at(0).state, "stopped") << "suppressing stops the lead's sequences";
    EXPECT_EQ(this->AuditRows("suppression."), 1u);
    // Postponed steps keep their place.
    ASSERT_TRUE(Wait<void>([&](Callback<void> done) {
                    this->acq().Postpone(this->DueFor(due, d.id, "activation")->enrollment.id, 0, t + days(1),
                                         std::move(done));
                }).ok());
    EXPECT_EQ(this->EnrollmentsOf(d.id).at(0).next_at, t + days(1));
    auto tomorrow = this->Due(t + days(1));
    const DueStep* dd = this->DueFor(tomorrow, d.id, "activation");
    ASSERT_NE(dd, nullptr);
    EXPECT_EQ(this->Send(*dd, t + days(1), 2, 3600).value(), StepOutcome::kQueued) << "a new day, a new cap";
    // A domain suppressed after the due steps were read: the stale step finds its enrollment stopped.
    auto later = this->Due(t + days(2));
    const DueStep* cc = this->DueFor(later, c.id, "activation");
    ASSERT_NE(cc, nullptr);
    ASSERT_TRUE(Wait<bool>([&](Callback<bool> done) {
                    this->acq().Suppress({0, "domain", "Two.Example", "", "manual", "operator", t}, std::nullopt,
                                         std::move(done));
                }).value());
    EXPECT_EQ(this->EnrollmentsOf(c.id).at(0).state, "stopped");
    EXPECT_EQ(this->Send(*cc, t + days(2), 50, 0).value(), StepOutcome::kGone);
    EXPECT_EQ(this->MailsTo("c@two.example"), 1u) << "the first step only";
    EXPECT_TRUE(this->acq().IsSuppressed("anyone@two.example").value());
}

TYPED_TEST_P(AcquisitionContract, ErasureLeavesAHashedSuppressionAndTheFunnelsCounts) {
    ASSERT_EQ(this->RequestAudit("gil@erase.example", "token-g").value(), AuditRequestOutcome::kCreated);
    auto lead = this->Confirm("token-g").value();
    ASSERT_TRUE(lead.has_value());
    this->Sync();
    const auto before = this->acq().GetFunnel(kNow - days(1), kNow + days(1)).value();
    ASSERT_TRUE(Wait<void>([&](Callback<void> done) {
                    this->acq().EraseLead(lead->id, this->Audit("lead.erase"), kNow + hours(1), std::move(done));
                }).ok());
    auto gone = this->acq().GetLead(lead->id).value();
    ASSERT_TRUE(gone.has_value());
    EXPECT_EQ(gone->status, LeadStatus::kErased);
    EXPECT_EQ(gone->email, "");
    EXPECT_EQ(gone->name, "");
    EXPECT_EQ(gone->consent_text, "");
    EXPECT_FALSE(this->acq().FindLead("gil@erase.example").value().has_value());
    EXPECT_TRUE(this->acq().IsSuppressed("gil@erase.example").value());
    auto entries = this->acq().ListSuppressions({}).value();
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].value, "") << "only the hash stays";
    EXPECT_EQ(entries[0].reason, "erased");
    EXPECT_EQ(entries[0].hash, SuppressionHash("gil@erase.example"));
    const auto history = this->acq().GetLeadHistory(lead->id).value();
    for (const auto& e : history->events) EXPECT_EQ(e.detail, "");
    EXPECT_EQ(this->RequestAudit("gil@erase.example", "token-h", kNow + hours(2)).value(),
              AuditRequestOutcome::kSuppressed)
        << "never imported again";
    const auto after = this->acq().GetFunnel(kNow - days(1), kNow + days(1)).value();
    ASSERT_EQ(after.sources.size(), before.sources.size());
    EXPECT_EQ(after.sources[0].counts.leads, before.sources[0].counts.leads);
    EXPECT_EQ(after.sources[0].counts.confirmed, 1);
    EXPECT_EQ(Wait<void>([&](Callback<void> done) {
                  this->acq().EraseLead(lead->id, this->Audit("lead.erase"), kNow, std::move(done));
              })
                  .error()
                  .code,
              ErrorCode::kConflict);
    EXPECT_EQ(this->AuditRows("lead."), 1u);

    // A deleted account's lead is erased with it, in the deletion's own transaction.
    const Lead hal = this->Signup("hal@deleted.example");
    this->Sync(kNow + hours(2));
    ASSERT_TRUE(
        Wait<DeletedAccount>([&](Callback<DeletedAccount> done) {
            this->db().accounts().DeleteAccount({*hal.account_id, kNow, std::nullopt, std::nullopt}, std::move(done));
        }).ok());
    const auto erased = this->acq().GetLead(hal.id).value();
    EXPECT_EQ(erased->status, LeadStatus::kErased);
    EXPECT_EQ(erased->email, "");
    EXPECT_FALSE(erased->account_id.has_value()) << "no tie to the deleted account is kept";
    EXPECT_TRUE(this->acq().IsSuppressed("hal@deleted.example").value());
    EXPECT_EQ(this->EnrollmentsOf(hal.id).at(0).state, "stopped");
    EXPECT_EQ(this->EventKinds(hal.id).back(), "erased");
    EXPECT_EQ(this->Sync(kNow + hours(3)).erased, 0);
}

TYPED_TEST_P(AcquisitionContract, ProspectsKeepTheOperatorsDecisionAndTheQueueComesBestFirst) {
    Prospect p;
    p.login = "acme-ai";
    p.kind = "Organization";
    p.html_url = "https://github.com/acme-ai";
    p.repos = {{"acme-ai/trainer", "https://github.com/acme-ai/trainer", "training", 800, 70, kNow, {"cuda"}}};
    p.stars = 800;
    p.score = 61.5;
    p.reasons = {"an organisation (+15)"};
    p.first_seen = kNow;
    p.updated_at = kNow;
    auto saved = Wait<Prospect>([&](Callback<Prospect> done) { this->acq().SaveProspect(p, std::move(done)); });
    ASSERT_TRUE(saved.ok()) << saved.error().message;
    EXPECT_EQ(saved->status, "new");
    EXPECT_EQ(saved->repos.at(0).topics, std::vector<std::string>{"cuda"});
    EXPECT_EQ(saved->repos.at(0).pushed_at, kNow);
    Prospect q = p;
    q.login = "solo-dev";
    q.kind = "User";
    q.score = 20;
    ASSERT_TRUE(Wait<Prospect>([&](Callback<Prospect> done) { this->acq().SaveProspect(q, std::move(done)); }).ok());

    auto contacted = Wait<Prospect>([&](Callback<Prospect> done) {
        this->acq().DecideProspect(saved->id, "contacted", "wrote through acme.ai/contact",
                                   this->Audit("prospect.decide"), kNow, std::move(done));
    });
    ASSERT_TRUE(contacted.ok()) << contacted.error().message;
    EXPECT_EQ(contacted->referral_code, "gh-acme-ai");
    EXPECT_EQ(contacted->decided_by, "ops@example.com");
    // Found again the next day: the repositories change, the decision stays.
    p.stars = 900;
    p.updated_at = kNow + days(1);
    auto again = Wait<Prospect>([&](Callback<Prospect> done) { this->acq().SaveProspect(p, std::move(done)); });
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->stars, 900);
    EXPECT_EQ(again->status, "contacted");
    EXPECT_EQ(again->note, "wrote through acme.ai/contact");
    EXPECT_EQ(again->first_seen, kNow);
    EXPECT_EQ(Wait<Prospect>([&](Callback<Prospect> done) {
                  this->acq().DecideProspect(saved->id, "contacted", "", this->Audit("prospect.decide"), kNow,
                                             std::move(done));
              })
                  .error()
                  .code,
              ErrorCode::kConflict);
    auto all = this->acq().ListProspects({}).value();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].login, "acme-ai") << "best first";
    EXPECT_EQ(this->acq().ListProspects({"new", 0, 50}).value().size(), 1u);
    EXPECT_EQ(this->AuditRows("prospect."), 1u);
    EXPECT_EQ(this->acq().GetReferralCode("gh-acme-ai").value()->source, "github");
}

TYPED_TEST_P(AcquisitionContract, CursorsSourceWaitsAndPausedSequencesSurviveAReopen) {
    DiscoveryCursor c{"github", "cuda-training", 20417, "https://api.github.test/search?page=2", false, 1, 50, kNow};
    ASSERT_TRUE(Wait<void>([&](Callback<void> done) { this->acq().SaveCursor(c, std::move(done)); }).ok());
    ASSERT_TRUE(
        Wait<void>([&](Callback<void> done) {
            this->acq().SaveSourceState({"github:search", kNow + minutes(5), kNow, "rate limit"}, std::move(done));
        }).ok());
    const Lead l = this->Signup("ivy@paused.example");
    this->Sync();
    auto paused = Wait<SequenceState>([&](Callback<SequenceState> done) {
        this->acq().SetSequencePaused("activation", true, this->Audit("sequence.pause"), kNow, std::move(done));
    });
    ASSERT_TRUE(paused.ok()) << paused.error().message;
    this->Reopen();

    auto read = this->acq().GetCursor("github", "cuda-training", 20417).value();
    ASSERT_TRUE(read.has_value());
    EXPECT_EQ(read->next, "https://api.github.test/search?page=2");
    EXPECT_EQ(read->pages, 1);
    EXPECT_FALSE(read->done);
    EXPECT_FALSE(this->acq().GetCursor("github", "cuda-training", 20418).value().has_value());
    EXPECT_EQ(this->acq().GetSourceState("github:search").value()->wait_until, kNow + minutes(5));
    EXPECT_TRUE(this->Due(kNow + days(1)).empty()) << "a paused sequence sends nothing";
    EXPECT_EQ(Wait<SequenceState>([&](Callback<SequenceState> done) {
                  this->acq().SetSequencePaused("activation", true, this->Audit("sequence.pause"), kNow,
                                                std::move(done));
              })
                  .error()
                  .code,
              ErrorCode::kConflict);
    ASSERT_TRUE(Wait<SequenceState>([&](Callback<SequenceState> done) {
                    this->acq().SetSequencePaused("activation", false, this->Audit("sequence.resume"), kNow,
                                                  std::move(done));
                }).ok());
    ASSERT_EQ(this->Due(kNow + days(1)).size(), 1u);
    EXPECT_EQ(this->Due(kNow + days(1)).at(0).lead.id, l.id);
    EXPECT_EQ(this->AuditRows("sequence."), 2u);
}

TYPED_TEST_P(AcquisitionContract, MailEventsApplyOnceAndEndTheLeadsSequences) {
    const Lead jo = this->Signup("jo@bounce.example");
    const Lead kim = this->Signup("kim@spam.example");
    this->Sync();
    auto event = [&](const std::string& id, const std::string& kind, const std::string& email) {
        return Wait<bool>([&](Callback<bool> done) {
            this->acq().RecordMailEvent({"sendgrid", id, kind, email, kNow, "550 5.1.1"}, std::move(done));
        });
    };
    EXPECT_TRUE(event("ev-1", "bounce", "jo@bounce.example").value());
    EXPECT_FALSE(event("ev-1", "bounce", "jo@bounce.example").value()) << "the same event twice";
    EXPECT_TRUE(event("ev-2", "delivered", "kim@spam.example").value());
    EXPECT_EQ(this->acq().GetLead(kim.id).value()->status, LeadStatus::kActive) << "a delivery changes nothing";
    EXPECT_TRUE(event("ev-3", "spamreport", "kim@spam.example").value());
    EXPECT_EQ(this->acq().GetLead(jo.id).value()->status, LeadStatus::kBounced);
    EXPECT_EQ(this->acq().GetLead(kim.id).value()->status, LeadStatus::kComplained);
    EXPECT_TRUE(this->acq().IsSuppressed("jo@bounce.example").value());
    EXPECT_TRUE(this->acq().IsSuppressed("kim@spam.example").value());
    EXPECT_EQ(this->EnrollmentsOf(jo.id).at(0).stop_reason, "bounced");
    EXPECT_EQ(this->EnrollmentsOf(kim.id).at(0).stop_reason, "complained");
}

TYPED_TEST_P(AcquisitionContract, TheFunnelCountsWhatHappenedBySourceAndBySequence) {
    // A seeded history, counted by hand below.
    Conversation post;
    post.post_id = "t3_f1";
    post.subreddit = "mlops";
    post.title = "GPU bill";
    post.url = "https://www.reddit.com/r/mlops/comments/f1/";
    post.posted_at = kNow;
    post.found_at = kNow;
    auto saved =
        Wait<Conversation>([&](Callback<Conversation> done) { this->acq().SaveConversation(post, std::move(done)); });
    ASSERT_TRUE(saved.ok());
    ASSERT_TRUE(Wait<Conversation>([&](Callback<Conversation> done) {
                    this->acq().DecideConversation(saved->id, "answered", "", this->Audit("conversation.answer"), kNow,
                                                   std::move(done));
                }).ok());
    const Lead s1 = this->Signup("s1@alpha.example");                                                  // signup
    const Lead s2 = this->Signup("s2@beta.example");                                                   // signup, pays
    const Lead r1 = this->Signup("r1@gamma.example", "rd-f1");                                         // reddit
    ASSERT_EQ(this->RequestAudit("a1@delta.example", "t-a1").value(), AuditRequestOutcome::kCreated);  // audit
    ASSERT_EQ(this->RequestAudit("a2@epsilon.example", "t-a2").value(), AuditRequestOutcome::kCreated);
    ASSERT_TRUE(this->Confirm("t-a1").value().has_value());
    this->Sync(kNow + minutes(1));  // activation: s1 s2 r1; audit: a1
    auto due = this->Due(kNow + hours(2));
    ASSERT_EQ(due.size(), 4u);
    for (const auto& d : due) ASSERT_EQ(this->Send(d, kNow + hours(2)).value(), StepOutcome::kQueued);
    ASSERT_TRUE(Wait<bool>([&](Callback<bool> done) {
                    this->acq().Unsubscribe(s1.id, "one-click", kNow + hours(3), std::move(done));
                }).value());
    ASSERT_TRUE(Wait<Account>([&](Callback<Account> done) {
                    this->db().accounts().SetTier("s2@beta.example", Tier::kEnterprise, std::move(done));
                }).ok());
    this->Sync(kNow + hours(4));
    (void)r1;

    auto f = this->acq().GetFunnel(kNow - days(1), kNow + days(1)).value();
    ASSERT_EQ(f.sources.size(), 3u);
    const auto& audit = f.sources[0];
    EXPECT_EQ(audit.source, "audit");
    EXPECT_EQ(audit.counts.leads, 2);
    EXPECT_EQ(audit.counts.confirmed, 1);
    EXPECT_EQ(audit.counts.sent, 1);
    const auto& reddit = f.sources[1];
    EXPECT_EQ(reddit.source, "reddit");
    EXPECT_EQ(reddit.counts.leads, 1);
    EXPECT_EQ(reddit.counts.signed_up, 1);
    EXPECT_EQ(reddit.counts.sent, 1);
    const auto& signup = f.sources[2];
    EXPECT_EQ(signup.source, "signup");
    EXPECT_EQ(signup.counts.leads, 2);
    EXPECT_EQ(signup.counts.signed_up, 2);
    EXPECT_EQ(signup.counts.sent, 2);
    EXPECT_EQ(signup.counts.unsubscribed, 1);
    EXPECT_EQ(signup.counts.paid, 1);
    ASSERT_EQ(f.sequences.size(), 2u);
    EXPECT_EQ(f.sequences[0].sequence, "activation");
    EXPECT_EQ(f.sequences[0].enrolled, 3);
    EXPECT_EQ(f.sequences[0].sent, 3);
    EXPECT_EQ(f.sequences[0].stopped, 2) << "s1 unsubscribed, s2 converted";
    EXPECT_EQ(f.sequences[0].paid, 1);
    EXPECT_EQ(f.sequences[0].unsubscribed, 1);
    EXPECT_EQ(f.sequences[0].active, 1);
    EXPECT_EQ(f.sequences[1].sequence, "audit");
    EXPECT_EQ(f.sequences[1].enrolled, 1);
    EXPECT_EQ(f.sequences[1].sent, 1);
    EXPECT_EQ(f.conversations, 1);
    EXPECT_EQ(f.conversations_answered, 1);
    int64_t day_leads = 0;
    for (const auto& d : f.days) day_leads += d.counts.leads;
    EXPECT_EQ(day_leads, 5);
    // Now, whatever the period: every lead by source and status.
    std::map<std::string, int64_t> now;
    for (const auto& st : f.statuses) now[st.source + "/" + st.status] = st.leads;
    EXPECT_EQ(now, (std::map<std::string, int64_t>{{"audit/active", 1},
                                                   {"audit/pending", 1},
                                                   {"reddit/active", 1},
                                                   {"signup/active", 1},
                                                   {"signup/unsubscribed", 1}}));
    EXPECT_TRUE(this->acq().GetFunnel(kNow + days(2), kNow + days(3)).value().sources.empty());
}

REGISTER_TYPED_TEST_SUITE_P(AcquisitionContract, AnAuditRequestWaitsForItsConfirmationAndRecordsTheConsent,
                            SignupsBecomeLeadsCreditedToTheirReferralSource,
                            SequencesEnrolBySegmentSendEachStepOnceAndStopByEveryRule,
                            AStepHoldsTheCapTheDomainSpacingAndTheSuppressionListOrChangesNothing,
                            ErasureLeavesAHashedSuppressionAndTheFunnelsCounts,
                            ProspectsKeepTheOperatorsDecisionAndTheQueueComesBestFirst,
                            CursorsSourceWaitsAndPausedSequencesSurviveAReopen,
                            MailEventsApplyOnceAndEndTheLeadsSequences,
                            TheFunnelCountsWhatHappenedBySourceAndBySequence);

}  // namespace gpuopt::store::contract
