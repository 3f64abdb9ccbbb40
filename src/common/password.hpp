// Operator passwords (decision 0027): argon2id through libsodium's crypto_pwhash_str with its INTERACTIVE
// limits (2 passes, 64 MiB), the string keeping algorithm, parameters and salt; and the rules a new
// password must meet (NIST SP 800-63B: length, not a known or trivial one; no composition rules).
// Hashing takes about 60 ms of one core and 64 MiB: callers run it off the I/O threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace gpuopt::password {

inline constexpr size_t kMinLength = 15;    // characters (bytes of UTF-8 count as they come)
inline constexpr size_t kMaxLength = 1024;  // longer input is refused before it reaches the hash

// The argon2id string for `password`; kInternal when the memory cannot be had.
Result<std::string> Hash(std::string_view password);
// True when `password` matches `hash` (constant time inside libsodium); false for a malformed hash.
bool Verify(std::string_view hash, std::string_view password);
// True when `hash` was made with other limits than today's (rehash it after the next good sign-in).
bool NeedsRehash(std::string_view hash);
// What is wrong with a new password, or nullopt when it is acceptable. `email` is the account's address.
std::optional<std::string> Weakness(std::string_view password, std::string_view email);
// A password for someone who did not choose one: 24 random base62 characters (about 142 bits).
std::string Generate();

// A hash of a password nobody knows, made once: verified when the email is unknown, so that an unknown
// address takes as long to refuse as a wrong password.
const std::string& DummyHash();

}  // namespace gpuopt::password
