// Time-based one-time passwords (RFC 6238 over RFC 4226), as authenticator apps make them: HMAC-SHA1,
// six digits, 30-second steps, a 20-byte secret shown to the user in base32 (RFC 4648). The operator's
// second factor (decision 0027).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/time.hpp"

namespace gpuopt::totp {

inline constexpr int kDigits = 6;
inline constexpr int64_t kStepSeconds = 30;

// 20 random bytes in base32 without padding (32 characters): what an authenticator app is given.
std::string GenerateSecret();

// RFC 4648 base32 without padding, upper case.
std::string EncodeBase32(std::string_view bytes);
// Decodes base32, ignoring case, spaces and trailing '='; nullopt for any other character.
std::optional<std::string> DecodeBase32(std::string_view text);

// The step (RFC 6238's T) that `now` falls in.
int64_t StepAt(SysSeconds now);

// The HOTP value of `key` (raw bytes) at `counter`, `digits` long with leading zeros.
std::string Hotp(std::string_view key, int64_t counter, int digits = kDigits);

// The step in {T-1, T, T+1} whose code is `code` (every candidate compared in constant time), or nullopt.
// `secret` is in base32. The caller still has to refuse a step it accepted before (replay).
std::optional<int64_t> Match(std::string_view secret, std::string_view code, SysSeconds now);

// The otpauth:// URI an authenticator app reads (as a QR code or a link): issuer, account, secret.
std::string ProvisioningUri(std::string_view issuer, std::string_view account, std::string_view secret);

}  // namespace gpuopt::totp
