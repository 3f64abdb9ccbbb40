// The sign-up rule, apart from the socket: which account to create, or why not.
#pragma once

#include <string>
#include <string_view>

#include "common/config.hpp"
#include "common/result.hpp"

namespace gpuopt::api {

struct SignupRequest {
    std::string email;  // normalised (lowercase)
    Tier tier = Tier::kFree;
    std::string payment_method;  // required with a paid tier
};

// Parses {"email", "tier"?, "payment_method"?}. Validation errors name the field. A paid tier needs a
// payment method: the account starts free and takes the tier when the payment is confirmed.
Result<SignupRequest> ParseSignup(std::string_view body, const Config& config);

}  // namespace gpuopt::api
