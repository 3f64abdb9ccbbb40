// A fake libnvidia-ml.so for the agent's tests, loaded through the agent's real dlopen path. It
// implements the entry points the agent uses with NVIDIA's documented layouts, and takes its GPUs and
// failures from a script named by FAKE_NVML_SCRIPT, read at nvmlInit:
//
//   gpu name="NVIDIA A100-SXM4-40GB" uuid=GPU-0 util=3,90 mem_util=1 total_mib=40960 used_mib=1200 temp=34
//       power_mw=55100 limit_mw=400000 sm_mhz=1410 procs=4121:1100,4122:50
//       samples=10,20,30 mem_mhz=1593 energy_mj=5000 energy_step=900 bus=7 minor=3 sm_active=40 gr_active=55
//   unsupported gpu=1 metric=power          (power, limit, temp, clock, processes, util, memory, samples,
//                                            memclock, energy, pci, gpm, events)
//   lost gpu=2 after=3                      (GPU 2 answers GPU_IS_LOST after 3 utilization reads)
//   xid gpu=0 code=79 after=2               (an XID event once GPU 0 has had 2 utilization reads)
//   mig gpu=0 uuid=MIG-a name="NVIDIA H100 80GB HBM3 MIG 1g.10gb" gi=9 slices=1 total_mib=9984 used_mib=10
//       procs=... sm_active=.. gr_active=..  (GPU 0 in MIG mode, with this instance)
//   init rc=9                               (nvmlInit fails with this code)
//
// util and used_mib may list values separated by commas; each read takes the next (cycling). samples=
// lists the utilization samples each nvmlDeviceGetSamples call adds to the driver's buffer (with the
// previous call's newest one repeated, so the caller must skip what it has seen); without it the buffer
// has nothing new (NOT_FOUND). sm_active / gr_active turn GPM on for the GPU (Hopper and later).
// FAKE_NVML_LOG, when set, names a file that gets a line per nvmlInit and nvmlShutdown.
// Built twice: as a current driver, and with FAKE_NVML_OLD_DRIVER as a driver from before the _v3
// process list and the versioned memory and temperature calls.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Return = int;
constexpr Return kSuccess = 0, kUninitialized = 1, kInvalidArgument = 2, kNotSupported = 3, kNotFound = 6,
                 kInsufficientSize = 7, kTimeout = 10, kGpuIsLost = 15, kArgumentVersionMismatch = 25;

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
    std::vector<unsigned> samples;
    unsigned long long sample_clock_us = 1'000'000;
    unsigned mem_mhz = 1215;
    unsigned long long energy_mj = 1'000'000;
    unsigned long long energy_step = 0;
    unsigned bus = 0;
    unsigned minor = 0;
    bool gpm = false;
    double sm_active = 0, gr_active = 0;
    // MIG: an instance points at its parent; a parent lists its instances.
    Gpu* parent = nullptr;
    std::vector<Gpu*> instances;
    unsigned gi = 0;
    unsigned slices = 1;
    std::map<std::string, bool> unsupported;
    int lost_after = -1;
    int util_reads = 0;
    int used_reads = 0;
    bool lost = false;  // set by the utilization read that finds lost_after reads done
    bool Lost() const { return lost; }
};

std::vector<Gpu> g_gpus;
std::deque<Gpu> g_migs;  // stable addresses: handles point into it
struct Xid {
    size_t gpu;
    unsigned long long code;
    int after;
    bool delivered = false;
};
std::vector<Xid> g_xids;
struct GpmSampleFake {
    Gpu* gpu = nullptr;
    int sequence = 0;
};
int g_gpm_sequence = 0;
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

