#include "http/client_ip.hpp"

namespace gpuopt::http {

namespace {

bool IsTrusted(std::string_view ip, const std::vector<Cidr>& trusted) {
    for (const auto& c : trusted) {
        if (c.Contains(ip)) return true;
    }
    return false;
}

std::string_view Trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

std::string ClientIp(std::string_view peer, std::string_view forwarded_for, const std::vector<Cidr>& trusted) {
    if (forwarded_for.empty() || trusted.empty() || !IsTrusted(peer, trusted)) return std::string(peer);
    std::string_view current = peer;
    while (!forwarded_for.empty()) {
        const size_t comma = forwarded_for.rfind(',');
        const std::string_view hop =
            Trim(comma == std::string_view::npos ? forwarded_for : forwarded_for.substr(comma + 1));
        forwarded_for = comma == std::string_view::npos ? std::string_view{} : forwarded_for.substr(0, comma);
        if (!Cidr::Parse(hop) || hop.find('/') != std::string_view::npos) break;  // not an address
        current = hop;
        if (!IsTrusted(hop, trusted)) break;
    }
    return std::string(current);
}

}  // namespace gpuopt::http
