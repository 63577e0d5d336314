#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "engine/util/checked_math.h"
#include "engine/util/half.h"
#include "engine/util/mapped_file.h"
#include "engine/util/thread_pool.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/test_files.h"

namespace jetserve {
namespace {

using ::jetserve::testing::StatusIs;
using ::jetserve::testing::TempPath;

TEST(CheckedMathTest, DetectsOverflow) {
  uint64_t out;
  EXPECT_TRUE(CheckedAdd(1, 2, &out));
  EXPECT_EQ(out, 3u);
  EXPECT_FALSE(CheckedAdd(std::numeric_limits<uint64_t>::max(), 1, &out));
  EXPECT_FALSE(CheckedMul(uint64_t{1} << 32, uint64_t{1} << 32, &out));
  EXPECT_TRUE(CheckedAlignUp(33, 32, &out));
  EXPECT_EQ(out, 64u);
  EXPECT_FALSE(CheckedAlignUp(std::numeric_limits<uint64_t>::max() - 3, 32, &out));
  EXPECT_TRUE(IsPowerOfTwo(64));
  EXPECT_FALSE(IsPowerOfTwo(0));
  EXPECT_FALSE(IsPowerOfTwo(96));
}

// Reference: an F16 value decoded by definition (sign * 2^e * 1.m) in double.
double HalfByDefinition(uint16_t h) {
  const int sign = (h & 0x8000) ? -1 : 1;
  const int exp = (h >> 10) & 0x1f;
  const int mant = h & 0x3ff;
  if (exp == 0) return sign * std::ldexp(mant, -24);
  if (exp == 31) return mant ? std::nan("") : sign * INFINITY;
  return sign * std::ldexp(1024 + mant, exp - 25);
}

TEST(HalfTest, AllF16ValuesDecodeAndRoundTrip) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t h = static_cast<uint16_t>(i);
    const float f = F16ToF32(h);
    const double want = HalfByDefinition(h);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(f)) << i;
      continue;
    }
    EXPECT_EQ(static_cast<double>(f), want) << i;
    EXPECT_EQ(F32ToF16(f), h) << i;
  }
}

