// The contract suites of the store's domain repositories (time accounting, recommendation tracks, idle
// actions, notifications, sign-in and sessions, operators and the audit log) over SqliteStore.
#include <gtest/gtest.h>

#include "unit/acquisition/month_contract.hpp"
#include "unit/store/acquisition_contract.hpp"
#include "unit/store/admin_contract.hpp"
#include "unit/store/idle_action_contract.hpp"
#include "unit/store/notification_contract.hpp"
#include "unit/store/panel_contract.hpp"
#include "unit/store/recommendation_contract.hpp"
#include "unit/store/session_contract.hpp"
#include "unit/store/sqlite_backend.hpp"
#include "unit/store/time_accounting_contract.hpp"

namespace gpuopt::store::contract {

INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, TimeAccountingContract, ::testing::Types<SqliteBackend>);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, RecommendationContract, ::testing::Types<SqliteBackend>);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, IdleActionContract, ::testing::Types<SqliteBackend>);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, NotificationContract, ::testing::Types<SqliteBackend>);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, SessionContract, ::testing::Types<SqliteBackend>);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, AdminContract, ::testing::Types<SqliteBackend>);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, PanelContract, ::testing::Types<SqliteBackend>);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, AcquisitionContract, ::testing::Types<SqliteBackend>);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, AcquisitionMonth, ::testing::Types<SqliteBackend>);

}  // namespace gpuopt::store::contract
