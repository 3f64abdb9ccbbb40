#include "acquisition/templates.hpp"

namespace gpuopt::acquisition {

namespace {

std::string_view Trim(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
}

// Calls `found(name, fallback)` for each {{...}} and `text(part)` for what lies between; false when a
// placeholder is malformed.
template <class Text, class Found>
bool Walk(std::string_view in, Text text, Found found) {
    size_t pos = 0;
    while (pos < in.size()) {
        const size_t open = in.find("{{", pos);
        if (open == std::string_view::npos) {
            text(in.substr(pos));
            return true;
        }
        text(in.substr(pos, open - pos));
        const size_t close = in.find("}}", open + 2);
        if (close == std::string_view::npos) return false;
        std::string_view inside = in.substr(open + 2, close - open - 2);
        std::string_view fallback;
        if (const size_t bar = inside.find('|'); bar != std::string_view::npos) {
            fallback = inside.substr(bar + 1);
            inside = inside.substr(0, bar);
        }
        inside = Trim(inside);
        if (inside.empty()) return false;
        found(inside, fallback);
        pos = close + 2;
    }
    return true;
}

}  // namespace

std::string Render(std::string_view text, const TemplateValues& values) {
    std::string out;
    out.reserve(text.size());
    Walk(
        text, [&](std::string_view part) { out.append(part); },
        [&](std::string_view name, std::string_view fallback) {
            auto it = values.find(name);
            if (it != values.end() && !it->second.empty()) {
                out.append(it->second);
            } else {
                out.append(fallback);
            }
        });
    return out;
}

Result<std::vector<std::string>> TemplateNames(std::string_view text) {
    std::vector<std::string> names;
    const bool ok = Walk(
        text, [](std::string_view) {}, [&](std::string_view name, std::string_view) { names.emplace_back(name); });
    if (!ok) return Error::Validation("template", "has a {{ without its }}, or an empty {{ }}");
    return names;
}

}  // namespace gpuopt::acquisition
