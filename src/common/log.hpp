// Process logging. Application messages go through spdlog's default logger (include
// <spdlog/spdlog.h> in the .cpp that logs); the access log is a separate sink of JSON lines.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace spdlog {
class logger;
}

namespace gpuopt {

// Sets the default logger: stderr, given level ("trace".."critical", "off"). Not thread-safe; call
// once at start-up before other threads exist.
Result<void> InitLogging(std::string_view level);

// Writes one JSON object per line to a file, or to stdout for "-", or nowhere for "" / "off".
// Writes are handed to a background thread, so Write() never blocks on the disk. Thread-safe.
class AccessLog {
public:
    static Result<std::unique_ptr<AccessLog>> Open(const std::string& target);
    ~AccessLog();
    void Write(std::string_view json_line);
    void Flush();

private:
    explicit AccessLog(std::shared_ptr<spdlog::logger> logger);
    std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace gpuopt
