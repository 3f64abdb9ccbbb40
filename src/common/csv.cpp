#include "common/csv.hpp"

#include <cmath>
#include <cstdio>

namespace gpuopt::csv {

std::string Text(std::string_view value) {
    std::string cell;
    cell.reserve(value.size() + 3);
    if (!value.empty() && (value.front() == '=' || value.front() == '+' || value.front() == '-' ||
                           value.front() == '@' || value.front() == '\t' || value.front() == '\r')) {
        cell.push_back('\'');
    }
    cell.append(value);
    if (cell.find_first_of(",\"\r\n") == std::string::npos) return cell;
    std::string quoted = "\"";
    for (char c : cell) {
        if (c == '"') quoted.push_back('"');
        quoted.push_back(c);
    }
    quoted.push_back('"');
    return quoted;
}

std::string Number(double value) {
    if (!std::isfinite(value)) return "";
    char buf[64];
    // Money and rates: up to 6 decimals, trailing zeros dropped.
    const int n = std::snprintf(buf, sizeof buf, "%.6f", value);
    std::string out(buf, n > 0 ? static_cast<size_t>(n) : 0);
    if (out.find('.') != std::string::npos) {
        while (!out.empty() && out.back() == '0') out.pop_back();
        if (!out.empty() && out.back() == '.') out.pop_back();
    }
    if (out == "-0") out = "0";
    return out;
}

std::string Number(long long value) { return std::to_string(value); }

void AppendRow(std::string& out, std::initializer_list<std::string> cells) {
    bool first = true;
    for (const auto& cell : cells) {
        if (!first) out.push_back(',');
        out.append(cell);
        first = false;
    }
    out.append("\r\n");
}

}  // namespace gpuopt::csv