Gpu ParseGpu(std::map<std::string, std::string>& kv, const std::string& default_uuid) {
    Gpu g;
    if (kv.count("name")) g.name = kv["name"];
    g.uuid = kv.count("uuid") ? kv["uuid"] : default_uuid;
    if (kv.count("util")) g.util = List<unsigned>(kv["util"]);
    if (kv.count("mem_util")) g.mem_util = static_cast<unsigned>(std::stoul(kv["mem_util"]));
    if (kv.count("total_mib")) g.total_mib = std::stoull(kv["total_mib"]);
    if (kv.count("used_mib")) g.used_mib = List<unsigned long long>(kv["used_mib"]);
    if (kv.count("temp")) g.temp = static_cast<unsigned>(std::stoul(kv["temp"]));
    if (kv.count("power_mw")) g.power_mw = static_cast<unsigned>(std::stoul(kv["power_mw"]));
    if (kv.count("limit_mw")) g.limit_mw = static_cast<unsigned>(std::stoul(kv["limit_mw"]));
    if (kv.count("sm_mhz")) g.sm_mhz = static_cast<unsigned>(std::stoul(kv["sm_mhz"]));
    if (kv.count("samples")) g.samples = List<unsigned>(kv["samples"]);
    if (kv.count("mem_mhz")) g.mem_mhz = static_cast<unsigned>(std::stoul(kv["mem_mhz"]));
    if (kv.count("energy_mj")) g.energy_mj = std::stoull(kv["energy_mj"]);
    if (kv.count("energy_step")) g.energy_step = std::stoull(kv["energy_step"]);
    if (kv.count("bus")) g.bus = static_cast<unsigned>(std::stoul(kv["bus"]));
    if (kv.count("minor")) g.minor = static_cast<unsigned>(std::stoul(kv["minor"]));
    if (kv.count("sm_active") || kv.count("gr_active")) g.gpm = true;
    if (kv.count("sm_active")) g.sm_active = std::stod(kv["sm_active"]);
    if (kv.count("gr_active")) g.gr_active = std::stod(kv["gr_active"]);
    if (kv.count("gi")) g.gi = static_cast<unsigned>(std::stoul(kv["gi"]));
    if (kv.count("slices")) g.slices = static_cast<unsigned>(std::stoul(kv["slices"]));
    if (kv.count("procs")) {
        std::stringstream ss(kv["procs"]);
        std::string p;
        while (std::getline(ss, p, ',')) {
            const size_t colon = p.find(':');
            g.procs.emplace_back(static_cast<unsigned>(std::stoul(p.substr(0, colon))),
                                 std::stoull(p.substr(colon + 1)));
        }
    }
    return g;
}

