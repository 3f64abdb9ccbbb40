#include "common/fernet.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace gpuopt {

namespace {

constexpr unsigned char kVersion = 0x80;
constexpr size_t kHeader = 1 + 8 + 16;  // version, timestamp, IV
constexpr size_t kMac = 32;
constexpr size_t kBlock = 16;
constexpr std::chrono::seconds kMaxClockSkew{60};

Error Invalid() { return Error{ErrorCode::kValidation, "invalid or unreadable encrypted value", {}}; }

std::string_view Trim(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t' || v.front() == '\n' || v.front() == '\r'))
        v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\n' || v.back() == '\r'))
        v.remove_suffix(1);
    return v;
}

// Padded base64url; unpadded is accepted on the way in, as the spec's readers do.
std::optional<std::vector<unsigned char>> FromBase64Url(std::string_view text) {
    std::vector<unsigned char> out(text.size() / 4 * 3 + 3);
    size_t len = 0;
    for (int variant : {sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING}) {
        if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, nullptr, variant) == 0) {
            out.resize(len);
            return out;
        }
    }
    return std::nullopt;
}

std::string ToBase64Url(const unsigned char* data, size_t size) {
    std::string out(sodium_base64_encoded_len(size, sodium_base64_VARIANT_URLSAFE), '\0');
    sodium_bin2base64(out.data(), out.size(), data, size, sodium_base64_VARIANT_URLSAFE);
    out.resize(out.size() - 1);  // the terminating NUL
    return out;
}

std::array<unsigned char, kMac> Mac(const std::array<unsigned char, 16>& key, const unsigned char* data, size_t size) {
    std::array<unsigned char, kMac> mac{};
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data, size, mac.data(), &len);
    return mac;
}

struct CipherFree {
    void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherFree>;

}  // namespace

Result<Fernet> Fernet::FromKeys(std::string_view keys) {
    Fernet f;
    size_t position = 0;
    while (true) {
        const size_t comma = keys.find(',');
        const std::string_view one = Trim(keys.substr(0, comma));
        ++position;
        auto raw = FromBase64Url(one);
        if (one.empty() || !raw || raw->size() != 32) {
            if (raw) sodium_memzero(raw->data(), raw->size());
            return Error::Validation("ENCRYPTION_KEY", "key " + std::to_string(position) +
                                                           " is not a Fernet key (32 bytes in base64url with "
                                                           "padding, 44 characters; make one with gpuopt admin "
                                                           "generate-key)");
        }
        Key k;
        std::copy(raw->begin(), raw->begin() + 16, k.signing.begin());
        std::copy(raw->begin() + 16, raw->end(), k.encryption.begin());
        sodium_memzero(raw->data(), raw->size());
        f.keys_.push_back(k);
        if (comma == std::string_view::npos) break;
        keys.remove_prefix(comma + 1);
    }
    return f;
}

std::string Fernet::GenerateKey() {
    std::array<unsigned char, 32> raw{};
    randombytes_buf(raw.data(), raw.size());
    std::string key = ToBase64Url(raw.data(), raw.size());
    sodium_memzero(raw.data(), raw.size());
    return key;
}

std::string Fernet::Encrypt(std::string_view plain, SysSeconds now) const {
    std::array<unsigned char, 16> iv{};
    randombytes_buf(iv.data(), iv.size());
    return EncryptWith(plain, now.time_since_epoch().count(), iv);
}

std::string Fernet::EncryptWith(std::string_view plain, int64_t timestamp,
                                const std::array<unsigned char, 16>& iv) const {
    const Key& key = keys_.front();
    std::vector<unsigned char> token(kHeader + (plain.size() / kBlock + 1) * kBlock + kMac);
    token[0] = kVersion;
    const auto ts = static_cast<uint64_t>(timestamp);
    for (int i = 0; i < 8; ++i) token[1 + i] = static_cast<unsigned char>(ts >> (56 - 8 * i));
    std::copy(iv.begin(), iv.end(), token.begin() + 9);
    CipherCtx ctx(EVP_CIPHER_CTX_new());
    int n = 0;
    int tail = 0;
    // PKCS #7 padding is EVP's default.
    if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_cbc(), nullptr, key.encryption.data(), iv.data()) != 1 ||
        EVP_EncryptUpdate(ctx.get(), token.data() + kHeader, &n, reinterpret_cast<const unsigned char*>(plain.data()),
                          static_cast<int>(plain.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), token.data() + kHeader + n, &tail) != 1) {
        std::abort();  // only an allocation failure gets here
    }
    const size_t body = kHeader + static_cast<size_t>(n) + static_cast<size_t>(tail);
    const auto mac = Mac(key.signing, token.data(), body);
    std::copy(mac.begin(), mac.end(), token.begin() + static_cast<std::ptrdiff_t>(body));
    token.resize(body + kMac);
    return ToBase64Url(token.data(), token.size());
}

Result<Fernet::Verified> Fernet::Verify(std::string_view token) const {
    auto raw = FromBase64Url(Trim(token));
    if (!raw || raw->size() < kHeader + kBlock + kMac || (raw->size() - kHeader - kMac) % kBlock != 0 ||
        (*raw)[0] != kVersion) {
        return Invalid();
    }
    const size_t body = raw->size() - kMac;
    for (size_t i = 0; i < keys_.size(); ++i) {
        const auto mac = Mac(keys_[i].signing, raw->data(), body);
        if (sodium_memcmp(mac.data(), raw->data() + body, kMac) == 0) return Verified{i, std::move(*raw)};
    }
    return Invalid();
}

Result<std::string> Fernet::Decrypt(std::string_view token, std::optional<std::chrono::seconds> ttl,
                                    SysSeconds now) const {
    auto verified = Verify(token);
    if (!verified) return verified.error();
    const auto& raw = verified->raw;
    if (ttl) {
        uint64_t ts = 0;
        for (int i = 0; i < 8; ++i) ts = (ts << 8) | raw[1 + i];
        const auto stamped = static_cast<int64_t>(ts);
        const int64_t at = now.time_since_epoch().count();
        if (stamped > at + kMaxClockSkew.count() || stamped + ttl->count() < at) return Invalid();
    }
    const Key& key = keys_[verified->key];
    const size_t cipher = raw.size() - kHeader - kMac;
    std::string plain(cipher, '\0');
    CipherCtx ctx(EVP_CIPHER_CTX_new());
    int n = 0;
    int tail = 0;
    if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_128_cbc(), nullptr, key.encryption.data(), raw.data() + 9) != 1 ||
        EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &n, raw.data() + kHeader,
                          static_cast<int>(cipher)) != 1 ||
        EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + n, &tail) != 1) {
        return Invalid();  // a padding error: authentic, but not made by a Fernet writer
    }
    plain.resize(static_cast<size_t>(n) + static_cast<size_t>(tail));
    return plain;
}

Result<std::string> Fernet::Rotate(std::string_view token) const {
    auto verified = Verify(token);
    if (!verified) return verified.error();
    uint64_t ts = 0;
    for (int i = 0; i < 8; ++i) ts = (ts << 8) | verified->raw[1 + i];
    auto plain = Decrypt(token);
    if (!plain) return plain.error();
    std::array<unsigned char, 16> iv{};
    randombytes_buf(iv.data(), iv.size());
    std::string rotated = EncryptWith(*plain, static_cast<int64_t>(ts), iv);
    sodium_memzero(plain->data(), plain->size());
    return rotated;
}

bool Fernet::UnderFirstKey(std::string_view token) const {
    auto verified = Verify(token);
    return verified.ok() && verified->key == 0;
}

}  // namespace gpuopt
