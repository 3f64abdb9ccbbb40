// The store contract suites (store_contract.hpp, time_accounting_contract.hpp) over PgStore, each test on a
// database of its own on the PostgreSQL that CTest's `services` fixture started (support/pg_database.hpp).
#include <gtest/gtest.h>

#include <memory>

#include "store/postgres/pg_store.hpp"
#include "support/pg_database.hpp"
#include "unit/store/store_contract.hpp"
#include "unit/store/time_accounting_contract.hpp"

namespace gpuopt::store::contract {
namespace {

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

    std::unique_ptr<testing::PgTestDatabase> database_;
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, StoreContract, ::testing::Types<PostgresBackend>);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, TimeAccountingContract, ::testing::Types<PostgresBackend>);

}  // namespace gpuopt::store::contract
