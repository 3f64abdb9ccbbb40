// Shared by the operator API's handlers (api/admin_*.cpp).
#pragma once

#include <optional>
#include <string>

#include "api/admin.hpp"
#include "http/await.hpp"

namespace gpuopt::api {

inline constexpr size_t kAdminSessionChars = 43;  // base62: about 256 bits

// The Set-Cookie values that hand an admin session to the browser and take it back.
std::string AdminSetCookie(const Config& config, const std::string& value);
std::string AdminClearCookie(const Config& config);

// True for a request another site's page sent (Sec-Fetch-Site other than same-origin, or a foreign Origin).
bool OperatorRequestIsCrossSite(const Config& config, const http::Request& req);

// The admin session the request's cookie names, with its admin: nullopt without a cookie or when it has
// ended. Records the session's activity at most once a minute.
boost::asio::awaitable<Result<std::optional<OperatorCaller>>> FindAdminSessionCaller(Services& s,
                                                                                     const http::RequestContext& ctx);

}  // namespace gpuopt::api
