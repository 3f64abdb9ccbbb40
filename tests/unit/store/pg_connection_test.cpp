// The libpq layer against a real PostgreSQL 15 (tests/services/postgres.sh): parameters round-trip
// exactly, statements are prepared once per connection, and failures map to the store's error codes.
#include "store/postgres/connection.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <mutex>
#include <thread>

#include "common/time.hpp"
#include "store/postgres/pg_store.hpp"
#include "store/wait.hpp"
#include "support/pg_database.hpp"

namespace gpuopt::store::postgres {
namespace {

class PgConnection : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(db_.Ready());
        auto c = Connection::Open({db_.Url()});
        ASSERT_TRUE(c.ok()) << c.error().message;
        conn_ = std::move(*c);
    }
    testing::PgTestDatabase db_;
    std::unique_ptr<Connection> conn_;
};

TEST_F(PgConnection, ParametersRoundTripExactly) {
    ASSERT_TRUE(conn_->Exec("CREATE TABLE t (i bigint, d double precision, s text, b boolean)").ok());
    const std::string awkward = "it's \"quoted\"; DROP TABLE t; -- \xc3\xa9\xe2\x82\xac \\ %s";
    const double third = 1.0 / 3.0;
    for (auto [i, d] : {std::pair<int64_t, double>{std::numeric_limits<int64_t>::max(), third},
                        {std::numeric_limits<int64_t>::min(), -1e-300},
                        {0, 5e-324}}) {
        Params p;
        p.Add(i).Add(d).Add(awkward).Add(true);
        auto r = conn_->Query("INSERT INTO t (i, d, s, b) VALUES ($1, $2, $3, $4)", p);
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(r->Affected(), 1);
    }
    Params nulls;
    nulls.AddNull().Add(std::optional<double>{}).Add(std::optional<std::string>{}).AddNull();
    ASSERT_TRUE(conn_->Query("INSERT INTO t (i, d, s, b) VALUES ($1, $2, $3, $4)", nulls).ok());

    auto rows = conn_->Query("SELECT i, d, s, b FROM t ORDER BY i NULLS LAST");
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows->size(), 4);
    EXPECT_EQ(rows->Int(0, 0), std::numeric_limits<int64_t>::min());
    EXPECT_EQ(rows->Double(0, 1), -1e-300);
    EXPECT_EQ(rows->Int(1, 0), 0);
    EXPECT_EQ(rows->Double(1, 1), 5e-324);
    EXPECT_EQ(rows->Int(2, 0), std::numeric_limits<int64_t>::max());
    EXPECT_EQ(rows->Double(2, 1), third);  // bit for bit: the shortest exact form both ways
    EXPECT_EQ(rows->Text(2, 2), awkward);
    EXPECT_TRUE(rows->Bool(2, 3));
    for (int c = 0; c < 4; ++c) EXPECT_TRUE(rows->IsNull(3, c)) << c;
    EXPECT_EQ(conn_->Query("SELECT count(*) FROM t").value().Int(0, 0), 4);  // the table survived the text
}

TEST_F(PgConnection, AStatementIsPreparedOncePerConnection) {
    for (int i = 0; i < 5; ++i) {
        Params p;
        p.Add(i);
        EXPECT_EQ(conn_->Query("SELECT $1::bigint * 2", p).value().Int(0, 0), 2 * i);
    }
    auto prepared =
        conn_->Query("SELECT count(*) FROM pg_prepared_statements WHERE statement = 'SELECT $1::bigint * 2'");
    EXPECT_EQ(prepared.value().Int(0, 0), 1);
}

TEST_F(PgConnection, TheSessionRunsInUtc) {
    EXPECT_EQ(conn_->Query("SHOW TimeZone").value().Text(0, 0), "UTC");
    EXPECT_EQ(conn_->Query("SELECT '2026-11-30 10:00:00+02'::timestamptz::text").value().Text(0, 0),
              "2026-11-30 08:00:00+00");
}

