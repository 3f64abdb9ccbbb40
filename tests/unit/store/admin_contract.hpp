// Operator accounts, their sessions and the audit log on every store backend (store/admin.hpp): an
// address holds one operator; failures lock the account after the policy's limit, for twice as long each
// time; a TOTP step is accepted once; a session lives until idle, its end, sign-out, or a change of the
// operator's password, factor or account; every change writes its audit row in the same transaction, and
// the chain of rows verifies until a row is not what was written.
//
// This header defines tests: include it from exactly one .cpp file per test binary.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/fernet.hpp"
#include "store/database.hpp"
#include "store/wait.hpp"
#include "unit/store/backend_fixture.hpp"

namespace gpuopt::store::contract {

inline const SysSeconds kAdminDay0 = std::chrono::sys_days{std::chrono::year{2026} / 12 / 2} + std::chrono::hours(9);

template <class Backend>
class AdminContract : public BackendFixture<Backend> {
protected:
    void SetUp() override {
        BackendFixture<Backend>::SetUp();
        if (this->HasFatalFailure()) return;
        repo().SetAuditKey("test audit key");
    }

    AdminRepository& repo() { return this->db().admin(); }

    static AuditEntry Audit(std::string action, std::string target = "", SysSeconds at = kAdminDay0) {
        AuditEntry e;
        e.at = at;
        e.actor_type = "cli";
        e.actor = "root";
        e.action = std::move(action);
        e.target = std::move(target);
        e.ip = "local";
        return e;
    }
    Result<AdminUser> Make(const std::string& email) {
        AdminUser u;
        u.email = email;
        u.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA";
        u.created_at = kAdminDay0;
        return Wait<AdminUser>(
            [&](Callback<AdminUser> done) { repo().CreateAdminUser(u, Audit("admin.create"), std::move(done)); });
    }
    Result<AdminUser> Fail(int64_t id, SysSeconds at, int max_attempts = 3) {
        AdminLockPolicy policy;
        policy.max_attempts = max_attempts;
        policy.first_lock = std::chrono::minutes(15);
        policy.longest_lock = std::chrono::hours(1);
        return Wait<AdminUser>([&](Callback<AdminUser> done) {
            repo().RecordAdminLoginFailure(id, at, policy, Audit("admin.sign_in", "", at), std::move(done));
        });
    }
    Result<void> SignIn(int64_t id, const std::string& hash, SysSeconds at) {
        AdminSession session{hash, id, "csrf-" + hash, "127.0.0.1", "test", at, at, at + std::chrono::hours(8)};
        return Wait<void>(
            [&](Callback<void> done) { repo().SignInAdmin(session, Audit("admin.sign_in", "", at), std::move(done)); });
    }
    Result<AdminUser> Change(AdminUserChange change) {
        return Wait<AdminUser>(
            [&](Callback<AdminUser> done) { repo().ChangeAdminUser(change, Audit("admin.change"), std::move(done)); });
    }
    bool Live(const std::string& hash, SysSeconds at) {
        auto found = repo().FindAdminSession(hash, at, std::chrono::minutes(15));
        EXPECT_TRUE(found.ok());
        return found.ok() && found->has_value();
    }
};

TYPED_TEST_SUITE_P(AdminContract);

TYPED_TEST_P(AdminContract, AnAddressHoldsOneOperator) {
    auto a = this->Make("ops@example.com");
    ASSERT_TRUE(a.ok());
    EXPECT_GT(a->id, 0);
    EXPECT_EQ(a->email, "ops@example.com");
    EXPECT_FALSE(a->disabled);
    EXPECT_TRUE(a->totp_secret.empty());
    EXPECT_FALSE(a->last_login_at.has_value());
    auto again = this->Make("ops@example.com");
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
    ASSERT_TRUE(this->Make("second@example.com").ok());
    auto listed = this->repo().ListAdminUsers().value();
    ASSERT_EQ(listed.size(), 2u);
    EXPECT_EQ(listed[0].email, "ops@example.com");
    EXPECT_EQ(this->repo().FindAdminUser("ops@example.com").value()->id, a->id);
    EXPECT_FALSE(this->repo().FindAdminUser("nobody@example.com").value().has_value());
    EXPECT_EQ(this->repo().GetAdminUser(a->id).value()->email, "ops@example.com");
    // The refused duplicate wrote no audit row: two creations, two rows.
    auto rows = this->repo().ListAudit({"admin.create", "", "", std::nullopt, 10}).value();
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[1].target, "admin:" + std::to_string(a->id));
}

