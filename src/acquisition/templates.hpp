// Sequence templates: {{name}} is replaced by the variable's value, {{name|fallback}} by the fallback when
// the value is empty. Nothing else is special; a template naming an unknown variable is refused when the
// settings load, never found at send time.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace gpuopt::acquisition {

using TemplateValues = std::map<std::string, std::string, std::less<>>;

std::string Render(std::string_view text, const TemplateValues& values);

// The variables `text` names, or a validation error for a malformed one ("{{" without "}}", an empty name).
Result<std::vector<std::string>> TemplateNames(std::string_view text);

}  // namespace gpuopt::acquisition
