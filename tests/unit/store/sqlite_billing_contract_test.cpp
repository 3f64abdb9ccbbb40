// The billing side of the store contract (billing_contract.hpp) over SqliteStore.
#include <gtest/gtest.h>

#include "unit/store/billing_contract.hpp"
#include "unit/store/sqlite_backend.hpp"

namespace gpuopt::store::contract {

INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, BillingContract, ::testing::Types<SqliteBackend>);

}  // namespace gpuopt::store::contract