TYPED_TEST_P(AdminContract, FailuresLockForLongerEachTimeAndASignInClearsThem) {
    using std::chrono::minutes;
    const int64_t id = this->Make("ops@example.com")->id;
    EXPECT_EQ(this->Fail(id, kAdminDay0)->failed_logins, 1);
    EXPECT_FALSE(this->Fail(id, kAdminDay0)->locked_until.has_value());
    auto locked = this->Fail(id, kAdminDay0);  // the third: locked for 15 minutes
    ASSERT_TRUE(locked.ok());
    EXPECT_EQ(locked->failed_logins, 0);
    EXPECT_EQ(locked->lockouts, 1);
    EXPECT_EQ(locked->locked_until, kAdminDay0 + minutes(15));
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(this->Fail(id, kAdminDay0 + minutes(20)).ok());
    auto second = this->Fail(id, kAdminDay0 + minutes(20));  // twice as long
    EXPECT_EQ(second->lockouts, 2);
    EXPECT_EQ(second->locked_until, kAdminDay0 + minutes(20) + minutes(30));
    for (int lock = 0; lock < 3; ++lock) {
        for (int i = 0; i < 3; ++i) ASSERT_TRUE(this->Fail(id, kAdminDay0 + std::chrono::hours(2)).ok());
    }
    // 60, then 120 capped at the policy's longest (1 h).
    EXPECT_EQ(this->repo().GetAdminUser(id).value()->locked_until, kAdminDay0 + std::chrono::hours(3));
    ASSERT_TRUE(this->SignIn(id, "s1", kAdminDay0 + std::chrono::hours(4)).ok());
    auto cleared = this->repo().GetAdminUser(id).value();
    EXPECT_EQ(cleared->failed_logins, 0);
    EXPECT_EQ(cleared->lockouts, 0);
    EXPECT_FALSE(cleared->locked_until.has_value());
    EXPECT_EQ(cleared->last_login_at, kAdminDay0 + std::chrono::hours(4));
    // Unlock from the host clears a lock too.
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(this->Fail(id, kAdminDay0 + std::chrono::hours(5)).ok());
    ASSERT_TRUE(this->repo().GetAdminUser(id).value()->locked_until.has_value());
    AdminUserChange unlock;
    unlock.admin_id = id;
    unlock.unlock = true;
    unlock.now = kAdminDay0 + std::chrono::hours(5);
    EXPECT_FALSE(this->Change(unlock)->locked_until.has_value());
    EXPECT_EQ(this->Fail(9999, kAdminDay0).error().code, ErrorCode::kNotFound);
}

TYPED_TEST_P(AdminContract, ATotpStepIsAcceptedOnceEvenByTwoAtOnce) {
    const int64_t id = this->Make("ops@example.com")->id;
    auto accept = [&](int64_t step) {
        return Wait<bool>([&](Callback<bool> done) { this->repo().AcceptTotpStep(id, step, std::move(done)); });
    };
    EXPECT_TRUE(accept(1000).value());
    EXPECT_FALSE(accept(1000).value()) << "the same code again";
    EXPECT_FALSE(accept(999).value()) << "an older code";
    std::atomic<int> won{0};
    std::vector<std::thread> racers;
    for (int i = 0; i < 8; ++i) {
        racers.emplace_back([&] {
            if (accept(1001).value()) ++won;
        });
    }
    for (auto& t : racers) t.join();
    EXPECT_EQ(won.load(), 1);
    EXPECT_EQ(this->repo().GetAdminUser(id).value()->totp_last_step, 1001);
}

