// RFC 3339 parsing: whatever it accepts formats back to a timestamp that parses to the same instant.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/time.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto t = gpuopt::ParseUtc(std::string_view(reinterpret_cast<const char*>(data), size));
    if (!t) return 0;
    auto again = gpuopt::ParseUtc(gpuopt::FormatUtc(*t));
    if (!again || *again != *t) std::abort();
    return 0;
}
