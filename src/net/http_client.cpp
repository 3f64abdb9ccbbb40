#include "net/http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <ctime>

namespace gpuopt::net {

namespace {

struct Sink {
    std::string* body;
    size_t max;
};

size_t Collect(char* data, size_t size, size_t count, void* out) {
    auto* sink = static_cast<Sink*>(out);
    const size_t n = size * count;
    if (sink->body->size() < sink->max) sink->body->append(data, std::min(n, sink->max - sink->body->size()));
    return n;
}

size_t CollectHeader(char* data, size_t size, size_t count, void* out) {
    const size_t n = size * count;
    std::string line(data, n);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.erase(0, 1);
        while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
            value.pop_back();
        }
        (*static_cast<std::map<std::string, std::string>*>(out))[name] = value;
    }
    return n;
}

int Progress(void* cancel, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    const auto* flag = static_cast<const std::atomic<bool>*>(cancel);
    return flag != nullptr && flag->load() ? 1 : 0;
}

std::string_view Trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
        s.remove_suffix(1);
    }
    return s;
}

HttpAnswer Perform(CURL* curl, const HttpCall& call) {
    HttpAnswer answer;
    if (curl == nullptr) {
        answer.error = "libcurl could not start";
        return answer;
    }
    HeaderList headers;
    for (const auto& h : call.headers) headers.Append(h);
    headers.Append("Expect:");
    char error[CURL_ERROR_SIZE] = {};
    Sink sink{&answer.body, call.max_body_bytes};
    const std::string agent = call.user_agent.empty() ? std::string("gpuopt/" GPUOPT_VERSION) : call.user_agent;
    curl_easy_setopt(curl, CURLOPT_URL, call.url.c_str());
    if (call.method == "POST") {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
    } else if (call.method != "GET") {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, call.method.c_str());
    }
    if (call.method != "GET") {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, call.body.data());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call.body.size()));
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if (call.no_proxy) curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(call.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min(call.timeout, call.connect_timeout).count()));
    curl_easy_setopt(curl, CURLOPT_USERAGENT, agent.c_str());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, CollectHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &answer.headers);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    if (call.cancel != nullptr) {
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, Progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, call.cancel);
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    }
    const CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
    } else {
        answer.cancelled = rc == CURLE_ABORTED_BY_CALLBACK;
        answer.error = answer.cancelled ? "cancelled" : (error[0] != '\0' ? error : curl_easy_strerror(rc));
    }
    // The header list dies with this frame: the handle must not point at it afterwards.
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
    return answer;
}

}  // namespace

CurlGlobal::CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
CurlGlobal::~CurlGlobal() { curl_global_cleanup(); }

void EasyDeleter::operator()(CURL* curl) const { curl_easy_cleanup(curl); }

EasyHandle NewEasy() { return EasyHandle(curl_easy_init()); }

HeaderList::~HeaderList() { curl_slist_free_all(list_); }

void HeaderList::Append(const std::string& line) {
    if (curl_slist* next = curl_slist_append(list_, line.c_str()); next != nullptr) list_ = next;
}

HttpAnswer Fetch(const HttpCall& call) {
    EasyHandle curl = NewEasy();
    return Perform(curl.get(), call);
}

Client::Client() : curl_(NewEasy()) {}

HttpAnswer Client::Fetch(const HttpCall& call) {
    if (curl_) curl_easy_reset(curl_.get());  // keeps the connection cache
    return Perform(curl_.get(), call);
}

std::string JoinUrl(const std::string& base, const std::string& path) {
    std::string b = base;
    while (!b.empty() && b.back() == '/') b.pop_back();
    return path.empty() || path.front() == '/' ? b + path : b + "/" + path;
}

std::string UrlEncode(const std::string& value) {
    static const char* kHex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : value) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value, std::chrono::system_clock::time_point now) {
    value = Trim(value);
    if (value.empty()) return std::nullopt;
    constexpr auto kCap = std::chrono::seconds(3600);
    if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        if (value.size() > 9) return kCap;
        return std::min(kCap, std::chrono::seconds(std::stol(std::string(value))));
    }
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    std::tm tm{};
    const std::string text(value);
    const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == nullptr || *end != '\0') return std::nullopt;
    const auto when = std::chrono::system_clock::from_time_t(timegm(&tm));
    const auto delta = std::chrono::duration_cast<std::chrono::seconds>(when - now);
    return std::clamp(delta, std::chrono::seconds(0), kCap);
}

std::optional<std::chrono::seconds> RetryAfter(const HttpAnswer& answer) {
    auto it = answer.headers.find("retry-after");
    if (it == answer.headers.end()) return std::nullopt;
    return ParseRetryAfter(it->second, std::chrono::system_clock::now());
}

bool IsTransientStatus(long status) {
    return status == 0 || status == 408 || status == 425 || status == 429 || status >= 500;
}

}  // namespace gpuopt::net
