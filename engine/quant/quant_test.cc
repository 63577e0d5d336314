// Dequantization and legacy quantization against the gguf Python package (vectors written at
// test time by tests/oracles/gguf/make_quant_vectors.py), and the fused dot kernels against a
// plain double-precision dot of dequantized rows.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/format/gguf_reader.h"
#include "engine/quant/blocks.h"
#include "engine/quant/dequantize.h"
#include "engine/quant/packed.h"
#include "engine/quant/quantize.h"
#include "engine/quant/quantize_mix.h"
#include "engine/quant/vec_dot.h"
#include "engine/util/half.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::quant {
namespace {

using ::jetserve::testing::StatusIs;
using ::testing::HasSubstr;

const GgmlType kAllTypes[] = {GgmlType::kF32,  GgmlType::kF16,  GgmlType::kBF16, GgmlType::kQ4_0,
                              GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1, GgmlType::kQ8_0,
                              GgmlType::kQ2_K, GgmlType::kQ3_K, GgmlType::kQ4_K, GgmlType::kQ5_K,
                              GgmlType::kQ6_K};

std::unique_ptr<GgufFile> OpenVectors() {
  const char* path = std::getenv("JETSERVE_QUANT_VECTORS");
  if (path == nullptr) return nullptr;
  auto f = GgufFile::Open(path);
  EXPECT_OK(f.status());
  return f.ok() ? std::move(*f) : nullptr;
}

std::vector<float> AsFloats(const GgufTensorInfo& t) {
  std::vector<float> v(static_cast<size_t>(t.num_elements));
  std::memcpy(v.data(), t.data.data(), v.size() * sizeof(float));
  return v;
}

TEST(DequantizeTest, BitExactWithGgufPackage) {
  std::unique_ptr<GgufFile> f = OpenVectors();
  if (f == nullptr) GTEST_SKIP() << "JETSERVE_QUANT_VECTORS not set (run through ctest)";
  int checked_types = 0;
  for (GgmlType type : kAllTypes) {
    if (type == GgmlType::kF32) continue;
    const std::string name(GgmlTypeName(type));
    const GgufTensorInfo* raw = f->FindTensor(name + ".raw");
    const GgufTensorInfo* deq = f->FindTensor(name + ".deq");
    ASSERT_NE(raw, nullptr) << name;
    ASSERT_NE(deq, nullptr) << name;
    ASSERT_EQ(raw->type, type);
    ASSERT_EQ(raw->num_elements, deq->num_elements);
    ASSERT_OK_AND_ASSIGN(std::vector<float> ours,
                         DequantizeBytes(type, raw->data, raw->num_elements));
    const std::vector<float> want = AsFloats(*deq);
    int mismatches = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      if (std::bit_cast<uint32_t>(ours[i]) != std::bit_cast<uint32_t>(want[i]) &&
          !(std::isnan(ours[i]) && std::isnan(want[i]))) {
        if (++mismatches < 5) {
          ADD_FAILURE() << name << " element " << i << ": ours " << ours[i] << " gguf " << want[i];
        }
      }
    }
    EXPECT_EQ(mismatches, 0) << name;
    ++checked_types;
  }
  EXPECT_EQ(checked_types, 12);
}

TEST(QuantizeTest, LegacyTypesBitExactWithGgufPackage) {
  std::unique_ptr<GgufFile> f = OpenVectors();
  if (f == nullptr) GTEST_SKIP() << "JETSERVE_QUANT_VECTORS not set (run through ctest)";
  for (GgmlType type : {GgmlType::kF16, GgmlType::kBF16, GgmlType::kQ4_0, GgmlType::kQ4_1,
                        GgmlType::kQ5_0, GgmlType::kQ5_1, GgmlType::kQ8_0}) {
    const std::string name(GgmlTypeName(type));
    const GgufTensorInfo* in = f->FindTensor(name + ".qin");
    const GgufTensorInfo* out = f->FindTensor(name + ".qout");
    ASSERT_NE(in, nullptr) << name;
    ASSERT_NE(out, nullptr) << name;
    ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> ours, QuantizeFloats(type, AsFloats(*in)));
    ASSERT_EQ(ours.size(), out->data.size()) << name;
    size_t first_diff = ours.size();
    for (size_t i = 0; i < ours.size(); ++i) {
      if (ours[i] != out->data[i]) {
        first_diff = i;
        break;
      }
    }
    EXPECT_EQ(first_diff, ours.size()) << name << ": first differing byte";
  }
}

