// NOWPayments IPN signature (billing/ipn_signature.hpp): canonicalising never crashes, and what it gives
// is a fixed point (canonicalising it again changes nothing). For a body Boost.JSON accepts, the
// canonical form is the same document with every object's keys in UTF-16 order; whatever Boost.JSON
// writes (no duplicate keys) can be canonicalised within the depth limit; and the signature check
// accepts exactly the HMAC of the canonical form, in either case, under a padded secret.
#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "billing/ipn_signature.hpp"
#include "common/json.hpp"

namespace {

constexpr std::string_view kSecret = "ipn-secret";
constexpr std::string_view kPaddedSecret = " ipn-secret\r\n";
constexpr size_t kCanonicalMaxDepth = 32;  // nesting the canonicaliser always takes (its kMaxDepth)
constexpr size_t kParseMaxDepth = 64;

// The UTF-16 code units of valid UTF-8 (what Boost.JSON hands back), as JavaScript's sort() compares keys.
std::u16string Utf16(std::string_view s) {
    std::u16string out;
    for (size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        uint32_t cp = c;
        size_t len = 1;
        if (c >= 0xF0) {
            cp = c & 0x07u;
            len = 4;
        } else if (c >= 0xE0) {
            cp = c & 0x0Fu;
            len = 3;
        } else if (c >= 0xC0) {
            cp = c & 0x1Fu;
            len = 2;
        }
        for (size_t k = 1; k < len && i + k < s.size(); ++k)
            cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
            out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
        } else {
            out.push_back(static_cast<char16_t>(cp));
        }
        i += len;
    }
    return out;
}

// Nesting of containers: 0 for a scalar, 1 for [] or {}.
size_t Depth(const boost::json::value& v) {
    size_t inner = 0;
    if (v.is_array()) {
        for (const auto& e : v.get_array()) inner = std::max(inner, Depth(e));
        return inner + 1;
    }
    if (v.is_object()) {
        for (const auto& kv : v.get_object()) inner = std::max(inner, Depth(kv.value()));
        return inner + 1;
    }
    return 0;
}

// Keys strictly increasing by UTF-16 code units in every object, in the order the text wrote them.
bool KeysSorted(const boost::json::value& v) {
    if (v.is_array()) {
        return std::all_of(v.get_array().begin(), v.get_array().end(), KeysSorted);
    }
    if (!v.is_object()) return true;
    std::u16string previous;
    bool first = true;
    for (const auto& kv : v.get_object()) {
        std::u16string key = Utf16(kv.key());
        if (!first && !(previous < key)) return false;
        if (!KeysSorted(kv.value())) return false;
        previous = std::move(key);
        first = false;
    }
    return true;
}

std::string Upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    namespace billing = gpuopt::billing;
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    const auto canonical = billing::CanonicalJson(body);
    if (!canonical) {
        // A body that cannot be canonicalised has no signature, not even the MAC of its raw bytes.
        if (billing::VerifyNowPaymentsSignature(body, billing::HmacSha512Hex(kSecret, body), kPaddedSecret))
            std::abort();
    } else {
        const auto again = billing::CanonicalJson(*canonical);
        if (!again || *again != *canonical) std::abort();  // idempotent

        const std::string signature = billing::HmacSha512Hex(kSecret, *canonical);
        if (!billing::VerifyNowPaymentsSignature(body, signature, kPaddedSecret)) std::abort();
        if (!billing::VerifyNowPaymentsSignature(body, Upper(signature), kSecret)) std::abort();
        std::string wrong = signature;
        wrong[size % wrong.size()] = wrong[size % wrong.size()] == '0' ? '1' : '0';
        if (billing::VerifyNowPaymentsSignature(body, wrong, kSecret)) std::abort();
        if (billing::VerifyNowPaymentsSignature(body, signature, " \r\n")) std::abort();  // no secret, no trust
    }

    const auto parsed = gpuopt::ParseJson(body, kParseMaxDepth);
    if (!parsed) return 0;
    if (canonical) {
        // Same document (boost::json compares objects regardless of order; numbers keep their text).
        const auto reparsed = gpuopt::ParseJson(*canonical, kParseMaxDepth);
        if (!reparsed || *reparsed != *parsed || !KeysSorted(*reparsed)) std::abort();
    } else if (Depth(*parsed) <= kCanonicalMaxDepth) {
        // Refusing valid JSON is only for repeated keys (Boost.JSON keeps one) or too deep a document.
        if (!billing::CanonicalJson(gpuopt::ToJson(*parsed))) std::abort();
    }
    return 0;
}
