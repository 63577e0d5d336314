#include "worker/backend_loader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::worker {
namespace {

using ::jetserve::testing::StatusIs;
using ::testing::HasSubstr;

std::string WriteTemp(const std::string& name, const std::string& bytes) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/", getpid(), "-", name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

BackendOptions Options(const std::string& path) {
  static NullGenerationMetrics metrics;
  return {.model_path = path, .model_name = "m", .metrics = &metrics};
}

TEST(BackendLoaderTest, MissingFileIsNotFound) {
  EXPECT_THAT(
      LoadBackend(Options("/nonexistent/x.gguf")),
      StatusIs(absl::StatusCode::kNotFound, "model file \"/nonexistent/x.gguf\" does not exist"));
}

TEST(BackendLoaderTest, DamagedGgufAndOnnxFilesFailInTheirEngines) {
  EXPECT_THAT(LoadBackend(Options(WriteTemp("a.gguf", "GGUF\x03\x00"))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("a.gguf")));
  EXPECT_THAT(
      LoadBackend(Options(WriteTemp("a.onnx", "\x08\x07"))),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("a.onnx: model has no graph")));
}

TEST(BackendLoaderTest, UnknownFormatAndDirectories) {
  EXPECT_THAT(LoadBackend(Options(WriteTemp("a.bin", "PK\x03\x04"))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is neither a GGUF file")));
  EXPECT_THAT(LoadBackend(Options(WriteTemp("empty.gguf", ""))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is neither a GGUF file")));
  EXPECT_THAT(LoadBackend(Options(::testing::TempDir())),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("without a model.onnx")));
  EXPECT_THAT(LoadBackend(Options("")), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(BackendLoaderTest, UnreadableFileIsPermissionDenied) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads every file";
  const std::string path = WriteTemp("locked.gguf", "GGUF");
  chmod(path.c_str(), 0);
  EXPECT_THAT(LoadBackend(Options(path)),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("not readable")));
}

TEST(BackendLoaderTest, CudaDeviceWithoutCudaBuild) {
  if (CudaCompiledIn()) GTEST_SKIP() << "a CUDA build";
  BackendOptions options = Options(WriteTemp("c.gguf", "GGUF"));
  options.device = {DeviceKind::kCuda, 0};
  EXPECT_THAT(LoadBackend(options),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("--device cuda:0: this build of jetserve has no CUDA backend")));
}

TEST(BackendLoaderTest, MissingCudaDeviceIsNamed) {
  if (!CudaCompiledIn()) GTEST_SKIP() << "not a CUDA build";
  BackendOptions options = Options(WriteTemp("d.gguf", "GGUF"));
  options.device = {DeviceKind::kCuda, 1023};
  EXPECT_THAT(std::string(LoadBackend(options).status().message()),
              HasSubstr("--device cuda:1023: "));
}

}  // namespace
}  // namespace jetserve::worker
