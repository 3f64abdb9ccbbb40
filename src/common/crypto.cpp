#include "common/crypto.hpp"

#include <sodium.h>

#include <array>
#include <cstdlib>

namespace gpuopt {

namespace {
constexpr std::string_view kBase62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

bool IsBase62(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
}  // namespace

void InitCrypto() {
    if (sodium_init() < 0) std::abort();
}

std::string RandomBase62(size_t chars) {
    std::string out;
    out.reserve(chars);
    for (size_t i = 0; i < chars; ++i) {
        // randombytes_uniform has no modulo bias.
        out.push_back(kBase62[randombytes_uniform(static_cast<uint32_t>(kBase62.size()))]);
    }
    return out;
}

std::string GenerateApiKey() { return std::string(kApiKeyPrefix) + RandomBase62(kApiKeyRandomChars); }

std::string HmacSha256Hex(std::string_view key, std::string_view message) {
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(key.data()), key.size());
    crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(message.data()), message.size());
    std::array<unsigned char, crypto_auth_hmacsha256_BYTES> mac{};
    crypto_auth_hmacsha256_final(&state, mac.data());
    std::string hex(mac.size() * 2 + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), mac.data(), mac.size());
    hex.pop_back();
    return hex;
}

bool IsWellFormedApiKey(std::string_view key) {
    if (key.size() != kApiKeyLength || key.substr(0, kApiKeyPrefix.size()) != kApiKeyPrefix) return false;
    for (char c : key.substr(kApiKeyPrefix.size())) {
        if (!IsBase62(c)) return false;
    }
    return true;
}

std::string HashApiKey(std::string_view key) {
    std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
    crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(key.data()), key.size());
    std::string hex(digest.size() * 2 + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
    hex.pop_back();
    return hex;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
    // Lengths of our secrets are not secret; equal-length contents are compared in constant time.
    if (a.size() != b.size()) return false;
    if (a.empty()) return true;
    return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace gpuopt
