#include "engine/cuda/device.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#ifdef JETSERVE_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace jetserve {

std::string DeviceSpec::ToString() const {
  return kind == DeviceKind::kCpu ? std::string("cpu") : absl::StrCat("cuda:", ordinal);
}

absl::StatusOr<DeviceSpec> ParseDeviceSpec(std::string_view text) {
  if (text == "cpu") return DeviceSpec{DeviceKind::kCpu, 0};
  if (text == "cuda") return DeviceSpec{DeviceKind::kCuda, 0};
  constexpr std::string_view kPrefix = "cuda:";
  if (text.substr(0, kPrefix.size()) == kPrefix) {
    const std::string_view digits = text.substr(kPrefix.size());
    int ordinal = -1;
    const bool all_digits =
        !digits.empty() && digits.find_first_not_of("0123456789") == std::string_view::npos;
    if (all_digits && digits.size() <= 4 &&
        absl::SimpleAtoi(absl::string_view(digits.data(), digits.size()), &ordinal) &&
        ordinal < 1024) {
      return DeviceSpec{DeviceKind::kCuda, ordinal};
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("device \"", std::string(text), "\": expected \"cpu\", \"cuda\" or \"cuda:N\""));
}

#ifdef JETSERVE_HAVE_CUDA

namespace {

absl::Status CudaError(cudaError_t err, std::string_view what) {
  const std::string msg = absl::StrCat(std::string(what), ": ", cudaGetErrorName(err), " (",
                                       cudaGetErrorString(err), ")");
  if (err == cudaErrorInsufficientDriver || err == cudaErrorNoDevice ||
      err == cudaErrorInitializationError) {
    return absl::FailedPreconditionError(msg);
  }
  return absl::UnavailableError(msg);
}

}  // namespace

bool CudaCompiledIn() { return true; }

absl::StatusOr<int> CudaDeviceCount() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err == cudaErrorNoDevice) {
    cudaGetLastError();  // clear the sticky-free error state
    return 0;
  }
  if (err != cudaSuccess) {
    cudaGetLastError();
    return CudaError(err, "cudaGetDeviceCount");
  }
  return count;
}

absl::StatusOr<CudaDeviceInfo> QueryCudaDevice(int ordinal) {
  absl::StatusOr<int> count = CudaDeviceCount();
  if (!count.ok()) return count.status();
  if (ordinal < 0 || ordinal >= *count) {
    return absl::NotFoundError(
        absl::StrCat("cuda:", ordinal, ": this machine has ", *count, " CUDA device(s)"));
  }
  cudaDeviceProp prop{};
  cudaError_t err = cudaGetDeviceProperties(&prop, ordinal);
  if (err != cudaSuccess) return CudaError(err, absl::StrCat("cuda:", ordinal, " properties"));
  CudaDeviceInfo info;
  info.ordinal = ordinal;
  info.name = prop.name;
  info.compute_capability_major = prop.major;
  info.compute_capability_minor = prop.minor;
  info.multiprocessors = prop.multiProcessorCount;
  info.total_memory_bytes = static_cast<int64_t>(prop.totalGlobalMem);
  info.integrated = prop.integrated != 0;
  int previous = 0;
  if (cudaGetDevice(&previous) == cudaSuccess && cudaSetDevice(ordinal) == cudaSuccess) {
    size_t free_bytes = 0;
    size_t total_bytes = 0;
    err = cudaMemGetInfo(&free_bytes, &total_bytes);
    cudaSetDevice(previous);
    if (err != cudaSuccess) return CudaError(err, absl::StrCat("cuda:", ordinal, " memory"));
    info.free_memory_bytes = static_cast<int64_t>(free_bytes);
  }
  return info;
}

#else  // !JETSERVE_HAVE_CUDA

bool CudaCompiledIn() { return false; }

absl::StatusOr<int> CudaDeviceCount() {
  return absl::FailedPreconditionError(
      "this build of jetserve has no CUDA backend (configured with JETSERVE_CUDA=OFF or "
      "without a CUDA toolkit)");
}

absl::StatusOr<CudaDeviceInfo> QueryCudaDevice(int) { return CudaDeviceCount().status(); }

#endif  // JETSERVE_HAVE_CUDA

}  // namespace jetserve
