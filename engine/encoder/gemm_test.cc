// GemmF32 against a plain double-precision product written here, and bitwise independence of
// a row's result from the other rows computed with it.
#include "engine/encoder/gemm.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace jetserve::encoder {
namespace {

TEST(GemmTest, MatchesNaiveAndIgnoresBatchComposition) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  ThreadPool pool(3);
  for (int64_t cols : {1, 7, 8, 13, 64, 385}) {
    for (int64_t rows : {1, 3, 4, 9, 33}) {
      const int64_t n = 11;
      std::vector<float> w(rows * cols), x(n * cols), y(n * rows), y1(rows);
      for (float& v : w) v = dist(rng);
      for (float& v : x) v = dist(rng);
      GemmF32(w.data(), rows, cols, x.data(), n, cols, y.data(), rows, &pool);
      for (int64_t t = 0; t < n; ++t) {
        for (int64_t r = 0; r < rows; ++r) {
          double want = 0, mag = 0;
          for (int64_t c = 0; c < cols; ++c) {
            want += static_cast<double>(w[r * cols + c]) * x[t * cols + c];
            mag += std::fabs(static_cast<double>(w[r * cols + c]) * x[t * cols + c]);
          }
          EXPECT_NEAR(y[t * rows + r], want, 1e-6 * mag + 1e-6) << rows << "x" << cols;
        }
        // Row t alone gives the same bits.
        GemmF32(w.data(), rows, cols, x.data() + t * cols, 1, cols, y1.data(), rows, &pool);
        EXPECT_EQ(std::memcmp(y1.data(), y.data() + t * rows, rows * sizeof(float)), 0);
      }
    }
  }
}

}  // namespace
}  // namespace jetserve::encoder
