// NowPayments' IPN signature (SPEC §7): x-nowpayments-sig = hex HMAC-SHA512, keyed with the IPN secret,
// of the body's JSON with keys sorted at every level and no whitespace. Numbers and strings stay exactly
// as they appear in the body ("49.0" stays "49.0", "1e-8" stays "1e-8", "\u00e9" stays as written):
// re-serialising parsed doubles would change the bytes and break the signature.
#pragma once

#include <string>
#include <string_view>

#include "common/result.hpp"

namespace gpuopt::billing {

// The canonical form of a JSON document; kValidation for anything that is not one JSON value.
// Keys are ordered as JavaScript's sort() orders them (by UTF-16 code units of the decoded key).
Result<std::string> CanonicalJson(std::string_view body);

// Lowercase hex of HMAC-SHA512(key, data).
std::string HmacSha512Hex(std::string_view key, std::string_view data);

// True when `signature` (hex, either case) is the signature of `body` under `secret` (trimmed).
bool VerifyNowPaymentsSignature(std::string_view body, std::string_view signature, std::string_view secret);

}  // namespace gpuopt::billing
