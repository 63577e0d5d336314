// GemmF32 against a plain double-precision product written here; bitwise independence of a
// row's result from the other rows computed with it and from the kernel (portable, AVX2,
// AVX-512: the same fused chain per element); the elementwise kernels against libm.
#include "engine/encoder/gemm.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace jetserve::encoder {
namespace {

std::vector<GemmKernel> Kernels() {
  std::vector<GemmKernel> ks;
  for (GemmKernel k : {GemmKernel::kPortable, GemmKernel::kAvx2, GemmKernel::kAvx512}) {
    if (GemmKernelSupported(k)) ks.push_back(k);
  }
  return ks;
}

TEST(GemmTest, MatchesNaiveAndIgnoresBatchComposition) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  ThreadPool pool(3);
  // cols over kKc (256) exercise the k blocks; rows over 32 several panels with a tail.
  for (int64_t cols : {1, 7, 8, 13, 64, 385}) {
    for (int64_t rows : {1, 3, 4, 9, 33, 70}) {
      for (int64_t n : {1, 11, 250}) {
        const int64_t ldw = cols + 3;  // a strided weight view, as attention uses
        std::vector<float> w(rows * ldw), x(n * cols), bias(rows);
        for (float& v : w) v = dist(rng);
        for (float& v : x) v = dist(rng);
        for (float& v : bias) v = dist(rng);
        std::vector<float> first;
        for (GemmKernel k : Kernels()) {
          std::vector<float> y(n * rows), y1(rows);
          GemmF32(w.data(), rows, cols, ldw, x.data(), n, cols, y.data(), rows, bias.data(), &pool,
                  k);
          for (int64_t t = 0; t < n; ++t) {
            for (int64_t r = 0; r < rows; ++r) {
              double want = bias[r], mag = std::fabs(bias[r]);
              for (int64_t c = 0; c < cols; ++c) {
                want += static_cast<double>(w[r * ldw + c]) * x[t * cols + c];
                mag += std::fabs(static_cast<double>(w[r * ldw + c]) * x[t * cols + c]);
              }
              ASSERT_NEAR(y[t * rows + r], want, 1e-6 * mag + 1e-6)
                  << rows << "x" << cols << " n " << n << " kernel " << static_cast<int>(k);
            }
          }
          // Rows alone (first, middle, last) give the same bits, also without a pool.
          for (int64_t t : {int64_t{0}, n / 2, n - 1}) {
            GemmF32(w.data(), rows, cols, ldw, x.data() + t * cols, 1, cols, y1.data(), rows,
                    bias.data(), nullptr, k);
            EXPECT_EQ(std::memcmp(y1.data(), y.data() + t * rows, rows * sizeof(float)), 0)
                << rows << "x" << cols << " row " << t;
          }
          // Every kernel gives the same bits.
          if (first.empty()) {
            first = y;
          } else {
            EXPECT_EQ(std::memcmp(first.data(), y.data(), y.size() * sizeof(float)), 0)
                << rows << "x" << cols << " n " << n << " kernel " << static_cast<int>(k);
          }
        }
      }
    }
  }
}

TEST(GemmTest, NoBiasStartsFromZeroAndEmptyReductionGivesBias) {
  ThreadPool pool(2);
  const std::vector<float> w = {1, 2, 3, 4, 5, 6};  // [2, 3]
  const std::vector<float> x = {1, -1, 0.5f};
  std::vector<float> y(2);
  GemmF32(w.data(), 2, 3, x.data(), 1, 3, y.data(), 2, &pool);
  EXPECT_EQ(y, (std::vector<float>{1 - 2 + 1.5f, 4 - 5 + 3}));
  const std::vector<float> bias = {7, -8};
  GemmF32(w.data(), 2, 0, 3, x.data(), 1, 3, y.data(), 2, bias.data(), &pool);
  EXPECT_EQ(y, bias);
}

TEST(GemmTest, GeluMatchesErfFormula) {
  std::vector<float> x;
  for (float v = -12.0f; v <= 12.0f; v += 0.01f) x.push_back(v);
  x.push_back(0.0f);
  x.push_back(-0.0f);
  std::vector<float> y = x;
  GeluErfInPlace(y.data(), static_cast<int64_t>(y.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = x[i];
    const double want = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    // A&S 7.1.26: |erfc error| < 1.5e-7, scaled by |x| / 2, plus float evaluation.
    EXPECT_NEAR(y[i], want, 2.5e-7 * std::fabs(v) + 2e-7 * std::fabs(want) + 1e-30) << v;
  }
}

TEST(GemmTest, SoftmaxMatchesExp) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 20.0f);
  for (int64_t n : {1, 5, 16, 17, 128, 131}) {
    std::vector<float> x(n);
    for (float& v : x) v = dist(rng);
    std::vector<float> y = x;
    const float scale = 0.17f;
    ScaledSoftmaxInPlace(y.data(), n, scale);
    double mx = x[0], sum = 0;
    for (float v : x) mx = std::max<double>(mx, v);
    for (float v : x) sum += std::exp((v - mx) * scale);
    for (int64_t i = 0; i < n; ++i) {
      const double arg = (x[i] - mx) * scale;
      const double want = std::exp(arg) / sum;
      // The float argument's rounding (relative 6e-8) grows with |arg| through exp.
      EXPECT_NEAR(y[i], want, want * 4e-7 * (1 + std::fabs(arg)) + 1e-37) << n << " " << i;
    }
  }
}

TEST(GemmTest, AddLayerNormMatchesDoubleFormula) {
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.5f, 3.0f);
  for (int64_t n : {1, 7, 16, 33, 384}) {
    for (bool with_add : {false, true}) {
      std::vector<float> x(n), add(n), w(n), b(n);
      for (int64_t i = 0; i < n; ++i) {
        x[i] = dist(rng);
        add[i] = dist(rng);
        w[i] = dist(rng);
        b[i] = dist(rng);
      }
      std::vector<double> s(n);
      double mean = 0, var = 0;
      for (int64_t i = 0; i < n; ++i) {
        s[i] = static_cast<double>(x[i]) + (with_add ? add[i] : 0.0f);
        mean += s[i] / n;
      }
      for (int64_t i = 0; i < n; ++i) var += (s[i] - mean) * (s[i] - mean) / n;
      AddLayerNormInPlace(x.data(), with_add ? add.data() : nullptr, w.data(), b.data(), n, 1e-5f);
      for (int64_t i = 0; i < n; ++i) {
        const double want = (s[i] - mean) / std::sqrt(var + 1e-5) * w[i] + b[i];
        EXPECT_NEAR(x[i], want, 2e-6 * (std::fabs(w[i]) * 4 + std::fabs(b[i]))) << n << " " << i;
      }
    }
  }
}

}  // namespace
}  // namespace jetserve::encoder
