// Test-only stand-in for libnvidia-ml.so.1: the NVML entry points DeviceTelemetry resolves,
// with the documented C signatures, reporting two GPUs with fixed readings. Built as a
// shared library and opened by worker_telemetry_test through TelemetryOptions::nvml_library.
#include <cstring>

extern "C" {

struct FakeNvmlDevice {
  unsigned int index;
};
struct FakeNvmlUtilization {
  unsigned int gpu;
  unsigned int memory;
};
struct FakeNvmlMemory {
  unsigned long long total;  // NOLINT(runtime/int): NVML's type
  unsigned long long free;   // NOLINT(runtime/int)
  unsigned long long used;   // NOLINT(runtime/int)
};

static FakeNvmlDevice devices[2] = {{0}, {1}};
static int initialized = 0;

int nvmlInit_v2() {
  initialized = 1;
  return 0;
}
int nvmlShutdown() {
  initialized = 0;
  return 0;
}
int nvmlDeviceGetCount_v2(unsigned int* count) {
  if (!initialized) return 1;  // NVML_ERROR_UNINITIALIZED
  *count = 2;
  return 0;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned int index, FakeNvmlDevice** device) {
  if (index >= 2) return 2;  // NVML_ERROR_INVALID_ARGUMENT
  *device = &devices[index];
  return 0;
}
int nvmlDeviceGetUtilizationRates(FakeNvmlDevice* device, FakeNvmlUtilization* u) {
  u->gpu = device->index == 0 ? 42 : 7;
  u->memory = 10;
  return 0;
}
int nvmlDeviceGetMemoryInfo(FakeNvmlDevice* device, FakeNvmlMemory* m) {
  m->total = 80ull << 30;
  m->used = (device->index + 1ull) << 30;
  m->free = m->total - m->used;
  return 0;
}
int nvmlDeviceGetTemperature(FakeNvmlDevice* device, int sensor, unsigned int* celsius) {
  if (sensor != 0) return 2;
  *celsius = 50 + device->index;
  return 0;
}
int nvmlDeviceGetPowerUsage(FakeNvmlDevice* device, unsigned int* milliwatts) {
  // The second GPU does not support power readings (NVML_ERROR_NOT_SUPPORTED).
  if (device->index == 1) return 3;
  *milliwatts = 123456;
  return 0;
}
int nvmlDeviceGetClockInfo(FakeNvmlDevice* device, int type, unsigned int* mhz) {
  if (type != 0) return 2;  // only NVML_CLOCK_GRAPHICS is asked for
  *mhz = device->index == 0 ? 1980 : 345;
  return 0;
}
}
