// The fixture of the store's typed contract suites (store_contract.hpp, billing_contract.hpp and the rest): a
// store::Database opened from a Backend type, so that the same tests run over every backend.
//
// A Backend has this shape:
//
//   struct SomeBackend {
//       static constexpr const char* kName = "...";
//       void SetUp();     // a fresh, empty place for the data (a temp dir, a database of its own)
//       Result<std::unique_ptr<store::Database>> Open();  // opens (again) on that same data
//       void TearDown();  // removes it (the database is closed by then)
//       static uint64_t CommittedTransactions(store::Database& db);  // transactions its writer committed
//       std::string Location() const;  // where the data is, for support/db_snapshot.hpp: a path or a URL
//   };
//
// SetUp and Open run inside the test (they may use its name and fail it).
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "store/database.hpp"

namespace gpuopt::store::contract {

template <class Backend>
class BackendFixture : public ::testing::Test {
protected:
    void SetUp() override {
        backend_.SetUp();
        if (HasFatalFailure()) return;
        Reopen();
    }
    void TearDown() override {
        Shut();
        backend_.TearDown();
    }

    // Closes the database, which finishes its queued writes, and opens it again on the same data.
    void Reopen() {
        Shut();
        auto opened = backend_.Open();
        ASSERT_TRUE(opened.ok()) << Backend::kName << ": " << opened.error().message;
        db_ = std::move(*opened);
    }
    void Shut() {
        if (!db_) return;
        db_->Close();
        db_.reset();
    }

    Database& db() { return *db_; }
    uint64_t CommittedTransactions() { return Backend::CommittedTransactions(*db_); }

    Backend backend_;
    std::unique_ptr<Database> db_;
};

}  // namespace gpuopt::store::contract
