#include "common/email.hpp"

#include <cctype>

namespace gpuopt {

namespace {

bool IsAtext(unsigned char c) {
    if (std::isalnum(c)) return true;
    switch (c) {
        case '!':
        case '#':
        case '$':
        case '%':
        case '&':
        case '\'':
        case '*':
        case '+':
        case '-':
        case '/':
        case '=':
        case '?':
        case '^':
        case '_':
        case '`':
        case '{':
        case '|':
        case '}':
        case '~':
            return true;
        default:
            return false;
    }
}

bool IsValidLabel(std::string_view label) {
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (unsigned char c : label) {
        if (!std::isalnum(c) && c != '-') return false;
    }
    return true;
}

}  // namespace

bool IsValidEmail(std::string_view email) {
    if (email.size() < 6 || email.size() > 254) return false;
    const size_t at = email.rfind('@');
    if (at == std::string_view::npos || email.find('@') != at) return false;
    const std::string_view local = email.substr(0, at);
    const std::string_view domain = email.substr(at + 1);
    if (local.empty() || local.size() > 64 || local.front() == '.' || local.back() == '.') return false;
    char prev = 0;
    for (char c : local) {
        if (c == '.' && prev == '.') return false;
        if (c != '.' && !IsAtext(static_cast<unsigned char>(c))) return false;
        prev = c;
    }
    if (domain.size() < 4 || domain.size() > 253) return false;
    size_t labels = 0;
    size_t start = 0;
    std::string_view last;
    while (start <= domain.size()) {
        const size_t dot = domain.find('.', start);
        const std::string_view label = domain.substr(start, dot == std::string_view::npos ? dot : dot - start);
        if (!IsValidLabel(label)) return false;
        ++labels;
        last = label;
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    if (labels < 2 || last.size() < 2) return false;
    for (unsigned char c : last) {
        if (!std::isalpha(c)) return false;
    }
    return true;
}

std::string NormalizeEmail(std::string_view email) {
    while (!email.empty() && std::isspace(static_cast<unsigned char>(email.front()))) email.remove_prefix(1);
    while (!email.empty() && std::isspace(static_cast<unsigned char>(email.back()))) email.remove_suffix(1);
    std::string out(email);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace gpuopt
