#include "agent/nvml/nvml_source.hpp"

#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <fstream>

namespace gpuopt::agent {

struct NvmlSource::Api {
    nvml::InitFn init = nullptr;
    nvml::ShutdownFn shutdown = nullptr;
    nvml::ErrorStringFn error_string = nullptr;
    nvml::SystemGetDriverVersionFn driver_version = nullptr;
    nvml::DeviceGetCountFn get_count = nullptr;
    nvml::DeviceGetHandleByIndexFn get_handle = nullptr;
    nvml::DeviceGetStringFn get_name = nullptr;
    nvml::DeviceGetStringFn get_uuid = nullptr;
    nvml::DeviceGetUtilizationRatesFn get_utilization = nullptr;
    nvml::DeviceGetMemoryInfoV2Fn get_memory_v2 = nullptr;
    nvml::DeviceGetMemoryInfoFn get_memory_v1 = nullptr;
    nvml::DeviceGetTemperatureVFn get_temperature_v = nullptr;
    nvml::DeviceGetTemperatureFn get_temperature = nullptr;
    nvml::DeviceGetUintFn get_power = nullptr;
    nvml::DeviceGetUintFn get_power_limit = nullptr;
    nvml::DeviceGetClockInfoFn get_clock = nullptr;
    // The newest process list the library has; process_struct_size says which layout it fills.
    nvml::DeviceGetProcessesFn get_processes = nullptr;
    size_t process_struct_size = 0;
    std::vector<std::pair<nvml::DeviceGetProcessesFn, size_t>> older_process_lists;
};

namespace {

template <class Fn>
Fn Symbol(void* lib, const char* name) {
    return reinterpret_cast<Fn>(dlsym(lib, name));
}

// The newest of several versioned names the library exports.
template <class Fn>
Fn Newest(void* lib, std::initializer_list<const char*> names) {
    for (const char* n : names) {
        if (auto f = Symbol<Fn>(lib, n)) return f;
    }
    return nullptr;
}

std::string FixedString(const char* buffer, size_t size) { return std::string(buffer, strnlen(buffer, size)); }

std::string ProcessName(unsigned pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    std::getline(in, name);
    return name;
}

constexpr double kMiB = 1024.0 * 1024.0;

}  // namespace

Result<std::unique_ptr<NvmlSource>> NvmlSource::Open(const std::string& library) {
    dlerror();
    void* lib = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
        const char* why = dlerror();
        return Error{ErrorCode::kUnavailable, "cannot load " + library + ": " + (why ? why : "unknown error"), {}};
    }
    auto api = std::make_unique<Api>();
    api->init = Newest<nvml::InitFn>(lib, {"nvmlInit_v2", "nvmlInit"});
    api->shutdown = Symbol<nvml::ShutdownFn>(lib, "nvmlShutdown");
    api->get_count = Newest<nvml::DeviceGetCountFn>(lib, {"nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"});
    api->get_handle =
        Newest<nvml::DeviceGetHandleByIndexFn>(lib, {"nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex"});
    if (!api->init || !api->shutdown || !api->get_count || !api->get_handle) {
        dlclose(lib);
        return Error{ErrorCode::kUnavailable, library + " lacks the NVML entry points the agent needs", {}};
    }
    api->error_string = Symbol<nvml::ErrorStringFn>(lib, "nvmlErrorString");
    api->driver_version = Symbol<nvml::SystemGetDriverVersionFn>(lib, "nvmlSystemGetDriverVersion");
    api->get_name = Symbol<nvml::DeviceGetStringFn>(lib, "nvmlDeviceGetName");
    api->get_uuid = Symbol<nvml::DeviceGetStringFn>(lib, "nvmlDeviceGetUUID");
    api->get_utilization = Symbol<nvml::DeviceGetUtilizationRatesFn>(lib, "nvmlDeviceGetUtilizationRates");
    api->get_memory_v2 = Symbol<nvml::DeviceGetMemoryInfoV2Fn>(lib, "nvmlDeviceGetMemoryInfo_v2");
    api->get_memory_v1 = Symbol<nvml::DeviceGetMemoryInfoFn>(lib, "nvmlDeviceGetMemoryInfo");
    api->get_temperature_v = Symbol<nvml::DeviceGetTemperatureVFn>(lib, "nvmlDeviceGetTemperatureV");
    api->get_temperature = Symbol<nvml::DeviceGetTemperatureFn>(lib, "nvmlDeviceGetTemperature");
    api->get_power = Symbol<nvml::DeviceGetUintFn>(lib, "nvmlDeviceGetPowerUsage");
    api->get_power_limit = Symbol<nvml::DeviceGetUintFn>(lib, "nvmlDeviceGetEnforcedPowerLimit");
    api->get_clock = Symbol<nvml::DeviceGetClockInfoFn>(lib, "nvmlDeviceGetClockInfo");

