#include "acquisition/outreach.hpp"

#include "common/crypto.hpp"
#include "mail/templates.hpp"
#include "net/http_client.hpp"

namespace gpuopt::acquisition {

Outreach OutreachOf(const Config& c) {
    Outreach o;
    o.base_url = c.base_url;
    o.postal_address = c.acquisition.postal_address;
    o.secret_key = c.secret_key;
    o.sender = c.mail.sender_email;
    o.unsubscribe_email = c.acquisition.unsubscribe_email;
    if (const Plan* free = c.FindPlan(Tier::kFree); free != nullptr && free->gpu_limit) {
        o.free_gpu_limit = *free->gpu_limit;
    }
    return o;
}

std::string SequencesOff(const Outreach& o) {
    if (o.postal_address.empty()) {
        return "POSTAL_ADDRESS is not set: every marketing mail must carry the sender's postal address";
    }
    if (o.secret_key.empty()) return "SECRET_KEY is not set: it signs the unsubscribe links";
    if (o.sender.empty()) return "SENDER_EMAIL is not set: the sending address and its daily cap";
    return {};
}

bool IsMarketingMail(std::string_view kind) { return kind.rfind("sequence:", 0) == 0 || kind == "audit_report"; }

std::string UnsubscribeToken(std::string_view secret, int64_t lead_id) {
    return HmacSha256Hex(secret, "unsubscribe:" + std::to_string(lead_id)).substr(0, 32);
}

bool UnsubscribeTokenValid(std::string_view secret, int64_t lead_id, std::string_view token) {
    if (secret.empty() || lead_id <= 0) return false;
    return ConstantTimeEquals(UnsubscribeToken(secret, lead_id), token);
}

std::string UnsubscribeUrl(const Outreach& o, int64_t lead_id) {
    return o.base_url + "/unsubscribe?l=" + std::to_string(lead_id) + "&t=" + UnsubscribeToken(o.secret_key, lead_id);
}

std::map<std::string, std::string> MarketingHeaders(const Outreach& o, int64_t lead_id) {
    const std::string mailto = o.unsubscribe_email.empty() ? o.sender : o.unsubscribe_email;
    const std::string subject =
        "unsubscribe " + std::to_string(lead_id) + " " + UnsubscribeToken(o.secret_key, lead_id);
    return {
        {"List-Unsubscribe",
         "<" + UnsubscribeUrl(o, lead_id) + ">, <mailto:" + mailto + "?subject=" + net::UrlEncode(subject) + ">"},
        {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
    };
}

std::string MarketingFooterText(const Outreach& o, int64_t lead_id, std::string_view why) {
    return "\n\n--\nA message about " + o.product + "'s service, sent because " + std::string(why) +
           ".\nUnsubscribe with one click: " + UnsubscribeUrl(o, lead_id) + "\n" + o.product + ", " + o.postal_address +
           "\n";
}

std::string MarketingFooterHtml(const Outreach& o, int64_t lead_id, std::string_view why) {
    std::string out = "<hr><p style=\"font-size:12px;color:#555\">A message about ";
    out += mail::Html(o.product + "'s service, sent because " + std::string(why) + ".");
    out += " <a href=\"";
    out += mail::Html(UnsubscribeUrl(o, lead_id));
    out += "\">Unsubscribe</a><br>";
    out += mail::Html(o.product + ", " + o.postal_address);
    out += "</p>";
    return out;
}

std::string TextToHtml(std::string_view text) {
    std::string out;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t end = text.find("\n\n", pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view para = text.substr(pos, end - pos);
        while (!para.empty() && para.front() == '\n') para.remove_prefix(1);
        if (!para.empty()) {
            out += "<p>";
            size_t line = 0;
            while (line <= para.size()) {
                size_t nl = para.find('\n', line);
                if (nl == std::string_view::npos) nl = para.size();
                if (line > 0) out += "<br>";
                out += mail::Html(std::string(para.substr(line, nl - line)));
                line = nl + 1;
            }
            out += "</p>";
        }
        pos = end + 2;
    }
    return out;
}

}  // namespace gpuopt::acquisition
