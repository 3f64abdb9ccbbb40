#include "http/static_path.hpp"

namespace gpuopt::http {

std::optional<std::string> PercentDecodePath(std::string_view path) {
    std::string out;
    out.reserve(path.size());
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (size_t i = 0; i < path.size(); ++i) {
        if (path[i] != '%') {
            out.push_back(path[i]);
            continue;
        }
        if (i + 2 >= path.size()) return std::nullopt;
        const int hi = hex(path[i + 1]);
        const int lo = hex(path[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        const char c = static_cast<char>(hi * 16 + lo);
        if (c == '\0' || c == '/') return std::nullopt;
        out.push_back(c);
        i += 2;
    }
    return out;
}

std::optional<std::string> SafeRelativePath(std::string_view url_path) {
    auto decoded = PercentDecodePath(url_path);
    if (!decoded || decoded->empty() || decoded->front() != '/') return std::nullopt;
    std::string rel = decoded->substr(1);
    if (rel.find('\\') != std::string::npos || rel.find('\0') != std::string::npos) return std::nullopt;
    // Every segment must be a plain name: no "", ".", ".." or hidden files.
    if (!rel.empty()) {
        size_t start = 0;
        while (start <= rel.size()) {
            const size_t slash = rel.find('/', start);
            const std::string seg = rel.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
            if (seg.empty() && slash == std::string::npos) break;  // trailing slash: folder
            if (seg.empty() || seg.front() == '.') return std::nullopt;
            if (slash == std::string::npos) break;
            start = slash + 1;
        }
    }
    return rel;
}

}  // namespace gpuopt::http
