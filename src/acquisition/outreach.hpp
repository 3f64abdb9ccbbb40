// Marketing mail (SPEC §8, §9): what every sequence mail carries — List-Unsubscribe with an https URL and
// a mailto, List-Unsubscribe-Post (RFC 8058 one-click), a visible unsubscribe link and the operator's
// postal address — and the unsubscribe tokens behind those links.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/config.hpp"

namespace gpuopt::acquisition {

// What the sequences need from the server's settings. Sequences stay off until the postal address, the
// secret that signs unsubscribe links and a sender are all set.
struct Outreach {
    std::string base_url;           // BASE_URL, the unsubscribe page's origin
    std::string postal_address;     // POSTAL_ADDRESS
    std::string secret_key;         // SECRET_KEY: unsubscribe tokens
    std::string sender;             // SENDER_EMAIL: the From address, whose daily cap the sends count against
    std::string unsubscribe_email;  // the mailto of List-Unsubscribe ("" falls back to the sender)
    std::string product = "GPUOptimizer";
    int free_gpu_limit = 2;
};

// The outreach settings of a server's configuration.
Outreach OutreachOf(const Config& config);

// Why sequences are off ("" when they run): the first missing setting and what it is for.
std::string SequencesOff(const Outreach& outreach);

// Whether an outbox mail of this kind is marketing (a sequence step, an audit): checked against the
// suppression list right before it is sent.
bool IsMarketingMail(std::string_view kind);

// 32 hex digits of HMAC-SHA256(secret, "unsubscribe:" + lead id): unguessable, and nothing to store.
std::string UnsubscribeToken(std::string_view secret, int64_t lead_id);
bool UnsubscribeTokenValid(std::string_view secret, int64_t lead_id, std::string_view token);

std::string UnsubscribeUrl(const Outreach& outreach, int64_t lead_id);
// The headers of a marketing mail to the lead.
std::map<std::string, std::string> MarketingHeaders(const Outreach& outreach, int64_t lead_id);
// The visible footer: why they get it (`why`: "you have an account with us"), that it is about our
// service, how to stop it, and who sends it from where.
std::string MarketingFooterText(const Outreach& outreach, int64_t lead_id, std::string_view why);
std::string MarketingFooterHtml(const Outreach& outreach, int64_t lead_id, std::string_view why);

// Plain text as HTML paragraphs (escaped; blank lines separate paragraphs, URLs stay text).
std::string TextToHtml(std::string_view text);

}  // namespace gpuopt::acquisition
