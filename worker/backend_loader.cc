#include "worker/backend_loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "worker/decoder_backend.h"
#include "worker/encoder_backend.h"

namespace jetserve::worker {
namespace {

enum class ModelFormat { kGguf, kOnnx, kUnknown };

// GGUF files start with the magic "GGUF"; ONNX models are protobuf (no magic), so they are
// known by name: a .onnx file, or a directory holding model.onnx.
absl::StatusOr<ModelFormat> DetectFormat(const std::string& path, bool is_directory) {
  if (is_directory) {
    const std::string onnx = path + "/model.onnx";
    if (access(onnx.c_str(), R_OK) == 0) return ModelFormat::kOnnx;
    return absl::InvalidArgumentError(
        absl::StrCat("model path \"", path, "\" is a directory without a model.onnx"));
  }
  if (absl::EndsWith(path, ".onnx")) return ModelFormat::kOnnx;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open model file \"", path, "\": ", std::strerror(errno)));
  }
  char magic[4] = {};
  const ssize_t n = read(fd, magic, sizeof(magic));
  close(fd);
  if (n == 4 && std::memcmp(magic, "GGUF", 4) == 0) return ModelFormat::kGguf;
  return ModelFormat::kUnknown;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> LoadBackend(const BackendOptions& options) {
  const std::string& path = options.model_path;
  if (path.empty()) return absl::InvalidArgumentError("the model path is empty");
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return absl::NotFoundError(absl::StrCat("model file \"", path, "\" does not exist"));
    }
    return absl::PermissionDeniedError(
        absl::StrCat("cannot access model file \"", path, "\": ", std::strerror(errno)));
  }
  const bool is_directory = S_ISDIR(st.st_mode);
  if (!is_directory && !S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("model path \"", path, "\" is not a regular file or a directory"));
  }
  if (access(path.c_str(), R_OK) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("model file \"", path, "\" is not readable: ", std::strerror(errno)));
  }
  if (options.device.kind == DeviceKind::kCuda) {
    // Fails without a CUDA build, driver or device N, saying which.
    absl::StatusOr<CudaDeviceInfo> device = QueryCudaDevice(options.device.ordinal);
    if (!device.ok()) {
      return absl::Status(
          device.status().code(),
          absl::StrCat("--device ", options.device.ToString(), ": ", device.status().message()));
    }
  }
  absl::StatusOr<ModelFormat> format = DetectFormat(path, is_directory);
  if (!format.ok()) return format.status();
  switch (*format) {
    case ModelFormat::kGguf:
      if (IsEncoderGguf(path)) return LoadEncoderBackend(options);
      return LoadDecoderBackend(options);
    case ModelFormat::kOnnx:
      return LoadEncoderBackend(options);
    case ModelFormat::kUnknown:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "model file \"", path,
      "\" is neither a GGUF file (it does not start with \"GGUF\") nor an ONNX model (.onnx)"));
}

}  // namespace jetserve::worker
