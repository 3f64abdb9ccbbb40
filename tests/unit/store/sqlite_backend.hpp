// The SQLite backend of the store's contract suites (backend_fixture.hpp): each test on a database file of
// its own.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "store/sqlite/sqlite_store.hpp"
#include "support/test_dir.hpp"

namespace gpuopt::store::contract {

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

}  // namespace gpuopt::store::contract
