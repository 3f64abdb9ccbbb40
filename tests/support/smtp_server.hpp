// A real SMTP server for tests: Debian's aiosmtpd (python3-aiosmtpd) on 127.0.0.1 with STARTTLS
// required, a fresh self-signed certificate (CaFile() for the client), and every message delivered to
// a Maildir that the test reads back. aiosmtpd adds X-MailFrom and X-RcptTo with the envelope.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/server_process.hpp"

namespace gpuopt::testing {

class SmtpServer {
public:
    // Starts the server and waits until it accepts connections (fails the test if it cannot).
    SmtpServer();
    ~SmtpServer();

    uint16_t port() const { return port_; }
    const std::string& CaFile() const { return ca_file_; }
    bool Started() const { return started_; }

    // Every message received so far, raw (RFC 5322 as stored), oldest first.
    std::vector<std::string> Messages() const;
    // Waits until at least `count` messages arrived; returns them.
    std::vector<std::string> WaitForMessages(size_t count,
                                             std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;
    std::string Log() const;

private:
    TempDir dir_;
    std::string ca_file_;
    std::unique_ptr<ChildProcess> process_;
    uint16_t port_ = 0;
    bool started_ = false;
};

// A header's value in a raw message ("" when absent); the name is case-insensitive.
std::string MailHeader(const std::string& raw, const std::string& name);

// The decoded body of the first part whose Content-Type starts with `type` ("text/plain"), for a
// base64-encoded part; "" when there is none.
std::string MailPart(const std::string& raw, const std::string& type);

}  // namespace gpuopt::testing
