// Reading fields of the gateways' JSON answers, which write the same value as a number in one place
// and as text in another. Internal to src/billing.
#pragma once

#include <boost/json/object.hpp>

#include <cstdlib>
#include <string>
#include <string_view>

#include "common/json.hpp"

namespace gpuopt::billing::detail {

// A field as text: strings as they are, integers in decimal, other numbers as JSON writes them; "" when
// absent or of another type.
inline std::string Text(const boost::json::object& o, std::string_view key) {
    const boost::json::value* v = o.if_contains(key);
    if (v == nullptr) return {};
    if (v->is_string()) return std::string(v->get_string());
    if (v->is_int64()) return std::to_string(v->get_int64());
    if (v->is_uint64()) return std::to_string(v->get_uint64());
    if (v->is_double()) return ToJson(*v);
    return {};
}

// A field as a number, from a JSON number or a numeric string; 0 when absent or unreadable.
inline double Number(const boost::json::object& o, std::string_view key) {
    const boost::json::value* v = o.if_contains(key);
    if (v == nullptr) return 0;
    if (v->is_number()) return v->to_number<double>();
    if (v->is_string()) return std::strtod(std::string(v->get_string()).c_str(), nullptr);
    return 0;
}

}  // namespace gpuopt::billing::detail
