#include "common/log.hpp"

#include <spdlog/async.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace gpuopt {

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
    static std::once_flag pool_once;
    std::call_once(pool_once, [] {
        spdlog::init_thread_pool(16384, 1);
        spdlog::flush_every(std::chrono::seconds(1));  // whole lines reach the file within a second
    });
    std::shared_ptr<spdlog::logger> logger;
    try {
        if (target.empty() || target == "off") {
            logger = std::make_shared<spdlog::logger>("access", std::make_shared<spdlog::sinks::null_sink_mt>());
        } else if (target == "-") {
            auto sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
            logger = std::make_shared<spdlog::async_logger>("access", sink, spdlog::thread_pool(),
                                                            spdlog::async_overflow_policy::block);
        } else {
            auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(target, false);
            logger = std::make_shared<spdlog::async_logger>("access", sink, spdlog::thread_pool(),
                                                            spdlog::async_overflow_policy::block);
        }
    } catch (const spdlog::spdlog_ex& e) {
        return Error::Validation("ACCESS_LOG", std::string("cannot open: ") + e.what());
    }
    logger->set_pattern("%v");
    logger->set_level(spdlog::level::info);
    spdlog::drop("access");
    spdlog::register_logger(logger);  // so that flush_every reaches it
    return std::unique_ptr<AccessLog>(new AccessLog(std::move(logger)));
}

AccessLog::AccessLog(std::shared_ptr<spdlog::logger> logger) : logger_(std::move(logger)) {}

AccessLog::~AccessLog() {
    Flush();
    spdlog::drop("access");
}

void AccessLog::Write(std::string_view json_line) { logger_->info(json_line); }

void AccessLog::Flush() { logger_->flush(); }

}  // namespace gpuopt
