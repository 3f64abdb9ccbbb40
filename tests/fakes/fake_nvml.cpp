// A fake libnvidia-ml.so for the agent's tests, loaded through the agent's real dlopen path. It
// implements the entry points the agent uses with NVIDIA's documented layouts, and takes its GPUs and
// failures from a script named by FAKE_NVML_SCRIPT, read at nvmlInit:
//
//   gpu name="NVIDIA A100-SXM4-40GB" uuid=GPU-0 util=3,90 mem_util=1 total_mib=40960 used_mib=1200 temp=34
//       power_mw=55100 limit_mw=400000 sm_mhz=1410 procs=4121:1100,4122:50
//   unsupported gpu=1 metric=power          (power, limit, temp, clock, processes, util, memory)
//   lost gpu=2 after=3                      (GPU 2 answers GPU_IS_LOST after 3 utilization reads)
//   init rc=9                               (nvmlInit fails with this code)
//
// util and used_mib may list values separated by commas; each read takes the next (cycling).
// FAKE_NVML_LOG, when set, names a file that gets a line per nvmlInit and nvmlShutdown.
// Built twice: as a current driver, and with FAKE_NVML_OLD_DRIVER as a driver from before the _v3
// process list and the versioned memory and temperature calls.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Return = int;
constexpr Return kSuccess = 0, kUninitialized = 1, kInvalidArgument = 2, kNotSupported = 3, kInsufficientSize = 7,
                 kGpuIsLost = 15, kArgumentVersionMismatch = 25;

struct Gpu {
    std::string name = "NVIDIA A100-SXM4-40GB";
    std::string uuid;
    std::vector<unsigned> util{0};
    unsigned mem_util = 0;
    unsigned long long total_mib = 40960;
    std::vector<unsigned long long> used_mib{0};
    unsigned temp = 30;
    unsigned power_mw = 50000;
    unsigned limit_mw = 400000;
    unsigned sm_mhz = 1410;
    std::vector<std::pair<unsigned, unsigned long long>> procs;  // pid, MiB
    std::map<std::string, bool> unsupported;
    int lost_after = -1;
    int util_reads = 0;
    int used_reads = 0;
    bool lost = false;  // set by the utilization read that finds lost_after reads done
    bool Lost() const { return lost; }
};

std::vector<Gpu> g_gpus;
bool g_initialised = false;
Return g_init_rc = kSuccess;

void Log(const char* line) {
    if (const char* path = std::getenv("FAKE_NVML_LOG")) {
        std::ofstream(path, std::ios::app) << line << "\n";
    }
}

std::map<std::string, std::string> Pairs(const std::string& line) {
    std::map<std::string, std::string> out;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && line[i] == ' ') ++i;
        const size_t eq = line.find('=', i);
        if (eq == std::string::npos) break;
        const std::string key = line.substr(i, eq - i);
        std::string value;
        i = eq + 1;
        if (i < line.size() && line[i] == '"') {
            const size_t close = line.find('"', i + 1);
            value = line.substr(i + 1, close - i - 1);
            i = close + 1;
        } else {
            const size_t end = line.find(' ', i);
            value = line.substr(i, end == std::string::npos ? std::string::npos : end - i);
            i = end == std::string::npos ? line.size() : end;
        }
        out[key] = value;
    }
    return out;
}

template <class T>
std::vector<T> List(const std::string& s) {
    std::vector<T> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) out.push_back(static_cast<T>(std::stoull(item)));
    return out;
}

void LoadScript() {
    g_gpus.clear();
    g_init_rc = kSuccess;
    const char* path = std::getenv("FAKE_NVML_SCRIPT");
    if (path == nullptr) return;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        const size_t space = line.find(' ');
        const std::string verb = line.substr(0, space);
        auto kv = Pairs(space == std::string::npos ? "" : line.substr(space + 1));
        if (verb == "gpu") {
            Gpu g;
            if (kv.count("name")) g.name = kv["name"];
            g.uuid = kv.count("uuid") ? kv["uuid"] : "GPU-fake-" + std::to_string(g_gpus.size());
            if (kv.count("util")) g.util = List<unsigned>(kv["util"]);
            if (kv.count("mem_util")) g.mem_util = static_cast<unsigned>(std::stoul(kv["mem_util"]));
            if (kv.count("total_mib")) g.total_mib = std::stoull(kv["total_mib"]);
            if (kv.count("used_mib")) g.used_mib = List<unsigned long long>(kv["used_mib"]);
            if (kv.count("temp")) g.temp = static_cast<unsigned>(std::stoul(kv["temp"]));
            if (kv.count("power_mw")) g.power_mw = static_cast<unsigned>(std::stoul(kv["power_mw"]));
            if (kv.count("limit_mw")) g.limit_mw = static_cast<unsigned>(std::stoul(kv["limit_mw"]));
            if (kv.count("sm_mhz")) g.sm_mhz = static_cast<unsigned>(std::stoul(kv["sm_mhz"]));
            if (kv.count("procs")) {
                std::stringstream ss(kv["procs"]);
                std::string p;
                while (std::getline(ss, p, ',')) {
                    const size_t colon = p.find(':');
                    g.procs.emplace_back(static_cast<unsigned>(std::stoul(p.substr(0, colon))),
                                         std::stoull(p.substr(colon + 1)));
                }
            }
            g_gpus.push_back(std::move(g));
        } else if (verb == "unsupported") {
            g_gpus.at(std::stoul(kv["gpu"])).unsupported[kv["metric"]] = true;
        } else if (verb == "lost") {
            g_gpus.at(std::stoul(kv["gpu"])).lost_after = std::stoi(kv["after"]);
        } else if (verb == "init") {
            g_init_rc = std::stoi(kv["rc"]);
        }
    }
}

