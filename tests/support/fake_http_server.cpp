#include "support/fake_http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace gpuopt::testing {

namespace {

const char* Reason(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 204:
            return "No Content";
        case 302:
            return "Found";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 429:
            return "Too Many Requests";
        case 500:
            return "Internal Server Error";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        default:
            return "Status";
    }
}

std::string Lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string Trim(const std::string& s) {
    const size_t b = s.find_first_not_of(" \t");
    const size_t e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

}  // namespace

FakeHttpServer::FakeHttpServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 128) != 0) {
        throw std::runtime_error("fake server: cannot listen");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] {
        while (!stopping_) {
            pollfd p{listen_fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) continue;
            std::lock_guard lock(mu_);
            open_fds_.push_back(fd);
            connections_.emplace_back([this, fd] { Serve(fd); });
        }
    });
}

FakeHttpServer::~FakeHttpServer() {
    stopping_ = true;
    stop_cv_.notify_all();
    acceptor_.join();
    ::close(listen_fd_);
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(mu_);
        for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
        threads.swap(connections_);
    }
    for (auto& t : threads) t.join();
}

std::vector<FakeRequest> FakeHttpServer::Requests() const {
    std::lock_guard lock(mu_);
    return requests_;
}

size_t FakeHttpServer::Count() const {
    std::lock_guard lock(mu_);
    return requests_.size();
}

void FakeHttpServer::Serve(int fd) {
    std::string buffer;
    char chunk[16384];
    auto read_more = [&]() -> bool {
        for (;;) {
            if (stopping_) return false;
            pollfd p{fd, POLLIN, 0};
            const int r = ::poll(&p, 1, 50);
            if (r == 0) continue;
            if (r < 0) return false;
            const ssize_t n = ::read(fd, chunk, sizeof chunk);
            if (n <= 0) return false;
            buffer.append(chunk, static_cast<size_t>(n));
            return true;
        }
    };
    for (;;) {
        size_t header_end;
        while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
            if (!read_more()) goto done;
        }
        {
            FakeRequest req;
            req.received = std::chrono::steady_clock::now();
            const std::string head = buffer.substr(0, header_end);
            size_t line_end = head.find("\r\n");
            const std::string request_line = head.substr(0, line_end);
            const size_t sp1 = request_line.find(' ');
            const size_t sp2 = request_line.find(' ', sp1 + 1);
            req.method = request_line.substr(0, sp1);
            req.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
            size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
            while (pos < head.size()) {
                size_t end = head.find("\r\n", pos);
                if (end == std::string::npos) end = head.size();
                const std::string line = head.substr(pos, end - pos);
                const size_t colon = line.find(':');
                if (colon != std::string::npos)
                    req.headers[Lower(line.substr(0, colon))] = Trim(line.substr(colon + 1));
                pos = end + 2;
            }
            size_t length = 0;
            if (auto it = req.headers.find("content-length"); it != req.headers.end()) length = std::stoul(it->second);
            buffer.erase(0, header_end + 4);
            while (buffer.size() < length) {
                if (!read_more()) goto done;
            }
            req.body = buffer.substr(0, length);
            buffer.erase(0, length);
            {
                std::lock_guard lock(mu_);
                requests_.push_back(req);
            }
            FakeResponse res = handler_(req);
            if (res.hang) {
                std::unique_lock lock(mu_);
                stop_cv_.wait(lock, [&] { return stopping_.load(); });
                goto done;
            }
            std::string out = "HTTP/1.1 " + std::to_string(res.status) + " " + Reason(res.status) + "\r\n";
            if (res.headers.count("Content-Type") == 0) res.headers["Content-Type"] = "application/json";
            for (const auto& [k, v] : res.headers) out += k + ": " + v + "\r\n";
            out += "Content-Length: " + std::to_string(res.body.size()) + "\r\n\r\n" + res.body;
            size_t sent = 0;
            while (sent < out.size()) {
                const ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
                if (n <= 0) goto done;
                sent += static_cast<size_t>(n);
            }
            if (Lower(req.Header("connection")) == "close") goto done;
        }
    }
done:
    std::lock_guard lock(mu_);
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
    ::close(fd);
}

}  // namespace gpuopt::testing
