#include "support/smtp_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace gpuopt::testing {

namespace {

constexpr const char* kPython = "/usr/bin/python3";  // Debian's, where python3-aiosmtpd lives

bool Accepts(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

std::string Lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

SmtpServer::SmtpServer() {
    const std::string key = dir_.path() + "/key.pem";
    ca_file_ = dir_.path() + "/cert.pem";
    std::string out;
    const int rc = RunProgram("/usr/bin/openssl",
                              {"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", ca_file_,
                               "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"},
                              {}, out);
    if (rc != 0) {
        ADD_FAILURE() << "openssl could not make a certificate: " << out;
        return;
    }
    for (int attempt = 0; attempt < 3 && !started_; ++attempt) {
        port_ = FreeLoopbackPort();
        process_ = std::make_unique<ChildProcess>(
            kPython,
            std::vector<std::string>{"-m", "aiosmtpd", "-n", "-l", "127.0.0.1:" + std::to_string(port_), "--tlscert",
                                     ca_file_, "--tlskey", key, "-c", "aiosmtpd.handlers.Mailbox",
                                     dir_.path() + "/maildir"},
            std::map<std::string, std::string>{}, dir_.path() + "/smtp.log");
        started_ = WaitFor([&] { return Accepts(port_) || !process_->Running(); }, std::chrono::seconds(20)) &&
                   process_->Running();
    }
    if (!started_) ADD_FAILURE() << "aiosmtpd did not start (is python3-aiosmtpd installed?): " << Log();
}

SmtpServer::~SmtpServer() {
    if (process_) process_->Terminate(std::chrono::seconds(5));
}

std::string SmtpServer::Log() const { return process_ ? process_->Log() : std::string(); }

std::vector<std::string> SmtpServer::Messages() const {
    namespace fs = std::filesystem;
    std::vector<std::pair<fs::file_time_type, std::string>> found;
    std::error_code ec;
    for (const char* sub : {"new", "cur"}) {
        const fs::path d = fs::path(dir_.path()) / "maildir" / sub;
        if (!fs::exists(d, ec)) continue;
        for (const auto& entry : fs::directory_iterator(d, ec)) {
            std::ifstream in(entry.path(), std::ios::binary);
            std::stringstream ss;
            ss << in.rdbuf();
            found.emplace_back(entry.last_write_time(ec), ss.str());
        }
    }
    std::sort(found.begin(), found.end());
    std::vector<std::string> out;
    for (auto& [_, m] : found) out.push_back(std::move(m));
    return out;
}

std::vector<std::string> SmtpServer::WaitForMessages(size_t count, std::chrono::milliseconds timeout) const {
    std::vector<std::string> got;
    WaitFor([&] { return (got = Messages()).size() >= count; }, timeout);
    return got;
}

std::string MailHeader(const std::string& raw, const std::string& name) {
    const std::string want = Lower(name) + ":";
    std::istringstream in(raw);
    std::string line, value;
    bool in_header = false;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) break;  // end of the header section
        if (in_header && (line[0] == ' ' || line[0] == '\t')) {
            value += line;
            continue;
        }
        if (in_header) return value;
        if (Lower(line.substr(0, want.size())) == want) {
            in_header = true;
            value = line.substr(want.size());
            value.erase(0, value.find_first_not_of(" \t"));
        }
    }
    return value;
}

std::string MailPart(const std::string& raw_message, const std::string& type) {
    std::string raw;  // the Maildir copy may have LF line ends, the wire form CRLF: read both
    for (char c : raw_message) {
        if (c != '\r') raw += c;
    }
    const size_t at = raw.find("Content-Type: " + type);
    if (at == std::string::npos) return {};
    const size_t start = raw.find("\n\n", at);
    if (start == std::string::npos) return {};
    size_t end = raw.find("\n--", start + 2);
    if (end == std::string::npos) end = raw.size();
    const std::string b64 = raw.substr(start + 2, end - start - 2);
    std::string out(b64.size(), '\0');
    size_t len = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), b64.data(), b64.size(), "\n", &len,
                          nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
        return {};
    }
    out.resize(len);
    return out;
}

}  // namespace gpuopt::testing