Gpu* Dev(void* handle) { return static_cast<Gpu*>(handle); }

// The checks every device call makes, in NVML's order: initialised, a handle, lost, supported.
Return Check(void* handle, const char* metric) {
    if (!g_initialised) return kUninitialized;
    if (handle == nullptr) return kInvalidArgument;
    if (Dev(handle)->Lost()) return kGpuIsLost;
    if (Dev(handle)->unsupported.count(metric)) return kNotSupported;
    return kSuccess;
}

Return CopyString(const std::string& s, char* out, unsigned length) {
    if (out == nullptr || length <= s.size()) return kInsufficientSize;
    std::memcpy(out, s.c_str(), s.size() + 1);
    return kSuccess;
}

constexpr unsigned long long kMiB = 1024ull * 1024;

struct MemoryV1 {
    unsigned long long total, free, used;
};
struct MemoryV2 {
    unsigned version;
    unsigned long long total, reserved, free, used;
};
struct TemperatureV1 {
    unsigned version;
    int sensor;
    int temperature;
};
struct ProcessV1 {
    unsigned pid;
    unsigned long long used;
};
struct ProcessV2 {
    unsigned pid;
    unsigned long long used;
    unsigned gi, ci;
};

unsigned long long NextUsed(Gpu& g) { return g.used_mib[static_cast<size_t>(g.used_reads++) % g.used_mib.size()]; }

template <class P>
Return Processes(void* handle, unsigned* count, P* out) {
    if (Return rc = Check(handle, "processes"); rc != kSuccess) return rc;
    if (count == nullptr) return kInvalidArgument;
    const auto& procs = Dev(handle)->procs;
    if (*count < procs.size()) {
        *count = static_cast<unsigned>(procs.size());
        return kInsufficientSize;
    }
    *count = static_cast<unsigned>(procs.size());
    for (size_t i = 0; i < procs.size(); ++i) {
        P p{};
        p.pid = procs[i].first;
        p.used = procs[i].second * kMiB;
        out[i] = p;
    }
    return kSuccess;
}

}  // namespace

#define FAKE_API extern "C" __attribute__((visibility("default")))

