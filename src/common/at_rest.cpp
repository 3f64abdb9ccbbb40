#include "common/at_rest.hpp"

#include <map>
#include <memory>
#include <mutex>

#include "common/fernet.hpp"

namespace gpuopt::at_rest {

namespace {

// The parsed keys, kept: the same ENCRYPTION_KEY is read for every value.
Result<std::shared_ptr<const Fernet>> KeysFor(std::string_view keys) {
    static std::mutex mu;
    static std::map<std::string, std::shared_ptr<const Fernet>, std::less<>> parsed;
    const std::lock_guard lock(mu);
    if (auto it = parsed.find(keys); it != parsed.end()) return it->second;
    auto made = Fernet::FromKeys(keys);
    if (!made) return made.error();
    auto shared = std::make_shared<const Fernet>(std::move(*made));
    if (parsed.size() > 8) parsed.clear();  // keys change only with a restart; bounded whatever happens
    parsed.emplace(std::string(keys), shared);
    return shared;
}

Error Unreadable() {
    return Error{ErrorCode::kInternal,
                 "a value encrypted at rest opens with none of the ENCRYPTION_KEY keys (was a key removed before "
                 "`gpuopt admin rotate-encryption` ran?)",
                 {}};
}

}  // namespace

bool IsSealed(std::string_view stored) { return stored.size() >= 100 && stored.starts_with("gAAAAA"); }

Result<std::string> Seal(std::string_view keys, std::string_view plain, SysSeconds now) {
    if (keys.empty()) return std::string(plain);
    auto fernet = KeysFor(keys);
    if (!fernet) return fernet.error();
    return (*fernet)->Encrypt(plain, now);
}

Result<std::string> Open(std::string_view keys, std::string_view stored) {
    if (!IsSealed(stored)) return std::string(stored);
    if (keys.empty()) return Unreadable();
    auto fernet = KeysFor(keys);
    if (!fernet) return fernet.error();
    auto plain = (*fernet)->Decrypt(stored);
    if (!plain) return Unreadable();
    return plain;
}

Result<std::string> Reseal(std::string_view keys, std::string_view stored, SysSeconds now) {
    if (keys.empty()) return std::string(stored);
    auto fernet = KeysFor(keys);
    if (!fernet) return fernet.error();
    if (!IsSealed(stored)) return (*fernet)->Encrypt(stored, now);
    if ((*fernet)->UnderFirstKey(stored)) return std::string(stored);
    auto rotated = (*fernet)->Rotate(stored);
    if (!rotated) return Unreadable();
    return rotated;
}

}  // namespace gpuopt::at_rest
