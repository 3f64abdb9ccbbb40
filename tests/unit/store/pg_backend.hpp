// The PostgreSQL backend of the store's contract suites (backend_fixture.hpp): each test on a database of
// its own on the PostgreSQL that CTest's `services` fixture started (support/pg_database.hpp).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "store/postgres/pg_store.hpp"
#include "support/pg_database.hpp"

namespace gpuopt::store::contract {

struct PostgresBackend {
    static constexpr const char* kName = "postgres";

    void SetUp() {
        database_ = std::make_unique<testing::PgTestDatabase>();
        ASSERT_TRUE(database_->Ready());
    }
    Result<std::unique_ptr<Database>> Open() {
        postgres::PgStore::Options options;
        options.url = database_->Url();
        auto opened = postgres::PgStore::Open(options);
        if (!opened.ok()) return opened.error();
        return std::unique_ptr<Database>(std::move(*opened));
    }
    void TearDown() { database_.reset(); }  // drops the database; the store is closed by then
    static uint64_t CommittedTransactions(Database& db) {
        return dynamic_cast<postgres::PgStore&>(db).CommittedTransactions();
    }
    std::string Location() const { return database_->Url(); }

    std::unique_ptr<testing::PgTestDatabase> database_;
};

}  // namespace gpuopt::store::contract
