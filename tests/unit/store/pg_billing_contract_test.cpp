// The billing side of the store contract (billing_contract.hpp) over PgStore.
#include <gtest/gtest.h>

#include "unit/store/billing_contract.hpp"
#include "unit/store/pg_backend.hpp"

namespace gpuopt::store::contract {

INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, BillingContract, ::testing::Types<PostgresBackend>);

}  // namespace gpuopt::store::contract
