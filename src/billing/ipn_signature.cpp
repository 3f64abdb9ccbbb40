#include "billing/ipn_signature.hpp"

#include <sodium.h>

#include <algorithm>
#include <vector>

#include "common/crypto.hpp"

namespace gpuopt::billing {

namespace {

class Canonicalizer {
public:
    explicit Canonicalizer(std::string_view text) : s_(text) {}

    Result<std::string> Run() {
        std::string out;
        if (!Value(out, 0)) return Error::Validation("body", "is not a JSON document");
        SkipSpace();
        if (pos_ != s_.size()) return Error::Validation("body", "has data after the JSON document");
        return out;
    }

private:
    static constexpr int kMaxDepth = 32;

    void SkipSpace() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
            ++pos_;
    }

    // A string token, raw (quotes and escapes as written); `decoded` gets its UTF-16 code units.
    bool String(std::string_view& raw, std::u16string* decoded) {
        if (pos_ >= s_.size() || s_[pos_] != '"') return false;
        const size_t start = pos_++;
        while (pos_ < s_.size()) {
            const unsigned char c = static_cast<unsigned char>(s_[pos_]);
            if (c == '"') {
                ++pos_;
                raw = s_.substr(start, pos_ - start);
                return true;
            }
            if (c < 0x20) return false;
            if (c == '\\') {
                if (pos_ + 1 >= s_.size()) return false;
                const char e = s_[pos_ + 1];
                if (e == 'u') {
                    if (pos_ + 6 > s_.size()) return false;
                    unsigned v = 0;
                    for (size_t i = pos_ + 2; i < pos_ + 6; ++i) {
                        const char h = s_[i];
                        v <<= 4;
                        if (h >= '0' && h <= '9')
                            v |= static_cast<unsigned>(h - '0');
                        else if (h >= 'a' && h <= 'f')
                            v |= static_cast<unsigned>(h - 'a' + 10);
                        else if (h >= 'A' && h <= 'F')
                            v |= static_cast<unsigned>(h - 'A' + 10);
                        else
                            return false;
                    }
                    if (decoded) decoded->push_back(static_cast<char16_t>(v));
                    pos_ += 6;
                    continue;
                }
                static const std::string_view kSimple = "\"\\/bfnrt";
                static const char16_t kValues[] = {u'"', u'\\', u'/', u'\b', u'\f', u'\n', u'\r', u'\t'};
                const size_t at = kSimple.find(e);
                if (at == std::string_view::npos) return false;
                if (decoded) decoded->push_back(kValues[at]);
                pos_ += 2;
                continue;
            }
            // A UTF-8 sequence: decode to code units for ordering.
            uint32_t cp = c;
            size_t len = 1;
            if (c >= 0xF0) {
                cp = c & 0x07;
                len = 4;
            } else if (c >= 0xE0) {
                cp = c & 0x0F;
                len = 3;
            } else if (c >= 0xC0) {
                cp = c & 0x1F;
                len = 2;
            }
            if (pos_ + len > s_.size()) return false;
            for (size_t i = 1; i < len; ++i) cp = (cp << 6) | (static_cast<unsigned char>(s_[pos_ + i]) & 0x3F);
            if (decoded) {
                if (cp >= 0x10000) {
                    cp -= 0x10000;
                    decoded->push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
                    decoded->push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
                } else {
                    decoded->push_back(static_cast<char16_t>(cp));
                }
            }
            pos_ += len;
        }
        return false;
    }

    bool Number(std::string& out) {
        const size_t start = pos_;
        if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
        const size_t digits = pos_;
        while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
        if (pos_ == digits) return false;
        if (s_[digits] == '0' && pos_ - digits > 1) return false;  // JSON has no leading zeros
        if (pos_ < s_.size() && s_[pos_] == '.') {
            ++pos_;
            const size_t frac = pos_;
            while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
            if (pos_ == frac) return false;
        }
        if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
            ++pos_;
            if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
            const size_t exp = pos_;
            while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
            if (pos_ == exp) return false;
        }
        out.append(s_.substr(start, pos_ - start));
        return true;
    }

    bool Literal(std::string& out, std::string_view word) {
        if (s_.substr(pos_, word.size()) != word) return false;
        out.append(word);
        pos_ += word.size();
        return true;
    }

