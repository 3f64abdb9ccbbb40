// Flutterwave webhook bodies (billing/flutterwave.hpp), both the {"event", "data": {...}} shape and the
// older flat one: never a crash; a body it accepts was a JSON object and names a transaction id or a
// reference, with every field within its limit; refusals are validation errors that name a field.
#include <boost/json/value.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "billing/flutterwave.hpp"
#include "common/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    const auto hook = gpuopt::billing::ParseFlutterwaveWebhook(body);
    if (!hook) {
        if (hook.error().code != gpuopt::ErrorCode::kValidation || hook.error().details.empty()) std::abort();
        return 0;
    }
    if (hook->transaction_id.empty() && hook->tx_ref.empty()) std::abort();
    if (hook->transaction_id.size() > 64 || hook->tx_ref.size() > 128 || hook->status.size() > 32) std::abort();
    const auto parsed = gpuopt::ParseJson(body);
    if (!parsed || !parsed->is_object()) std::abort();
    return 0;
}
