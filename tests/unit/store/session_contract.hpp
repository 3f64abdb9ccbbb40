// Sign-in links and web sessions on every store backend (store/sessions.hpp): a link signs in once, only
// the newest works, none after it expires; links are counted per account; a session lives until it is
// idle too long, reaches its absolute end or is revoked, alone or with every session of its account; and
// pruning removes what ended.
//
// This header defines tests: include it from exactly one .cpp file per test binary.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "store/database.hpp"
#include "store/wait.hpp"
#include "unit/store/backend_fixture.hpp"

namespace gpuopt::store::contract {

inline const SysSeconds kSessionDay0 = std::chrono::sys_days{std::chrono::year{2026} / 12 / 1} + std::chrono::hours(9);

template <class Backend>
class SessionContract : public BackendFixture<Backend> {
protected:
    void SetUp() override {
        BackendFixture<Backend>::SetUp();
        if (this->HasFatalFailure()) return;
        for (const char* email : {"s@example.com", "t@example.com"}) {
            auto account = Wait<Account>([&](Callback<Account> done) {
                this->db().accounts().CreateAccount(
                    {email, std::string("hash-") + email, "gopt_abcd", Tier::kFree, kSessionDay0, {}}, std::move(done));
            });
            ASSERT_TRUE(account.ok());
            accounts_.push_back(account->id);
        }
    }

    SessionRepository& repo() { return this->db().sessions(); }

    Result<void> Link(int64_t account, const std::string& hash, SysSeconds at,
                      std::chrono::minutes valid = std::chrono::minutes(15)) {
        return Wait<void>([&](Callback<void> done) {
            repo().CreateSignInLink({account, hash, "127.0.0.1", at, at + valid, {}}, std::move(done));
        });
    }
    Result<std::optional<int64_t>> Redeem(const std::string& hash, SysSeconds at) {
        return Wait<std::optional<int64_t>>(
            [&](Callback<std::optional<int64_t>> done) { repo().RedeemSignInLink(hash, at, std::move(done)); });
    }
    Result<void> Open(int64_t account, const std::string& id_hash, SysSeconds at,
                      std::chrono::hours absolute = std::chrono::hours(12)) {
        return Wait<void>([&](Callback<void> done) {
            repo().CreateSession({id_hash, account, "csrf-" + id_hash, at, at, at + absolute}, std::move(done));
        });
    }
    bool Live(const std::string& id_hash, SysSeconds at, std::chrono::seconds idle = std::chrono::minutes(30)) {
        auto found = repo().FindSession(id_hash, at, idle);
        EXPECT_TRUE(found.ok());
        return found.ok() && found->has_value();
    }