std::vector<float> RandomRow(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

double Rmse(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (double{a[i]} - b[i]) * (double{a[i]} - b[i]);
  return std::sqrt(s / a.size());
}

TEST(QuantizeTest, RoundTripErrorIsSmall) {
  const int64_t n = 4096;
  const std::vector<float> x = RandomRow(n, 7);
  // Bounds on RMSE / std for a unit gaussian: loose sanity limits, per bit width. The
  // comparison with llama.cpp's own quantizer is in KQuantRmseNoWorseThanLlamaCpp.
  const struct {
    GgmlType type;
    double max_rmse;
  } kCases[] = {{GgmlType::kF16, 1e-3},  {GgmlType::kBF16, 5e-3},  {GgmlType::kQ8_0, 0.01},
                {GgmlType::kQ4_0, 0.12}, {GgmlType::kQ4_1, 0.12},  {GgmlType::kQ5_0, 0.06},
                {GgmlType::kQ5_1, 0.06}, {GgmlType::kQ2_K, 0.40},  {GgmlType::kQ3_K, 0.22},
                {GgmlType::kQ4_K, 0.11}, {GgmlType::kQ5_K, 0.055}, {GgmlType::kQ6_K, 0.03}};
  for (const auto& c : kCases) {
    ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> q, QuantizeFloats(c.type, x));
    ASSERT_OK_AND_ASSIGN(std::vector<float> back, DequantizeBytes(c.type, q, n));
    EXPECT_LT(Rmse(x, back), c.max_rmse) << GgmlTypeName(c.type);
  }
}

TEST(QuantizeTest, ZeroAndConstantRows) {
  for (GgmlType type : kAllTypes) {
    const int64_t n = 256;
    for (float value : {0.0f, 0.5f, -3.0f}) {
      std::vector<float> x(n, value);
      ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> q, QuantizeFloats(type, x));
      ASSERT_OK_AND_ASSIGN(std::vector<float> back, DequantizeBytes(type, q, n));
      EXPECT_LT(Rmse(x, back), 0.02 * std::fabs(value) + 1e-6)
          << GgmlTypeName(type) << " value " << value;
    }
  }
}

// Non-finite input (a corrupt or diverged tensor) must not reach a float-to-integer
// conversion (undefined behaviour; UBSan's float-cast-overflow checks it in the sanitizer
// job). The codes come out as ggml's reference quantizers store them on x86: 0 for the
// non-finite element, and a NaN that is not the block's extreme leaves the other codes as
// they are with a 0 in its place.
TEST(QuantizeTest, NonFiniteInputGivesDefinedCodes) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const int64_t n = 256;
  std::vector<float> base(n);
  for (int64_t i = 0; i < n; ++i) base[i] = std::sin(0.37f * static_cast<float>(i)) + 0.01f;
  for (GgmlType type : kAllTypes) {
    for (float bad : {nan, inf, -inf}) {
      std::vector<float> x = base;
      x[5] = bad;
      ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> q, QuantizeFloats(type, x));
      EXPECT_EQ(q.size(), RowBytes(type, n));
    }
    // Magnitudes so small that 1 / scale overflows to infinity.
    std::vector<float> tiny(n, std::numeric_limits<float>::denorm_min());
    ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> q, QuantizeFloats(type, tiny));
  }

  // Q8_0 (the reference quantizer: d = amax / 127, q = round(x / d)) with an infinity in
  // the block: d = inf, 1 / d = 0, inf * 0 = NaN -> 0; every code 0.
  {
    std::vector<float> x(base.begin(), base.begin() + kQK);
    x[3] = inf;
    ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> q, QuantizeFloats(GgmlType::kQ8_0, x));
    BlockQ8_0 b;
    std::memcpy(&b, q.data(), sizeof(b));
    EXPECT_EQ(b.d, 0x7c00);  // +inf in fp16
    for (int j = 0; j < kQK; ++j) EXPECT_EQ(b.qs[j], 0) << j;
  }
  // A NaN that is not the extreme: the same codes as with 0 there, 0 in its place.
  const std::vector<std::pair<GgmlType, QuantizeRowFn>> quantizers = {
      {GgmlType::kQ8_0, QuantizeRowQ8_0},
      {GgmlType::kQ8_0, GetActivationQuantizer(GgmlType::kQ8_0)},
      {GgmlType::kQ8_K, QuantizeRowQ8_K}};
  for (const auto& [type, fn] : quantizers) {
    std::vector<float> with_nan = base, with_zero = base;
    with_nan[7] = nan;
    with_zero[7] = 0.0f;
    std::vector<uint8_t> a(RowBytes(type, n)), b(RowBytes(type, n));
    fn(with_nan.data(), a.data(), n);
    fn(with_zero.data(), b.data(), n);
    EXPECT_EQ(a, b) << GgmlTypeName(type);
  }
}