FAKE_API Return nvmlInit_v2() {
    Log("init");
    LoadScript();
    if (g_init_rc != kSuccess) return g_init_rc;
    g_initialised = true;
    return kSuccess;
}
FAKE_API Return nvmlInit() { return nvmlInit_v2(); }
FAKE_API Return nvmlShutdown() {
    Log("shutdown");
    g_initialised = false;
    return kSuccess;
}
FAKE_API const char* nvmlErrorString(Return rc) {
    switch (rc) {
        case kSuccess:
            return "Success";
        case kUninitialized:
            return "Uninitialized";
        case kInvalidArgument:
            return "Invalid Argument";
        case kNotSupported:
            return "Not Supported";
        case 9:
            return "Driver Not Loaded";
        case kGpuIsLost:
            return "GPU is lost";
        case kArgumentVersionMismatch:
            return "Argument version mismatch";
        default:
            return "Unknown Error";
    }
}
FAKE_API Return nvmlSystemGetDriverVersion(char* out, unsigned length) { return CopyString("550.54.15", out, length); }
FAKE_API Return nvmlDeviceGetCount_v2(unsigned* count) {
    if (!g_initialised) return kUninitialized;
    *count = static_cast<unsigned>(g_gpus.size());
    return kSuccess;
}
FAKE_API Return nvmlDeviceGetHandleByIndex_v2(unsigned index, void** device) {
    if (!g_initialised) return kUninitialized;
    if (index >= g_gpus.size()) return kInvalidArgument;
    *device = &g_gpus[index];
    return kSuccess;
}
FAKE_API Return nvmlDeviceGetName(void* d, char* out, unsigned length) {
    if (Return rc = Check(d, "name"); rc != kSuccess) return rc;
    return CopyString(Dev(d)->name, out, length);
}
FAKE_API Return nvmlDeviceGetUUID(void* d, char* out, unsigned length) {
    if (Return rc = Check(d, "uuid"); rc != kSuccess) return rc;
    return CopyString(Dev(d)->uuid, out, length);
}
FAKE_API Return nvmlDeviceGetUtilizationRates(void* d, unsigned* out) {
    if (d != nullptr && Dev(d)->lost_after >= 0 && Dev(d)->util_reads >= Dev(d)->lost_after) Dev(d)->lost = true;
    if (Return rc = Check(d, "util"); rc != kSuccess) return rc;
    Gpu& g = *Dev(d);
    out[0] = g.util[static_cast<size_t>(g.util_reads++) % g.util.size()];
    out[1] = g.mem_util;
    return kSuccess;
}
FAKE_API Return nvmlDeviceGetMemoryInfo(void* d, MemoryV1* m) {
    if (Return rc = Check(d, "memory"); rc != kSuccess) return rc;
    Gpu& g = *Dev(d);
    const unsigned long long used = NextUsed(g);
    // v1 counts the driver's reservation as used, as the real one does.
    *m = MemoryV1{g.total_mib * kMiB, (g.total_mib - used - 300) * kMiB, (used + 300) * kMiB};
    return kSuccess;
}
FAKE_API Return nvmlDeviceGetTemperature(void* d, int sensor, unsigned* t) {
    if (Return rc = Check(d, "temp"); rc != kSuccess) return rc;
    if (sensor != 0) return kInvalidArgument;
    *t = Dev(d)->temp;
    return kSuccess;
}
FAKE_API Return nvmlDeviceGetPowerUsage(void* d, unsigned* mw) {
    if (Return rc = Check(d, "power"); rc != kSuccess) return rc;
    *mw = Dev(d)->power_mw;
    return kSuccess;
}
FAKE_API Return nvmlDeviceGetEnforcedPowerLimit(void* d, unsigned* mw) {
    if (Return rc = Check(d, "limit"); rc != kSuccess) return rc;
    *mw = Dev(d)->limit_mw;
    return kSuccess;
}
FAKE_API Return nvmlDeviceGetClockInfo(void* d, int type, unsigned* mhz) {
    if (Return rc = Check(d, "clock"); rc != kSuccess) return rc;
    if (type != 1) return kInvalidArgument;
    *mhz = Dev(d)->sm_mhz;
    return kSuccess;
}
FAKE_API Return nvmlDeviceGetComputeRunningProcesses(void* d, unsigned* count, ProcessV1* out) {
    return Processes(d, count, out);
}
FAKE_API Return nvmlDeviceGetComputeRunningProcesses_v2(void* d, unsigned* count, ProcessV2* out) {
    return Processes(d, count, out);
}

#ifndef FAKE_NVML_OLD_DRIVER
FAKE_API Return nvmlDeviceGetMemoryInfo_v2(void* d, MemoryV2* m) {
    if (Return rc = Check(d, "memory"); rc != kSuccess) return rc;
    // The real library refuses a struct whose version field is not NVML_STRUCT_VERSION(Memory, 2).
    if (m->version != (sizeof(MemoryV2) | (2u << 24))) return kArgumentVersionMismatch;
    Gpu& g = *Dev(d);
    const unsigned long long used = NextUsed(g);
    m->total = g.total_mib * kMiB;
    m->reserved = 300 * kMiB;
    m->used = used * kMiB;
    m->free = (g.total_mib - used - 300) * kMiB;
    return kSuccess;
}
FAKE_API Return nvmlDeviceGetTemperatureV(void* d, TemperatureV1* t) {
    if (Return rc = Check(d, "temp"); rc != kSuccess) return rc;
    if (t->version != (sizeof(TemperatureV1) | (1u << 24))) return kArgumentVersionMismatch;
    if (t->sensor != 0) return kInvalidArgument;
    t->temperature = static_cast<int>(Dev(d)->temp);
    return kSuccess;
}
FAKE_API Return nvmlDeviceGetComputeRunningProcesses_v3(void* d, unsigned* count, ProcessV2* out) {
    return Processes(d, count, out);
}
FAKE_API Return nvmlDeviceGetRunningProcessDetailList(void*, void*) { return kNotSupported; }
#endif
