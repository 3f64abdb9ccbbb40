#include "agent/nvml/nvml_source.hpp"

#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <algorithm>
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
    // Optional, each on its own: a driver without one still gives the rest.
    nvml::DeviceGetSamplesFn get_samples = nullptr;
    nvml::DeviceGetUllFn get_energy = nullptr;
    nvml::DeviceGetPciInfoFn get_pci = nullptr;
    bool pci_legacy_layout = false;  // the unversioned call: only a 16-byte bus id
    nvml::DeviceGetUintFn get_minor = nullptr;
    nvml::EventSetCreateFn event_set_create = nullptr;
    nvml::DeviceRegisterEventsFn register_events = nullptr;
    nvml::EventSetWaitFn event_set_wait = nullptr;
    nvml::EventSetFreeFn event_set_free = nullptr;
    nvml::DeviceGetMigModeFn get_mig_mode = nullptr;
    nvml::DeviceGetUintFn get_max_mig_count = nullptr;
    nvml::DeviceGetMigDeviceHandleByIndexFn get_mig_handle = nullptr;
    nvml::DeviceGetUintFn get_gpu_instance_id = nullptr;
    nvml::DeviceGetAttributesFn get_attributes = nullptr;
    nvml::GpmQueryDeviceSupportFn gpm_supported = nullptr;
    nvml::GpmSampleAllocFn gpm_alloc = nullptr;
    nvml::GpmSampleFreeFn gpm_free = nullptr;
    nvml::GpmSampleGetFn gpm_sample = nullptr;
    nvml::GpmMigSampleGetFn gpm_mig_sample = nullptr;
    nvml::GpmMetricsGetFn gpm_metrics = nullptr;
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

double SampleValue(int type, const nvml::Value& v) {
    switch (type) {
        case nvml::kValueTypeDouble:
            return v.d;
        case nvml::kValueTypeUnsignedInt:
            return v.ui;
        case nvml::kValueTypeUnsignedLong:
            return static_cast<double>(v.ul);
        case nvml::kValueTypeUnsignedLongLong:
            return static_cast<double>(v.ull);
        case nvml::kValueTypeSignedLongLong:
            return static_cast<double>(v.sll);
        case nvml::kValueTypeSignedInt:
            return v.si;
        default:
            return -1;
    }
}