TYPED_TEST_P(AdminContract, ASessionEndsWhenIdleAtItsEndOnSignOutOrWhenTheOperatorChanges) {
    using std::chrono::hours;
    using std::chrono::minutes;
    const int64_t id = this->Make("ops@example.com")->id;
    ASSERT_TRUE(this->SignIn(id, "a", kAdminDay0).ok());
    auto found = this->repo().FindAdminSession("a", kAdminDay0 + minutes(1), minutes(15)).value();
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->admin_id, id);
    EXPECT_EQ(found->csrf_token, "csrf-a");
    EXPECT_EQ(found->ip, "127.0.0.1");
    EXPECT_FALSE(this->Live("a", kAdminDay0 + minutes(16))) << "idle past the timeout";
    ASSERT_TRUE(Wait<void>([&](Callback<void> done) {
                    this->repo().TouchAdminSession("a", kAdminDay0 + minutes(14), std::move(done));
                }).ok());
    EXPECT_TRUE(this->Live("a", kAdminDay0 + minutes(20)));
    EXPECT_FALSE(this->Live("a", kAdminDay0 + hours(8))) << "past the absolute end";

    ASSERT_TRUE(this->SignIn(id, "b", kAdminDay0).ok());
    auto ended = Wait<int64_t>([&](Callback<int64_t> done) {
        this->repo().RevokeAdminSession("b", kAdminDay0 + minutes(1), this->Audit("admin.sign_out"), std::move(done));
    });
    EXPECT_EQ(ended.value(), 1);
    EXPECT_FALSE(this->Live("b", kAdminDay0 + minutes(2)));

    // A new password ends every session; so does disabling the account.
    ASSERT_TRUE(this->SignIn(id, "c", kAdminDay0).ok());
    ASSERT_TRUE(this->SignIn(id, "d", kAdminDay0).ok());
    AdminUserChange password;
    password.admin_id = id;
    password.password_hash = "$argon2id$new";
    password.now = kAdminDay0 + minutes(1);
    EXPECT_EQ(this->Change(password)->password_hash, "$argon2id$new");
    EXPECT_FALSE(this->Live("c", kAdminDay0 + minutes(2)));
    EXPECT_FALSE(this->Live("d", kAdminDay0 + minutes(2)));
    ASSERT_TRUE(this->SignIn(id, "e", kAdminDay0 + minutes(3)).ok());
    AdminUserChange disable;
    disable.admin_id = id;
    disable.disabled = true;
    disable.now = kAdminDay0 + minutes(4);
    EXPECT_TRUE(this->Change(disable)->disabled);
    EXPECT_FALSE(this->Live("e", kAdminDay0 + minutes(5)));
    // A factor set and removed: the step counter starts again with the new secret.
    AdminUserChange factor;
    factor.admin_id = id;
    factor.totp_secret = "sealed-secret";
    factor.now = kAdminDay0 + minutes(6);
    auto with_factor = this->Change(factor);
    EXPECT_EQ(with_factor->totp_secret, "sealed-secret");
    EXPECT_EQ(with_factor->totp_last_step, 0);
    factor.totp_secret = std::string();
    EXPECT_TRUE(this->Change(factor)->totp_secret.empty());
    AdminUserChange nobody;
    nobody.admin_id = 9999;
    nobody.unlock = true;
    EXPECT_EQ(this->Change(nobody).error().code, ErrorCode::kNotFound);
    // Pruning removes the sessions that ended.
    auto pruned = Wait<int64_t>(
        [&](Callback<int64_t> done) { this->db().sessions().PruneSessions(kAdminDay0 + hours(9), std::move(done)); });
    EXPECT_EQ(pruned.value(), 5);
}