    // Process lists, newest first. Drivers 535.43-535.86 filled a 32-byte struct through the _v3 entry
    // point; they are the ones that export nvmlDeviceGetConfComputeMemSizeInfo but not yet
    // nvmlDeviceGetRunningProcessDetailList.
    const bool cc_layout = dlsym(lib, "nvmlDeviceGetConfComputeMemSizeInfo") != nullptr &&
                           dlsym(lib, "nvmlDeviceGetRunningProcessDetailList") == nullptr;
    std::vector<std::pair<nvml::DeviceGetProcessesFn, size_t>> lists;
    if (auto f = Symbol<nvml::DeviceGetProcessesFn>(lib, "nvmlDeviceGetComputeRunningProcesses_v3")) {
        lists.emplace_back(f, cc_layout ? sizeof(nvml::ProcessInfoCc) : sizeof(nvml::ProcessInfo));
    }
    if (auto f = Symbol<nvml::DeviceGetProcessesFn>(lib, "nvmlDeviceGetComputeRunningProcesses_v2")) {
        lists.emplace_back(f, sizeof(nvml::ProcessInfo));
    }
    if (auto f = Symbol<nvml::DeviceGetProcessesFn>(lib, "nvmlDeviceGetComputeRunningProcesses")) {
        lists.emplace_back(f, sizeof(nvml::ProcessInfoV1));
    }
    if (!lists.empty()) {
        api->get_processes = lists.front().first;
        api->process_struct_size = lists.front().second;
        api->older_process_lists.assign(lists.begin() + 1, lists.end());
    }

    std::unique_ptr<NvmlSource> source(new NvmlSource(lib, std::move(api)));
    const nvml::Return rc = source->api_->init();
    if (rc != nvml::kSuccess) {
        return Error{ErrorCode::kUnavailable, "NVML did not initialise: " + source->ErrorText(rc), {}};
    }
    source->initialised_ = true;
    if (source->api_->driver_version) {
        char buffer[nvml::kDriverVersionBufferSize] = {};
        if (source->api_->driver_version(buffer, sizeof buffer) == nvml::kSuccess) {
            source->driver_version_ = FixedString(buffer, sizeof buffer);
        }
    }
    unsigned count = 0;
    if (const nvml::Return c = source->api_->get_count(&count); c != nvml::kSuccess) {
        return Error{ErrorCode::kUnavailable, "NVML could not count the GPUs: " + source->ErrorText(c), {}};
    }
    for (unsigned i = 0; i < count; ++i) {
        DeviceState d;
        d.index = i;
        if (const nvml::Return h = source->api_->get_handle(i, &d.handle); h != nvml::kSuccess) {
            // Kept, marked lost: it is reported as such and the others are read.
            spdlog::error("nvml: GPU {} cannot be opened: {}", i, source->ErrorText(h));
            d.lost = true;
        } else {
            char buffer[nvml::kDeviceNameBufferSize] = {};
            if (source->api_->get_name && source->api_->get_name(d.handle, buffer, sizeof buffer) == nvml::kSuccess) {
                d.name = FixedString(buffer, sizeof buffer);
            }
            char uuid[nvml::kDeviceUuidBufferSize] = {};
            if (source->api_->get_uuid && source->api_->get_uuid(d.handle, uuid, sizeof uuid) == nvml::kSuccess) {
                d.uuid = FixedString(uuid, sizeof uuid);
            }
        }
        if (d.name.empty()) d.name = "NVIDIA GPU";
        source->devices_.push_back(std::move(d));
    }
    return source;
}

NvmlSource::NvmlSource(void* library, std::unique_ptr<Api> api) : library_(library), api_(std::move(api)) {}

NvmlSource::~NvmlSource() {
    if (initialised_) api_->shutdown();
    dlclose(library_);
}