// "NVIDIA A100-SXM4-40GB MIG 1g.5gb" -> "1g.5gb".
std::string MigProfile(const std::string& name) {
    const size_t at = name.rfind("MIG ");
    return at == std::string::npos ? std::string() : name.substr(at + 4);
}

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
    api->get_samples = Symbol<nvml::DeviceGetSamplesFn>(lib, "nvmlDeviceGetSamples");
    api->get_energy = Symbol<nvml::DeviceGetUllFn>(lib, "nvmlDeviceGetTotalEnergyConsumption");
    api->get_pci = Newest<nvml::DeviceGetPciInfoFn>(lib, {"nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2"});
    if (api->get_pci == nullptr) {
        api->get_pci = Symbol<nvml::DeviceGetPciInfoFn>(lib, "nvmlDeviceGetPciInfo");
        api->pci_legacy_layout = api->get_pci != nullptr;
    }
    api->get_minor = Symbol<nvml::DeviceGetUintFn>(lib, "nvmlDeviceGetMinorNumber");
    api->event_set_create = Symbol<nvml::EventSetCreateFn>(lib, "nvmlEventSetCreate");
    api->register_events = Symbol<nvml::DeviceRegisterEventsFn>(lib, "nvmlDeviceRegisterEvents");
    api->event_set_wait = Symbol<nvml::EventSetWaitFn>(lib, "nvmlEventSetWait_v2");  // v1 fills a shorter struct
    api->event_set_free = Symbol<nvml::EventSetFreeFn>(lib, "nvmlEventSetFree");
    api->get_mig_mode = Symbol<nvml::DeviceGetMigModeFn>(lib, "nvmlDeviceGetMigMode");
    api->get_max_mig_count = Symbol<nvml::DeviceGetUintFn>(lib, "nvmlDeviceGetMaxMigDeviceCount");
    api->get_mig_handle = Symbol<nvml::DeviceGetMigDeviceHandleByIndexFn>(lib, "nvmlDeviceGetMigDeviceHandleByIndex");
    api->get_gpu_instance_id = Symbol<nvml::DeviceGetUintFn>(lib, "nvmlDeviceGetGpuInstanceId");
    api->get_attributes = Symbol<nvml::DeviceGetAttributesFn>(lib, "nvmlDeviceGetAttributes_v2");
    api->gpm_supported = Symbol<nvml::GpmQueryDeviceSupportFn>(lib, "nvmlGpmQueryDeviceSupport");
    api->gpm_alloc = Symbol<nvml::GpmSampleAllocFn>(lib, "nvmlGpmSampleAlloc");
    api->gpm_free = Symbol<nvml::GpmSampleFreeFn>(lib, "nvmlGpmSampleFree");
    api->gpm_sample = Symbol<nvml::GpmSampleGetFn>(lib, "nvmlGpmSampleGet");
    api->gpm_mig_sample = Symbol<nvml::GpmMigSampleGetFn>(lib, "nvmlGpmMigSampleGet");
    api->gpm_metrics = Symbol<nvml::GpmMetricsGetFn>(lib, "nvmlGpmMetricsGet");

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
            if (source->api_->get_pci) {
                nvml::PciInfo pci{};
                if (source->api_->get_pci(d.handle, &pci) == nvml::kSuccess) {
                    d.pci_bus_id = source->api_->pci_legacy_layout
                                       ? FixedString(pci.bus_id_legacy, sizeof pci.bus_id_legacy)
                                       : FixedString(pci.bus_id, sizeof pci.bus_id);
                }
            }
            unsigned minor = 0;
            if (source->api_->get_minor && source->api_->get_minor(d.handle, &minor) == nvml::kSuccess) {
                d.minor_number = minor;
            }
        }
        if (d.name.empty()) d.name = "NVIDIA GPU";
        source->devices_.push_back(std::move(d));
    }
    const size_t gpus = source->devices_.size();
    for (size_t i = 0; i < gpus; ++i) source->FindMigInstances(i);
    for (auto& d : source->devices_) {
        if (d.handle != nullptr && !d.mig) source->PrepareGpm(d, false);
    }
    for (auto& d : source->devices_) {
        if (d.mig) {
            const auto parent = std::find_if(source->devices_.begin(), source->devices_.end(),
                                             [&](const DeviceState& p) { return p.handle == d.parent; });
            source->PrepareGpm(d, parent != source->devices_.end() && parent->gpm_previous != nullptr);
        }
    }
    // XID errors arrive as events; a GPU that cannot register for them is read without.
    auto& api_ref = *source->api_;
    if (api_ref.event_set_create && api_ref.register_events && api_ref.event_set_wait && api_ref.event_set_free &&
        api_ref.event_set_create(&source->events_) == nvml::kSuccess) {
        for (const auto& d : source->devices_) {
            if (d.handle == nullptr || d.mig) continue;
            if (const nvml::Return r =
                    api_ref.register_events(d.handle, nvml::kEventTypeXidCriticalError, source->events_);
                r != nvml::kSuccess) {
                spdlog::debug("nvml: GPU {}: XID events not available ({})", d.index, source->ErrorText(r));
            }
        }
    }
    return source;
}

