#include "http/query.hpp"

namespace gpuopt::http {

namespace {

int Hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool Decode(std::string_view in, std::string& out) {
    out.clear();
    for (size_t i = 0; i < in.size(); ++i) {
        char c = in[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= in.size()) return false;
            const int hi = Hex(in[i + 1]), lo = Hex(in[i + 2]);
            if (hi < 0 || lo < 0) return false;
            c = static_cast<char>(hi * 16 + lo);
            i += 2;
        }
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
        out += c;
    }
    return true;
}

}  // namespace

Result<std::map<std::string, std::string>> ParseQuery(std::string_view query) {
    std::map<std::string, std::string> out;
    size_t start = 0;
    while (start < query.size()) {
        size_t end = query.find('&', start);
        if (end == std::string_view::npos) end = query.size();
        const std::string_view pair = query.substr(start, end - start);
        start = end + 1;
        if (pair.empty()) continue;
        const size_t eq = pair.find('=');
        std::string name, value;
        if (!Decode(pair.substr(0, eq), name) ||
            (eq != std::string_view::npos && !Decode(pair.substr(eq + 1), value))) {
            return Error::Validation("query", "is not a valid query string");
        }
        if (out.size() >= 32) return Error::Validation("query", "has too many parameters");
        if (!out.emplace(std::move(name), std::move(value)).second) {
            return Error::Validation("query", "repeats a parameter");
        }
    }
    return out;
}

}  // namespace gpuopt::http
