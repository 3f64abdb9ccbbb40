// The store contract suites (store_contract.hpp, time_accounting_contract.hpp) over SqliteStore, each test on
// a database file of its own.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "store/sqlite/sqlite_store.hpp"
#include "support/test_dir.hpp"
#include "unit/store/idle_action_contract.hpp"
#include "unit/store/notification_contract.hpp"
#include "unit/store/recommendation_contract.hpp"
#include "unit/store/store_contract.hpp"
#include "unit/store/time_accounting_contract.hpp"

namespace gpuopt::store::contract {
namespace {

struct SqliteBackend {
    static constexpr const char* kName = "sqlite";

    void SetUp() { dir_ = testing::FreshTestDir("contract"); }
    Result<std::unique_ptr<Database>> Open() {
        auto opened = sqlite::SqliteStore::Open({(dir_ / "gpuopt.db").string()});
        if (!opened.ok()) return opened.error();
        return std::unique_ptr<Database>(std::move(*opened));
    }
    void TearDown() {
        if (!dir_.empty()) std::filesystem::remove_all(dir_);
    }
    static uint64_t CommittedTransactions(Database& db) {
        return dynamic_cast<sqlite::SqliteStore&>(db).CommittedTransactions();
    }
    std::string Location() const { return (dir_ / "gpuopt.db").string(); }

    std::filesystem::path dir_;
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreContract, ::testing::Types<SqliteBackend>);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, TimeAccountingContract, ::testing::Types<SqliteBackend>);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, RecommendationContract, ::testing::Types<SqliteBackend>);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, IdleActionContract, ::testing::Types<SqliteBackend>);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, NotificationContract, ::testing::Types<SqliteBackend>);

}  // namespace gpuopt::store::contract