void NvmlSource::FindMigInstances(size_t parent_at) {
    DeviceState& parent = devices_[parent_at];
    if (parent.handle == nullptr || !api_->get_mig_mode || !api_->get_max_mig_count || !api_->get_mig_handle) return;
    unsigned current = 0;
    unsigned pending = 0;
    if (api_->get_mig_mode(parent.handle, &current, &pending) != nvml::kSuccess || current != 1) return;
    unsigned max = 0;
    if (api_->get_max_mig_count(parent.handle, &max) != nvml::kSuccess || max == 0) return;
    double parent_mib = 0;
    if (api_->get_memory_v2) {
        nvml::MemoryV2 m{};
        m.version = nvml::kMemoryV2Version;
        if (api_->get_memory_v2(parent.handle, &m) == nvml::kSuccess) parent_mib = static_cast<double>(m.total) / kMiB;
    }
    if (parent_mib == 0 && api_->get_memory_v1) {
        nvml::MemoryV1 m{};
        if (api_->get_memory_v1(parent.handle, &m) == nvml::kSuccess) parent_mib = static_cast<double>(m.total) / kMiB;
    }
    std::vector<DeviceState> found;
    for (unsigned i = 0; i < max; ++i) {
        nvml::Device handle = nullptr;
        // Empty slots answer NOT_FOUND or INVALID_ARGUMENT: skipped, as dcgm-exporter does.
        if (api_->get_mig_handle(parent.handle, i, &handle) != nvml::kSuccess || handle == nullptr) continue;
        DeviceState d;
        d.handle = handle;
        d.parent = parent.handle;
        d.index = parent.index;
        d.pci_bus_id = parent.pci_bus_id;
        d.minor_number = parent.minor_number;
        char buffer[nvml::kDeviceNameBufferSize] = {};
        if (api_->get_name && api_->get_name(handle, buffer, sizeof buffer) == nvml::kSuccess) {
            d.name = FixedString(buffer, sizeof buffer);
        }
        if (d.name.empty()) d.name = parent.name + " MIG";
        char uuid[nvml::kDeviceUuidBufferSize] = {};
        if (api_->get_uuid && api_->get_uuid(handle, uuid, sizeof uuid) == nvml::kSuccess) {
            d.uuid = FixedString(uuid, sizeof uuid);
        }
        if (d.uuid.empty()) continue;  // a unit the server can tell apart needs its own UUID
        MigInstance mig;
        mig.parent_uuid = parent.uuid;
        mig.parent_name = parent.name;
        mig.parent_mem_total_mib = parent_mib;
        mig.profile = MigProfile(d.name);
        unsigned gi = 0;
        if (api_->get_gpu_instance_id && api_->get_gpu_instance_id(handle, &gi) == nvml::kSuccess) {
            mig.gpu_instance_id = gi;
        }
        nvml::DeviceAttributes attributes{};
        if (api_->get_attributes && api_->get_attributes(handle, &attributes) == nvml::kSuccess &&
            attributes.gpu_instance_slice_count > 0) {
            mig.fraction = std::min(1.0, static_cast<double>(attributes.gpu_instance_slice_count) / max);
        } else {
            mig.fraction = 1.0 / max;
        }
        d.mig = std::move(mig);
        found.push_back(std::move(d));
    }
    if (found.empty()) return;
    parent.mig_enabled = true;
    spdlog::info("nvml: GPU {} ({}) is in MIG mode: {} instance(s) are monitored and priced", parent.index, parent.uuid,
                 found.size());
    for (auto& d : found) devices_.push_back(std::move(d));
}

void NvmlSource::PrepareGpm(DeviceState& d, bool parent_supports) {
    if (!api_->gpm_alloc || !api_->gpm_free || !api_->gpm_metrics) return;
    bool supported = parent_supports && api_->gpm_mig_sample;
    if (!d.mig) {
        if (!api_->gpm_supported || !api_->gpm_sample) return;
        nvml::GpmSupport support{};
        support.version = nvml::kGpmSupportVersion;
        supported = api_->gpm_supported(d.handle, &support) == nvml::kSuccess && support.is_supported_device != 0;
    }
    if (!supported) return;
    if (api_->gpm_alloc(&d.gpm_previous) != nvml::kSuccess) {
        d.gpm_previous = nullptr;
        return;
    }
    if (api_->gpm_alloc(&d.gpm_current) != nvml::kSuccess) {
        api_->gpm_free(d.gpm_previous);
        d.gpm_previous = nullptr;
        d.gpm_current = nullptr;
        return;
    }
    if (!gpm_request_) gpm_request_ = std::make_unique<nvml::GpmMetricsGet>();
}

NvmlSource::NvmlSource(void* library, std::unique_ptr<Api> api) : library_(library), api_(std::move(api)) {}

