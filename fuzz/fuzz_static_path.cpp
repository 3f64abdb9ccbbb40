// Request paths of the static files (http/static_path.hpp): whatever SafeRelativePath accepts is a
// relative path that stays under the web root: no NUL or backslash, not absolute, and no empty, "."
// or ".." segment (nor any hidden name), so root / path never climbs out, even lexically.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "http/static_path.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view url_path(reinterpret_cast<const char*>(data), size);

    if (const auto decoded = gpuopt::http::PercentDecodePath(url_path)) {
        if (decoded->size() > url_path.size()) std::abort();
        if (url_path.find('%') == std::string_view::npos && *decoded != url_path) std::abort();
    }

    const auto rel = gpuopt::http::SafeRelativePath(url_path);
    if (!rel) return 0;
    if (url_path.empty() || url_path.front() != '/') std::abort();
    if (rel->find('\0') != std::string::npos || rel->find('\\') != std::string::npos) std::abort();
    if (!rel->empty() && rel->front() == '/') std::abort();
    size_t start = 0;
    while (start < rel->size()) {
        size_t slash = rel->find('/', start);
        if (slash == std::string::npos) slash = rel->size();
        const std::string_view seg = std::string_view(*rel).substr(start, slash - start);
        if (seg.empty() || seg.front() == '.') std::abort();  // covers "", "." and ".."
        start = slash + 1;
    }
    const std::filesystem::path root = "/srv/web";
    const std::filesystem::path path(*rel);
    if (path.is_absolute() || path.has_root_path()) std::abort();
    const std::filesystem::path joined = (root / path).lexically_normal();
    const auto rel_to_root = joined.lexically_relative(root);
    if (rel_to_root.empty() || *rel_to_root.begin() == "..") std::abort();
    return 0;
}
