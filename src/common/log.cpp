#include "common/log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

namespace gpuopt {

namespace {
constexpr size_t kFlushBytes = 256 * 1024;
constexpr auto kFlushInterval = std::chrono::milliseconds(200);
}  // namespace

Result<void> InitLogging(std::string_view level) {
    const auto lvl = spdlog::level::from_str(std::string(level));
    if (lvl == spdlog::level::off && level != "off") {
        return Error::Validation("LOG_LEVEL", "must be one of trace, debug, info, warn, error, critical, off");
    }
    auto logger = spdlog::stderr_logger_mt("gpuopt");
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
    logger->set_level(lvl);
    spdlog::set_default_logger(logger);
    return {};
}

Result<std::unique_ptr<AccessLog>> AccessLog::Open(const std::string& target) {
    if (target.empty() || target == "off") return std::unique_ptr<AccessLog>(new AccessLog(-1, false));
    if (target == "-") return std::unique_ptr<AccessLog>(new AccessLog(STDOUT_FILENO, false));
    const int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) return Error::Validation("ACCESS_LOG", "cannot open " + target + ": " + std::strerror(errno));
    return std::unique_ptr<AccessLog>(new AccessLog(fd, true));
}

AccessLog::AccessLog(int fd, bool owns_fd) : fd_(fd), owns_fd_(owns_fd) {
    if (fd_ >= 0) writer_ = std::thread([this] { Run(); });
}

AccessLog::~AccessLog() {
    if (writer_.joinable()) {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        cv_.notify_one();
        writer_.join();
    }
    if (owns_fd_) ::close(fd_);
}

void AccessLog::Write(std::string_view line) {
    if (fd_ < 0) return;
    bool wake = false;
    {
        std::lock_guard lock(mu_);
        buffer_.append(line);
        buffer_.push_back('\n');
        wake = buffer_.size() >= kFlushBytes;
    }
    if (wake) cv_.notify_one();
}

void AccessLog::Flush() {
    if (fd_ < 0) return;
    std::unique_lock lock(mu_);
    const uint64_t ticket = ++flushes_requested_;
    cv_.notify_one();
    flushed_cv_.wait(lock, [&] { return flushes_done_ >= ticket || stop_; });
}

void AccessLog::WriteOut(const std::string& data) const {
    size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;  // a full disk must not take the server down; the lines are dropped
        }
        done += static_cast<size_t>(n);
    }
}

void AccessLog::Run() {
    std::string batch;
    std::unique_lock lock(mu_);
    for (;;) {
        cv_.wait_for(lock, kFlushInterval,
                     [&] { return stop_ || buffer_.size() >= kFlushBytes || flushes_requested_ > flushes_done_; });
        const uint64_t requested = flushes_requested_;
        batch.swap(buffer_);
        const bool stopping = stop_;
        lock.unlock();
        if (!batch.empty()) WriteOut(batch);
        batch.clear();
        lock.lock();
        flushes_done_ = requested;
        flushed_cv_.notify_all();
        if (stopping && buffer_.empty()) return;
    }
}

void AppendJsonEscaped(std::string& out, std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(static_cast<char>(c));
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20 || c == 0x7f) {
            out += "\\u00";
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0xf]);
        } else if (c < 0x80) {
            out.push_back(static_cast<char>(c));
        } else {
            // Copy a well-formed UTF-8 sequence; replace anything else.
            size_t len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
            bool ok = len > 0 && i + len <= text.size();
            for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
            if (ok) {
                out.append(text.substr(i, len));
                i += len - 1;
            } else {
                out += "\\ufffd";
            }
        }
    }
}

}  // namespace gpuopt
