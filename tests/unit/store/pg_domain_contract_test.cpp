// The contract suites of the store's domain repositories (time accounting, recommendation tracks, idle
// actions, notifications, sign-in and sessions, operators and the audit log) over PgStore.
#include <gtest/gtest.h>

#include "unit/acquisition/month_contract.hpp"
#include "unit/store/acquisition_contract.hpp"
#include "unit/store/admin_contract.hpp"
#include "unit/store/idle_action_contract.hpp"
#include "unit/store/notification_contract.hpp"
#include "unit/store/panel_contract.hpp"
#include "unit/store/pg_backend.hpp"
#include "unit/store/recommendation_contract.hpp"
#include "unit/store/session_contract.hpp"
#include "unit/store/time_accounting_contract.hpp"

namespace gpuopt::store::contract {

INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, TimeAccountingContract, ::testing::Types<PostgresBackend>);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, RecommendationContract, ::testing::Types<PostgresBackend>);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, IdleActionContract, ::testing::Types<PostgresBackend>);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, NotificationContract, ::testing::Types<PostgresBackend>);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, SessionContract, ::testing::Types<PostgresBackend>);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, AdminContract, ::testing::Types<PostgresBackend>);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, PanelContract, ::testing::Types<PostgresBackend>);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, AcquisitionContract, ::testing::Types<PostgresBackend>);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, AcquisitionMonth, ::testing::Types<PostgresBackend>);

}  // namespace gpuopt::store::contract