    std::vector<int64_t> accounts_;
};

TYPED_TEST_SUITE_P(SessionContract);

TYPED_TEST_P(SessionContract, ALinkSignsInOnceOnlyTheNewestAndNotAfterItExpires) {
    using std::chrono::minutes;
    const int64_t s = this->accounts_[0];
    ASSERT_TRUE(this->Link(s, "h1", kSessionDay0).ok());
    EXPECT_EQ(this->Redeem("unknown", kSessionDay0).value(), std::nullopt);
    EXPECT_EQ(this->Redeem("h1", kSessionDay0 + minutes(1)).value(), s);
    EXPECT_EQ(this->Redeem("h1", kSessionDay0 + minutes(2)).value(), std::nullopt) << "used once";

    // A newer link closes the older one.
    ASSERT_TRUE(this->Link(s, "h2", kSessionDay0 + minutes(3)).ok());
    ASSERT_TRUE(this->Link(s, "h3", kSessionDay0 + minutes(4)).ok());
    EXPECT_EQ(this->Redeem("h2", kSessionDay0 + minutes(5)).value(), std::nullopt);
    // Another account's link is its own.
    ASSERT_TRUE(this->Link(this->accounts_[1], "t1", kSessionDay0 + minutes(5)).ok());
    EXPECT_EQ(this->Redeem("h3", kSessionDay0 + minutes(6)).value(), s);
    EXPECT_EQ(this->Redeem("t1", kSessionDay0 + minutes(6)).value(), this->accounts_[1]);

    // Expired: the moment it ends, it no longer signs in.
    ASSERT_TRUE(this->Link(s, "h4", kSessionDay0 + minutes(10)).ok());
    EXPECT_EQ(this->Redeem("h4", kSessionDay0 + minutes(25)).value(), std::nullopt);
    EXPECT_EQ(this->repo().CountSignInLinks(s, kSessionDay0).value(), 4);
    EXPECT_EQ(this->repo().CountSignInLinks(s, kSessionDay0 + minutes(4)).value(), 2);

    // The account a sign-in request names: by its stored (normalised) email only.
    EXPECT_EQ(this->repo().AccountIdForEmail("s@example.com").value(), s);
    EXPECT_EQ(this->repo().AccountIdForEmail("t@example.com").value(), this->accounts_[1]);
    EXPECT_EQ(this->repo().AccountIdForEmail("nobody@example.com").value(), std::nullopt);
}

TYPED_TEST_P(SessionContract, TwoRedeemersAtOnceSignInOnce) {
    ASSERT_TRUE(this->Link(this->accounts_[0], "race", kSessionDay0).ok());
    std::atomic<int> signed_in{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i) {
        threads.emplace_back([&] {
            auto r = this->Redeem("race", kSessionDay0 + std::chrono::seconds(30));
            if (r.ok() && r->has_value()) ++signed_in;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(signed_in.load(), 1);
}

TYPED_TEST_P(SessionContract, ASessionEndsWhenIdleAtItsAbsoluteEndOrRevoked) {
    using std::chrono::hours;
    using std::chrono::minutes;
    const int64_t s = this->accounts_[0];
    ASSERT_TRUE(this->Open(s, "a", kSessionDay0).ok());
    auto found = this->repo().FindSession("a", kSessionDay0 + minutes(1), minutes(30));
    ASSERT_TRUE(found.ok() && found->has_value());
    EXPECT_EQ((*found)->account_id, s);
    EXPECT_EQ((*found)->csrf_token, "csrf-a");
    EXPECT_FALSE(this->Live("a", kSessionDay0 + minutes(31))) << "idle for longer than allowed";
    // Activity keeps it alive, up to its absolute end.
    ASSERT_TRUE(Wait<void>([&](Callback<void> done) {
                    this->repo().TouchSession("a", kSessionDay0 + minutes(20), std::move(done));
                }).ok());
    EXPECT_TRUE(this->Live("a", kSessionDay0 + minutes(45)));
    for (int h = 1; h <= 12; ++h) {
        ASSERT_TRUE(Wait<void>([&](Callback<void> done) {
                        this->repo().TouchSession("a", kSessionDay0 + hours(h) - minutes(1), std::move(done));
                    }).ok());
    }
    EXPECT_TRUE(this->Live("a", kSessionDay0 + hours(12) - minutes(1)));
    EXPECT_FALSE(this->Live("a", kSessionDay0 + hours(12))) << "absolute end";

    // Revoked: one, then all of an account's, never another account's.
    ASSERT_TRUE(this->Open(s, "b", kSessionDay0).ok());
    ASSERT_TRUE(this->Open(s, "c", kSessionDay0).ok());
    ASSERT_TRUE(this->Open(this->accounts_[1], "d", kSessionDay0).ok());
    auto one = Wait<int64_t>(
        [&](Callback<int64_t> done) { this->repo().RevokeSession("b", kSessionDay0 + minutes(1), std::move(done)); });
    ASSERT_TRUE(one.ok());
    EXPECT_EQ(*one, 1);
    EXPECT_FALSE(this->Live("b", kSessionDay0 + minutes(2)));
    EXPECT_TRUE(this->Live("c", kSessionDay0 + minutes(2)));
    auto all = Wait<int64_t>([&](Callback<int64_t> done) {
        this->repo().RevokeAccountSessions(s, kSessionDay0 + minutes(2), std::move(done));
    });
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(*all, 2);  // a (past its end, never revoked) and c
    EXPECT_FALSE(this->Live("c", kSessionDay0 + minutes(3)));
    EXPECT_TRUE(this->Live("d", kSessionDay0 + minutes(3)));
}

TYPED_TEST_P(SessionContract, PruningRemovesWhatEnded) {
    using std::chrono::hours;
    using std::chrono::minutes;
    const int64_t s = this->accounts_[0];
    ASSERT_TRUE(this->Link(s, "old", kSessionDay0).ok());
    ASSERT_TRUE(this->Open(s, "old-session", kSessionDay0, hours(1)).ok());
    ASSERT_TRUE(this->Open(s, "young-session", kSessionDay0 + hours(2)).ok());
    auto pruned = Wait<int64_t>(
        [&](Callback<int64_t> done) { this->repo().PruneSessions(kSessionDay0 + hours(2), std::move(done)); });
    ASSERT_TRUE(pruned.ok());
    EXPECT_EQ(*pruned, 2);  // the link and the session that ended
    EXPECT_TRUE(this->Live("young-session", kSessionDay0 + hours(2) + minutes(1)));
    EXPECT_EQ(this->repo().CountSignInLinks(s, kSessionDay0 - hours(1)).value(), 0);
}

REGISTER_TYPED_TEST_SUITE_P(SessionContract, ALinkSignsInOnceOnlyTheNewestAndNotAfterItExpires,
                            TwoRedeemersAtOnceSignInOnce, ASessionEndsWhenIdleAtItsAbsoluteEndOrRevoked,
                            PruningRemovesWhatEnded);

}  // namespace gpuopt::store::contract
