#include "store/sql_session.hpp"

#include <charconv>

namespace gpuopt::store {

SqlArgs& SqlArgs::Add(int64_t value) {
    values_.emplace_back(value);
    return *this;
}

SqlArgs& SqlArgs::Add(double value) {
    values_.emplace_back(value);
    return *this;
}

SqlArgs& SqlArgs::Add(std::string_view value) {
    values_.emplace_back(std::string(value));
    return *this;
}

SqlArgs& SqlArgs::AddNull() {
    values_.emplace_back(std::monostate{});
    return *this;
}

const std::string& SqlRows::Text(size_t row, size_t column) const {
    static const std::string kEmpty;
    const auto& v = rows_[row][column];
    return v ? *v : kEmpty;
}

std::optional<int64_t> SqlRows::OptInt(size_t row, size_t column) const {
    const auto& v = rows_[row][column];
    if (!v) return std::nullopt;
    int64_t out = 0;
    const char* end = v->data() + v->size();
    auto [ptr, ec] = std::from_chars(v->data(), end, out);
    if (ec != std::errc() || ptr != end) {
        // A whole number stored in a floating column reads back as "3.0".
        double d = 0;
        auto [dptr, dec] = std::from_chars(v->data(), end, d);
        if (dec != std::errc() || dptr != end) return std::nullopt;
        return static_cast<int64_t>(d);
    }
    return out;
}

int64_t SqlRows::Int(size_t row, size_t column) const { return OptInt(row, column).value_or(0); }

double SqlRows::Double(size_t row, size_t column) const {
    const auto& v = rows_[row][column];
    if (!v) return 0;
    double out = 0;
    auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
    if (ec != std::errc()) return 0;
    return out;
}

SysSeconds SqlRows::Time(size_t row, size_t column) const { return SysSeconds(std::chrono::seconds(Int(row, column))); }

std::optional<SysSeconds> SqlRows::OptTime(size_t row, size_t column) const {
    auto v = OptInt(row, column);
    if (!v) return std::nullopt;
    return SysSeconds(std::chrono::seconds(*v));
}

}  // namespace gpuopt::store