TEST_F(PgConnection, FailuresMapToStoreErrors) {
    ASSERT_TRUE(conn_->Exec("CREATE TABLE u (k text PRIMARY KEY)").ok());
    Params p;
    p.Add("a");
    ASSERT_TRUE(conn_->Query("INSERT INTO u VALUES ($1)", p).ok());
    auto dup = conn_->Query("INSERT INTO u VALUES ($1)", p);
    ASSERT_FALSE(dup.ok());
    EXPECT_EQ(dup.error().code, ErrorCode::kAlreadyExists);
    EXPECT_EQ(conn_->LastSqlState(), "23505");

    auto bad = conn_->Exec("SELEC 1");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, ErrorCode::kInternal);
    EXPECT_EQ(conn_->LastSqlState(), "42601");
    EXPECT_EQ(bad.error().message, "internal error");  // the server's text is logged, not shown

    auto slow = conn_->Exec("SET statement_timeout = 50; SELECT pg_sleep(5)");
    ASSERT_FALSE(slow.ok());
    EXPECT_EQ(slow.error().code, ErrorCode::kUnavailable);
    EXPECT_EQ(conn_->LastSqlState(), "57014");
    // The connection is still good after each failure.
    EXPECT_TRUE(conn_->Healthy());
    EXPECT_EQ(conn_->Query("SELECT count(*) FROM u").value().Int(0, 0), 1);
    EXPECT_TRUE(conn_->LastSqlState().empty());
}

TEST_F(PgConnection, ALostSessionIsUnavailableNotInternal) {
    auto admin = Connection::Open({db_.AdminUrl()});
    ASSERT_TRUE(admin.ok());
    Params pid;
    pid.Add(conn_->BackendPid());
    ASSERT_TRUE((*admin)->Query("SELECT pg_terminate_backend($1::int)", pid).ok());
    auto r = conn_->Query("SELECT 1");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
    EXPECT_FALSE(conn_->Healthy());
}

TEST_F(PgConnection, BinaryRowsReadAsTextRowsDo) {
    const std::string sql =
        "SELECT $1::bigint, $2::int, $3::smallint, $4::float8, $5::real, $6::boolean, $7::text, NULL::bigint,"
        " NULL::float8, false, ''::text";
    const double third = 1.0 / 3.0;
    for (int64_t i : {std::numeric_limits<int64_t>::min(), int64_t{-1}, int64_t{0}, int64_t{1} << 40}) {
        Params p;
        p.Add(i)
            .Add(static_cast<int64_t>(static_cast<int32_t>(i)))
            .Add(static_cast<int64_t>(static_cast<int16_t>(i)))
            .Add(third * static_cast<double>(i))
            .Add(0.5)
            .Add(true)
            .Add("h\xc3\xa9llo, \"world\"");
        auto text = conn_->Query(sql, p);
        auto binary = conn_->QueryBinary(sql, p);
        ASSERT_TRUE(text.ok() && binary.ok());
        for (int c = 0; c < 3; ++c) EXPECT_EQ(binary->Int(0, c), text->Int(0, c)) << c;
        EXPECT_EQ(binary->Int(0, 0), i);
        EXPECT_EQ(binary->Double(0, 3), text->Double(0, 3));  // bit for bit
        EXPECT_EQ(binary->Double(0, 4), 0.5);
        EXPECT_EQ(binary->Double(0, 0), static_cast<double>(i));  // an integer column read as a double
        EXPECT_TRUE(binary->Bool(0, 5));
        EXPECT_FALSE(binary->Bool(0, 9));
        EXPECT_EQ(binary->Text(0, 6), text->Text(0, 6));
        EXPECT_TRUE(binary->IsNull(0, 7));
        EXPECT_TRUE(binary->IsNull(0, 8));
        EXPECT_FALSE(binary->IsNull(0, 10));
        EXPECT_EQ(binary->Text(0, 10), "");
    }
}