NvmlSource::~NvmlSource() {
    if (initialised_) {
        for (auto& d : devices_) {
            if (d.gpm_previous) api_->gpm_free(d.gpm_previous);
            if (d.gpm_current) api_->gpm_free(d.gpm_current);
        }
        if (events_) api_->event_set_free(events_);
        api_->shutdown();
    }
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

bool NvmlSource::ReadSampleBuffer(DeviceState& d, GpuSample& s) {
    // The driver keeps a ring buffer of utilization samples (every 1/6 to 1 s); averaging the ones newer
    // than the last seen gives the whole interval, not one point of it. NOT_FOUND: nothing new since.
    int type = 0;
    unsigned count = 0;
    nvml::Return rc =
        api_->get_samples(d.handle, nvml::kGpuUtilizationSamples, d.last_sample_us, &type, &count, nullptr);
    if (rc == nvml::kErrorNotFound) return false;
    if (rc != nvml::kSuccess) return Note(d, kSamples, rc);
    if (count == 0) return false;
    sample_buffer_.assign(std::min(count, 4096u), nvml::Sample{});
    count = static_cast<unsigned>(sample_buffer_.size());
    rc = api_->get_samples(d.handle, nvml::kGpuUtilizationSamples, d.last_sample_us, &type, &count,
                           sample_buffer_.data());
    if (rc == nvml::kErrorNotFound) return false;
    if (rc != nvml::kSuccess) return Note(d, kSamples, rc);
    double sum = 0;
    int used = 0;
    unsigned long long newest = d.last_sample_us;
    for (unsigned i = 0; i < count && i < sample_buffer_.size(); ++i) {
        const auto& sample = sample_buffer_[i];
        if (sample.time_stamp <= d.last_sample_us) continue;
        const double v = SampleValue(type, sample.value);
        if (v < 0 || v > 100) continue;  // not a percentage: left out
        sum += v;
        ++used;
        newest = std::max(newest, sample.time_stamp);
    }
    d.last_sample_us = newest;
    if (used > 0) s.util_gpu = sum / used;
    return false;
}

bool NvmlSource::ReadGpm(DeviceState& d, GpuSample& s) {
    const nvml::Return rc = d.mig ? api_->gpm_mig_sample(d.parent, d.mig->gpu_instance_id, d.gpm_current)
                                  : api_->gpm_sample(d.handle, d.gpm_current);
    if (rc != nvml::kSuccess) {
        d.gpm_primed = false;
        return Note(d, kGpm, rc);
    }
    if (d.gpm_primed) {
        auto& request = *gpm_request_;
        request = nvml::GpmMetricsGet{};
        request.version = nvml::kGpmMetricsGetVersion;
        request.num_metrics = 2;
        request.sample1 = d.gpm_previous;
        request.sample2 = d.gpm_current;
        request.metrics[0].metric_id = nvml::kGpmSmUtil;
        request.metrics[1].metric_id = nvml::kGpmGraphicsUtil;
        if (const nvml::Return m = api_->gpm_metrics(&request); m == nvml::kSuccess) {
            auto percent = [](const nvml::GpmMetric& metric) -> std::optional<double> {
                if (metric.nvml_return != nvml::kSuccess || metric.value < 0 || metric.value > 100) return {};
                return metric.value;
            };
            s.sm_active = percent(request.metrics[0]);
            s.gr_engine_active = percent(request.metrics[1]);
        } else {
            Note(d, kGpm, m);
        }
    }
    std::swap(d.gpm_previous, d.gpm_current);
    d.gpm_primed = true;
    return false;
}

void NvmlSource::DrainEvents() {
    if (events_ == nullptr) return;
    // Bounded: a storm of events cannot hold the sampling thread.
    for (int i = 0; i < 256; ++i) {
        nvml::EventData data{};
        if (api_->event_set_wait(events_, &data, 0) != nvml::kSuccess) return;
        if ((data.event_type & nvml::kEventTypeXidCriticalError) == 0) continue;
        for (auto& d : devices_) {
            // A MIG parent's faults belong to each of its instances.
            if (d.handle == data.device || (d.mig && d.parent == data.device)) d.xids.push_back(data.event_data);
        }
    }
}

Result<SampleSet> NvmlSource::Sample(std::chrono::system_clock::time_point) {
    SampleSet set;
    DrainEvents();
    for (auto& d : devices_) {
        if (d.mig_enabled) {
            d.xids.clear();
            continue;  // its instances are the units
        }
        if (d.handle == nullptr) {
            set.lost.push_back({d.index, d.uuid, "cannot be opened"});
            continue;
        }
        GpuSample s;
        s.index = d.index;
        s.uuid = d.uuid;
        s.name = d.name;
        s.pci_bus_id = d.pci_bus_id;
        s.minor_number = d.minor_number;
        s.mig = d.mig;
        s.xids = std::move(d.xids);
        d.xids.clear();
        // A device found lost is asked again each time (utilization first): it may come back.
        bool lost = false;
        if (api_->get_utilization && (d.unsupported & kUtil) == 0 && !d.mig) {
            nvml::Utilization u{};
            const nvml::Return rc = api_->get_utilization(d.handle, &u);
            if (rc == nvml::kSuccess) {
                s.util_gpu = u.gpu;
                s.util_mem = u.memory;
            } else {
                lost = Note(d, kUtil, rc);
            }
        }
        if (!lost && api_->get_samples && (d.unsupported & kSamples) == 0 && !d.mig) {
            lost = ReadSampleBuffer(d, s);
        }
        if (!lost && d.gpm_previous != nullptr && (d.unsupported & kGpm) == 0) {
            lost = ReadGpm(d, s);
            if (d.mig && s.gr_engine_active) s.util_gpu = s.gr_engine_active;
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
        if (!lost && (d.unsupported & kTemperature) == 0 && !d.mig) {
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
        if (!lost && api_->get_power && (d.unsupported & kPower) == 0 && !d.mig) {
            unsigned mw = 0;
            const nvml::Return rc = api_->get_power(d.handle, &mw);
            if (rc == nvml::kSuccess) {
                s.power_w = mw / 1000.0;
            } else {
                lost = Note(d, kPower, rc);
            }
        }
        if (!lost && api_->get_power_limit && (d.unsupported & kPowerLimit) == 0 && !d.mig) {
            unsigned mw = 0;
            const nvml::Return rc = api_->get_power_limit(d.handle, &mw);
            if (rc == nvml::kSuccess) {
                s.power_limit_w = mw / 1000.0;
            } else {
                lost = Note(d, kPowerLimit, rc);
            }
        }
        if (!lost && api_->get_clock && (d.unsupported & kSmClock) == 0 && !d.mig) {
            unsigned mhz = 0;
            const nvml::Return rc = api_->get_clock(d.handle, nvml::kClockSm, &mhz);
            if (rc == nvml::kSuccess) {
                s.sm_clock_mhz = mhz;
            } else {
                lost = Note(d, kSmClock, rc);
            }
        }
        if (!lost && api_->get_clock && (d.unsupported & kMemClock) == 0 && !d.mig) {
            unsigned mhz = 0;
            const nvml::Return rc = api_->get_clock(d.handle, nvml::kClockMem, &mhz);
            if (rc == nvml::kSuccess) {
                s.mem_clock_mhz = mhz;
            } else {
                lost = Note(d, kMemClock, rc);
            }
        }
        if (!lost && api_->get_energy && (d.unsupported & kEnergy) == 0 && !d.mig) {
            unsigned long long mj = 0;
            const nvml::Return rc = api_->get_energy(d.handle, &mj);
            if (rc == nvml::kSuccess) {
                s.energy_mj = static_cast<double>(mj);
            } else {
                lost = Note(d, kEnergy, rc);
            }
        }
        if (!lost && (d.unsupported & kProcesses) == 0) {
            lost = ReadProcesses(d, s);
        }
        // A MIG instance has no utilization of its own; without GPM (before Hopper) one that runs no
        // process is known to be idle, and one that does is not known: left out of the window.
        if (d.mig && !s.util_gpu && s.processes && s.processes->empty()) s.util_gpu = 0;
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
