#include "http/static_files.hpp"

#include <fstream>
#include <sstream>

namespace gpuopt::http {

std::string_view MimeTypeFor(std::string_view ext) {
    struct Entry {
        std::string_view ext, type;
    };
    static constexpr Entry kTypes[] = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".webp", "image/webp"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
        {".woff", "font/woff"},
        {".map", "application/json"},
        {".webmanifest", "application/manifest+json"},
    };
    for (const auto& e : kTypes) {
        if (e.ext == ext) return e.type;
    }
    return "application/octet-stream";
}

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

StaticFiles::StaticFiles(std::filesystem::path root) {
    std::error_code ec;
    root_ = std::filesystem::weakly_canonical(root, ec);
    if (ec) root_ = std::move(root);
}

std::optional<Response> StaticFiles::Serve(std::string_view raw_path, unsigned version) const {
    auto decoded = PercentDecodePath(raw_path);
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
    std::error_code ec;
    std::filesystem::path file = root_ / rel;
    if (std::filesystem::is_directory(file, ec)) file /= "index.html";
    const auto canonical = std::filesystem::weakly_canonical(file, ec);
    if (ec) return std::nullopt;
    // A symlink may not lead outside the root.
    const auto [root_end, nothing] = std::mismatch(root_.begin(), root_.end(), canonical.begin(), canonical.end());
    if (root_end != root_.end()) return std::nullopt;
    if (!std::filesystem::is_regular_file(canonical, ec)) return std::nullopt;

    std::ifstream in(canonical, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream content;
    content << in.rdbuf();

    Response res{bhttp::status::ok, version};
    res.set(bhttp::field::content_type, MimeTypeFor(canonical.extension().string()));
    res.set(bhttp::field::cache_control, canonical.extension() == ".html" ? "no-cache" : "public, max-age=300");
    res.body() = std::move(content).str();
    res.prepare_payload();
    return res;
}

}  // namespace gpuopt::http