TYPED_TEST_P(AdminContract, TheAuditLogChainsEveryRowAndFiltersNewestFirst) {
    const int64_t id = this->Make("ops@example.com")->id;
    for (int i = 0; i < 5; ++i) {
        auto e = this->Audit(i % 2 == 0 ? "customer.plan.change" : "ip.block", "customer:" + std::to_string(i),
                             kAdminDay0 + std::chrono::minutes(i));
        e.before = R"({"tier":"free"})";
        e.after = R"({"tier":"professional"})";
        auto appended =
            Wait<AuditEntry>([&](Callback<AuditEntry> done) { this->repo().AppendAudit(e, std::move(done)); });
        ASSERT_TRUE(appended.ok());
        EXPECT_EQ(appended->row_hash.size(), 64u);
    }
    ASSERT_TRUE(this->SignIn(id, "a", kAdminDay0).ok());
    auto all = this->repo().ListAudit({}).value();
    ASSERT_EQ(all.size(), 7u);  // the creation, five actions, the sign-in
    for (size_t i = 0; i + 1 < all.size(); ++i) {
        EXPECT_GT(all[i].id, all[i + 1].id) << "newest first";
        EXPECT_EQ(all[i].prev_hash, all[i + 1].row_hash) << "each row chains to the one before";
    }
    EXPECT_EQ(all.back().prev_hash, "");
    EXPECT_EQ(all[1].after, R"({"tier":"professional"})");
    EXPECT_EQ(this->repo().ListAudit({"customer.", "", "", std::nullopt, 100}).value().size(), 3u);
    EXPECT_EQ(this->repo().ListAudit({"", "", "customer:3", std::nullopt, 100}).value().size(), 1u);
    auto page = this->repo().ListAudit({"", "", "", all[2].id, 2}).value();
    ASSERT_EQ(page.size(), 2u);
    EXPECT_EQ(page[0].id, all[3].id);
    auto verified = this->repo().VerifyAuditChain().value();
    EXPECT_EQ(verified.rows, 7);
    EXPECT_FALSE(verified.first_broken_id.has_value());
    // Under another key the very first row no longer verifies.
    this->repo().SetAuditKey("another key");
    EXPECT_EQ(this->repo().VerifyAuditChain().value().first_broken_id, all.back().id);
}

// ENCRYPTION_KEY: values written before a key was set read as they are; rotation seals them, a new first key
// moves every token under it, and values read back are always the clear ones.
TYPED_TEST_P(AdminContract, RotationSealsClearValuesAndMovesTokensUnderTheFirstKey) {
    const std::string url = "https://hooks.slack.com/services/T1/B1/secret-path";
    auto account = Wait<Account>([&](Callback<Account> done) {
        this->db().accounts().CreateAccount(
            {"hooks@example.com", "hash-hooks", "gopt_abcd", Tier::kProfessional, kAdminDay0, {}}, std::move(done));
    });
    ASSERT_TRUE(account.ok());
    auto set = Wait<AlertSettings>([&](Callback<AlertSettings> done) {
        this->db().alerts().SetAlertSettings({account->id, url, 30, Tier::kFree, false}, std::move(done));
    });
    ASSERT_TRUE(set.ok());
    const std::string rotate_audit = "crypto.rotate";
    auto rotate = [&] {
        return Wait<int64_t>(
            [&](Callback<int64_t> done) { this->repo().RotateEncryption(this->Audit(rotate_audit), std::move(done)); });
    };
    const std::string first = Fernet::GenerateKey();
    const std::string second = Fernet::GenerateKey();
    this->repo().SetEncryptionKeys(first);
    EXPECT_EQ(this->db().alerts().GetAlertSettings(account->id).value()->webhook_url, url) << "stored in clear before";
    EXPECT_EQ(rotate().value(), 1);
    EXPECT_EQ(rotate().value(), 0);
    EXPECT_EQ(this->db().alerts().GetAlertSettings(account->id).value()->webhook_url, url);
    this->repo().SetEncryptionKeys(second + "," + first);
    EXPECT_EQ(this->db().alerts().GetAlertSettings(account->id).value()->webhook_url, url);
    EXPECT_EQ(rotate().value(), 1);
    this->repo().SetEncryptionKeys(second);
    EXPECT_EQ(this->db().alerts().ListAlertSettings().value().at(0).webhook_url, url);
    this->repo().SetEncryptionKeys(first);
    EXPECT_FALSE(this->db().alerts().GetAlertSettings(account->id).ok()) << "the old key alone opens nothing now";
    EXPECT_EQ(this->repo().ListAudit({"crypto.", "", "", std::nullopt, 10}).value().size(), 3u);
}

REGISTER_TYPED_TEST_SUITE_P(AdminContract, AnAddressHoldsOneOperator, FailuresLockForLongerEachTimeAndASignInClearsThem,
                            ATotpStepIsAcceptedOnceEvenByTwoAtOnce,
                            ASessionEndsWhenIdleAtItsEndOnSignOutOrWhenTheOperatorChanges,
                            TheAuditLogChainsEveryRowAndFiltersNewestFirst,
                            RotationSealsClearValuesAndMovesTokensUnderTheFirstKey);

}  // namespace gpuopt::store::contract
