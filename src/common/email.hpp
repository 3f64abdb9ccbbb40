// E-mail address validation for sign-up and configuration.
#pragma once

#include <string>
#include <string_view>

namespace gpuopt {

// True for an address a mail server would accept from a sign-up form: at most 254 characters, a
// dot-atom local part of at most 64 characters (RFC 5322 atext, no leading, trailing or double dots),
// and a domain of at least two DNS labels (letters, digits, inner hyphens, 1..63 characters each)
// whose last label is alphabetic. Quoted local parts and address literals are refused on purpose.
bool IsValidEmail(std::string_view email);

// The form we store and compare: ASCII-lowercased, surrounding whitespace removed.
std::string NormalizeEmail(std::string_view email);

}  // namespace gpuopt
