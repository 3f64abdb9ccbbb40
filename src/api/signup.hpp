// The sign-up rule, apart from the socket: which account to create, or why not.
#pragma once

#include <string>
#include <string_view>

#include "common/config.hpp"
#include "common/result.hpp"

namespace gpuopt::api {

struct SignupRequest {
    std::string email;  // normalised (lowercase)
    std::string tier;
};

// Parses {"email", "tier"?, "payment_method"?}. Validation errors name the field. A paid tier is refused
// while no payment gateway can take the customer to checkout.
Result<SignupRequest> ParseSignup(std::string_view body, const Config& config);

}  // namespace gpuopt::api
