// SendGrid's Event Webhook (external-apis.md §5.8): a JSON array of events, signed with ECDSA P-256 over
// SHA-256 of the timestamp header followed by the raw body, with the key SendGrid shows in its settings.
#pragma once

#include <chrono>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "common/time.hpp"
#include "store/acquisition.hpp"

namespace gpuopt::acquisition {

// Ok when `signature_b64` (X-Twilio-Email-Event-Webhook-Signature, a base64 DER ECDSA signature) signs
// `timestamp` + `body` under `public_key_b64` (base64 DER SubjectPublicKeyInfo of a P-256 key) and the
// timestamp is within `max_skew` of `now`. Every failure is kUnauthenticated with the reason.
Result<void> VerifySendgridSignature(std::string_view public_key_b64, std::string_view signature_b64,
                                     std::string_view timestamp, std::string_view body, SysSeconds now,
                                     std::chrono::seconds max_skew = std::chrono::minutes(10));

// The events of a batch, each with its sg_event_id; a bounce SendGrid calls "blocked" is kept as kind
// "blocked" (a refusal to look into, not a dead address). Malformed events are skipped, a malformed batch
// is a validation error.
Result<std::vector<store::MailEvent>> ParseSendgridEvents(std::string_view body);

// Standard base64 (with or without padding); nullopt for anything else.
std::optional<std::string> DecodeBase64(std::string_view text);

}  // namespace gpuopt::acquisition
