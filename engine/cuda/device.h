// Compute devices: parsing "cpu" / "cuda:N" and querying CUDA devices.
//
// Binaries are built with the CUDA runtime linked statically and never link the driver
// library, so they start on machines without a GPU; these calls then report why no device
// is usable ("CUDA driver not found", "no CUDA device") instead of the process failing to
// load. In builds without CUDA (-DJETSERVE_CUDA=OFF) every CUDA query says so.
//
//   ASSIGN_OR_RETURN(DeviceSpec spec, ParseDeviceSpec(flag));
//   if (spec.kind == DeviceKind::kCuda) ASSIGN_OR_RETURN(auto info, QueryCudaDevice(spec.ordinal));
#ifndef JETSERVE_ENGINE_CUDA_DEVICE_H_
#define JETSERVE_ENGINE_CUDA_DEVICE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace jetserve {

enum class DeviceKind { kCpu, kCuda };

struct DeviceSpec {
  DeviceKind kind = DeviceKind::kCpu;
  int ordinal = 0;  // CUDA device index; 0 for the CPU.

  std::string ToString() const;  // "cpu" or "cuda:N"
};

// Parses "cpu", "cuda" (device 0) or "cuda:N" (0 <= N < 1024).
absl::StatusOr<DeviceSpec> ParseDeviceSpec(std::string_view text);

struct CudaDeviceInfo {
  int ordinal = 0;
  std::string name;
  int compute_capability_major = 0;
  int compute_capability_minor = 0;
  int multiprocessors = 0;
  int64_t total_memory_bytes = 0;
  int64_t free_memory_bytes = 0;
  // Integrated GPUs (Jetson) share DRAM with the CPU.
  bool integrated = false;
};

// Whether this build contains the CUDA backend.
bool CudaCompiledIn();

// Number of usable CUDA devices. Errors: FAILED_PRECONDITION when the build has no CUDA
// or no driver is installed; UNAVAILABLE for other runtime failures. Zero devices is
// returned as 0, not an error.
absl::StatusOr<int> CudaDeviceCount();

// Properties and current free memory of one device. NOT_FOUND when `ordinal` is not a
// device of this machine (the message gives how many there are).
absl::StatusOr<CudaDeviceInfo> QueryCudaDevice(int ordinal);

}  // namespace jetserve

#endif  // JETSERVE_ENGINE_CUDA_DEVICE_H_
