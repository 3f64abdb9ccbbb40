// NOWPayments IPN bodies (billing/nowpayments.hpp), read after the signature check: never a crash; an
// accepted body was a JSON object with a payment id and a status, every text field within its limit;
// refusals are validation errors that name a field.
#include <boost/json/value.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "billing/nowpayments.hpp"
#include "common/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    const auto ipn = gpuopt::billing::ParseNowPaymentsIpn(body);
    if (!ipn) {
        if (ipn.error().code != gpuopt::ErrorCode::kValidation || ipn.error().details.empty()) std::abort();
        return 0;
    }
    if (ipn->payment_id.empty() || ipn->payment_id.size() > 32) std::abort();
    if (ipn->status.empty() || ipn->status.size() > 32 || ipn->order_id.size() > 128) std::abort();
    const auto parsed = gpuopt::ParseJson(body);
    if (!parsed || !parsed->is_object()) std::abort();
    return 0;
}
