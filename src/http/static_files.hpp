// Serves the files under web/. Refuses anything that could leave that folder: encoded or plain "..",
// backslashes, NUL bytes, hidden files and symlinks that point outside. Thread-safe (reads only).
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

#include "http/static_path.hpp"
#include "http/types.hpp"

namespace gpuopt::http {

std::string_view MimeTypeFor(std::string_view extension);

class StaticFiles {
public:
    explicit StaticFiles(std::filesystem::path root);

    // The file for a GET of `path` ("/" and folders mean their index.html), or nullopt when there is no
    // such file or the path is refused. The response carries Content-Type and caching headers.
    std::optional<Response> Serve(std::string_view path, unsigned version) const;

private:
    std::filesystem::path root_;
};

}  // namespace gpuopt::http