TEST_F(PgConnection, APipelineAnswersEveryStatementInOrderAndCommitsWithTheLast) {
    ASSERT_TRUE(conn_->Exec("CREATE TABLE p (k text PRIMARY KEY, n bigint)").ok());
    const std::string begin = "BEGIN", insert = "INSERT INTO p VALUES ($1, $2)",
                      count = "SELECT count(*), sum(n) FROM p WHERE k = ANY($1::text[])", commit = "COMMIT";
    Params a, b, keys;
    a.Add("a").Add(int64_t{1});
    b.Add("b").Add(int64_t{2});
    keys.Add("{a,b,c}");
    auto answers = conn_->Pipeline({{&begin, nullptr, true},
                                    {&insert, &a, false},
                                    {&insert, &b, false},
                                    {&count, &keys, true},
                                    {&commit, nullptr, true}});
    ASSERT_TRUE(answers.ok()) << answers.error().message;
    ASSERT_EQ(answers->size(), 5u);
    EXPECT_EQ((*answers)[1].Affected(), 1);
    EXPECT_EQ((*answers)[3].Int(0, 0), 2);
    EXPECT_EQ((*answers)[3].Int(0, 1), 3);
    // Committed: another session sees the rows. The insert was prepared once; the count was not prepared.
    auto other = Connection::Open({db_.Url()});
    ASSERT_TRUE(other.ok());
    EXPECT_EQ((*other)->Query("SELECT count(*) FROM p").value().Int(0, 0), 2);
    EXPECT_EQ(conn_->Query("SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", Params().Add(insert))
                  .value()
                  .Int(0, 0),
              1);
    EXPECT_EQ(conn_->Query("SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", Params().Add(count))
                  .value()
                  .Int(0, 0),
              0);
    // The connection is back to one statement at a time.
    EXPECT_EQ(conn_->QueryPlannedEachTime("SELECT $1::bigint + 1", Params().Add(int64_t{41})).value().Int(0, 0), 42);
}

TEST_F(PgConnection, APipelineStopsAtItsFirstFailureAndRunsNothingAfterIt) {
    ASSERT_TRUE(conn_->Exec("CREATE TABLE q (k text PRIMARY KEY)").ok());
    ASSERT_TRUE(conn_->Exec("INSERT INTO q VALUES ('taken')").ok());
    const std::string begin = "BEGIN", insert = "INSERT INTO q VALUES ($1)", commit = "COMMIT";
    Params fresh, taken, later;
    fresh.Add("fresh");
    taken.Add("taken");
    later.Add("later");
    auto answers = conn_->Pipeline({{&begin, nullptr, true},
                                    {&insert, &fresh, false},
                                    {&insert, &taken, false},
                                    {&insert, &later, false},
                                    {&commit, nullptr, true}});
    ASSERT_FALSE(answers.ok());
    EXPECT_EQ(answers.error().code, ErrorCode::kAlreadyExists);
    EXPECT_EQ(conn_->LastSqlState(), "23505");
    // The transaction is aborted, not committed; after a ROLLBACK the connection works as before.
    EXPECT_TRUE(conn_->Healthy());
    ASSERT_TRUE(conn_->Exec("ROLLBACK").ok());
    EXPECT_EQ(conn_->Query("SELECT string_agg(k, ',' ORDER BY k) FROM q").value().Text(0, 0), "taken");
}

TEST_F(PgConnection, APipelineOnALostSessionIsUnavailable) {
    auto admin = Connection::Open({db_.AdminUrl()});
    ASSERT_TRUE(admin.ok());
    ASSERT_TRUE((*admin)->Query("SELECT pg_terminate_backend($1::int)", Params().Add(conn_->BackendPid())).ok());
    const std::string one = "SELECT 1", two = "SELECT 2";
    auto answers = conn_->Pipeline({{&one, nullptr, true}, {&two, nullptr, true}});
    ASSERT_FALSE(answers.ok());
    EXPECT_EQ(answers.error().code, ErrorCode::kUnavailable);
    EXPECT_FALSE(conn_->Healthy());
}

