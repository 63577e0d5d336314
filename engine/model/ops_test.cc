// The decoder's ops against plain scalar versions written here: matrix products of every
// weight type against dequantize-then-dot in double, norms and RoPE against their formulas,
// ggml's vector exp and attention reductions against exact values.
#include "engine/model/ops.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

#include "engine/quant/dequantize.h"
#include "engine/quant/quantize.h"
#include "engine/quant/vec_dot.h"
#include "engine/util/half.h"
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

// The decoder computes a position's angles once for all its heads: the two steps must give
// Rope's bits (which the test above checks against the formula).
TEST(OpsTest, RopeAnglesThenRotateGiveRopesBits) {
  constexpr int64_t kDims = 64;
  std::mt19937 rng(5);
  std::normal_distribution<float> dist;
  std::vector<float> factors(kDims / 2);
  for (float& f : factors) f = 1.f + std::fabs(dist(rng));
  for (bool neox : {false, true}) {
    for (const float* ff :
         {static_cast<const float*>(nullptr), static_cast<const float*>(factors.data())}) {
      const RopeParams p{kDims, 10000.f, 0.25f, ff, neox};
      for (int64_t pos : {0, 1, 17, 4095}) {
        std::vector<float> x(kDims + 8);  // rotated dims, then some left alone
        for (float& v : x) v = dist(rng);
        std::vector<float> want = x, got = x;
        Rope(want.data(), pos, p);
        std::vector<float> cs(kDims);
        RopeAngles(pos, p, cs.data());
        RopeRotate(got.data(), cs.data(), p);
        EXPECT_EQ(0, std::memcmp(want.data(), got.data(), x.size() * sizeof(float)))
            << "neox " << neox << " factors " << (ff != nullptr) << " pos " << pos;
      }
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

// Gelu's table against its definition (GeluExact of the fp16-rounded input, rounded to fp16),
// bit for bit: every fp16 value and random floats between them.
TEST(OpsTest, GeluTableGivesItsDefinition) {
  auto defined = [](float v) {
    if (v <= -10.f) return 0.f;
    if (v >= 10.f) return v;
    return F16ToF32(F32ToF16(GeluExact(F16ToF32(F32ToF16(v)))));
  };
  for (uint32_t h = 0; h < 65536; ++h) {
    const float x = F16ToF32(static_cast<uint16_t>(h));
    if (std::isnan(x)) {
      EXPECT_TRUE(std::isnan(Gelu(x)));
      continue;
    }
    ASSERT_EQ(std::bit_cast<uint32_t>(Gelu(x)), std::bit_cast<uint32_t>(defined(x))) << x;
  }
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-12.f, 12.f);
  for (int i = 0; i < 100000; ++i) {
    const float x = dist(rng);
    ASSERT_EQ(std::bit_cast<uint32_t>(Gelu(x)), std::bit_cast<uint32_t>(defined(x))) << x;
  }
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

bool SameBits(float a, float b) {
  uint32_t ua, ub;
  std::memcpy(&ua, &a, 4);
  std::memcpy(&ub, &b, 4);
  return ua == ub || (std::isnan(a) && std::isnan(b));
}

// Values spanning magnitudes and signs, with zeros of both signs, for the bit comparisons.
std::vector<float> Spread(int64_t n, std::mt19937& rng, float scale) {
  std::normal_distribution<float> dist;
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t kind = rng() % 16;
    v[i] = kind == 0 ? 0.f : kind == 1 ? -0.f : kind == 2 ? dist(rng) * 1e-40f : dist(rng) * scale;
  }
  return v;
}

// Every attention kernel build this CPU runs against the portable one, bit for bit: dots of
// every length around the 64-lane steps, softmax over every window offset with score ranges
// that send lanes through the polynomial and through the saturating path, weighted-value
// lanes and their reduction, and the gated SiLU.
TEST(OpsTest, EveryAttentionKernelBuildGivesThePortableBits) {
  const std::vector<const AttentionKernels*> builds = SupportedAttentionKernels();
  ASSERT_GE(builds.size(), 1u);
  const AttentionKernels& ref = *builds[0];
  EXPECT_STREQ(ref.name, "portable");
  std::mt19937 rng(11);
  for (const AttentionKernels* k : builds) {
    for (int64_t n = 0; n <= 200; n += (n < 70 ? 1 : 13)) {
      for (const float scale : {1.f, 1e-20f, 1e19f}) {
        const std::vector<float> a = Spread(n, rng, scale), b = Spread(n, rng, 1.f);
        EXPECT_TRUE(SameBits(k->dot(a.data(), b.data(), n), ref.dot(a.data(), b.data(), n)))
            << k->name << " dot n=" << n;
      }
      for (const float range : {1.f, 30.f, 300.f}) {
        const std::vector<float> x = Spread(n, rng, range);
        for (const int64_t first : {0, 3, 16, 77}) {
          std::vector<float> want = x, got = x;
          ref.softmax(want.data(), n, first);
          k->softmax(got.data(), n, first);
          for (int64_t i = 0; i < n; ++i) {
            ASSERT_TRUE(SameBits(got[i], want[i]))
                << k->name << " softmax n=" << n << " first=" << first << " i=" << i << ": "
                << got[i] << " vs " << want[i];
          }
        }
        std::vector<float> want = x, got = x;
        const std::vector<float> g = Spread(n, rng, 2.f);
        ref.silu_mul(want.data(), g.data(), n);
        k->silu_mul(got.data(), g.data(), n);
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_TRUE(SameBits(got[i], want[i])) << k->name << " silu n=" << n << " i=" << i;
        }
      }
    }
    for (const int64_t dim : {1, 8, 13, 64, 256}) {
      std::vector<float> want(64 * dim, 0.f), got(64 * dim, 0.f);
      for (int64_t p = 0; p < 150; ++p) {
        const std::vector<float> v = Spread(dim, rng, 1.f);
        const float s = Spread(1, rng, 0.1f)[0];
        ref.accumulate(want.data(), p % 64, v.data(), s, dim);
        k->accumulate(got.data(), p % 64, v.data(), s, dim);
        if (p == 20 || p == 149) {
          std::vector<float> out_want(dim), out_got(dim);
          ref.reduce(want.data(), dim, out_want.data());
          k->reduce(got.data(), dim, out_got.data());
          for (int64_t i = 0; i < dim; ++i) {
            ASSERT_TRUE(SameBits(out_got[i], out_want[i])) << k->name << " dim=" << dim;
          }
        }
      }
    }
  }
}

// Keys and values of n cells laid out as a paged cache lays out one head: blocks of `block`
// cells whose rows are `stride` floats apart (other heads' data between), the blocks apart
// in memory; the first run starts `skip` cells into its block (a sliding window's start).
struct TestCache {
  TestCache(int64_t n, int64_t head_dim, int64_t dv, int64_t block, int64_t skip, std::mt19937& rng,
            float scale)
      : k_stride(head_dim * 2 + 3), v_stride(dv * 2 + 5) {
    int64_t left = n, off = skip;
    while (left > 0) {
      const int64_t len = std::min(left, block - off);
      keys.push_back(Spread(block * k_stride, rng, scale));
      values.push_back(Spread(block * v_stride, rng, 1.f));
      runs.push_back({keys.back().data() + off * k_stride + 1,
                      values.back().data() + off * v_stride + 2, len});
      left -= len;
      off = 0;
    }
  }
  const float* Key(int64_t i) const {
    for (const KvRun& r : runs) {
      if (i < r.n) return r.k + i * k_stride;
      i -= r.n;
    }
    return nullptr;
  }
  const float* Value(int64_t i) const {
    for (const KvRun& r : runs) {
      if (i < r.n) return r.v + i * v_stride;
      i -= r.n;
    }
    return nullptr;
  }
  int64_t k_stride, v_stride;
  std::vector<std::vector<float>> keys, values;
  std::vector<KvRun> runs;
};

// out[dv] of attend(k) over the cache, with NaN-filled scratch (a kernel that reads scratch
// it did not write gives NaN).
std::vector<float> Attend(const std::function<void(const AttendArgs&)>& attend,
                          const TestCache& cache, const std::vector<float>& q, int64_t dv,
                          float scale, int64_t first) {
  int64_t n = 0;
  for (const KvRun& r : cache.runs) n += r.n;
  std::vector<float> scores(n, NAN), lanes(64 * dv, NAN), out(dv, NAN);
  std::vector<const float*> rows(n, nullptr);
  const AttendArgs args = {.q = q.data(),
                           .head_dim = static_cast<int64_t>(q.size()),
                           .scale = scale,
                           .runs = cache.runs,
                           .k_stride = cache.k_stride,
                           .v_stride = cache.v_stride,
                           .dv = dv,
                           .first = first,
                           .scores = scores.data(),
                           .lanes = lanes.data(),
                           .value_rows = rows.data(),
                           .out = out.data()};
  attend(args);
  return out;
}

// Each build's fused attention against the definition computed in double here: scores
// dot(k_i, q) * scale, their softmax, the values weighted by it.
TEST(OpsTest, AttendWeighsValuesBySoftmaxOfScaledDots) {
  std::mt19937 rng(5);
  std::normal_distribution<float> dist;
  for (const AttentionKernels* k : SupportedAttentionKernels()) {
    for (const int64_t n : {1, 7, 64, 130, 300}) {
      const int64_t d = 64, dv = 64;
      std::vector<float> q(d);
      for (float& v : q) v = dist(rng);
      TestCache cache(n, d, dv, 16, 5, rng, 0.3f);
      const float scale = 0.125f;
      std::vector<double> w(n);
      double mx = -INFINITY;
      for (int64_t i = 0; i < n; ++i) {
        double dot = 0;
        for (int64_t e = 0; e < d; ++e) dot += static_cast<double>(cache.Key(i)[e]) * q[e];
        w[i] = dot * scale;
        mx = std::max(mx, w[i]);
      }
      double z = 0;
      for (double& v : w) z += (v = std::exp(v - mx));
      const std::vector<float> got = Attend(k->attend, cache, q, dv, scale, 21);
      for (int64_t e = 0; e < dv; ++e) {
        double want = 0, mag = 0;
        for (int64_t i = 0; i < n; ++i) {
          want += w[i] / z * cache.Value(i)[e];
          mag += std::fabs(w[i] / z * cache.Value(i)[e]);
        }
        EXPECT_NEAR(got[e], want, 1e-5 * (1 + mag)) << k->name << " n=" << n << " e=" << e;
      }
    }
  }
}

// Every build's fused attention gives the bits of the portable steps composed (AttendWith),
// across head sizes with and without a tail past the 64-element steps, cell counts on both
// sides of the register/memory switch, runs that start mid-block, and window offsets.
TEST(OpsTest, EveryFusedAttendGivesThePortableStepsBits) {
  const std::vector<const AttentionKernels*> builds = SupportedAttentionKernels();
  const AttentionKernels& ref = *builds[0];
  std::mt19937 rng(13);
  std::normal_distribution<float> dist;
  for (const AttentionKernels* k : builds) {
    for (const int64_t d : {64, 128, 80}) {
      for (const int64_t n : {1, 3, 4, 5, 17, 63, 64, 65, 100, 128, 129, 200, 257}) {
        for (const int64_t first : {0, 1, 63, 100}) {
          for (const float scale : {1.f, 0.125f}) {
            std::vector<float> q(d);
            for (float& v : q) v = dist(rng);
            const int64_t dv = d == 80 ? 76 : d;  // 76: 64 + 8 + a 4-element tail
            TestCache cache(n, d, dv, n % 3 == 0 ? 32 : 16, first % 16, rng, 0.5f);
            const std::vector<float> want = Attend(
                [&ref](const AttendArgs& a) { AttendWith(ref, a); }, cache, q, dv, scale, first);
            const std::vector<float> got = Attend(k->attend, cache, q, dv, scale, first);
            for (int64_t e = 0; e < dv; ++e) {
              ASSERT_TRUE(SameBits(got[e], want[e]))
                  << k->name << " d=" << d << " n=" << n << " first=" << first << " e=" << e << ": "
                  << got[e] << " vs " << want[e];
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace jetserve::model