std::string NvmlSource::Describe() const {
    return "NVML, driver " + (driver_version_.empty() ? std::string("unknown") : driver_version_) + ", " +
           std::to_string(devices_.size()) + " GPU(s)";
}

std::string NvmlSource::ErrorText(nvml::Return rc) const {
    if (api_->error_string) {
        if (const char* s = api_->error_string(rc)) return std::string(s) + " (" + std::to_string(rc) + ")";
    }
    return "NVML error " + std::to_string(rc);
}

bool NvmlSource::Note(DeviceState& d, Metric metric, nvml::Return rc) {
    if (rc == nvml::kErrorNotSupported || rc == nvml::kErrorNoPermission) {
        if ((d.unsupported & metric) == 0) {
            spdlog::debug("nvml: GPU {}: metric {:#x} not available ({})", d.index, static_cast<unsigned>(metric),
                          ErrorText(rc));
        }
        d.unsupported |= metric;
        return false;
    }
    if (rc == nvml::kErrorGpuIsLost) {
        if (!d.lost) spdlog::error("nvml: GPU {} ({}) is lost: {}", d.index, d.uuid, ErrorText(rc));
        d.lost = true;
        return true;
    }
    spdlog::debug("nvml: GPU {}: metric {:#x} failed: {}", d.index, static_cast<unsigned>(metric), ErrorText(rc));
    return false;
}

bool NvmlSource::ReadProcesses(DeviceState& d, GpuSample& s) {
    // Ask with room for a few, grow on INSUFFICIENT_SIZE (the count then says how many there are, and
    // more may start meanwhile, hence the margin), and fall back to an older entry point when the
    // library's newest one is refused.
    unsigned capacity = 16;
    for (int attempt = 0; attempt < 4 && api_->get_processes; ++attempt) {
        process_buffer_.assign(static_cast<size_t>(capacity) * api_->process_struct_size, 0);
        unsigned count = capacity;
        const nvml::Return rc = api_->get_processes(d.handle, &count, process_buffer_.data());
        if (rc == nvml::kErrorInsufficientSize) {
            capacity = count * 2 + 5;
            continue;
        }
        if ((rc == nvml::kErrorFunctionNotFound || rc == nvml::kErrorArgumentVersionMismatch) &&
            !api_->older_process_lists.empty()) {
            api_->get_processes = api_->older_process_lists.front().first;
            api_->process_struct_size = api_->older_process_lists.front().second;
            api_->older_process_lists.erase(api_->older_process_lists.begin());
            continue;
        }
        if (rc != nvml::kSuccess) return Note(d, kProcesses, rc);
        std::vector<GpuProcess> out;
        for (unsigned i = 0; i < count && i < capacity; ++i) {
            const unsigned char* p = process_buffer_.data() + static_cast<size_t>(i) * api_->process_struct_size;
            unsigned pid = 0;
            unsigned long long used = 0;
            std::memcpy(&pid, p, sizeof pid);
            std::memcpy(&used, p + offsetof(nvml::ProcessInfo, used_gpu_memory), sizeof used);
            GpuProcess proc;
            proc.pid = pid;
            proc.name = ProcessName(pid);
            if (used != nvml::kValueNotAvailable) proc.used_mib = static_cast<double>(used) / kMiB;
            out.push_back(std::move(proc));
        }
        s.processes = std::move(out);
        return false;
    }
    return false;
}

