// Strict JSON parsing must never crash, and what it accepts must serialise and parse back to the same
// document. Numbers compare by value (ToJson writes 9.0 as 9, which JSON does not tell apart) to within
// a few ulps: Boost.JSON 1.81 parses decimals without correct rounding, so 2.5e33 may come back one ulp
// away after a round trip.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string_view>

#include <boost/json/value.hpp>

#include "common/json.hpp"

namespace {

bool SameDocument(const boost::json::value& a, const boost::json::value& b) {
    if (a.is_number() && b.is_number()) {
        const double x = a.to_number<double>();
        const double y = b.to_number<double>();
        return std::fabs(x - y) <= 4 * std::numeric_limits<double>::epsilon() * std::max(std::fabs(x), std::fabs(y));
    }
    if (a.kind() != b.kind()) return false;
    if (a.is_array()) {
        const auto& x = a.get_array();
        const auto& y = b.get_array();
        if (x.size() != y.size()) return false;
        for (size_t i = 0; i < x.size(); ++i) {
            if (!SameDocument(x[i], y[i])) return false;
        }
        return true;
    }
    if (a.is_object()) {
        const auto& x = a.get_object();
        const auto& y = b.get_object();
        if (x.size() != y.size()) return false;
        for (const auto& kv : x) {
            const auto* other = y.if_contains(kv.key());
            if (other == nullptr || !SameDocument(kv.value(), *other)) return false;
        }
        return true;
    }
    return a == b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto parsed = gpuopt::ParseJson(text);
    if (!parsed.ok()) return 0;
    const std::string again = gpuopt::ToJson(*parsed);
    auto reparsed = gpuopt::ParseJson(again);
    if (!reparsed.ok() || !SameDocument(*reparsed, *parsed)) std::abort();
    return 0;
}
