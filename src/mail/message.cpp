#include "mail/message.hpp"

#include <sodium.h>

#include <cstring>

namespace gpuopt::mail {

namespace {

std::string Base64(const std::string& data) {
    std::string out(sodium_base64_ENCODED_LEN(data.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                      sodium_base64_VARIANT_ORIGINAL);
    out.resize(std::strlen(out.c_str()));
    return out;
}

std::string RandomHex(size_t bytes) {
    std::string raw(bytes, '\0');
    randombytes_buf(raw.data(), raw.size());
    std::string hex(bytes * 2 + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
    hex.pop_back();
    return hex;
}

// Header values never carry line breaks (header injection).
std::string OneLine(std::string v) {
    for (auto& c : v) {
        if (c == '\r' || c == '\n') c = ' ';
    }
    return v;
}

}  // namespace

std::string EncodeHeader(const std::string& text) {
    bool plain = true;
    for (unsigned char c : text) plain = plain && c >= 0x20 && c < 0x7f;
    if (plain) return text;
    // Encoded words of at most 45 input bytes each, split on UTF-8 character boundaries.
    std::string out;
    size_t i = 0;
    while (i < text.size()) {
        size_t end = std::min(text.size(), i + 45);
        while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
        if (!out.empty()) out += "\r\n ";
        out += "=?UTF-8?B?" + Base64(text.substr(i, end - i)) + "?=";
        i = end;
    }
    return out;
}

std::string Base64Lines(const std::string& data) {
    const std::string b64 = Base64(data);
    std::string out;
    for (size_t i = 0; i < b64.size(); i += 76) out += b64.substr(i, 76) + "\r\n";
    return out;
}

BuiltMessage BuildMessage(const store::OutboxMessage& m, const Sender& from, SysSeconds now) {
    BuiltMessage built;
    const size_t at = from.address.find('@');
    const std::string domain = at == std::string::npos ? "localhost" : from.address.substr(at + 1);
    built.message_id = "<" + RandomHex(16) + "@" + domain + ">";
    const std::string boundary = "=_gpuopt_" + RandomHex(12);
    std::string& out = built.mime;
    out += "Date: " + FormatRfc5322(now) + "\r\n";
    out += "From: " + EncodeHeader(OneLine(from.name)) + " <" + OneLine(from.address) + ">\r\n";
    out += "To: <" + OneLine(m.to) + ">\r\n";
    out += "Subject: " + EncodeHeader(OneLine(m.subject)) + "\r\n";
    out += "Message-ID: " + built.message_id + "\r\n";
    for (const auto& [name, value] : m.headers) out += OneLine(name) + ": " + OneLine(value) + "\r\n";
    out += "MIME-Version: 1.0\r\n";
    if (m.html.empty()) {
        out += "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
        out += Base64Lines(m.text);
        return built;
    }
    out += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
    out += "--" + boundary + "\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    out += Base64Lines(m.text);
    out += "--" + boundary + "\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    out += Base64Lines(m.html);
    out += "--" + boundary + "--\r\n";
    return built;
}

}  // namespace gpuopt::mail