TEST(QuantizeTest, MatrixThreadsGiveTheSameBytes) {
  const std::vector<float> x = RandomRow(256 * 13, 11);
  for (GgmlType type : {GgmlType::kQ4_K, GgmlType::kQ8_0, GgmlType::kF16}) {
    ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> one, QuantizeMatrix(type, x, 256, 1));
    ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> many, QuantizeMatrix(type, x, 256, 4));
    ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> flat, QuantizeFloats(type, x));
    EXPECT_EQ(one, many) << GgmlTypeName(type);
    EXPECT_EQ(one, flat) << GgmlTypeName(type);
  }
  EXPECT_THAT(QuantizeMatrix(GgmlType::kQ4_K, x, 128, 2),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("block size 256")));
}

TEST(QuantizeTest, RejectsBadLengthsAndTypes) {
  float x[16] = {};
  uint8_t out[64];
  EXPECT_THAT(QuantizeRow(GgmlType::kQ4_K, x, out, 16),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("block size 256")));
  EXPECT_THAT(QuantizeRow(GgmlType::kIQ2_XXS, x, out, 256),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("IQ2_XXS")));
  EXPECT_THAT(DequantizeBytes(GgmlType::kQ8_0, absl::MakeConstSpan(out, 30), 32),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("need 34 bytes")));
}

// Plain double dot of two float rows.
double RefDot(const std::vector<float>& a, const std::vector<float>& b, double* abs_sum) {
  double s = 0;
  *abs_sum = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    s += double{a[i]} * b[i];
    *abs_sum += std::fabs(double{a[i]} * b[i]);
  }
  return s;
}

TEST(VecDotTest, MatchesDequantizedReference) {
  const int64_t n = 1024;
  for (GgmlType type : kAllTypes) {
    const TypeKernels* k = GetTypeKernels(type);
    ASSERT_NE(k, nullptr) << GgmlTypeName(type);
    ASSERT_NE(k->to_float, nullptr);
    ASSERT_NE(k->from_float, nullptr);
    for (uint32_t seed = 1; seed <= 3; ++seed) {
      const std::vector<float> w = RandomRow(n, seed, 0.05f);
      const std::vector<float> y = RandomRow(n, seed + 100, 2.0f);
      std::vector<uint8_t> wq(RowBytes(type, n));
      k->from_float(w.data(), wq.data(), n);
      std::vector<float> wd(n);
      k->to_float(wq.data(), wd.data(), n);

      double abs_sum;
      const double want_f32 = RefDot(wd, y, &abs_sum);
      EXPECT_NEAR(k->vec_dot_f32(n, wq.data(), y.data()), want_f32, 1e-5 * abs_sum)
          << GgmlTypeName(type);

      std::vector<uint8_t> yq(RowBytes(k->vec_dot_type, n));
      k->quantize_activation(y.data(), yq.data(), n);
      std::vector<float> yd(n);
      ASSERT_OK(DequantizeRow(k->vec_dot_type, yq.data(), yd.data(), n));
      const double want_q = RefDot(wd, yd, &abs_sum);
      // Q8_1 carries each block's sum d * sum(q) rounded to fp16 (relative error <= 2^-11),
      // which the min term (m * s) of Q4_1/Q5_1 uses instead of the dequantized sum.
      double min_term_error = 0;
      if (k->vec_dot_type == GgmlType::kQ8_1) {
        const auto* yb = reinterpret_cast<const BlockQ8_1*>(yq.data());
        const auto* wb = wq.data();
        const uint64_t block_bytes = RowBytes(type, kQK);
        for (int64_t i = 0; i < n / kQK; ++i) {
          uint16_t m;  // Q4_1 and Q5_1 both store d then m first
          std::memcpy(&m, wb + i * block_bytes + 2, 2);
          min_term_error += std::fabs(F16ToF32(m) * F16ToF32(yb[i].s)) * 0x1p-10;
        }
      }
      const float got = k->vec_dot(n, wq.data(), yq.data());
      EXPECT_NEAR(got, want_q, 1e-5 * abs_sum + min_term_error)
          << GgmlTypeName(type) << " with " << GgmlTypeName(k->vec_dot_type) << " activations";
      // Every compiled variant (the one this CPU runs and the portable one) gives the same bits.
      const TypeKernels* base = GetBaselineTypeKernels(type);
      std::vector<uint8_t> yq_base(yq.size());
      base->quantize_activation(y.data(), yq_base.data(), n);
      EXPECT_EQ(yq_base, yq) << GgmlTypeName(type);
      EXPECT_EQ(std::bit_cast<uint32_t>(base->vec_dot(n, wq.data(), yq.data())),
                std::bit_cast<uint32_t>(got))
          << GgmlTypeName(type);
    }
  }
  EXPECT_EQ(GetTypeKernels(GgmlType::kIQ2_XXS), nullptr);
}

