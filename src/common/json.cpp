#include "common/json.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_stack.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <deque>
#include <string>
#include <vector>

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

// Boost.JSON's own parser keeps the last of two equal keys; untrusted input with a repeated key is
// ambiguous (another reader may take the first), so this handler builds the same value and refuses one.
struct StrictHandler {
    static constexpr std::size_t max_object_size = boost::json::object::max_size();
    static constexpr std::size_t max_array_size = boost::json::array::max_size();
    static constexpr std::size_t max_key_size = boost::json::string::max_size();
    static constexpr std::size_t max_string_size = boost::json::string::max_size();

    explicit StrictHandler(std::string_view input) : input_(input) {}

    boost::json::value_stack st;
    std::string duplicate;  // the first repeated key found

    bool on_document_begin(boost::system::error_code&) { return true; }
    bool on_document_end(boost::system::error_code&) { return true; }
    bool on_object_begin(boost::system::error_code&) {
        starts_.push_back(keys_.size());
        return true;
    }
    bool on_object_end(std::size_t n, boost::system::error_code& ec) {
        const size_t start = starts_.back();
        starts_.pop_back();
        if (!Unique(start)) {
            ec = boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
            return false;
        }
        keys_.resize(start);
        st.push_object(n);
        return true;
    }
    bool on_array_begin(boost::system::error_code&) { return true; }
    bool on_array_end(std::size_t n, boost::system::error_code&) {
        st.push_array(n);
        return true;
    }
    bool on_key_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
        st.push_chars(s);
        key_part_.append(s.data(), s.size());
        return true;
    }
    bool on_key(boost::json::string_view s, std::size_t, boost::system::error_code&) {
        st.push_key(s);
        const std::string_view view(s.data(), s.size());
        const bool in_input = key_part_.empty() && view.data() >= input_.data() &&
                              view.data() + view.size() <= input_.data() + input_.size();
        if (in_input) {
            keys_.push_back(view);  // most keys: a view of the input, no copy
        } else {
            key_part_.append(view);
            keys_.push_back(owned_.emplace_back(std::move(key_part_)));
            key_part_.clear();
        }
        return true;
    }
    bool on_string_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
        st.push_chars(s);
        return true;
    }
    bool on_string(boost::json::string_view s, std::size_t, boost::system::error_code&) {
        st.push_string(s);
        return true;
    }
    bool on_number_part(boost::json::string_view, boost::system::error_code&) { return true; }
    bool on_int64(std::int64_t i, boost::json::string_view, boost::system::error_code&) {
        st.push_int64(i);
        return true;
    }
    bool on_uint64(std::uint64_t u, boost::json::string_view, boost::system::error_code&) {
        st.push_uint64(u);
        return true;
    }
    bool on_double(double d, boost::json::string_view, boost::system::error_code&) {
        st.push_double(d);
        return true;
    }
    bool on_bool(bool b, boost::system::error_code&) {
        st.push_bool(b);
        return true;
    }
    bool on_null(boost::system::error_code&) {
        st.push_null();
        return true;
    }
    bool on_comment_part(boost::json::string_view, boost::system::error_code&) { return true; }
    bool on_comment(boost::json::string_view, boost::system::error_code&) { return true; }

private:
    bool Unique(size_t start) {
        const size_t count = keys_.size() - start;
        if (count <= 16) {
            for (size_t i = start; i < keys_.size(); ++i) {
                for (size_t j = i + 1; j < keys_.size(); ++j) {
                    if (keys_[i] == keys_[j]) {
                        duplicate = std::string(keys_[i]);
                        return false;
                    }
                }
            }
            return true;
        }
        std::vector<std::string_view> sorted(keys_.begin() + static_cast<std::ptrdiff_t>(start), keys_.end());
        std::sort(sorted.begin(), sorted.end());
        auto at = std::adjacent_find(sorted.begin(), sorted.end());
        if (at == sorted.end()) return true;
        duplicate = std::string(*at);
        return false;
    }

    std::string_view input_;
    std::vector<std::string_view> keys_;  // of the objects open now, innermost last
    std::vector<size_t> starts_;          // where each open object's keys begin in keys_
    std::deque<std::string> owned_;       // keys that are not a plain view of the input (escapes)
    std::string key_part_;
};

}  // namespace

Result<boost::json::value> ParseJson(std::string_view text, size_t max_depth, boost::json::storage_ptr storage) {
    boost::json::parse_options opts;
    opts.max_depth = max_depth;
    opts.allow_comments = false;
    opts.allow_trailing_commas = false;
    opts.allow_invalid_utf8 = false;
    boost::json::basic_parser<StrictHandler> parser(opts, text);
    parser.handler().st.reset(std::move(storage));
    boost::system::error_code ec;
    const size_t used = parser.write_some(false, text.data(), text.size(), ec);
    if (!ec && used < text.size()) ec = boost::json::error::extra_data;
    if (!ec && !parser.done()) ec = boost::json::error::incomplete;
    if (ec) {
        if (!parser.handler().duplicate.empty()) {
            std::string key = parser.handler().duplicate.substr(0, 64);
            for (auto& c : key) {
                if (static_cast<unsigned char>(c) < 0x20) c = ' ';
            }
            return Error::Validation("body", "JSON object repeats the key \"" + key + "\"");
        }
        if (ec == boost::json::error::too_deep) {
            return Error::Validation("body", "JSON nesting is deeper than " + std::to_string(max_depth) + " levels");
        }
        return Error::Validation("body", "malformed JSON: " + ec.message());
    }
    boost::json::value v = parser.handler().st.release();
    if (HasNonFinite(v)) return Error::Validation("body", "numbers must be finite");
    return v;
}

