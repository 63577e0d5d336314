// The decoder's ops against plain scalar versions written here: matrix products of every
// weight type against dequantize-then-dot in double, norms and RoPE against their formulas,
// and the thread pool covering each index exactly once.
#include "engine/model/ops.h"

#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "engine/model/ggml_compat.h"
#include "engine/quant/dequantize.h"
#include "engine/quant/quantize.h"
#include "gtest/gtest.h"

namespace jetserve::model {
namespace {

TEST(OpsTest, MatMulMatchesDequantizedDotForEveryType) {
  constexpr int64_t kCols = 256, kRows = 7, kN = 5;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> w(kCols * kRows), x(kCols * kN);
  for (float& v : w) v = u(rng);
  for (float& v : x) v = u(rng);
  ThreadPool pool(3);
  for (GgmlType type :
       {GgmlType::kF32, GgmlType::kF16, GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ4_1,
        GgmlType::kQ5_0, GgmlType::kQ5_1, GgmlType::kQ4_K, GgmlType::kQ6_K}) {
    std::vector<uint8_t> bytes;
    if (type == GgmlType::kF32) {
      bytes.resize(w.size() * 4);
      std::memcpy(bytes.data(), w.data(), bytes.size());
    } else {
      auto q = quant::QuantizeFloats(type, w);
      ASSERT_TRUE(q.ok()) << q.status();
      bytes = *q;
    }
    MatrixView m{
        type, kCols, kRows, bytes.data(), quant::RowBytes(type, kCols), DecoderKernels(type)};
    ASSERT_NE(m.kernels, nullptr);
    std::vector<uint8_t> scratch(MatMulScratchBytes(m, kN));
    std::vector<float> y(kN * kRows);
    MatMul(m, x.data(), kN, kCols, y.data(), kRows, scratch.data(), &pool);
    auto deq = quant::DequantizeBytes(type, bytes, kCols * kRows);
    ASSERT_TRUE(deq.ok());
    for (int64_t t = 0; t < kN; ++t) {
      for (int64_t r = 0; r < kRows; ++r) {
        double ref = 0, mag = 0;
        for (int64_t c = 0; c < kCols; ++c) {
          ref += static_cast<double>((*deq)[r * kCols + c]) * x[t * kCols + c];
          mag += std::fabs(static_cast<double>((*deq)[r * kCols + c]) * x[t * kCols + c]);
        }
        // Activations quantized to 8 bits (Q8_0/Q8_K) for the quantized types.
        const double tol =
            type == GgmlType::kF32 || type == GgmlType::kF16 ? 1e-5 * mag : 1.5e-2 * mag;
        EXPECT_NEAR(y[t * kRows + r], ref, tol) << GgmlTypeName(type) << " " << t << "," << r;
      }
    }
  }
}

TEST(OpsTest, NormsFollowTheirFormulas) {
  const std::vector<float> x = {1.f, -2.f, 3.f, 4.f};
  const std::vector<float> w = {1.f, 0.5f, 2.f, 1.f};
  std::vector<float> out(4);
  RmsNorm(x.data(), w.data(), 4, 0.f, out.data());
  const double rms = std::sqrt((1 + 4 + 9 + 16) / 4.0);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(out[i], x[i] / rms * w[i], 1e-6);
  const std::vector<float> b = {0.f, 1.f, 0.f, -1.f};
  LayerNorm(x.data(), w.data(), b.data(), 4, 0.f, out.data());
  const double mean = 1.5, var = (0.25 + 12.25 + 2.25 + 6.25) / 4.0;
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(out[i], (x[i] - mean) / std::sqrt(var) * w[i] + b[i], 1e-6);
  }
}

TEST(OpsTest, RopeRotatesPairsByPositionTimesFrequency) {
  constexpr int64_t kDims = 8;
  for (bool neox : {false, true}) {
    std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8};
    const std::vector<float> orig = x;
    const RopeParams p{kDims, 10000.f, 0.5f, nullptr, neox};
    Rope(x.data(), 3, p);
    for (int64_t i = 0; i < kDims / 2; ++i) {
      const double theta = 0.5 * 3 * std::pow(10000.0, -2.0 * i / kDims);
      const int64_t a = neox ? i : 2 * i, bi = neox ? i + kDims / 2 : 2 * i + 1;
      EXPECT_NEAR(x[a], orig[a] * std::cos(theta) - orig[bi] * std::sin(theta), 1e-5);
      EXPECT_NEAR(x[bi], orig[a] * std::sin(theta) + orig[bi] * std::cos(theta), 1e-5);
    }
  }
}

TEST(OpsTest, SoftmaxAndActivations) {
  std::vector<float> x = {1.f, 2.f, 3.f};
  Softmax(x.data(), 3);
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(x[2], std::exp(3.0) / z, 1e-6);
  EXPECT_NEAR(Silu(1.f), 1.0 / (1.0 + std::exp(-1.0)), 1e-6);
  EXPECT_NEAR(GeluExact(1.f), 0.5 * (1 + std::erf(1 / std::sqrt(2.0))), 1e-3);
  EXPECT_NEAR(Gelu(1.f), GeluExact(1.f), 2e-3);  // through fp16
  EXPECT_EQ(Gelu(-20.f), 0.f);
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

}  // namespace
}  // namespace jetserve::model
