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

StaticFiles::StaticFiles(std::filesystem::path root) {
    std::error_code ec;
    root_ = std::filesystem::weakly_canonical(root, ec);
    if (ec) root_ = std::move(root);
}

std::optional<Response> StaticFiles::Serve(std::string_view raw_path, unsigned version) const {
    const auto rel = SafeRelativePath(raw_path);
    if (!rel) return std::nullopt;
    std::error_code ec;
    std::filesystem::path file = root_ / *rel;
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