    bool Value(std::string& out, int depth) {
        if (depth > kMaxDepth) return false;
        SkipSpace();
        if (pos_ >= s_.size()) return false;
        const char c = s_[pos_];
        if (c == '{') return Object(out, depth);
        if (c == '[') return Array(out, depth);
        if (c == '"') {
            std::string_view raw;
            if (!String(raw, nullptr)) return false;
            out.append(raw);
            return true;
        }
        if (c == 't') return Literal(out, "true");
        if (c == 'f') return Literal(out, "false");
        if (c == 'n') return Literal(out, "null");
        return Number(out);
    }

    bool Array(std::string& out, int depth) {
        ++pos_;  // [
        out += '[';
        SkipSpace();
        if (pos_ < s_.size() && s_[pos_] == ']') {
            ++pos_;
            out += ']';
            return true;
        }
        for (bool first = true;; first = false) {
            if (!first) out += ',';
            if (!Value(out, depth + 1)) return false;
            SkipSpace();
            if (pos_ >= s_.size()) return false;
            if (s_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (s_[pos_] == ']') {
                ++pos_;
                out += ']';
                return true;
            }
            return false;
        }
    }

    bool Object(std::string& out, int depth) {
        ++pos_;  // {
        struct Member {
            std::u16string order;
            std::string text;  // "key":value, canonical
        };
        std::vector<Member> members;
        SkipSpace();
        if (pos_ < s_.size() && s_[pos_] == '}') {
            ++pos_;
            out += "{}";
            return true;
        }
        for (;;) {
            SkipSpace();
            Member m;
            std::string_view key;
            if (!String(key, &m.order)) return false;
            m.text.append(key);
            SkipSpace();
            if (pos_ >= s_.size() || s_[pos_] != ':') return false;
            ++pos_;
            m.text += ':';
            if (!Value(m.text, depth + 1)) return false;
            members.push_back(std::move(m));
            SkipSpace();
            if (pos_ >= s_.size()) return false;
            if (s_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (s_[pos_] == '}') {
                ++pos_;
                break;
            }
            return false;
        }
        std::stable_sort(members.begin(), members.end(),
                         [](const Member& a, const Member& b) { return a.order < b.order; });
        // A repeated key would let what is verified and what is applied read different values.
        for (size_t i = 1; i < members.size(); ++i) {
            if (members[i].order == members[i - 1].order) return false;
        }
        out += '{';
        for (size_t i = 0; i < members.size(); ++i) {
            if (i > 0) out += ',';
            out += members[i].text;
        }
        out += '}';
        return true;
    }

    std::string_view s_;
    size_t pos_ = 0;
};

}  // namespace

Result<std::string> CanonicalJson(std::string_view body) { return Canonicalizer(body).Run(); }

std::string HmacSha512Hex(std::string_view key, std::string_view data) {
    crypto_auth_hmacsha512_state state;
    crypto_auth_hmacsha512_init(&state, reinterpret_cast<const unsigned char*>(key.data()), key.size());
    crypto_auth_hmacsha512_update(&state, reinterpret_cast<const unsigned char*>(data.data()), data.size());
    unsigned char mac[crypto_auth_hmacsha512_BYTES];
    crypto_auth_hmacsha512_final(&state, mac);
    char hex[crypto_auth_hmacsha512_BYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    return std::string(hex, crypto_auth_hmacsha512_BYTES * 2);
}

bool VerifyNowPaymentsSignature(std::string_view body, std::string_view signature, std::string_view secret) {
    while (!secret.empty() && (secret.front() == ' ' || secret.front() == '\n' || secret.front() == '\r'))
        secret.remove_prefix(1);
    while (!secret.empty() && (secret.back() == ' ' || secret.back() == '\n' || secret.back() == '\r'))
        secret.remove_suffix(1);
    if (secret.empty() || signature.size() != crypto_auth_hmacsha512_BYTES * 2) return false;
    auto canonical = CanonicalJson(body);
    if (!canonical) return false;
    std::string presented(signature);
    for (auto& c : presented) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return ConstantTimeEquals(presented, HmacSha512Hex(secret, *canonical));
}

}  // namespace gpuopt::billing
