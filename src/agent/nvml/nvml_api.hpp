// The part of NVML's C ABI the agent uses, declared here from NVIDIA's documented layouts (the header
// is not needed to build, and the library is loaded at run time). Sizes are checked at compile time.
// See docs/decisions/0007-nvml-at-run-time.md.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gpuopt::agent::nvml {

using Return = int;
inline constexpr Return kSuccess = 0;
inline constexpr Return kErrorUninitialized = 1;
inline constexpr Return kErrorInvalidArgument = 2;
inline constexpr Return kErrorNotSupported = 3;
inline constexpr Return kErrorNoPermission = 4;
inline constexpr Return kErrorNotFound = 6;
inline constexpr Return kErrorInsufficientSize = 7;
inline constexpr Return kErrorDriverNotLoaded = 9;
inline constexpr Return kErrorTimeout = 10;
inline constexpr Return kErrorFunctionNotFound = 13;
inline constexpr Return kErrorGpuIsLost = 15;
inline constexpr Return kErrorLibRmVersionMismatch = 18;
inline constexpr Return kErrorArgumentVersionMismatch = 25;

struct DeviceSt;
using Device = DeviceSt*;

inline constexpr unsigned StructVersion(unsigned size, unsigned version) { return size | (version << 24); }

struct Utilization {
    unsigned gpu;
    unsigned memory;
};

struct MemoryV1 {  // nvmlMemory_t: `used` includes memory the driver reserves
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
};

struct MemoryV2 {  // nvmlMemory_v2_t: `used` matches nvidia-smi
    unsigned version;
    unsigned long long total;
    unsigned long long reserved;
    unsigned long long free;
    unsigned long long used;
};
inline constexpr unsigned kMemoryV2Version = StructVersion(sizeof(MemoryV2), 2);

struct TemperatureV1 {  // nvmlTemperature_v1_t
    unsigned version;
    int sensor_type;  // 0: the GPU die
    int temperature;
};
inline constexpr unsigned kTemperatureV1Version = StructVersion(sizeof(TemperatureV1), 1);

struct ProcessInfoV1 {  // the unversioned process functions
    unsigned pid;
    unsigned long long used_gpu_memory;
};

struct ProcessInfo {  // nvmlProcessInfo_t: taken by the _v2 and _v3 process functions
    unsigned pid;
    unsigned long long used_gpu_memory;
    unsigned gpu_instance_id;
    unsigned compute_instance_id;
};

struct ProcessInfoCc {  // the 32-byte layout only drivers 535.43-535.86 used for the _v3 functions
    unsigned pid;
    unsigned long long used_gpu_memory;
    unsigned gpu_instance_id;
    unsigned compute_instance_id;
    unsigned long long used_gpu_cc_protected_memory;
};

// nvmlSample_t: one entry of the driver's sample ring buffer (nvmlDeviceGetSamples); the value's type
// is named by the call's nvmlValueType_t.
union Value {
    double d;
    unsigned ui;
    unsigned long ul;
    unsigned long long ull;
    long long sll;
    int si;
};
struct Sample {
    unsigned long long time_stamp;  // microseconds
    Value value;
};
inline constexpr int kValueTypeDouble = 0, kValueTypeUnsignedInt = 1, kValueTypeUnsignedLong = 2,
                     kValueTypeUnsignedLongLong = 3, kValueTypeSignedLongLong = 4, kValueTypeSignedInt = 5;
inline constexpr int kGpuUtilizationSamples = 1;

struct PciInfo {  // nvmlPciInfo_t (_v2 and _v3); the unversioned call fills only the first 16 bytes as busId
    char bus_id_legacy[16];
    unsigned domain;
    unsigned bus;
    unsigned device;
    unsigned pci_device_id;
    unsigned pci_sub_system_id;
    char bus_id[32];  // "%08X:%02X:%02X.0", the form dcgm-exporter labels with
};

struct EventSetSt;
using EventSet = EventSetSt*;
struct EventData {  // nvmlEventData_t
    Device device;
    unsigned long long event_type;
    unsigned long long event_data;  // the XID for an XID event
    unsigned gpu_instance_id;
    unsigned compute_instance_id;
};
inline constexpr unsigned long long kEventTypeXidCriticalError = 0x8;

struct DeviceAttributes {  // nvmlDeviceAttributes_t (nvmlDeviceGetAttributes_v2), for MIG instances
    unsigned multiprocessor_count;
    unsigned shared_copy_engine_count;
    unsigned shared_decoder_count;
    unsigned shared_encoder_count;
    unsigned shared_jpeg_count;
    unsigned shared_ofa_count;
    unsigned gpu_instance_slice_count;
    unsigned compute_instance_slice_count;
    unsigned long long memory_size_mb;
};

