#include "mail/transport.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cstring>
#include <filesystem>

#include "common/json.hpp"
#include "net/http_client.hpp"

namespace gpuopt::mail {

namespace {

struct Upload {
    const std::string* data;
    size_t offset = 0;
};

size_t ReadUpload(char* buffer, size_t size, size_t count, void* user) {
    auto* u = static_cast<Upload*>(user);
    const size_t n = std::min(size * count, u->data->size() - u->offset);
    std::memcpy(buffer, u->data->data() + u->offset, n);
    u->offset += n;
    return n;
}

}  // namespace

SendResult FileTransport::Send(const store::OutboxMessage& message, const BuiltMessage& built) {
    SendResult r;
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    std::string name = built.message_id.substr(1, built.message_id.find('@') - 1) + "-" + message.kind + ".eml";
    for (auto& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') c = '_';
    }
    const std::string path = dir_ + "/" + name;
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        r.error = "cannot write " + tmp + ": " + std::strerror(errno);
        return r;
    }
    const bool ok = ::write(fd, built.mime.data(), built.mime.size()) == static_cast<ssize_t>(built.mime.size()) &&
                    ::fsync(fd) == 0;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        r.error = "cannot write " + path;
        return r;
    }
    r.sent = true;
    r.provider_id = path;
    return r;
}

std::string SmtpTransport::Describe() const {
    return "SMTP " + s_.server + ":" + std::to_string(s_.port) + " (" + s_.tls + ")";
}

SendResult SmtpTransport::Send(const store::OutboxMessage& message, const BuiltMessage& built) {
    SendResult r;
    const net::EasyHandle handle = net::NewEasy();
    if (!handle) {
        r.error = "libcurl could not start";
        return r;
    }
    CURL* curl = handle.get();
    const std::string url = (s_.tls == "smtps" ? "smtps://" : "smtp://") + s_.server + ":" + std::to_string(s_.port);
    const std::string from = "<" + s_.envelope_from + ">";
    net::HeaderList rcpt;
    rcpt.Append("<" + message.to + ">");
    Upload upload{&built.mime};
    char error[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    if (s_.tls == "starttls") curl_easy_setopt(curl, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
    if (!s_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, s_.ca_file.c_str());
    if (!s_.password.empty()) {
        curl_easy_setopt(curl, CURLOPT_USERNAME, s_.username.c_str());
        curl_easy_setopt(curl, CURLOPT_PASSWORD, s_.password.c_str());
    }
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt.get());
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadUpload);
    curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(s_.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    const CURLcode rc = curl_easy_perform(curl);
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    if (rc == CURLE_OK) {
        r.sent = true;
        r.provider_id = built.message_id;
    } else {
        r.error = std::string(error[0] != '\0' ? error : curl_easy_strerror(rc)) +
                  (code ? " (" + std::to_string(code) + ")" : "");
        r.permanent = code >= 500 && code < 600;  // 4xx is temporary in SMTP
    }
    return r;
}

SendResult SendGridTransport::Send(const store::OutboxMessage& m, const BuiltMessage&) {
    namespace json = boost::json;
    json::object personalization{{"to", json::array{json::object{{"email", m.to}}}}};
    if (!m.headers.empty()) {
        json::object headers;
        for (const auto& [k, v] : m.headers) headers[k] = v;
        personalization["headers"] = std::move(headers);
    }
    json::array content{json::object{{"type", "text/plain"}, {"value", m.text}}};
    if (!m.html.empty()) content.push_back(json::object{{"type", "text/html"}, {"value", m.html}});
    json::object body{{"personalizations", json::array{personalization}},
                      {"from", json::object{{"email", s_.from.address}, {"name", s_.from.name}}},
                      {"subject", m.subject},
                      {"content", content},
                      {"categories", json::array{m.kind}},
                      {"tracking_settings", json::object{{"click_tracking", json::object{{"enable", false}}},
                                                         {"open_tracking", json::object{{"enable", false}}}}}};
    auto a = net::Fetch({"POST",
                         net::JoinUrl(s_.base_url, "/v3/mail/send"),
                         {"Authorization: Bearer " + s_.api_key, "Content-Type: application/json"},
                         ToJson(body),
                         s_.timeout});
    SendResult r;
    if (a.status == 202 || a.status == 200) {
        r.sent = true;
        auto id = a.headers.find("x-message-id");
        r.provider_id = id == a.headers.end() ? std::string() : id->second;
        return r;
    }
    r.error = a.status ? "SendGrid answered " + std::to_string(a.status) + ": " + a.body.substr(0, 200) : a.error;
    r.permanent = a.status == 400 || a.status == 403 || a.status == 413;  // 401 (key), 429, 5xx: later
    return r;
}

Sender SenderOf(const Config& c) {
    Sender s;
    s.address = c.mail.sender_email.empty() ? "no-reply@localhost" : c.mail.sender_email;
    return s;
}

std::unique_ptr<Transport> MakeTransport(const Config& c) {
    const MailSettings& m = c.mail;
    if (!m.sendgrid_api_key.empty()) {
        return std::make_unique<SendGridTransport>(
            SendGridSettings{m.sendgrid_base_url, m.sendgrid_api_key, SenderOf(c), std::chrono::seconds(30)});
    }
    if (!m.smtp_server.empty()) {
        SmtpSettings s;
        s.server = m.smtp_server;
        s.port = m.smtp_port;
        s.tls = m.smtp_tls;
        s.username = m.sender_email;
        s.password = m.sender_password;
        s.ca_file = m.smtp_ca_file;
        s.envelope_from = SenderOf(c).address;
        return std::make_unique<SmtpTransport>(std::move(s));
    }
    return std::make_unique<FileTransport>((std::filesystem::path(c.data_dir) / "outbox").string());
}

}  // namespace gpuopt::mail
