// Sensitive columns at rest (decision 0026): customer webhook URLs, outgoing-webhook secrets, TOTP secrets
// and raw gateway payloads are stored as Fernet tokens under ENCRYPTION_KEY, and in clear when it is not
// set (the server says so at start-up). A column may hold both while a key is being introduced: a value
// that is not a token reads as it is, and `gpuopt admin rotate-encryption` seals the rest.
#pragma once

#include <string>
#include <string_view>

#include "common/result.hpp"
#include "common/time.hpp"

namespace gpuopt::at_rest {

// True when `stored` has the form of a Fernet token (version byte 0x80, so it starts "gAAAAA"), which no
// URL, secret or JSON document stored in clear does.
bool IsSealed(std::string_view stored);

// What to store for `plain`: a token under the first of `keys` (ENCRYPTION_KEY), or `plain` itself when
// `keys` is empty.
Result<std::string> Seal(std::string_view keys, std::string_view plain, SysSeconds now);

// The value a stored one stands for: a token opened with any of `keys`, or a value stored in clear as it
// is. kInternal, naming no value, when a token opens with none of the keys (a key was dropped too soon).
Result<std::string> Open(std::string_view keys, std::string_view stored);

// The stored value sealed under the first key: a clear value sealed, a token under an older key
// re-encrypted (keeping its time). Unchanged when it is already under the first key or `keys` is empty.
Result<std::string> Reseal(std::string_view keys, std::string_view stored, SysSeconds now);

}  // namespace gpuopt::at_rest
