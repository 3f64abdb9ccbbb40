// What the two store backends share of ENCRYPTION_KEY and the operator accounts (store/admin.hpp): the
// columns they seal, opening what they read of them, and what one more failed sign-in does to an account.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "common/at_rest.hpp"
#include "common/result.hpp"
#include "common/time.hpp"
#include "store/admin.hpp"
#include "store/callback.hpp"
#include "store/notifications.hpp"

namespace gpuopt::store {

struct SealedColumn {
    const char* table;
    const char* key;  // the column naming a row
    const char* column;
};

// Every column the store seals with ENCRYPTION_KEY (decision 0026).
inline constexpr std::array<SealedColumn, 5> kSealedColumns{{
    {"alert_settings", "account_id", "webhook_url"},
    {"webhook_endpoints", "id", "url"},
    {"webhook_endpoints", "id", "secret"},
    {"admin_users", "id", "totp_secret"},
    {"gateway_events", "id", "body"},
}};

// Opens the named fields of every row with `keys` (a value stored in clear reads as it is).
template <class Row, class... Fields>
Result<void> OpenFields(const std::string& keys, std::vector<Row>& rows, Fields... fields) {
    for (auto& row : rows) {
        for (std::string Row::*field : {fields...}) {
            auto opened = at_rest::Open(keys, row.*field);
            if (!opened) return opened.error();
            row.*field = std::move(*opened);
        }
    }
    return {};
}

// The admin as read, its TOTP secret opened with `keys`.
Result<AdminUser> OpenAdminSecret(const std::string& keys, Result<AdminUser> user);
Result<std::optional<AdminUser>> OpenAdminSecret(const std::string& keys, Result<std::optional<AdminUser>> user);
// `done`, given the admin with its secret opened.
Callback<AdminUser> OpeningAdminSecret(const std::string& keys, Callback<AdminUser> done);

// Endpoints as read, their URL and secret opened with `keys`.
Result<std::vector<WebhookEndpoint>> OpenEndpoints(const std::string& keys, Result<std::vector<WebhookEndpoint>> all);

// The account after one more failed sign-in: counted, or, at the policy's limit, locked for the policy's
// first lock doubled for each lock since the last good sign-in, at most its longest (the count starts again).
AdminUser AfterFailedSignIn(AdminUser user, SysSeconds now, const AdminLockPolicy& policy);

}  // namespace gpuopt::store
