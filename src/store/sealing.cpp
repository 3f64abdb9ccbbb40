#include "store/sealing.hpp"

#include <algorithm>

#include "common/at_rest.hpp"

namespace gpuopt::store {

Result<AdminUser> OpenAdminSecret(const std::string& keys, Result<AdminUser> user) {
    if (!user) return user;
    auto secret = at_rest::Open(keys, user->totp_secret);
    if (!secret) return secret.error();
    user->totp_secret = std::move(*secret);
    return user;
}

Result<std::optional<AdminUser>> OpenAdminSecret(const std::string& keys, Result<std::optional<AdminUser>> user) {
    if (!user || !*user) return user;
    auto opened = OpenAdminSecret(keys, Result<AdminUser>(std::move(**user)));
    if (!opened) return opened.error();
    return std::optional<AdminUser>(std::move(*opened));
}

Callback<AdminUser> OpeningAdminSecret(const std::string& keys, Callback<AdminUser> done) {
    return [keys, done = std::move(done)](Result<AdminUser> r) { done(OpenAdminSecret(keys, std::move(r))); };
}

Result<std::vector<WebhookEndpoint>> OpenEndpoints(const std::string& keys, Result<std::vector<WebhookEndpoint>> all) {
    if (!all) return all;
    if (auto r = OpenFields(keys, *all, &WebhookEndpoint::url, &WebhookEndpoint::secret); !r) return r.error();
    return all;
}

AdminUser AfterFailedSignIn(AdminUser user, SysSeconds now, const AdminLockPolicy& policy) {
    ++user.failed_logins;
    if (user.failed_logins < policy.max_attempts) return user;
    auto length = policy.first_lock;
    for (int i = 0; i < user.lockouts && length < policy.longest_lock; ++i) length *= 2;
    user.locked_until = now + std::min(length, policy.longest_lock);
    ++user.lockouts;
    user.failed_logins = 0;
    return user;
}

}  // namespace gpuopt::store