void AppendJsonNumber(std::string& out, double d) {
    // Shortest round-trip form in plain notation where it is short ("1101.6", not "1.1016E3").
    if (!std::isfinite(d)) {
        out += "null";
        return;
    }
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, d);
    out.append(buf, res.ptr);
}

void AppendJsonString(std::string& out, std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += '"';
    size_t plain = 0;  // the start of the run of characters that need no escape
    for (size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(s.data() + plain, i - plain);
        plain = i + 1;
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            default:
                out += "\\u00";
                out += kHex[c >> 4];
                out += kHex[c & 0xF];
        }
    }
    out.append(s.data() + plain, s.size() - plain);
    out += '"';
}

void JsonWriter::Separate() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (!first_) out_ += ',';
    first_ = false;
}

JsonWriter& JsonWriter::Open(char c) {
    Separate();
    out_ += c;
    first_ = true;
    return *this;
}

JsonWriter& JsonWriter::Close(char c) {
    out_ += c;
    first_ = false;
    return *this;
}

JsonWriter& JsonWriter::Key(std::string_view key) {
    Separate();
    if (std::all_of(key.begin(), key.end(), [](char c) { return c >= 0x20 && c != '"' && c != '\\'; })) {
        // The usual key, a plain word: quoted as it is, in one append.
        out_ += '"';
        out_.append(key);
        out_.append("\":", 2);
    } else {
        AppendJsonString(out_, key);
        out_ += ':';
    }
    after_key_ = true;
    return *this;
}

JsonWriter& JsonWriter::String(std::string_view v) {
    Separate();
    AppendJsonString(out_, v);
    return *this;
}

JsonWriter& JsonWriter::Number(double v) {
    Separate();
    AppendJsonNumber(out_, v);
    return *this;
}

void AppendJsonFixed(std::string& out, double v, int digits) {
    static constexpr std::array<int64_t, 10> kPow{1,      10,      100,      1000,      10000,
                                                  100000, 1000000, 10000000, 100000000, 1000000000};
    digits = std::clamp(digits, 0, 9);
    const auto pow = kPow[static_cast<size_t>(digits)];
    const double scaled = std::round(v * static_cast<double>(pow));
    // Up to 15 significant digits the decimal k / 10^digits is the shortest text of the double nearest to
    // it, so it is what Number writes for the rounded value, unless Number's choice of the shorter of plain
    // and exponent notation picks the exponent ("1e-04", "1e+06"): then, as beyond 15 digits or when not
    // finite, Number itself writes it.
    if (!std::isfinite(scaled) || std::fabs(scaled) >= 1e15) {
        AppendJsonNumber(out, scaled / static_cast<double>(pow));
        return;
    }
    auto k = static_cast<int64_t>(std::fabs(scaled));
    char buf[40];
    char* p = buf;
    if (std::signbit(scaled)) *p++ = '-';
    p = std::to_chars(p, buf + sizeof buf, k / pow).ptr;
    int64_t fraction = k % pow;
    int places = digits;
    if (fraction != 0) {
        while (fraction % 10 == 0) {  // no trailing zeros
            fraction /= 10;
            --places;
        }
        *p++ = '.';
        char frac[16];
        char* end = std::to_chars(frac, frac + sizeof frac, fraction).ptr;
        for (auto zeros = places - static_cast<int>(end - frac); zeros > 0; --zeros) *p++ = '0';  // 0.0004
        p = std::copy(frac, end, p);
    }
    if (k != 0) {
        // The exponent form's length: significant digits, their point, 'e', sign, at least two digits.
        int total = 0, trailing = 0;
        for (int64_t n = k; n != 0; n /= 10) ++total;
        for (int64_t n = k; n % 10 == 0; n /= 10) ++trailing;
        const int significant = total - trailing;
        const int exponent = std::abs(total - 1 - digits);
        const int exponent_form = significant + (significant > 1 ? 1 : 0) + 2 + (exponent >= 100 ? 3 : 2);
        const int plain_form = static_cast<int>(p - buf) - (std::signbit(scaled) ? 1 : 0);
        if (exponent_form < plain_form) {
            AppendJsonNumber(out, scaled / static_cast<double>(pow));
            return;
        }
    }
    out.append(buf, p);
}

JsonWriter& JsonWriter::Fixed(double v, int digits) {
    Separate();
    AppendJsonFixed(out_, v, digits);
    return *this;
}

JsonWriter& JsonWriter::Raw(std::string_view json) {
    Separate();
    out_.append(json);
    return *this;
}

JsonWriter& JsonWriter::Int(int64_t v) {
    Separate();
    char buf[24];
    auto res = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, res.ptr);
    return *this;
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
        case boost::json::kind::double_:
            AppendJsonNumber(out, v.get_double());
            return;
        case boost::json::kind::string:
            AppendJsonString(out, v.get_string());
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
                AppendJsonString(out, kv.key());
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