// A half value for a block scale: random finite bits, or an extreme (largest, smallest
// normal and subnormal, zero, either sign).
uint16_t RandomHalfScale(std::mt19937& rng) {
  static constexpr uint16_t kExtremes[] = {0x7bff, 0x0400, 0x0001, 0x03ff, 0x0000, 0x3c00};
  const uint16_t sign = (rng() & 1) ? 0x8000 : 0;
  if (rng() % 4 == 0) return sign | kExtremes[rng() % std::size(kExtremes)];
  uint16_t h;
  do {
    h = static_cast<uint16_t>(rng() & 0x7fff);
  } while ((h >> 10) == 31);  // no infinities or NaNs
  return sign | h;
}

// A weight row of `type` with random bytes, its half scales replaced by RandomHalfScale and
// float elements kept finite.
std::vector<uint8_t> RandomWeightRow(GgmlType type, int64_t n, std::mt19937& rng) {
  std::vector<uint8_t> row(RowBytes(type, n));
  for (uint8_t& b : row) b = static_cast<uint8_t>(rng());
  auto put = [&](size_t offset) {
    const uint16_t h = RandomHalfScale(rng);
    std::memcpy(row.data() + offset, &h, 2);
  };
  struct Layout {
    GgmlType type;
    int block_elems;
    std::vector<size_t> half_offsets;
  };
  const Layout layouts[] = {
      {GgmlType::kQ4_0, kQK, {0}},     {GgmlType::kQ4_1, kQK, {0, 2}},
      {GgmlType::kQ5_0, kQK, {0}},     {GgmlType::kQ5_1, kQK, {0, 2}},
      {GgmlType::kQ8_0, kQK, {0}},     {GgmlType::kQ2_K, kQKK, {80, 82}},
      {GgmlType::kQ3_K, kQKK, {108}},  {GgmlType::kQ4_K, kQKK, {0, 2}},
      {GgmlType::kQ5_K, kQKK, {0, 2}}, {GgmlType::kQ6_K, kQKK, {208}},
  };
  if (type == GgmlType::kF32) {
    std::normal_distribution<float> dist;
    for (int64_t i = 0; i < n; ++i) {
      const float v = dist(rng) * (i % 7 == 0 ? 1e30f : i % 5 == 0 ? 1e-30f : 1.f);
      std::memcpy(row.data() + 4 * i, &v, 4);
    }
  } else if (type == GgmlType::kF16) {
    for (int64_t i = 0; i < n; ++i) put(static_cast<size_t>(2 * i));
  } else if (type == GgmlType::kBF16) {
    for (int64_t i = 0; i < n; ++i) {
      if (((row[2 * i + 1] & 0x7f) == 0x7f) && (row[2 * i] & 0x80)) row[2 * i + 1] ^= 0x01;
    }
  } else {
    for (const Layout& l : layouts) {
      if (l.type != type) continue;
      const uint64_t block_bytes = RowBytes(type, l.block_elems);
      for (int64_t b = 0; b < n / l.block_elems; ++b) {
        for (size_t off : l.half_offsets) put(static_cast<size_t>(b) * block_bytes + off);
      }
    }
  }
  return row;
}

// Activations spanning many magnitudes: blocks scaled from 1e-38 to 1e30, zero blocks, and
// lone outliers.
std::vector<float> RandomActivations(int64_t n, std::mt19937& rng) {
  static constexpr float kScales[] = {1.f, 1e-38f, 1e-20f, 1e-3f, 1e3f, 1e30f, 0.f};
  std::normal_distribution<float> dist;
  std::vector<float> y(static_cast<size_t>(n));
  for (int64_t b = 0; b < n; b += kQK) {
    const float scale = kScales[rng() % std::size(kScales)];
    for (int64_t j = b; j < b + kQK && j < n; ++j) y[j] = dist(rng) * scale;
    if (rng() % 3 == 0) y[b + rng() % kQK] = 1e4f * scale;
  }
  return y;
}

bool SameBits(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) ||
         std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
}