void LoadScript() {
    g_gpus.clear();
    g_migs.clear();
    g_xids.clear();
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
            Gpu g = ParseGpu(kv, "GPU-fake-" + std::to_string(g_gpus.size()));
            if (!kv.count("bus")) g.bus = 7 + static_cast<unsigned>(g_gpus.size());
            if (!kv.count("minor")) g.minor = static_cast<unsigned>(g_gpus.size());
            g_gpus.push_back(std::move(g));
        } else if (verb == "mig") {
            // Instances are added after every GPU line, so g_gpus no longer moves.
            Gpu& parent = g_gpus.at(std::stoul(kv["gpu"]));
            Gpu m = ParseGpu(kv, "MIG-fake-" + std::to_string(g_migs.size()));
            m.parent = &parent;
            g_migs.push_back(std::move(m));
            parent.instances.push_back(&g_migs.back());
        } else if (verb == "xid") {
            g_xids.push_back(
                {std::stoul(kv["gpu"]), std::stoull(kv["code"]), kv.count("after") ? std::stoi(kv["after"]) : 0});
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

union Value {
    double d;
    unsigned ui;
    unsigned long long ull;
};
struct Sample {
    unsigned long long time_stamp;
    Value value;
};
struct PciInfo {
    char bus_id_legacy[16];
    unsigned domain, bus, device, pci_device_id, pci_sub_system_id;
    char bus_id[32];
};
struct EventSet {
    std::vector<Gpu*> devices;
};
struct EventData {
    void* device;
    unsigned long long type, data;
    unsigned gi, ci;
};
struct Attributes {
    unsigned mp, ce, dec, enc, jpeg, ofa, gi_slices, ci_slices;
    unsigned long long memory_mb;
};
struct GpmSupport {
    unsigned version, supported;
};
struct GpmMetric {
    unsigned id;
    Return rc;
    double value;
    const char *short_name, *long_name, *unit;
};
struct GpmMetricsGet {
    unsigned version, count;
    GpmSampleFake *sample1, *sample2;
    GpmMetric metrics[98];  // the smaller NVML_GPM_METRIC_MAX: only `count` entries are touched
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
    if (g.parent != nullptr || !g.instances.empty()) return kNotSupported;  // none for MIG
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
    if (type == 2) {
        if (Return rc = Check(d, "memclock"); rc != kSuccess) return rc;
        *mhz = Dev(d)->mem_mhz;
        return kSuccess;
    }
    if (type != 1) return kInvalidArgument;
    *mhz = Dev(d)->sm_mhz;
    return kSuccess;
}
FAKE_API Return nvmlDeviceGetSamples(void* d, int type, unsigned long long last_seen, int* value_type, unsigned* count,
                                     Sample* out) {
    if (Return rc = Check(d, "samples"); rc != kSuccess) return rc;
    Gpu& g = *Dev(d);
    if (type != 1 || value_type == nullptr || count == nullptr) return kInvalidArgument;
    if (g.parent != nullptr || !g.instances.empty()) return kNotSupported;
    if (g.samples.empty()) return kNotFound;
    *value_type = 1;  // unsigned int
    if (out == nullptr) {
        *count = 100;  // the size of the driver's buffer
        return kSuccess;
    }
    // The newest sample of the previous call, then this call's.
    unsigned n = 0;
    if (g.sample_clock_us > 1'000'000 && n < *count) {
        out[n].time_stamp = g.sample_clock_us;
        out[n].value.ui = 100;  // seen already: a caller that averages it is wrong
        ++n;
    }
    for (unsigned v : g.samples) {
        if (n >= *count) break;
        g.sample_clock_us += 166'667;
        out[n].time_stamp = g.sample_clock_us;
        out[n].value.ui = v;
        ++n;
    }
    if (last_seen >= g.sample_clock_us) return kNotFound;
    *count = n;
    return kSuccess;
}
FAKE_API Return nvmlDeviceGetTotalEnergyConsumption(void* d, unsigned long long* mj) {
    if (Return rc = Check(d, "energy"); rc != kSuccess) return rc;
    Gpu& g = *Dev(d);
    if (g.parent != nullptr) return kNotSupported;
    g.energy_mj += g.energy_step;
    *mj = g.energy_mj;
    return kSuccess;
}
FAKE_API Return nvmlDeviceGetMinorNumber(void* d, unsigned* minor) {
    if (Return rc = Check(d, "pci"); rc != kSuccess) return rc;
    *minor = Dev(d)->minor;
    return kSuccess;
}
FAKE_API Return nvmlDeviceGetPciInfo(void* d, PciInfo* pci) {
    if (Return rc = Check(d, "pci"); rc != kSuccess) return rc;
    // The first layout: a 16-byte bus id and the numbers, nothing after.
    std::snprintf(pci->bus_id_legacy, sizeof pci->bus_id_legacy, "%04X:%02X:00.0", 0u, Dev(d)->bus);
    pci->bus = Dev(d)->bus;
    return kSuccess;
}
FAKE_API Return nvmlEventSetCreate(EventSet** set) {
    if (!g_initialised) return kUninitialized;
    *set = new EventSet();
    return kSuccess;
}
FAKE_API Return nvmlDeviceRegisterEvents(void* d, unsigned long long types, EventSet* set) {
    if (Return rc = Check(d, "events"); rc != kSuccess) return rc;
    if (set == nullptr) return kInvalidArgument;
    if (types & 0x8) set->devices.push_back(Dev(d));
    return kSuccess;
}
FAKE_API Return nvmlEventSetFree(EventSet* set) {
    delete set;
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
FAKE_API Return nvmlDeviceGetPciInfo_v3(void* d, PciInfo* pci) {
    if (Return rc = Check(d, "pci"); rc != kSuccess) return rc;
    *pci = PciInfo{};
    std::snprintf(pci->bus_id_legacy, sizeof pci->bus_id_legacy, "%04X:%02X:00.0", 0u, Dev(d)->bus);
    std::snprintf(pci->bus_id, sizeof pci->bus_id, "%08X:%02X:00.0", 0u, Dev(d)->bus);
    pci->bus = Dev(d)->bus;
    return kSuccess;
}
FAKE_API Return nvmlEventSetWait_v2(EventSet* set, EventData* out, unsigned) {
    if (!g_initialised) return kUninitialized;
    if (set == nullptr || out == nullptr) return kInvalidArgument;
    for (auto& x : g_xids) {
        Gpu* g = &g_gpus.at(x.gpu);
        bool registered = false;
        for (Gpu* r : set->devices) registered = registered || r == g;
        if (x.delivered || !registered || g->util_reads < x.after) continue;
        x.delivered = true;
        *out = EventData{g, 0x8, x.code, 0xFFFFFFFFu, 0xFFFFFFFFu};
        return kSuccess;
    }
    return kTimeout;
}
FAKE_API Return nvmlDeviceGetMigMode(void* d, unsigned* current, unsigned* pending) {
    if (Return rc = Check(d, "mig"); rc != kSuccess) return rc;
    *current = *pending = Dev(d)->instances.empty() ? 0 : 1;
    return kSuccess;
}
FAKE_API Return nvmlDeviceGetMaxMigDeviceCount(void* d, unsigned* count) {
    if (Return rc = Check(d, "mig"); rc != kSuccess) return rc;
    *count = 7;
    return kSuccess;
}
FAKE_API Return nvmlDeviceGetMigDeviceHandleByIndex(void* d, unsigned index, void** mig) {
    if (Return rc = Check(d, "mig"); rc != kSuccess) return rc;
    if (index >= 7) return kInvalidArgument;
    if (index >= Dev(d)->instances.size()) return kNotFound;
    *mig = Dev(d)->instances[index];
    return kSuccess;
}
FAKE_API Return nvmlDeviceGetGpuInstanceId(void* d, unsigned* id) {
    if (Return rc = Check(d, "mig"); rc != kSuccess) return rc;
    if (Dev(d)->parent == nullptr) return kNotSupported;
    *id = Dev(d)->gi;
    return kSuccess;
}
FAKE_API Return nvmlDeviceGetAttributes_v2(void* d, Attributes* a) {
    if (Return rc = Check(d, "mig"); rc != kSuccess) return rc;
    *a = Attributes{};
    a->gi_slices = Dev(d)->slices;
    a->memory_mb = Dev(d)->total_mib;
    return kSuccess;
}
FAKE_API Return nvmlGpmQueryDeviceSupport(void* d, GpmSupport* support) {
    if (Return rc = Check(d, "gpm"); rc != kSuccess) return rc;
    if (support->version != 1) return kArgumentVersionMismatch;
    support->supported = Dev(d)->gpm ? 1 : 0;
    return kSuccess;
}
FAKE_API Return nvmlGpmSampleAlloc(GpmSampleFake** sample) {
    *sample = new GpmSampleFake();
    return kSuccess;
}
FAKE_API Return nvmlGpmSampleFree(GpmSampleFake* sample) {
    delete sample;
    return kSuccess;
}
FAKE_API Return nvmlGpmSampleGet(void* d, GpmSampleFake* sample) {
    if (Return rc = Check(d, "gpm"); rc != kSuccess) return rc;
    if (!Dev(d)->gpm) return kNotSupported;
    *sample = GpmSampleFake{Dev(d), ++g_gpm_sequence};
    return kSuccess;
}
FAKE_API Return nvmlGpmMigSampleGet(void* d, unsigned gi, GpmSampleFake* sample) {
    if (Return rc = Check(d, "gpm"); rc != kSuccess) return rc;
    for (Gpu* m : Dev(d)->instances) {
        if (m->gi == gi) {
            *sample = GpmSampleFake{m, ++g_gpm_sequence};
            return kSuccess;
        }
    }
    return kNotFound;
}
FAKE_API Return nvmlGpmMetricsGet(GpmMetricsGet* request) {
    if (request == nullptr || request->version != 1) return kArgumentVersionMismatch;
    const GpmSampleFake* a = request->sample1;
    const GpmSampleFake* b = request->sample2;
    // Two samples of the same unit, the second taken later: anything else is the caller's mistake.
    if (a == nullptr || b == nullptr || a->gpu == nullptr || a->gpu != b->gpu || a->sequence >= b->sequence ||
        request->count > 98) {
        return kInvalidArgument;
    }
    for (unsigned i = 0; i < request->count; ++i) {
        GpmMetric& m = request->metrics[i];
        m.rc = kSuccess;
        if (m.id == 1) {
            m.value = a->gpu->gr_active;
        } else if (m.id == 2) {
            m.value = a->gpu->sm_active;
        } else {
            m.rc = kNotSupported;
        }
    }
    return kSuccess;
}
#endif
