#include "alerts/webhook.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>

#include <boost/json/object.hpp>
#include <boost/url/parse.hpp>

#include <cstring>
#include <memory>

#include "common/json.hpp"
#include "net/http_client.hpp"

namespace gpuopt::alerts {

namespace {

size_t Discard(char*, size_t size, size_t count, void*) { return size * count; }

}  // namespace

Result<void> ValidateWebhookUrl(std::string_view url, bool allow_private) {
    if (url.size() > 500) return Error::Validation("webhook_url", "must be at most 500 characters");
    auto u = boost::urls::parse_absolute_uri(url);
    if (!u || !u->has_authority() || u->host().empty())
        return Error::Validation("webhook_url", "must be an absolute URL");
    if (u->scheme() != "https" && !(allow_private && u->scheme() == "http")) {
        return Error::Validation("webhook_url", "must be an https:// URL");
    }
    if (u->has_userinfo()) return Error::Validation("webhook_url", "must not carry a user name or password");
    if (!allow_private &&
        (u->host_type() == boost::urls::host_type::ipv4 || u->host_type() == boost::urls::host_type::ipv6)) {
        std::string ip(u->host_address());
        if (IsPrivateAddress(ip))
            return Error::Validation("webhook_url", "must not point at a private or local address");
    }
    return {};
}

bool IsPrivateAddress(std::string_view text) {
    std::string ip(text);
    if (!ip.empty() && ip.front() == '[') ip = ip.substr(1, ip.size() - 2);
    in_addr v4{};
    if (inet_pton(AF_INET, ip.c_str(), &v4) == 1) {
        const uint32_t a = ntohl(v4.s_addr);
        auto in = [&](uint32_t net, int bits) { return (a >> (32 - bits)) == (net >> (32 - bits)); };
        return in(0x00000000, 8) || in(0x0A000000, 8) || in(0x7F000000, 8) || in(0xA9FE0000, 16) ||
               in(0xAC100000, 12) || in(0xC0A80000, 16) || in(0x64400000, 10) || in(0xC0000000, 24) ||
               in(0xC6120000, 15) || a >= 0xE0000000;
    }
    in6_addr v6{};
    if (inet_pton(AF_INET6, ip.c_str(), &v6) == 1) {
        const unsigned char* b = v6.s6_addr;
        static const unsigned char kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        static const unsigned char kAny[16] = {};
        if (std::memcmp(b, kLoopback, 16) == 0 || std::memcmp(b, kAny, 16) == 0) return true;
        if ((b[0] & 0xFE) == 0xFC) return true;                  // fc00::/7 unique local
        if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return true;  // fe80::/10 link local
        if (b[0] == 0xFF) return true;                           // multicast
        static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
        if (std::memcmp(b, kMapped, 12) == 0) {  // ::ffff:a.b.c.d
            char v4text[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, b + 12, v4text, sizeof v4text);
            return IsPrivateAddress(v4text);
        }
        return false;
    }
    return true;  // not an address at all: refuse
}

WebhookResult PostToWebhook(const std::string& url, const std::string& text, bool allow_private,
                            std::chrono::milliseconds timeout) {
    boost::json::object body;
    body["text"] = text;
    return PostJson(url, ToJson(body), {}, allow_private, timeout);
}

WebhookResult PostJson(const std::string& url, const std::string& payload, const std::vector<std::string>& extra,
                       bool allow_private, std::chrono::milliseconds timeout) {
    WebhookResult result;
    if (auto valid = ValidateWebhookUrl(url, allow_private); !valid) {
        result.error = "invalid webhook URL: " + valid.error().details.begin()->second;
        return result;
    }
    auto u = boost::urls::parse_absolute_uri(url);
    const std::string host(u->host_address());
    const std::string port = u->has_port() ? std::string(u->port()) : (u->scheme() == "https" ? "443" : "80");
    std::string pinned;  // "host:port:address" for CURLOPT_RESOLVE
    if (!allow_private) {
        addrinfo hints{};
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* found = nullptr;
        if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) {
            result.error = "cannot resolve " + host;
            return result;
        }
        std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(found, freeaddrinfo);
        std::string first;
        for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
            char text_ip[INET6_ADDRSTRLEN] = {};
            const void* addr = a->ai_family == AF_INET
                                   ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
                                   : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
            inet_ntop(a->ai_family, addr, text_ip, sizeof text_ip);
            if (IsPrivateAddress(text_ip)) {
                result.error = host + " resolves to a private address";
                return result;
            }
            if (first.empty()) first = a->ai_family == AF_INET6 ? "[" + std::string(text_ip) + "]" : text_ip;
        }
        pinned = host + ":" + port + ":" + first;
    }
    const net::EasyHandle handle = net::NewEasy();
    if (!handle) {
        result.error = "libcurl could not start";
        return result;
    }
    CURL* curl = handle.get();
    net::HeaderList headers;
    headers.Append("Content-Type: application/json");
    for (const auto& h : extra) headers.Append(h);
    net::HeaderList resolve;
    if (!pinned.empty()) resolve.Append(pinned);
    char error[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
    if (resolve.get() != nullptr) curl_easy_setopt(curl, CURLOPT_RESOLVE, resolve.get());
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, allow_private ? "http,https" : "https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<int64_t>(timeout.count(), 5000)));
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "gpuopt-webhooks/" GPUOPT_VERSION);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Discard);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    const CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
        result.delivered = result.status >= 200 && result.status < 300;
        if (!result.delivered) result.error = "the webhook answered " + std::to_string(result.status);
    } else {
        result.error = error[0] != '\0' ? error : curl_easy_strerror(rc);
    }
    return result;
}

}  // namespace gpuopt::alerts
