#include "engine/cuda/device.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve {
namespace {

using ::jetserve::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ParseDeviceSpec, AcceptsCpuAndCuda) {
  ASSERT_OK_AND_ASSIGN(DeviceSpec cpu, ParseDeviceSpec("cpu"));
  EXPECT_EQ(cpu.kind, DeviceKind::kCpu);
  EXPECT_EQ(cpu.ToString(), "cpu");
  ASSERT_OK_AND_ASSIGN(DeviceSpec cuda, ParseDeviceSpec("cuda"));
  EXPECT_EQ(cuda.kind, DeviceKind::kCuda);
  EXPECT_EQ(cuda.ordinal, 0);
  ASSERT_OK_AND_ASSIGN(DeviceSpec cuda3, ParseDeviceSpec("cuda:3"));
  EXPECT_EQ(cuda3.ordinal, 3);
  EXPECT_EQ(cuda3.ToString(), "cuda:3");
}

TEST(ParseDeviceSpec, RejectsMalformed) {
  for (const char* bad :
       {"", "gpu", "cuda:", "cuda:-1", "cuda:1x", "cuda:99999", "CPU", "cuda:1024", " cpu"}) {
    EXPECT_THAT(ParseDeviceSpec(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected \"cpu\"")))
        << bad;
  }
}

// Without a GPU the query must explain itself rather than crash; with one it must agree
// with the device count.
TEST(CudaDevice, QueryIsConsistentWithCount) {
  absl::StatusOr<int> count = CudaDeviceCount();
  if (!count.ok()) {
    EXPECT_THAT(count, StatusIs(absl::StatusCode::kFailedPrecondition));
    EXPECT_THAT(QueryCudaDevice(0), StatusIs(absl::StatusCode::kFailedPrecondition));
    return;
  }
  EXPECT_THAT(QueryCudaDevice(*count),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("CUDA device(s)")));
  EXPECT_THAT(QueryCudaDevice(-1), StatusIs(absl::StatusCode::kNotFound));
  for (int i = 0; i < *count; ++i) {
    ASSERT_OK_AND_ASSIGN(CudaDeviceInfo info, QueryCudaDevice(i));
    EXPECT_EQ(info.ordinal, i);
    EXPECT_GT(info.total_memory_bytes, 0);
    EXPECT_LE(info.free_memory_bytes, info.total_memory_bytes);
    EXPECT_GE(info.compute_capability_major, 5);
  }
}

}  // namespace
}  // namespace jetserve