// Every compiled variant this CPU runs (AVX2, AVX-512 VNNI, ...) against the portable kernels,
// bit for bit: single rows, batched rows (every batch size up to 19, so every tail of the
// batched kernels), and float activations, on random blocks with extreme scales.
TEST(VecDotTest, EveryVariantGivesThePortableBits) {
  std::mt19937 rng(20261128);
  ASSERT_GE(SupportedKernelVariants().size(), 1u);
  EXPECT_STREQ(SupportedKernelVariants()[0].name, "baseline");
  for (GgmlType type : kAllTypes) {
    const TypeKernels* base = GetBaselineTypeKernels(type);
    ASSERT_NE(base, nullptr) << GgmlTypeName(type);
    const int64_t block = base->vec_dot_type == GgmlType::kQ8_K ? kQKK : kQK;
    // 176 legacy blocks: a 5632-wide row (a 1.1B llama's feed-forward down matrix); 260:
    // past the tile kernels' table (kTileBlocks), their other path.
    for (const int64_t blocks : {1, 3, 18, 176, 260}) {
      if (blocks > 18 && block != kQK) continue;
      const int64_t n = blocks * block;
      const std::vector<uint8_t> w = RandomWeightRow(type, n, rng);
      constexpr int64_t kRows = 19;
      const uint64_t qrow = RowBytes(base->vec_dot_type, n);
      std::vector<float> y(static_cast<size_t>(kRows * n));
      std::vector<uint8_t> yq(qrow * kRows);
      for (int64_t t = 0; t < kRows; ++t) {
        const std::vector<float> row = RandomActivations(n, rng);
        std::copy(row.begin(), row.end(), y.begin() + t * n);
        base->quantize_activation(row.data(), yq.data() + t * qrow, n);
      }
      std::vector<float> want(kRows), want_f32(kRows);
      for (int64_t t = 0; t < kRows; ++t) {
        want[t] = base->vec_dot(n, w.data(), yq.data() + t * qrow);
        want_f32[t] = base->vec_dot_f32(n, w.data(), y.data() + t * n);
      }
      // Tiles take the row w and six other random rows (seven: the x86 kernels take weight
      // rows four or two at a time, so a group of four, a pair and a single row all run; the
      // k-quant tiles copy the activations from four weight rows up), laid out with a stride
      // past their ends that keeps the alignment real rows have (blocks hold 16-bit scales).
      constexpr int64_t kCopies = 7;
      const uint64_t wrow = w.size() + 8;
      std::vector<uint8_t> w3(wrow * kCopies);
      std::vector<float> want_rows[kCopies];
      for (int64_t c = 0; c < kCopies; ++c) {
        const std::vector<uint8_t> wc = c == 0 ? w : RandomWeightRow(type, n, rng);
        std::copy(wc.begin(), wc.end(), w3.begin() + c * wrow);
        for (int64_t t = 0; t < kRows; ++t) {
          want_rows[c].push_back(base->vec_dot(n, wc.data(), yq.data() + t * qrow));
        }
      }
      for (const KernelVariant& v : SupportedKernelVariants()) {
        const TypeKernels* k = v.get(type);
        ASSERT_NE(k, nullptr) << v.name << " " << GgmlTypeName(type);
        std::vector<uint8_t> yq_v(qrow);
        for (int64_t t = 0; t < kRows; ++t) {
          k->quantize_activation(y.data() + t * n, yq_v.data(), n);
          EXPECT_EQ(0, std::memcmp(yq_v.data(), yq.data() + t * qrow, qrow))
              << v.name << " " << GgmlTypeName(type);
          const float got = k->vec_dot(n, w.data(), yq.data() + t * qrow);
          EXPECT_TRUE(SameBits(got, want[t])) << v.name << " " << GgmlTypeName(type) << " n=" << n
                                              << " row " << t << ": " << got << " vs " << want[t];
          const float got_f32 = k->vec_dot_f32(n, w.data(), y.data() + t * n);
          EXPECT_TRUE(SameBits(got_f32, want_f32[t]))
              << v.name << " " << GgmlTypeName(type) << " f32 n=" << n << " row " << t;
        }
        for (int64_t rows = 1; rows <= kRows; ++rows) {
          std::vector<float> out(static_cast<size_t>(2 * rows), -1.f);
          k->vec_dot_rows(n, w.data(), yq.data(), qrow, rows, out.data(), 2);
          for (int64_t t = 0; t < rows; ++t) {
            EXPECT_TRUE(SameBits(out[2 * t], want[t]))
                << v.name << " " << GgmlTypeName(type) << " n=" << n << " batch of " << rows
                << ", row " << t << ": " << out[2 * t] << " vs " << want[t];
            EXPECT_EQ(out[2 * t + 1], -1.f);  // the stride is kept
          }
          // A tile of the weight row and six others (stride past their ends) against the
          // rows, each output against the baseline's single-row dot.
          std::vector<float> tile(static_cast<size_t>(rows * (kCopies + 1)), -1.f);
          k->vec_dot_tile(n, w3.data(), wrow, kCopies, yq.data(), qrow, rows, tile.data(),
                          kCopies + 1);
          for (int64_t t = 0; t < rows; ++t) {
            for (int64_t c = 0; c < kCopies; ++c) {
              const float want_c = c == 0 ? want[t] : want_rows[c][t];
              EXPECT_TRUE(SameBits(tile[t * (kCopies + 1) + c], want_c))
                  << v.name << " " << GgmlTypeName(type) << " n=" << n << " tile of " << rows
                  << ", weight row " << c << ", row " << t << ": " << tile[t * (kCopies + 1) + c]
                  << " vs " << want_c;
            }
            EXPECT_EQ(tile[t * (kCopies + 1) + kCopies], -1.f);
          }
        }
      }
    }
  }
}

