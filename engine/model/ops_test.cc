// The decoder's ops against plain scalar versions written here: matrix products of every
// weight type against dequantize-then-dot in double, norms and RoPE against their formulas,
// ggml's vector exp and attention reductions against exact values.
#include "engine/model/ops.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "engine/quant/dequantize.h"
#include "engine/quant/quantize.h"
#include "engine/quant/vec_dot.h"
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
    MatrixView m{type,
                 kCols,
                 kRows,
                 bytes.data(),
                 quant::RowBytes(type, kCols),
                 quant::GetTypeKernels(type)};
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

// ggml's vector e^x is within its stated bound (1.45 ulp + 0.5 ulp) of e^x, saturates as
// ggml's does, and is exact at 0.
TEST(OpsTest, ExpGgmlIsWithinItsErrorBound) {
  EXPECT_EQ(ExpGgml(0.f), 1.f);
  EXPECT_EQ(ExpGgml(-INFINITY), 0.f);
  EXPECT_EQ(ExpGgml(-200.f), 0.f);
  EXPECT_EQ(ExpGgml(200.f), INFINITY);
  EXPECT_TRUE(std::isnan(ExpGgml(NAN)));
  for (float x = -87.f; x < 88.f; x += 0.01234f) {
    const double want = std::exp(static_cast<double>(x));
    // 1.45 ulp plus the rounding of the result: within 2^-22 relative.
    EXPECT_LE(std::fabs(ExpGgml(x) - want), 0x1p-22 * want) << x;
  }
}

TEST(OpsTest, AttentionReductionsSumTheirInputs) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist;
  for (int64_t n : {1, 15, 16, 64, 100, 256}) {
    std::vector<float> a(n), b(n);
    for (int64_t i = 0; i < n; ++i) {
      a[i] = dist(rng);
      b[i] = dist(rng);
    }
    double want = 0, abs_sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      want += static_cast<double>(a[i]) * b[i];
      abs_sum += std::fabs(static_cast<double>(a[i]) * b[i]);
    }
    EXPECT_NEAR(DotF32Ggml(a.data(), b.data(), n), want, 1e-6 * abs_sum) << n;
    for (int64_t first : {0, 5, 16, 300}) {
      std::vector<float> x = a;
      AttentionSoftmax(x.data(), n, first);
      double z = 0, mx = -INFINITY;
      for (float v : a) mx = std::max<double>(mx, v);
      for (float v : a) z += std::exp(v - mx);
      for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(x[i], std::exp(a[i] - mx) / z, 1e-6) << n;
    }
  }
  float lanes[16];
  for (int i = 0; i < 16; ++i) lanes[i] = static_cast<float>(i + 1);
  EXPECT_EQ(ReduceLanes16(lanes), 136.f);
}

}  // namespace
}  // namespace jetserve::model
