// The query string of a request target, decoded ("a=1&b=x%20y" -> {a: 1, b: "x y"}).
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace gpuopt::http {

// Percent-decodes names and values ('+' is a space). A malformed escape, a control character, a name
// given twice or more than 32 parameters is a validation error naming "query".
Result<std::map<std::string, std::string>> ParseQuery(std::string_view query);

}  // namespace gpuopt::http
