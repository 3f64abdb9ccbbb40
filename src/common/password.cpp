#include "common/password.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "common/crypto.hpp"

namespace gpuopt::password {

namespace {

// Long passwords that lists of leaked ones are full of: refused whatever the length rule says.
constexpr std::array<std::string_view, 12> kKnown = {"passwordpassword", "password1234567",  "password12345678",
                                                     "123456789012345",  "1234567890123456", "qwertyuiopasdfgh",
                                                     "qwertyuiop123456", "aaaaaaaaaaaaaaa",  "iloveyouiloveyou",
                                                     "adminadminadmin",  "administrator123", "gpuoptimizer1234"};

std::string Lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

}  // namespace

Result<std::string> Hash(std::string_view password) {
    std::array<char, crypto_pwhash_STRBYTES> out{};
    if (crypto_pwhash_str(out.data(), password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        return Error{ErrorCode::kInternal, "out of memory hashing a password", {}};
    }
    return std::string(out.data());
}

bool Verify(std::string_view hash, std::string_view password) {
    if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES) return false;
    std::array<char, crypto_pwhash_STRBYTES> str{};
    std::copy(hash.begin(), hash.end(), str.begin());
    return crypto_pwhash_str_verify(str.data(), password.data(), password.size()) == 0;
}

bool NeedsRehash(std::string_view hash) {
    if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES) return true;
    std::array<char, crypto_pwhash_STRBYTES> str{};
    std::copy(hash.begin(), hash.end(), str.begin());
    return crypto_pwhash_str_needs_rehash(str.data(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0;
}

std::optional<std::string> Weakness(std::string_view password, std::string_view email) {
    if (password.size() > kMaxLength) return "must be at most " + std::to_string(kMaxLength) + " characters";
    if (password.size() < kMinLength) return "must be at least " + std::to_string(kMinLength) + " characters";
    const std::string lower = Lower(password);
    if (std::all_of(lower.begin(), lower.end(), [&](char c) { return c == lower.front(); }))
        return "must not be one character repeated";
    if (std::find(kKnown.begin(), kKnown.end(), lower) != kKnown.end()) return "is on the list of leaked passwords";
    const std::string address = Lower(email);
    const std::string local = address.substr(0, address.find('@'));
    if (!address.empty() && (lower == address || (local.size() >= 4 && lower.find(local) != std::string::npos)))
        return "must not contain the email address";
    return std::nullopt;
}

std::string Generate() { return RandomBase62(24); }

const std::string& DummyHash() {
    static const std::string hash = [] {
        auto made = Hash(RandomBase62(24));
        return made ? *made : std::string();
    }();
    return hash;
}

}  // namespace gpuopt::password
