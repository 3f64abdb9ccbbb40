// Fernet tokens (the public spec at github.com/fernet/spec): what `ENCRYPTION_KEY` encrypts sensitive
// columns with, so that keys made by the usual tools work. A key is 32 bytes in padded base64url: the
// first 16 sign (HMAC-SHA256), the last 16 encrypt (AES-128-CBC). A token is base64url of
// 0x80 ‖ timestamp (8 bytes, big-endian seconds) ‖ IV (16) ‖ ciphertext ‖ HMAC (32 bytes) over the rest.
//
// Several keys may be given (comma-separated, newest first): the first encrypts and every one decrypts,
// as Python's MultiFernet; Rotate re-encrypts a token with the first key, keeping its timestamp.
//
// Decryption checks the length, the version byte and the HMAC (in constant time) before it decrypts, and
// every failure is the same error: nothing tells a caller which check failed.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "common/time.hpp"

namespace gpuopt {

class Fernet {
public:
    // `keys`: one key or several separated by commas (spaces around them are ignored). kValidation naming
    // the position of a key that is not 32 bytes of padded base64url; never echoes a key.
    static Result<Fernet> FromKeys(std::string_view keys);
    // A new random key, in the form FromKeys takes.
    static std::string GenerateKey();

    // A token for `plain`, stamped `now`, with a random IV, under the first key.
    std::string Encrypt(std::string_view plain, SysSeconds now) const;
    // The same with a given timestamp and IV (the spec's test vectors; Rotate).
    std::string EncryptWith(std::string_view plain, int64_t timestamp, const std::array<unsigned char, 16>& iv) const;

    // The plaintext of a token made under any of the keys. With `ttl`, a token older than that at `now`,
    // or stamped more than 60 s after `now`, is refused too (data at rest is read without one).
    Result<std::string> Decrypt(std::string_view token, std::optional<std::chrono::seconds> ttl = std::nullopt,
                                SysSeconds now = {}) const;
    // The token re-encrypted under the first key with its original timestamp and a fresh IV.
    Result<std::string> Rotate(std::string_view token) const;
    // Whether the token was made under the first key (nothing left to rotate).
    bool UnderFirstKey(std::string_view token) const;

    size_t key_count() const { return keys_.size(); }

private:
    struct Key {
        std::array<unsigned char, 16> signing{};
        std::array<unsigned char, 16> encryption{};
    };
    // The raw token of a verified token: which key verified it, and its bytes.
    struct Verified {
        size_t key = 0;
        std::vector<unsigned char> raw;
    };
    Result<Verified> Verify(std::string_view token) const;

    std::vector<Key> keys_;
};

}  // namespace gpuopt