Result<SampleSet> NvmlSource::Sample(std::chrono::system_clock::time_point) {
    SampleSet set;
    for (auto& d : devices_) {
        if (d.handle == nullptr) {
            set.lost.push_back({d.index, d.uuid, "cannot be opened"});
            continue;
        }
        GpuSample s;
        s.index = d.index;
        s.uuid = d.uuid;
        s.name = d.name;
        // A device found lost is asked again each time (utilization first): it may come back.
        bool lost = false;
        if (api_->get_utilization && (d.unsupported & kUtil) == 0) {
            nvml::Utilization u{};
            const nvml::Return rc = api_->get_utilization(d.handle, &u);
            if (rc == nvml::kSuccess) {
                s.util_gpu = u.gpu;
                s.util_mem = u.memory;
            } else {
                lost = Note(d, kUtil, rc);
            }
        }
        if (!lost && (d.unsupported & kMemory) == 0) {
            nvml::Return rc = nvml::kErrorFunctionNotFound;
            if (api_->get_memory_v2) {
                nvml::MemoryV2 m{};
                m.version = nvml::kMemoryV2Version;
                rc = api_->get_memory_v2(d.handle, &m);
                if (rc == nvml::kSuccess) {
                    s.mem_total_mib = static_cast<double>(m.total) / kMiB;
                    s.mem_used_mib = static_cast<double>(m.used) / kMiB;
                } else if (rc == nvml::kErrorFunctionNotFound || rc == nvml::kErrorArgumentVersionMismatch) {
                    api_->get_memory_v2 = nullptr;  // an older driver: v1 from now on
                }
            }
            if (rc != nvml::kSuccess && api_->get_memory_v1 &&
                (rc == nvml::kErrorFunctionNotFound || rc == nvml::kErrorArgumentVersionMismatch)) {
                nvml::MemoryV1 m{};
                rc = api_->get_memory_v1(d.handle, &m);
                if (rc == nvml::kSuccess) {
                    s.mem_total_mib = static_cast<double>(m.total) / kMiB;
                    s.mem_used_mib = static_cast<double>(m.used) / kMiB;
                }
            }
            if (rc != nvml::kSuccess) lost = Note(d, kMemory, rc);
        }
        if (!lost && (d.unsupported & kTemperature) == 0) {
            nvml::Return rc = nvml::kErrorFunctionNotFound;
            if (api_->get_temperature_v) {
                nvml::TemperatureV1 t{};
                t.version = nvml::kTemperatureV1Version;
                t.sensor_type = nvml::kTemperatureGpu;
                rc = api_->get_temperature_v(d.handle, &t);
                if (rc == nvml::kSuccess) {
                    s.temperature_c = t.temperature;
                } else if (rc == nvml::kErrorFunctionNotFound || rc == nvml::kErrorArgumentVersionMismatch) {
                    api_->get_temperature_v = nullptr;
                }
            }
            if (rc != nvml::kSuccess && api_->get_temperature &&
                (rc == nvml::kErrorFunctionNotFound || rc == nvml::kErrorArgumentVersionMismatch)) {
                unsigned t = 0;
                rc = api_->get_temperature(d.handle, nvml::kTemperatureGpu, &t);
                if (rc == nvml::kSuccess) s.temperature_c = t;
            }
            if (rc != nvml::kSuccess) lost = Note(d, kTemperature, rc);
        }
        if (!lost && api_->get_power && (d.unsupported & kPower) == 0) {
            unsigned mw = 0;
            const nvml::Return rc = api_->get_power(d.handle, &mw);
            if (rc == nvml::kSuccess) {
                s.power_w = mw / 1000.0;
            } else {
                lost = Note(d, kPower, rc);
            }
        }
        if (!lost && api_->get_power_limit && (d.unsupported & kPowerLimit) == 0) {
            unsigned mw = 0;
            const nvml::Return rc = api_->get_power_limit(d.handle, &mw);
            if (rc == nvml::kSuccess) {
                s.power_limit_w = mw / 1000.0;
            } else {
                lost = Note(d, kPowerLimit, rc);
            }
        }
        if (!lost && api_->get_clock && (d.unsupported & kSmClock) == 0) {
            unsigned mhz = 0;
            const nvml::Return rc = api_->get_clock(d.handle, nvml::kClockSm, &mhz);
            if (rc == nvml::kSuccess) {
                s.sm_clock_mhz = mhz;
            } else {
                lost = Note(d, kSmClock, rc);
            }
        }
        if (!lost && (d.unsupported & kProcesses) == 0) {
            lost = ReadProcesses(d, s);
        }
        if (lost || d.lost) {
            if (!lost) {
                // Lost earlier, and this time every call that ran succeeded: it is back.
                spdlog::info("nvml: GPU {} ({}) answers again", d.index, d.uuid);
                d.lost = false;
            } else {
                set.lost.push_back({d.index, d.uuid, "GPU is lost"});
                continue;
            }
        }
        set.gpus.push_back(std::move(s));
    }
    if (set.gpus.empty() && !set.lost.empty()) {
        return Error{
            ErrorCode::kUnavailable, "no GPU could be read (" + std::to_string(set.lost.size()) + " lost)", {}};
    }
    return set;
}

}  // namespace gpuopt::agent
