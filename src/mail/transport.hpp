// Ways to send a message (SPEC §8): SMTP submission with STARTTLS (libcurl), SendGrid v3, and files
// (.eml under the data dir, the default, so `make run` works offline). One interface, one test suite.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/config.hpp"
#include "mail/message.hpp"

namespace gpuopt::mail {

struct SendResult {
    bool sent = false;
    bool permanent = false;  // a refusal that a retry will not change (5xx, bad address)
    std::string provider_id;
    std::string error;
};

class Transport {
public:
    virtual ~Transport() = default;
    // Sends `built` (made from `message`). Thread-safe.
    virtual SendResult Send(const store::OutboxMessage& message, const BuiltMessage& built) = 0;
    virtual std::string Describe() const = 0;
};

class FileTransport final : public Transport {
public:
    explicit FileTransport(std::string dir) : dir_(std::move(dir)) {}
    SendResult Send(const store::OutboxMessage& message, const BuiltMessage& built) override;
    std::string Describe() const override { return "files in " + dir_; }

private:
    std::string dir_;
};

struct SmtpSettings {
    std::string server;
    int port = 587;
    std::string tls = "starttls";  // starttls (required), smtps (implicit TLS), none (tests, local relays)
    std::string username;
    std::string password;
    std::string ca_file;  // extra CA bundle (a private relay's certificate)
    std::string envelope_from;
    std::chrono::milliseconds timeout{30000};
};

class SmtpTransport final : public Transport {
public:
    explicit SmtpTransport(SmtpSettings settings) : s_(std::move(settings)) {}
    SendResult Send(const store::OutboxMessage& message, const BuiltMessage& built) override;
    std::string Describe() const override;

private:
    SmtpSettings s_;
};

struct SendGridSettings {
    std::string base_url = "https://api.sendgrid.com";
    std::string api_key;
    Sender from;
    std::chrono::milliseconds timeout{30000};
};

class SendGridTransport final : public Transport {
public:
    explicit SendGridTransport(SendGridSettings settings) : s_(std::move(settings)) {}
    SendResult Send(const store::OutboxMessage& message, const BuiltMessage& built) override;
    std::string Describe() const override { return "SendGrid at " + s_.base_url; }

private:
    SendGridSettings s_;
};

// SendGrid when SENDGRID_API_KEY is set, else SMTP when SMTP_SERVER is set, else files under the data dir.
std::unique_ptr<Transport> MakeTransport(const Config& config);
Sender SenderOf(const Config& config);

}  // namespace gpuopt::mail
