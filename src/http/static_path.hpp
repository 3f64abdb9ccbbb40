// The pure part of serving static files: turning a request path into a path relative to the web root.
// Kept apart from static_files.cpp (which needs Beast) so that the fuzzer can link it alone.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gpuopt::http {

// Decodes %XX escapes; nullopt for a malformed escape or an encoded NUL or slash.
std::optional<std::string> PercentDecodePath(std::string_view path);

// The decoded `url_path` ("/css/app.css") as a path relative to the web root ("css/app.css"; "" for
// "/"), or nullopt when it is refused: it does not start with '/', an escape is malformed or encodes NUL
// or '/', it holds a backslash or NUL, or a segment is empty ("//"), "." or "..", or hidden (".name").
// A trailing '/' (a folder) is kept. What it returns is never absolute and never leaves the root by
// itself (symlinks are the caller's to check). Thread-safe.
std::optional<std::string> SafeRelativePath(std::string_view url_path);

}  // namespace gpuopt::http