// GPM (Hopper and later): activity over the interval between two samples, in percent.
struct GpmSampleSt;
using GpmSample = GpmSampleSt*;
struct GpmSupport {  // nvmlGpmSupport_t
    unsigned version;
    unsigned is_supported_device;
};
inline constexpr unsigned kGpmSupportVersion = 1;
struct GpmMetric {  // nvmlGpmMetric_t
    unsigned metric_id;
    Return nvml_return;
    double value;
    struct {
        char* short_name;
        char* long_name;
        char* unit;
    } metric_info;
};
// NVML_GPM_METRIC_MAX has grown between releases (98, then 210); the array is sized for the larger so a
// library that clears the whole struct stays inside it. Only num_metrics entries are read.
inline constexpr unsigned kGpmMetricCapacity = 210;
struct GpmMetricsGet {  // nvmlGpmMetricsGet_t
    unsigned version;
    unsigned num_metrics;
    GpmSample sample1;
    GpmSample sample2;
    GpmMetric metrics[kGpmMetricCapacity];
};
inline constexpr unsigned kGpmMetricsGetVersion = 1;
inline constexpr unsigned kGpmGraphicsUtil = 1;  // DCGM_FI_PROF_GR_ENGINE_ACTIVE
inline constexpr unsigned kGpmSmUtil = 2;        // DCGM_FI_PROF_SM_ACTIVE

inline constexpr unsigned long long kValueNotAvailable = ~0ULL;
inline constexpr int kClockSm = 1;
inline constexpr int kClockMem = 2;
inline constexpr int kTemperatureGpu = 0;
inline constexpr unsigned kDeviceNameBufferSize = 96;
inline constexpr unsigned kDeviceUuidBufferSize = 96;
inline constexpr unsigned kDriverVersionBufferSize = 80;

static_assert(sizeof(Utilization) == 8);
static_assert(sizeof(MemoryV1) == 24);
static_assert(sizeof(MemoryV2) == 40 && kMemoryV2Version == 0x02000028);
static_assert(sizeof(TemperatureV1) == 12);
static_assert(sizeof(ProcessInfoV1) == 16);
static_assert(sizeof(ProcessInfo) == 24);
static_assert(sizeof(ProcessInfoCc) == 32);
static_assert(sizeof(Sample) == 16);
static_assert(sizeof(PciInfo) == 68 && offsetof(PciInfo, bus_id) == 36);
static_assert(sizeof(EventData) == 32);
static_assert(sizeof(DeviceAttributes) == 40);
static_assert(sizeof(GpmMetric) == 40 && offsetof(GpmMetricsGet, metrics) == 24);

// Function types, named after the NVML entry points.
using InitFn = Return (*)();
using ShutdownFn = Return (*)();
using ErrorStringFn = const char* (*)(Return);
using SystemGetDriverVersionFn = Return (*)(char*, unsigned);
using DeviceGetCountFn = Return (*)(unsigned*);
using DeviceGetHandleByIndexFn = Return (*)(unsigned, Device*);
using DeviceGetStringFn = Return (*)(Device, char*, unsigned);
using DeviceGetUtilizationRatesFn = Return (*)(Device, Utilization*);
using DeviceGetMemoryInfoFn = Return (*)(Device, MemoryV1*);
using DeviceGetMemoryInfoV2Fn = Return (*)(Device, MemoryV2*);
using DeviceGetTemperatureFn = Return (*)(Device, int, unsigned*);
using DeviceGetTemperatureVFn = Return (*)(Device, TemperatureV1*);
using DeviceGetUintFn = Return (*)(Device, unsigned*);
using DeviceGetClockInfoFn = Return (*)(Device, int, unsigned*);
using DeviceGetProcessesFn = Return (*)(Device, unsigned*, void*);
using DeviceGetSamplesFn = Return (*)(Device, int, unsigned long long, int*, unsigned*, Sample*);
using DeviceGetUllFn = Return (*)(Device, unsigned long long*);
using DeviceGetPciInfoFn = Return (*)(Device, PciInfo*);
using EventSetCreateFn = Return (*)(EventSet*);
using DeviceRegisterEventsFn = Return (*)(Device, unsigned long long, EventSet);
using EventSetWaitFn = Return (*)(EventSet, EventData*, unsigned);
using EventSetFreeFn = Return (*)(EventSet);
using DeviceGetMigModeFn = Return (*)(Device, unsigned*, unsigned*);
using DeviceGetMigDeviceHandleByIndexFn = Return (*)(Device, unsigned, Device*);
using DeviceGetAttributesFn = Return (*)(Device, DeviceAttributes*);
using GpmQueryDeviceSupportFn = Return (*)(Device, GpmSupport*);
using GpmSampleAllocFn = Return (*)(GpmSample*);
using GpmSampleFreeFn = Return (*)(GpmSample);
using GpmSampleGetFn = Return (*)(Device, GpmSample);
using GpmMigSampleGetFn = Return (*)(Device, unsigned, GpmSample);
using GpmMetricsGetFn = Return (*)(GpmMetricsGet*);

}  // namespace gpuopt::agent::nvml
