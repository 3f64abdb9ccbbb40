#include "common/json.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <charconv>
#include <cmath>

namespace gpuopt {

namespace {

// Boost.JSON turns a number too large for a double into infinity; we do not accept those.
bool HasNonFinite(const boost::json::value& v) {
    switch (v.kind()) {
        case boost::json::kind::double_:
            return !std::isfinite(v.get_double());
        case boost::json::kind::array:
            for (const auto& e : v.get_array()) {
                if (HasNonFinite(e)) return true;
            }
            return false;
        case boost::json::kind::object:
            for (const auto& kv : v.get_object()) {
                if (HasNonFinite(kv.value())) return true;
            }
            return false;
        default:
            return false;
    }
}

}  // namespace

Result<boost::json::value> ParseJson(std::string_view text, size_t max_depth, boost::json::storage_ptr storage) {
    boost::json::parse_options opts;
    opts.max_depth = max_depth;
    opts.allow_comments = false;
    opts.allow_trailing_commas = false;
    opts.allow_invalid_utf8 = false;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(text, ec, std::move(storage), opts);
    if (ec) {
        if (ec == boost::json::error::too_deep) {
            return Error::Validation("body", "JSON nesting is deeper than " + std::to_string(max_depth) + " levels");
        }
        return Error::Validation("body", "malformed JSON: " + ec.message());
    }
    if (HasNonFinite(v)) return Error::Validation("body", "numbers must be finite");
    return v;
}

namespace {

void Write(std::string& out, const boost::json::value& v) {
    switch (v.kind()) {
        case boost::json::kind::null:
            out += "null";
            return;
        case boost::json::kind::bool_:
            out += v.get_bool() ? "true" : "false";
            return;
        case boost::json::kind::int64:
            out += std::to_string(v.get_int64());
            return;
        case boost::json::kind::uint64:
            out += std::to_string(v.get_uint64());
            return;
        case boost::json::kind::double_: {
            // Shortest round-trip form in plain notation where it is short ("1101.6", not "1.1016E3").
            const double d = v.get_double();
            if (!std::isfinite(d)) {
                out += "null";
                return;
            }
            char buf[64];
            auto res = std::to_chars(buf, buf + sizeof buf, d);
            out.append(buf, res.ptr);
            return;
        }
        case boost::json::kind::string:
            out += boost::json::serialize(v.get_string());
            return;
        case boost::json::kind::array: {
            out += '[';
            bool first = true;
            for (const auto& e : v.get_array()) {
                if (!first) out += ',';
                first = false;
                Write(out, e);
            }
            out += ']';
            return;
        }
        case boost::json::kind::object: {
            out += '{';
            bool first = true;
            for (const auto& kv : v.get_object()) {
                if (!first) out += ',';
                first = false;
                out += boost::json::serialize(boost::json::string_view(kv.key()));
                out += ':';
                Write(out, kv.value());
            }
            out += '}';
            return;
        }
    }
}

}  // namespace

std::string ToJson(const boost::json::value& v) {
    std::string out;
    out.reserve(256);
    Write(out, v);
    return out;
}

}  // namespace gpuopt
