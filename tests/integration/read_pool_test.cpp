// History reads and key lookups run on the server's read pool, not on its event loop: with one I/O thread,
// a request held up inside the database (a lock another session holds on a table it reads) leaves the
// server answering everything else, and is answered itself once the lock goes. In service_tests: PostgreSQL lets
// the test hold the read where it is, deterministically.
#include <chrono>
#include <future>
#include <memory>
#include <string>

#include "integration/fixture.hpp"
#include "store/postgres/connection.hpp"
#include "support/pg_database.hpp"

namespace gpuopt::testing {
namespace {

using store::postgres::Connection;
using store::postgres::Params;

// A session of its own that has taken `table` for itself (until it commits); null if it could not.
std::unique_ptr<Connection> HoldTable(PgTestDatabase& db, const std::string& table) {
    auto c = Connection::Open({db.Url()});
    if (!c.ok() || !(*c)->Exec("BEGIN; LOCK TABLE " + table + " IN ACCESS EXCLUSIVE MODE").ok()) return nullptr;
    return std::move(*c);
}

// Whether, within WaitFor's time, exactly one session of the database is waiting on a lock.
bool OneSessionWaitsOnALock(PgTestDatabase& db) {
    auto watcher = Connection::Open({db.AdminUrl()});
    if (!watcher.ok()) return false;
    return WaitFor([&] {
        auto rows =
            (*watcher)->Query("SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
                              Params().Add(db.Name()));
        return rows.ok() && rows->Int(0, 0) == 1;
    });
}

TEST(ReadPool, AHistoryReadHeldInTheDatabaseLeavesTheEventLoopFree) {
    PgTestDatabase db;
    ASSERT_TRUE(db.Ready());
    TempDir dir;
    ServerProcess server({dir.path(), {{"DATABASE_URL", db.Url()}, {"THREADS", "1"}, {"RATE_LIMIT_FREE", "0"}}, {}});
    const std::string key = SignupAt(server.Url("/api/signup"), "reader@example.com");
    ASSERT_FALSE(key.empty());
    // A plan whose history reaches back 30 days: the read is of the hourly roll-up.
    std::string out;
    ASSERT_EQ(RunGpuopt({"admin", "set-tier", "--email", "reader@example.com", "--tier", "enterprise", "--data-dir",
                         dir.path()},
                        {{"DATABASE_URL", db.Url()}}, out),
              0)
        << out;
    ASSERT_TRUE(WaitFor([&] { return Get(server.Url("/api/me"), Bearer(key)).Json().at("tier") == "enterprise"; }));
    ASSERT_EQ(PostJson(server.Url("/api/track-usage"), FullReport("held-1", "h1", 2), Bearer(key)).status, 200);

    // Another session takes the roll-up table for itself: a 30-day read waits on it inside the database.
    auto holder = HoldTable(db, "gpu_days");
    ASSERT_NE(holder, nullptr);
    auto held = std::async(std::launch::async, [&] { return Get(server.Url("/api/usage?range=30d"), Bearer(key)); });
    const bool waiting = OneSessionWaitsOnALock(db);
    EXPECT_TRUE(waiting) << "the history read never reached the lock";

    // Meanwhile the one I/O thread serves the rest: a health check, the caller's account, a report.
    auto others = std::async(std::launch::async, [&] {
        return std::vector<HttpResponse>{
            Get(server.Url("/api/health")), Get(server.Url("/api/me"), Bearer(key)),
            PostJson(server.Url("/api/track-usage"), FullReport("held-2", "h1", 2), Bearer(key))};
    });
    const bool answered = others.wait_for(std::chrono::seconds(15)) == std::future_status::ready;
    EXPECT_TRUE(answered) << "the event loop waited on the history read";
    EXPECT_EQ(held.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout)
        << "the history read did not wait on the lock";

    ASSERT_TRUE(holder->Exec("COMMIT").ok());
    for (const auto& r : others.get()) EXPECT_EQ(r.status, 200) << r.body;
    const HttpResponse usage = held.get();
    EXPECT_EQ(usage.status, 200) << usage.body;
    EXPECT_NE(usage.body.find("\"series\""), std::string::npos) << usage.body;
}

// The same for authentication: a key not looked up lately is read from the database on the read pool, so a
// lookup held up there leaves the event loop serving everyone else.
TEST(ReadPool, AKeyLookupHeldInTheDatabaseLeavesTheEventLoopFree) {
    PgTestDatabase db;
    ASSERT_TRUE(db.Ready());
    TempDir dir;
    ServerProcess server({dir.path(), {{"DATABASE_URL", db.Url()}, {"THREADS", "1"}, {"RATE_LIMIT_FREE", "0"}}, {}});
    const std::string key = SignupAt(server.Url("/api/signup"), "newcomer@example.com");
    ASSERT_FALSE(key.empty());

    // Another session takes the accounts table for itself: the first lookup of the new key waits on it.
    auto holder = HoldTable(db, "accounts");
    ASSERT_NE(holder, nullptr);
    auto held = std::async(std::launch::async, [&] { return Get(server.Url("/api/me"), Bearer(key)); });
    const bool waiting = OneSessionWaitsOnALock(db);
    EXPECT_TRUE(waiting) << "the key lookup never reached the lock";

    // Meanwhile the one I/O thread answers what needs no account, and refuses a malformed key at once.
    auto others = std::async(std::launch::async, [&] {
        return std::vector<HttpResponse>{Get(server.Url("/api/health")), Get(server.Url("/api/plans")),
                                         Get(server.Url("/api/me"), Bearer("not-a-key"))};
    });
    const bool answered = others.wait_for(std::chrono::seconds(15)) == std::future_status::ready;
    EXPECT_TRUE(answered) << "the event loop waited on the key lookup";
    EXPECT_EQ(held.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout)
        << "the key lookup did not wait on the lock";

    ASSERT_TRUE(holder->Exec("COMMIT").ok());
    const auto answers = others.get();
    ASSERT_EQ(answers.size(), 3u);
    EXPECT_EQ(answers[0].status, 200) << answers[0].body;
    EXPECT_EQ(answers[1].status, 200) << answers[1].body;
    EXPECT_EQ(answers[2].status, 401) << answers[2].body;
    const HttpResponse me = held.get();
    EXPECT_EQ(me.status, 200) << me.body;
    EXPECT_EQ(me.Json().at("email"), "newcomer@example.com");
}

}  // namespace
}  // namespace gpuopt::testing
