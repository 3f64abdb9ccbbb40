// The plans a customer can be on (SPEC §7). Stored and sent as their names ("free", "professional",
// "enterprise"); inside the program a Tier.
#pragma once

#include <array>
#include <iosfwd>
#include <optional>
#include <string_view>

namespace gpuopt {

enum class Tier { kFree, kProfessional, kEnterprise };

inline constexpr std::array<Tier, 3> kTiers = {Tier::kFree, Tier::kProfessional, Tier::kEnterprise};

constexpr std::string_view NameOf(Tier t) {
    switch (t) {
        case Tier::kFree:
            return "free";
        case Tier::kProfessional:
            return "professional";
        case Tier::kEnterprise:
            return "enterprise";
    }
    return "free";
}

// nullopt for a name that is no plan (input to check, not trust).
constexpr std::optional<Tier> TierNamed(std::string_view name) {
    for (Tier t : kTiers) {
        if (NameOf(t) == name) return t;
    }
    return std::nullopt;
}

// A tier the store wrote itself as NameOf: the free plan for anything else (the accounts table's CHECK
// admits only the three names).
constexpr Tier StoredTier(std::string_view name) { return TierNamed(name).value_or(Tier::kFree); }

// Writes the name (log lines, test failures).
std::ostream& operator<<(std::ostream& os, Tier t);

}  // namespace gpuopt
