// The store contract (store_contract.hpp) over SqliteStore. The other suites are in
// sqlite_billing_contract_test.cpp and sqlite_domain_contract_test.cpp: one suite family a file, so that
// they compile side by side.
#include <gtest/gtest.h>

#include "unit/store/sqlite_backend.hpp"
#include "unit/store/store_contract.hpp"

namespace gpuopt::store::contract {

INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreContract, ::testing::Types<SqliteBackend>);

}  // namespace gpuopt::store::contract
