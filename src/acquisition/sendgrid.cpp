#include "acquisition/sendgrid.hpp"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <boost/json.hpp>

#include <charconv>
#include <memory>

#include "common/json.hpp"

namespace gpuopt::acquisition {

namespace {

Error Refused(std::string why) { return Error{ErrorCode::kUnauthenticated, std::move(why), {}}; }

struct FreeKey {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct FreeContext {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

}  // namespace

std::optional<std::string> DecodeBase64(std::string_view text) {
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    while (!text.empty() && text.back() == '=') text.remove_suffix(1);
    if (text.size() % 4 == 1) return std::nullopt;
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        const int v = value(c);
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xFF));
        }
    }
    return out;
}

Result<void> VerifySendgridSignature(std::string_view public_key_b64, std::string_view signature_b64,
                                     std::string_view timestamp, std::string_view body, SysSeconds now,
                                     std::chrono::seconds max_skew) {
    if (signature_b64.empty() || timestamp.empty()) return Refused("the signature or timestamp header is missing");
    int64_t at = 0;
    const auto [end, ec] = std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), at);
    if (ec != std::errc() || end != timestamp.data() + timestamp.size())
        return Refused("the timestamp is not a number");
    const auto skew = std::chrono::abs(now - SysSeconds(std::chrono::seconds(at)));
    if (skew > max_skew) return Refused("the timestamp is too far from now (a replay?)");
    auto der = DecodeBase64(public_key_b64);
    if (!der) return Refused("the verification key is not base64");
    const auto* p = reinterpret_cast<const unsigned char*>(der->data());
    std::unique_ptr<EVP_PKEY, FreeKey> key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der->size())));
    if (!key || EVP_PKEY_base_id(key.get()) != EVP_PKEY_EC) return Refused("the verification key is not an EC key");
    auto signature = DecodeBase64(signature_b64);
    if (!signature) return Refused("the signature is not base64");
    std::unique_ptr<EVP_MD_CTX, FreeContext> ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1) {
        return Error{ErrorCode::kInternal, "cannot verify signatures", {}};
    }
    std::string message;
    message.reserve(timestamp.size() + body.size());
    message.append(timestamp).append(body);
    const int ok =
        EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature->data()), signature->size(),
                         reinterpret_cast<const unsigned char*>(message.data()), message.size());
    if (ok != 1) return Refused("the signature does not match");
    return {};
}

Result<std::vector<store::MailEvent>> ParseSendgridEvents(std::string_view body) {
    auto parsed = ParseJson(body);
    if (!parsed) return parsed.error();
    if (!parsed->is_array()) return Error::Validation("body", "must be a JSON array of events");
    std::vector<store::MailEvent> out;
    for (const auto& v : parsed->get_array()) {
        if (!v.is_object()) continue;
        const auto& o = v.get_object();
        auto str = [&](const char* k) {
            const auto* f = o.if_contains(k);
            return f != nullptr && f->is_string() ? std::string(f->get_string()) : std::string();
        };
        store::MailEvent e;
        e.provider = "sendgrid";
        e.event_id = str("sg_event_id");
        e.kind = str("event");
        e.email = str("email");
        if (e.event_id.empty() || e.event_id.size() > 200 || e.kind.empty() || e.kind.size() > 40 ||
            e.email.size() > 254) {
            continue;
        }
        if (e.kind == "bounce" && str("type") == "blocked") e.kind = "blocked";
        const auto* ts = o.if_contains("timestamp");
        e.at = SysSeconds(std::chrono::seconds(ts != nullptr && ts->is_int64() ? ts->get_int64() : 0));
        std::string detail = str("reason");
        if (detail.empty()) detail = str("response");
        if (const std::string status = str("status"); !status.empty()) detail = status + " " + detail;
        e.detail = detail.substr(0, 300);
        out.push_back(std::move(e));
    }
    return out;
}

}  // namespace gpuopt::acquisition
