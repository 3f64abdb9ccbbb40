// API keys and secret comparison. Thread-safe after InitCrypto() has returned once.
#pragma once

#include <string>
#include <string_view>

namespace gpuopt {

inline constexpr std::string_view kApiKeyPrefix = "gopt_";
inline constexpr size_t kApiKeyRandomChars = 23;
inline constexpr size_t kApiKeyLength = 28;      // "gopt_" + 23 base62 characters
inline constexpr size_t kApiKeyShownPrefix = 9;  // "gopt_" + 4, safe to display and log

// Initialises libsodium. Call once before any other function here; aborts the process if the
// system's random source is unusable (nothing secure can be done without it).
void InitCrypto();

// A new key: "gopt_" followed by 23 characters drawn uniformly from [A-Za-z0-9] (~137 bits).
std::string GenerateApiKey();

// True when `key` has the exact shape of an API key. Cheap; used to reject garbage before lookup.
bool IsWellFormedApiKey(std::string_view key);

// The stored form of a key: hex SHA-256. Keys are 137-bit random strings, so a fast hash is enough
// (docs/decisions/0004-api-key-hashing.md); there is nothing to brute-force.
std::string HashApiKey(std::string_view key);

// `chars` characters drawn uniformly from [A-Za-z0-9] (signing secrets, unsubscribe tokens).
std::string RandomBase62(size_t chars);

// Lower-case hex HMAC-SHA256 of `message` under `key` (outgoing webhook signatures).
std::string HmacSha256Hex(std::string_view key, std::string_view message);

// Compares two secrets in time that depends only on their lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace gpuopt
