// The sign-up rule, apart from the socket: which account to create, or why not.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/config.hpp"
#include "common/result.hpp"

namespace gpuopt::api {

struct SignupRequest {
    std::string email;  // normalised (lowercase)
    Tier tier = Tier::kFree;
    std::string payment_method;             // required with a paid tier
    std::string ref;                        // a referral code (/?ref=CODE), credited to its source; "" for none
    std::optional<int> utc_offset_minutes;  // the browser's, for the lead's send window
};

// Parses {"email", "tier"?, "payment_method"?, "ref"?, "utc_offset_minutes"?}. Validation errors name the field. A paid
// tier needs a payment method: the account starts free and takes the tier when the payment is confirmed.
Result<SignupRequest> ParseSignup(std::string_view body, const Config& config);

}  // namespace gpuopt::api
