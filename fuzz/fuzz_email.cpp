// E-mail validation: accepted addresses have one '@', no whitespace or control bytes, and <= 254 bytes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/email.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (!gpuopt::IsValidEmail(text)) return 0;
    if (text.size() > 254 || text.find('@') == std::string_view::npos || text.find('@') != text.rfind('@'))
        std::abort();
    for (unsigned char c : text) {
        if (c <= 0x20 || c >= 0x7f) std::abort();
    }
    return 0;
}
