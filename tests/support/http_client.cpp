#include "support/http_client.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json/parse.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>

namespace gpuopt::testing {

namespace {

void GlobalInit() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
    static_cast<HttpResponse*>(user)->body.append(data, size * n);
    return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
    std::string line(data, size * n);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
        static_cast<HttpResponse*>(user)->headers[name] = value;
    }
    return size * n;
}

struct Easy {
    CURL* curl = nullptr;
    curl_slist* headers = nullptr;
    HttpResponse response;
    ~Easy() {
        curl_slist_free_all(headers);
        if (curl != nullptr) curl_easy_cleanup(curl);
    }
};

std::unique_ptr<Easy> Prepare(const HttpRequest& req) {
    GlobalInit();
    auto e = std::make_unique<Easy>();
    e->curl = curl_easy_init();
    curl_easy_setopt(e->curl, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(e->curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    if (req.method == "HEAD") curl_easy_setopt(e->curl, CURLOPT_NOBODY, 1L);
    if (!req.body.empty() || req.method == "POST" || req.method == "PUT") {
        curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, req.body.data());
        curl_easy_setopt(e->curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    }
    for (const auto& h : req.headers) e->headers = curl_slist_append(e->headers, h.c_str());
    e->headers = curl_slist_append(e->headers, "Expect:");  // no 100-continue round trip by default
    curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, e->headers);
    curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, &e->response);
    curl_easy_setopt(e->curl, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(e->curl, CURLOPT_HEADERDATA, &e->response);
    curl_easy_setopt(e->curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(e->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e->curl, CURLOPT_NOPROXY, "*");
    return e;
}

}  // namespace

boost::json::value HttpResponse::Json() const {
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    return ec ? boost::json::value() : v;
}

std::string HttpResponse::Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
}

HttpResponse Send(const HttpRequest& request) {
    auto e = Prepare(request);
    const CURLcode rc = curl_easy_perform(e->curl);
    if (rc != CURLE_OK) {
        e->response.error = curl_easy_strerror(rc);
        e->response.status = 0;
    } else {
        curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &e->response.status);
    }
    return std::move(e->response);
}

HttpResponse Get(const std::string& url, std::vector<std::string> headers) {
    return Send({"GET", url, "", std::move(headers)});
}

HttpResponse PostJson(const std::string& url, const std::string& body, std::vector<std::string> headers) {
    headers.insert(headers.begin(), "Content-Type: application/json");
    return Send({"POST", url, body, std::move(headers)});
}

std::vector<HttpResponse> SendParallel(const std::vector<HttpRequest>& requests) {
    GlobalInit();
    CURLM* multi = curl_multi_init();
    std::vector<std::unique_ptr<Easy>> easies;
    for (const auto& r : requests) {
        easies.push_back(Prepare(r));
        curl_easy_setopt(easies.back()->curl, CURLOPT_FRESH_CONNECT, 1L);
        curl_multi_add_handle(multi, easies.back()->curl);
    }
    int running = 0;
    do {
        curl_multi_perform(multi, &running);
        if (running > 0) curl_multi_poll(multi, nullptr, 0, 100, nullptr);
    } while (running > 0);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
        if (msg->msg != CURLMSG_DONE) continue;
        for (auto& e : easies) {
            if (e->curl != msg->easy_handle) continue;
            if (msg->data.result == CURLE_OK) {
                curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &e->response.status);
            } else {
                e->response.error = curl_easy_strerror(msg->data.result);
            }
        }
    }
    std::vector<HttpResponse> out;
    for (auto& e : easies) {
        curl_multi_remove_handle(multi, e->curl);
        out.push_back(std::move(e->response));
    }
    curl_multi_cleanup(multi);
    return out;
}

std::string RawExchange(uint16_t port, const std::string& bytes) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        close(fd);
        return {};
    }
    size_t sent = 0;
    while (sent < bytes.size()) {
        const ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;  // the server may close early on an oversized request
        sent += static_cast<size_t>(n);
    }
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) {
            // A complete response with Content-Length is enough; the server may keep the connection.
            const size_t end = out.find("\r\n\r\n");
            const size_t cl = out.find("Content-Length: ");
            if (end != std::string::npos && cl != std::string::npos && cl < end) {
                const size_t len = std::stoul(out.substr(cl + 16));
                if (out.size() >= end + 4 + len) break;
            }
            continue;
        }
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    close(fd);
    return out;
}

int RawStatus(const std::string& response) {
    if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return 0;
    return std::atoi(response.substr(9, 3).c_str());
}

}  // namespace gpuopt::testing