// The packed order (packed.h) computed here from one unpacked weight row and one activation
// row: per block the exact integer sums, then the stated fused multiply-adds. abs_sum
// gets the sum of the products' magnitudes.
float PackedOrderDot(GgmlType type, int64_t n, const uint8_t* w, const uint8_t* yq,
                     double* abs_sum) {
  float acc = 0.f;
  *abs_sum = 0;
  if (type == GgmlType::kQ4_0) {
    const auto* xb = reinterpret_cast<const BlockQ4_0*>(w);
    const auto* yb = reinterpret_cast<const BlockQ8_0*>(yq);
    for (int64_t i = 0; i < n / kQK; ++i) {
      int32_t sum = 0, abs = 0;
      for (int e = 0; e < kQK; ++e) {
        const int q = e < 16 ? xb[i].qs[e] & 15 : xb[i].qs[e - 16] >> 4;
        sum += (q - 8) * yb[i].qs[e];
        abs += std::abs((q - 8) * yb[i].qs[e]);
      }
      const float d = F16ToF32(xb[i].d) * F16ToF32(yb[i].d);
      acc = std::fma(static_cast<float>(sum), d, acc);
      *abs_sum += std::fabs(static_cast<double>(d)) * abs;
    }
    return acc;
  }
  if (type == GgmlType::kQ8_0) {
    const auto* xb = reinterpret_cast<const BlockQ8_0*>(w);
    const auto* yb = reinterpret_cast<const BlockQ8_0*>(yq);
    for (int64_t i = 0; i < n / kQK; ++i) {
      int32_t sum = 0, abs = 0;
      for (int e = 0; e < kQK; ++e) {
        sum += xb[i].qs[e] * yb[i].qs[e];
        abs += std::abs(xb[i].qs[e] * yb[i].qs[e]);
      }
      const float d = F16ToF32(xb[i].d) * F16ToF32(yb[i].d);
      acc = std::fma(static_cast<float>(sum), d, acc);
      *abs_sum += std::fabs(static_cast<double>(d)) * abs;
    }
    return acc;
  }
  if (type == GgmlType::kQ6_K) {
    const auto* xb = reinterpret_cast<const BlockQ6_K*>(w);
    const auto* yb = reinterpret_cast<const BlockQ8_K*>(yq);
    for (int64_t i = 0; i < n / kQKK; ++i) {
      int32_t isum = 0;
      int64_t abs = 0;
      for (int e = 0; e < kQKK; ++e) {
        // blocks.h: low 4 bits nibble r / 64 of ql[h * 64 + r % 64], high 2 bits at bit
        // 2 * (r / 32) of qh[h * 32 + r % 32], h = e / 128, r = e % 128.
        const int h = e / 128, r = e % 128;
        const int q = ((xb[i].ql[h * 64 + r % 64] >> (4 * (r / 64))) & 15) |
                      (((xb[i].qh[h * 32 + r % 32] >> (2 * (r / 32))) & 3) << 4);
        isum += xb[i].scales[e / 16] * (q - 32) * yb[i].qs[e];
        abs += std::abs(xb[i].scales[e / 16] * (q - 32) * yb[i].qs[e]);
      }
      const float d = F16ToF32(xb[i].d) * yb[i].d;
      acc = std::fma(static_cast<float>(isum), d, acc);
      *abs_sum += std::fabs(static_cast<double>(d)) * static_cast<double>(abs);
    }
    return acc;
  }
  const auto* xb = reinterpret_cast<const BlockQ4_K*>(w);
  const auto* yb = reinterpret_cast<const BlockQ8_K*>(yq);
  for (int64_t i = 0; i < n / kQKK; ++i) {
    int32_t isum = 0, msum = 0, abs = 0, mabs = 0;
    for (int g = 0; g < 8; ++g) {
      uint8_t sc, m;
      GetScaleMinK4(g, xb[i].scales, &sc, &m);
      int32_t dot = 0, group_sum = 0;
      for (int e = 0; e < 32; ++e) {
        const uint8_t byte = xb[i].qs[(g / 2) * 32 + e];
        const int q = g % 2 == 0 ? byte & 15 : byte >> 4;
        dot += q * yb[i].qs[32 * g + e];
        abs += sc * std::abs(q * yb[i].qs[32 * g + e]);
        group_sum += yb[i].qs[32 * g + e];
      }
      EXPECT_EQ(group_sum, yb[i].bsums[2 * g] + yb[i].bsums[2 * g + 1]);
      isum += sc * dot;
      msum += m * group_sum;
      mabs += m * std::abs(group_sum);
    }
    const float d = F16ToF32(xb[i].d) * yb[i].d, dmin = F16ToF32(xb[i].dmin) * yb[i].d;
    acc = std::fma(static_cast<float>(isum), d, acc);
    acc = std::fma(-static_cast<float>(msum), dmin, acc);
    *abs_sum +=
        std::fabs(static_cast<double>(d)) * abs + std::fabs(static_cast<double>(dmin)) * mabs;
  }
  return acc;
}

