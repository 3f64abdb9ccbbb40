// The part of NVML's C ABI the agent uses, declared here from NVIDIA's documented layouts (the header
// is not needed to build, and the library is loaded at run time). Sizes are checked at compile time.
// See docs/decisions/0007-nvml-at-run-time.md.
#pragma once

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

inline constexpr unsigned long long kValueNotAvailable = ~0ULL;
inline constexpr int kClockSm = 1;
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

}  // namespace gpuopt::agent::nvml
