// Process logging. Application messages go through spdlog's default logger (include
// <spdlog/spdlog.h> in the .cpp that logs); the access log is a separate, batched writer of JSON lines.
#pragma once

#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "common/result.hpp"

namespace gpuopt {

// Sets the default logger: stderr, given level ("trace".."critical", "off"). Not thread-safe; call
// once at start-up before other threads exist.
Result<void> InitLogging(std::string_view level);

// Appends JSON lines to a file, to stdout ("-"), or nowhere ("" or "off"). Write() only appends to
// an in-memory buffer under a short lock; a background thread writes the buffer out every 200 ms or
// once it holds 256 KiB, with one write per batch, so request threads never wait for the disk.
// Lines still buffered when the process is killed are lost (requests are never lost for it).
// Thread-safe.
class AccessLog {
public:
    static Result<std::unique_ptr<AccessLog>> Open(const std::string& target);
    ~AccessLog();  // flushes
    AccessLog(const AccessLog&) = delete;
    AccessLog& operator=(const AccessLog&) = delete;

    bool enabled() const { return fd_ >= 0; }
    // `line` must be one JSON object without a trailing newline.
    void Write(std::string_view line);
    // Writes everything buffered so far before returning.
    void Flush();

private:
    AccessLog(int fd, bool owns_fd);
    void Run();
    void WriteOut(const std::string& data) const;

    int fd_;
    bool owns_fd_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::string buffer_;
    uint64_t flushes_requested_ = 0;
    uint64_t flushes_done_ = 0;
    std::condition_variable flushed_cv_;
    bool stop_ = false;
    std::thread writer_;
};

// Appends `text` to `out` as the inside of a JSON string (quotes not included): escapes quotes,
// backslashes and control characters; invalid UTF-8 bytes become U+FFFD.
void AppendJsonEscaped(std::string& out, std::string_view text);

}  // namespace gpuopt