// Packed weights (packed.h): the reference packed tile against its stated order computed
// from the unpacked blocks, and every variant's packed kernel against the reference, bit for
// bit, for every batch size up to 19 and a few row lengths (300 Q4_0 blocks: longer than the
// row-major tiles' tables), on random blocks with extreme scales; and the packed order's value
// near the row-major kernel's.
TEST(PackedTest, FollowsItsOrderInEveryVariant) {
  std::mt19937 rng(20261208);
  EXPECT_EQ(PackedGroupBytes(GgmlType::kQ4_0, 64), 2 * sizeof(PackedQ4_0));
  EXPECT_EQ(PackedGroupBytes(GgmlType::kQ4_0, 48), 0u);
  EXPECT_EQ(PackedGroupBytes(GgmlType::kQ4_K, 512), 2 * sizeof(PackedQ4_K));
  EXPECT_EQ(PackedGroupBytes(GgmlType::kQ4_K, 384), 0u);
  EXPECT_EQ(PackedGroupBytes(GgmlType::kQ4_1, 64), 0u);
  EXPECT_EQ(PackedTileReference(GgmlType::kQ4_1), nullptr);
  for (const GgmlType type : {GgmlType::kQ4_0, GgmlType::kQ8_0, GgmlType::kQ4_K, GgmlType::kQ6_K}) {
    const VecDotPackedFn reference = PackedTileReference(type);
    ASSERT_NE(reference, nullptr);
    const TypeKernels* base = GetBaselineTypeKernels(type);
    const int64_t block = base->vec_dot_type == GgmlType::kQ8_K ? kQKK : kQK;
    constexpr int64_t kGroups = 3, kWeightRows = kGroups * kPackRows, kRows = 19;
    for (const int64_t blocks : {1, 3, 8, 22, 64, 300}) {
      if (block == kQKK && blocks > 22) continue;
      const int64_t n = blocks * block;
      const uint64_t wrow = RowBytes(type, n);
      std::vector<uint8_t> w;
      for (int64_t r = 0; r < kWeightRows; ++r) {
        const std::vector<uint8_t> row = RandomWeightRow(type, n, rng);
        w.insert(w.end(), row.begin(), row.end());
      }
      std::vector<uint8_t> packed(PackedGroupBytes(type, n) * kGroups);
      PackRows(type, n, w.data(), wrow, kWeightRows, packed.data());
      const uint64_t qrow = RowBytes(base->vec_dot_type, n);
      std::vector<uint8_t> yq(qrow * kRows);
      std::vector<PackedActivation> table(static_cast<size_t>(n / kQK * kRows));
      for (int64_t t = 0; t < kRows; ++t) {
        base->quantize_activation(RandomActivations(n, rng).data(), yq.data() + t * qrow, n);
        if (PackedUsesTable(type)) {
          PreparePackedActivation(n, yq.data() + t * qrow, table.data() + t * (n / kQK));
        }
      }
      std::vector<float> want(static_cast<size_t>(kRows * kWeightRows));
      for (int64_t t = 0; t < kRows; ++t) {
        for (int64_t r = 0; r < kWeightRows; ++r) {
          double abs_sum;
          const float got =
              PackedOrderDot(type, n, w.data() + r * wrow, yq.data() + t * qrow, &abs_sum);
          want[t * kWeightRows + r] = got;
          // Another order of the same products: as close to the row-major kernel's value as
          // float sums of these magnitudes allow.
          const float row_major = base->vec_dot(n, w.data() + r * wrow, yq.data() + t * qrow);
          if (std::isfinite(got) && std::isfinite(row_major) && abs_sum < 1e30) {
            EXPECT_NEAR(got, row_major, 1e-5 * abs_sum)
                << GgmlTypeName(type) << " n=" << n << " row " << r << " activation " << t;
          }
        }
      }
      std::vector<VecDotPackedFn> kernels = {reference};
      for (const KernelVariant& v : SupportedKernelVariants()) {
        if (v.get(type)->packed_tile != nullptr) kernels.push_back(v.get(type)->packed_tile);
      }
      for (size_t ki = 0; ki < kernels.size(); ++ki) {
        for (int64_t rows = 1; rows <= kRows; ++rows) {
          // One output column past the weight rows, which must be kept.
          std::vector<float> out(static_cast<size_t>(rows * (kWeightRows + 1)), -1.f);
          kernels[ki](n, packed.data(), kGroups, yq.data(), qrow, table.data(), rows, out.data(),
                      kWeightRows + 1);
          for (int64_t t = 0; t < rows; ++t) {
            for (int64_t r = 0; r < kWeightRows; ++r) {
              ASSERT_TRUE(SameBits(out[t * (kWeightRows + 1) + r], want[t * kWeightRows + r]))
                  << GgmlTypeName(type) << " kernel " << ki << " n=" << n << " batch " << rows
                  << " weight row " << r << " activation " << t << ": "
                  << out[t * (kWeightRows + 1) + r] << " vs " << want[t * kWeightRows + r];
            }
            EXPECT_EQ(out[t * (kWeightRows + 1) + kWeightRows], -1.f);
          }
        }
      }
    }
  }
}

