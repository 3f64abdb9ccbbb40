#include "common/tier.hpp"

#include <ostream>

namespace gpuopt {

std::ostream& operator<<(std::ostream& os, Tier t) { return os << NameOf(t); }

}  // namespace gpuopt