// Wake-ups between servers sharing one database: what one store announces, another hears within a poll,
// and a listener whose connection is cut listens again.
TEST(PgWakeups, AnAnnouncementIsHeardByEveryStoreOnTheDatabaseAndListeningSurvivesALostConnection) {
    testing::PgTestDatabase db;
    ASSERT_TRUE(db.Ready());
    auto a = PgStore::Open({db.Url()});
    auto b = PgStore::Open({db.Url()});
    ASSERT_TRUE(a && b);
    std::mutex mu;
    std::vector<std::string> heard;
    (*b)->Listen([&](const std::string& topic) {
        std::lock_guard lock(mu);
        heard.push_back(topic);
    });
    auto count = [&](const std::string& topic) {
        std::lock_guard lock(mu);
        return std::count(heard.begin(), heard.end(), topic);
    };
    // LISTEN takes effect once the listener's connection is up: announce until it is heard.
    bool got = false;
    for (int i = 0; i < 100 && !got; ++i) {
        (*a)->Announce("billing-events");
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        got = count("billing-events") > 0;
    }
    ASSERT_TRUE(got) << "the other store never heard the announcement";

    // Cut the listener's session: it connects and listens again.
    auto admin = Connection::Open({db.AdminUrl()});
    ASSERT_TRUE(admin.ok());
    ASSERT_TRUE((*admin)
                    ->Query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND "
                            "query LIKE 'LISTEN%'",
                            Params().Add(db.Name()))
                    .ok());
    got = false;
    for (int i = 0; i < 200 && !got; ++i) {
        (*a)->Announce("mail");
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        got = count("mail") > 0;
    }
    EXPECT_TRUE(got) << "listening did not resume after the connection was lost";
    (*a)->Close();
    (*b)->Close();  // stops the listener within one poll
}

// A plan changed through one server reaches another's cache of accounts at the change's commit, not
// after the cache's time to live.
TEST(PgWakeups, APlanChangedOnOneServerIsSeenByAnotherAtOnce) {
    testing::PgTestDatabase db;
    ASSERT_TRUE(db.Ready());
    PgStore::Options options;
    options.url = db.Url();
    options.account_cache_ttl = std::chrono::minutes(10);
    auto a = PgStore::Open(options);
    auto b = PgStore::Open(options);
    ASSERT_TRUE(a && b);
    std::atomic<bool> up{false};
    (*a)->Listen([&](const std::string& topic) {
        if (topic == "ping") up = true;
    });
    auto created = Wait<Account>([&](Callback<Account> done) {
        (*b)->CreateAccount({"cache@example.com", "hash-1", "gopt_abcd", Tier::kFree, UtcNow(), std::nullopt},
                            std::move(done));
    });
    ASSERT_TRUE(created.ok());
    ASSERT_EQ((*a)->FindAccountByKeyHash("hash-1").value().tier, Tier::kFree);  // cached by a for ten minutes
    // a listens once it hears b's announcements.
    for (int i = 0; i < 100 && !up; ++i) {
        (*b)->Announce("ping");
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(up.load());
    auto changed = Wait<Account>(
        [&](Callback<Account> done) { (*b)->SetTier("cache@example.com", Tier::kProfessional, std::move(done)); });
    ASSERT_TRUE(changed.ok());
    bool seen = false;
    for (int i = 0; i < 100 && !seen; ++i) {
        seen = (*a)->FindAccountByKeyHash("hash-1").value().tier == Tier::kProfessional;
        if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(seen) << "the other server kept the cached free tier";
    (*a)->Close();
    (*b)->Close();
}

TEST(PgConnect, ANamedServerThatIsNotThereIsUnavailable) {
    // Port 1: nothing listens there (a server would need root to bind it).
    auto c = Connection::Open({"postgresql://gpuopt:secret@127.0.0.1:1/none", std::chrono::seconds(2)});
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().code, ErrorCode::kUnavailable);
    EXPECT_EQ(c.error().message.find("secret"), std::string::npos);
}

TEST(PgUrl, PasswordsAreRedactedForLogs) {
    EXPECT_EQ(RedactUrl("postgresql://app:s3cr%40t@db:5432/gpuopt"), "postgresql://app:***@db:5432/gpuopt");
    EXPECT_EQ(RedactUrl("postgresql://app@db/gpuopt?password=x&sslmode=require"),
              "postgresql://app@db/gpuopt?password=***&sslmode=require");
    EXPECT_EQ(RedactUrl("postgresql://db/gpuopt"), "postgresql://db/gpuopt");
}

}  // namespace
}  // namespace gpuopt::store::postgres