// Activation quantizers as ggml's x86 CPU backend runs them (hand-derived values): with the
// block maximum 127 the scale is 1 and halves round to even; the file quantizer (ggml's
// reference) rounds them away from zero.
TEST(VecDotTest, ActivationQuantizersRoundHalfToEven) {
  std::vector<float> x(kQK, 0.f);
  x[0] = 127.f;
  x[1] = 0.5f;
  x[2] = 1.5f;
  x[3] = 2.5f;
  x[4] = -2.5f;
  x[5] = 3.f;
  BlockQ8_0 act;
  QuantizeActivationQ8_0(x.data(), &act, kQK);
  EXPECT_EQ(F16ToF32(act.d), 1.f);
  EXPECT_THAT(std::vector<int>(act.qs, act.qs + 6), ::testing::ElementsAre(127, 0, 2, 2, -2, 3));
  BlockQ8_0 file;
  QuantizeRowQ8_0(x.data(), &file, kQK);
  EXPECT_THAT(std::vector<int>(file.qs, file.qs + 6), ::testing::ElementsAre(127, 1, 2, 3, -3, 3));
  // Q8_1: s = d * sum(q) with d = amax / 127 before rounding: 127 + 2 + 2 - 2 + 3 = 132.
  x[0] = 100.f;  // d = 100/127, not exact in fp16
  BlockQ8_1 act1;
  QuantizeActivationQ8_1(x.data(), &act1, kQK);
  int sum = 0;
  for (int8_t q : act1.qs) sum += q;
  EXPECT_EQ(act1.s, F32ToF16(100.f / 127.f * static_cast<float>(sum)));
  EXPECT_EQ(act1.d, F32ToF16(100.f / 127.f));
  // Q8_K: the element of largest magnitude maps to -127 (iscale = -127 / max), d = 1 / iscale.
  std::vector<float> xk(kQKK, 0.25f);
  xk[7] = -4.f;
  BlockQ8_K k8;
  QuantizeRowQ8_K(xk.data(), &k8, kQKK);
  EXPECT_EQ(k8.qs[7], -127);
  EXPECT_EQ(k8.qs[0], 8);  // 0.25 * 127 / 4 = 7.9375
  EXPECT_EQ(k8.d, 1.f / (-127.f / -4.f));
  EXPECT_EQ(k8.bsums[0], 8 * 7 - 127 + 8 * 8);
}

TEST(QuantMixTest, UseMoreBitsMatchesLlamaCppFormula) {
  // 32 layers: the first 4, the last 4, and 6, 9, 12, ... (i - 4) % 3 == 2.
  std::vector<int> more;
  for (int i = 0; i < 32; ++i) {
    if (UseMoreBits(i, 32)) more.push_back(i);
  }
  EXPECT_THAT(more,
              ::testing::ElementsAre(0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31));
}

TEST(QuantMixTest, ParsesNames) {
  ASSERT_OK_AND_ASSIGN(QuantMix m, ParseQuantMix("q4_k_m"));
  EXPECT_EQ(m.name, "Q4_K_M");
  EXPECT_EQ(m.file_type, 15u);
  EXPECT_EQ(m.default_type, GgmlType::kQ4_K);
  ASSERT_OK_AND_ASSIGN(QuantMix q6, ParseQuantMix("Q6_K"));
  EXPECT_EQ(q6.file_type, 18u);
  EXPECT_THAT(ParseQuantMix("Q7_X"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Q7_X")));
}

}  // namespace
}  // namespace jetserve::quant
