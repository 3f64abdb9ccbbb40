#include "common/totp.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <array>

#include "common/crypto.hpp"

namespace gpuopt::totp {

namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

std::string PercentEncode(std::string_view text) {
    static constexpr std::string_view kHex = "0123456789ABCDEF";
    std::string out;
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~' || c == '@') {
            out += c;
        } else {
            out += '%';
            out += kHex[u >> 4U];
            out += kHex[u & 0x0FU];
        }
    }
    return out;
}

}  // namespace

std::string GenerateSecret() {
    std::array<unsigned char, 20> bytes{};
    randombytes_buf(bytes.data(), bytes.size());
    std::string out = EncodeBase32(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    sodium_memzero(bytes.data(), bytes.size());
    return out;
}

std::string EncodeBase32(std::string_view bytes) {
    std::string out;
    uint32_t buffer = 0;
    int bits = 0;
    for (const char c : bytes) {
        buffer = (buffer << 8U) | static_cast<unsigned char>(c);
        bits += 8;
        while (bits >= 5) {
            out += kAlphabet[(buffer >> static_cast<unsigned>(bits - 5)) & 0x1FU];
            bits -= 5;
        }
    }
    if (bits > 0) out += kAlphabet[(buffer << static_cast<unsigned>(5 - bits)) & 0x1FU];
    return out;
}

std::optional<std::string> DecodeBase32(std::string_view text) {
    while (!text.empty() && text.back() == '=') text.remove_suffix(1);
    std::string out;
    uint32_t buffer = 0;
    int bits = 0;
    for (const char raw : text) {
        if (raw == ' ') continue;
        const char c = (raw >= 'a' && raw <= 'z') ? static_cast<char>(raw - 'a' + 'A') : raw;
        const size_t value = kAlphabet.find(c);
        if (value == std::string_view::npos) return std::nullopt;
        buffer = (buffer << 5U) | static_cast<uint32_t>(value);
        bits += 5;
        if (bits >= 8) {
            out += static_cast<char>((buffer >> static_cast<unsigned>(bits - 8)) & 0xFFU);
            bits -= 8;
        }
    }
    return out;
}

int64_t StepAt(SysSeconds now) { return now.time_since_epoch().count() / kStepSeconds; }

std::string Hotp(std::string_view key, int64_t counter, int digits) {
    std::array<unsigned char, 8> message{};
    auto value = static_cast<uint64_t>(counter);
    for (int i = 7; i >= 0; --i) {
        message[static_cast<size_t>(i)] = static_cast<unsigned char>(value & 0xFFU);
        value >>= 8U;
    }
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int mac_len = 0;
    HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()), message.data(), message.size(), mac.data(), &mac_len);
    // Dynamic truncation (RFC 4226 §5.3): four bytes at the offset the last nibble names, top bit cleared.
    const unsigned offset = mac[mac_len - 1] & 0x0FU;
    const uint32_t binary = ((static_cast<uint32_t>(mac[offset]) & 0x7FU) << 24U) |
                            (static_cast<uint32_t>(mac[offset + 1]) << 16U) |
                            (static_cast<uint32_t>(mac[offset + 2]) << 8U) | static_cast<uint32_t>(mac[offset + 3]);
    uint32_t modulus = 1;
    for (int i = 0; i < digits; ++i) modulus *= 10;
    std::string out = std::to_string(binary % modulus);
    return std::string(static_cast<size_t>(digits) - out.size(), '0') + out;
}

std::optional<int64_t> Match(std::string_view secret, std::string_view code, SysSeconds now) {
    auto key = DecodeBase32(secret);
    if (!key || key->empty() || code.size() != static_cast<size_t>(kDigits)) return std::nullopt;
    const int64_t step = StepAt(now);
    std::optional<int64_t> matched;
    for (int64_t candidate = step - 1; candidate <= step + 1; ++candidate) {
        // Every candidate is computed and compared, so the time taken says nothing of which one matched.
        if (ConstantTimeEquals(Hotp(*key, candidate), code) && !matched) matched = candidate;
    }
    sodium_memzero(key->data(), key->size());
    return matched;
}

std::string ProvisioningUri(std::string_view issuer, std::string_view account, std::string_view secret) {
    return "otpauth://totp/" + PercentEncode(issuer) + ":" + PercentEncode(account) + "?secret=" + std::string(secret) +
           "&issuer=" + PercentEncode(issuer) + "&algorithm=SHA1&digits=" + std::to_string(kDigits) +
           "&period=" + std::to_string(kStepSeconds);
}

}  // namespace gpuopt::totp
