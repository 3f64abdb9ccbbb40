// JSON parsing with the limits untrusted input needs.
#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace gpuopt {

inline constexpr size_t kMaxJsonDepth = 16;

// Parses `text` as one JSON document. Rejects, with a validation error that says why: syntax errors,
// trailing data, nesting deeper than `max_depth`, NaN/Infinity literals, numbers that overflow a
// double, and invalid UTF-8. Never throws. The value allocates from `storage` (a request-scoped
// monotonic resource saves the allocator most of its work), which must outlive it.
Result<boost::json::value> ParseJson(std::string_view text, size_t max_depth = kMaxJsonDepth,
                                     boost::json::storage_ptr storage = {});

// Serialises to compact JSON, doubles in their shortest plain form ("1101.6", not "1.1016E3").
std::string ToJson(const boost::json::value& v);

// Appends `s` as a JSON string (quoted, escaped) to `out`.
void AppendJsonString(std::string& out, std::string_view s);
// Appends `d` as ToJson does: shortest plain form, null when not finite.
void AppendJsonNumber(std::string& out, double d);

// Appends `v` rounded half away from zero to `digits` decimals (0 to 9), as AppendJsonNumber writes that
// rounded value ("12.5", "3", "-0.0004"), without formatting a double.
void AppendJsonFixed(std::string& out, double v, int digits);

// Writes compact JSON straight into a string, for answers too large to build as a document first (a
// month of hourly points for a fleet). The caller keeps the nesting right; commas are placed here.
class JsonWriter {
public:
    explicit JsonWriter(std::string& out) : out_(out) {}
    JsonWriter& BeginObject() { return Open('{'); }
    JsonWriter& EndObject() { return Close('}'); }
    JsonWriter& BeginArray() { return Open('['); }
    JsonWriter& EndArray() { return Close(']'); }
    JsonWriter& Key(std::string_view key);
    JsonWriter& String(std::string_view v);
    JsonWriter& Number(double v);
    // AppendJsonFixed: a month of points for a fleet is hundreds of thousands of numbers.
    JsonWriter& Fixed(double v, int digits);
    JsonWriter& Int(int64_t v);
    // `json`, a complete value the caller wrote and vouches for (an object of constant keys and numbers,
    // written by hand for speed), placed as the next value.
    JsonWriter& Raw(std::string_view json);
    // As Raw, with the value appended to the output by `write(std::string&)` itself: no copy in between.
    template <class Write>
    JsonWriter& RawWith(Write&& write) {
        Separate();
        write(out_);
        return *this;
    }

private:
    void Separate();
    JsonWriter& Open(char c);
    JsonWriter& Close(char c);

    std::string& out_;
    bool first_ = true;       // nothing written yet in the innermost object or array
    bool after_key_ = false;  // the next value belongs to the key just written
};

}  // namespace gpuopt
