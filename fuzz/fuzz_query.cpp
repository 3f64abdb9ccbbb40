// Query strings (http/query.hpp), what the Flutterwave return address and the history/usage endpoints
// read: never a crash; accepted strings give at most 32 parameters whose names and values hold no
// control characters; and percent-encoding what was decoded parses back to the same parameters.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/query.hpp"

namespace {

constexpr size_t kMaxParameters = 32;

bool HasControl(std::string_view s) {
    for (const char c : s) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
    }
    return false;
}

std::string Encode(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
            c == '.' || c == '~') {
            out += c;
        } else {
            out += '%';
            out += kHex[u >> 4];
            out += kHex[u & 0x0F];
        }
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto query = gpuopt::http::ParseQuery(std::string_view(reinterpret_cast<const char*>(data), size));
    if (!query) {
        if (query.error().details.count("query") != 1) std::abort();  // errors name the query
        return 0;
    }
    if (query->size() > kMaxParameters) std::abort();
    std::string again;
    for (const auto& [name, value] : *query) {
        if (HasControl(name) || HasControl(value)) std::abort();
        if (!again.empty()) again += '&';
        again += Encode(name) + '=' + Encode(value);
    }
    const auto reparsed = gpuopt::http::ParseQuery(again);
    if (!reparsed || *reparsed != *query) std::abort();
    return 0;
}
