// RFC 5322 messages for the outbox: Date, From, To, Subject (RFC 2047 when not ASCII), Message-ID,
// MIME-Version, and a multipart/alternative body (text/plain, then text/html) in UTF-8, base64-encoded,
// CRLF line endings.
#pragma once

#include <string>

#include "common/time.hpp"
#include "store/outbox.hpp"

namespace gpuopt::mail {

struct Sender {
    std::string address = "gpuopt@localhost";
    std::string name = "GPUOptimizer";
};

struct BuiltMessage {
    std::string message_id;  // "<random@domain>"
    std::string mime;        // the whole message
};

BuiltMessage BuildMessage(const store::OutboxMessage& message, const Sender& from, SysSeconds now);

// "=?UTF-8?B?...?=" when `text` is not plain printable ASCII, else `text`.
std::string EncodeHeader(const std::string& text);

std::string Base64Lines(const std::string& data);  // 76-character lines, CRLF

}  // namespace gpuopt::mail