TEST(HalfTest, F32ToF16RoundsToNearestEven) {
  // Halfway between 1.0 and the next half (1 + 2^-10): ties to even (1.0).
  EXPECT_EQ(F32ToF16(1.0f + 0x1p-11f), 0x3c00);
  EXPECT_EQ(F32ToF16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
  EXPECT_EQ(F32ToF16(65519.0f), 0x7bff);
  EXPECT_EQ(F32ToF16(65520.0f), 0x7c00);
  EXPECT_EQ(F32ToF16(0x1p-25f), 0x0000);
  EXPECT_EQ(F32ToF16(0x1.1p-25f), 0x0001);
  EXPECT_EQ(F32ToF16(-0x1p-24f), 0x8001);
  EXPECT_EQ(F32ToF16(0x1.ffcp-15f), 0x0400);  // subnormal rounding up into the normals
}

TEST(HalfTest, Bf16) {
  EXPECT_EQ(F32ToBF16(1.0f), 0x3f80);
  EXPECT_EQ(BF16ToF32(0x3f80), 1.0f);
  EXPECT_EQ(F32ToBF16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie to even
  EXPECT_EQ(F32ToBF16(std::bit_cast<float>(0x3f818000u)), 0x3f82);
  EXPECT_TRUE(std::isnan(BF16ToF32(F32ToBF16(std::nanf("")))));
}

TEST(MappedFileTest, MapsAndReportsMissing) {
  EXPECT_THAT(MappedFile::Open("/nonexistent/x.gguf"),
              StatusIs(absl::StatusCode::kNotFound, ::testing::HasSubstr("x.gguf")));
  const std::string path = TempPath("mapped_file_test.bin");
  const uint8_t bytes[] = {1, 2, 3};
  ASSERT_OK(WriteFileBytes(path, bytes));
  ASSERT_OK_AND_ASSIGN(auto file, MappedFile::Open(path));
  ASSERT_EQ(file->size(), 3u);
  EXPECT_EQ(file->data()[2], 3);
  ASSERT_OK(WriteFileBytes(path, {}));
  ASSERT_OK_AND_ASSIGN(auto empty, MappedFile::Open(path));
  EXPECT_EQ(empty->size(), 0u);
  std::remove(path.c_str());
}

// Released pages leave the process's resident set and read back the file's bytes.
TEST(MappedFileTest, ReleasedPagesReadBackTheFile) {
  const std::string path = TempPath("mapped_release_test.bin");
  std::vector<uint8_t> bytes(1 << 22);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7 + i / 4096);
  ASSERT_OK(WriteFileBytes(path, bytes));
  ASSERT_OK_AND_ASSIGN(auto file, MappedFile::Open(path));
  auto resident_pages = [] {  // of the whole process
    std::ifstream statm("/proc/self/statm");
    int64_t size = 0, resident = 0;
    statm >> size >> resident;
    return resident;
  };
  const int64_t pages = static_cast<int64_t>(bytes.size()) / ::sysconf(_SC_PAGESIZE);
  EXPECT_EQ(0, std::memcmp(file->data(), bytes.data(), bytes.size()));  // all pages in
  const int64_t touched = resident_pages();
  file->ReleasePages(file->bytes().subspan(100, bytes.size() - 200));  // unaligned ends
  file->ReleasePages(absl::Span<const uint8_t>(bytes));                // not in the mapping
  // All but the two partial end pages left (allowing the process a few pages elsewhere);
  // qemu's user mode does not pass madvise on, so only the bytes are checked there.
  if (std::getenv("QEMU_LD_PREFIX") == nullptr) {
    EXPECT_LT(resident_pages(), touched - pages + 16);
  }
  EXPECT_EQ(0, std::memcmp(file->data(), bytes.data(), bytes.size()));  // read back
  EXPECT_GE(resident_pages(), touched - 16);
  std::remove(path.c_str());
}

TEST(ThreadPoolTest, CoversEveryIndexOnce) {
  ThreadPool pool(4);
  for (int64_t n : {1, 3, 4, 17, 1000}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    pool.ParallelFor(n, [&](int64_t b, int64_t e, int thread) {
      EXPECT_GE(thread, 0);
      EXPECT_LT(thread, 4);
      for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
    });
    for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  }
}

// Many calls back to back, some after the workers have gone to sleep, with ranges of every
// size: each index exactly once per call, and no call sees another call's work.
TEST(ThreadPoolTest, ManyCallsCoverEachIndexOncePerCall) {
  for (int threads : {2, 3, 8}) {
    ThreadPool pool(threads);
    std::vector<int> hits(300);
    std::vector<std::atomic<int>> busy(static_cast<size_t>(threads));
    for (int call = 0; call < 3000; ++call) {
      const int64_t n = 1 + (call * 37) % 300;
      std::fill(hits.begin(), hits.end(), 0);
      pool.ParallelFor(n, [&](int64_t b, int64_t e, int thread) {
        // Two ranges given to one thread at once would overlap here.
        EXPECT_EQ(busy[static_cast<size_t>(thread)].fetch_add(1), 0);
        for (int64_t i = b; i < e; ++i) ++hits[static_cast<size_t>(i)];
        busy[static_cast<size_t>(thread)].fetch_sub(1);
      });
      for (int64_t i = 0; i < 300; ++i) {
        ASSERT_EQ(hits[static_cast<size_t>(i)], i < n ? 1 : 0) << "call " << call << " i " << i;
      }
      if (call % 500 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
}

// A thread that is late (here: stuck in its first range until the caller has done more
// than half of all items) does not hold back the rest of the work: the caller takes it. A
// pool that gave each thread a fixed half would wait here forever (the test then fails on
// its deadline instead of hanging).
TEST(ThreadPoolTest, LateThreadsWorkIsTakenByTheOthers) {
  ThreadPool pool(2);
  const int64_t n = 64;
  std::atomic<int64_t> done{0};
  std::atomic<int64_t> done_by_caller{0};
  std::atomic<bool> stuck_once{false};
  std::atomic<bool> deadline_hit{false};
  pool.ParallelFor(n, [&](int64_t b, int64_t e, int thread) {
    if (thread == 1 && !stuck_once.exchange(true)) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (done_by_caller.load() <= n / 2) {
        if (std::chrono::steady_clock::now() > deadline) {
          deadline_hit = true;
          break;
        }
        std::this_thread::yield();
      }
    }
    if (thread == 0) done_by_caller += e - b;
    done += e - b;
  });
  EXPECT_EQ(done.load(), n);
  EXPECT_FALSE(deadline_hit.load());
}

}  // namespace
}  // namespace jetserve
