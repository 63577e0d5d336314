// The fused dequantize-dot kernels, written once and compiled once per instruction-set
// variant (vec_dot.cc: baseline; vec_dot_x86.cc: x86-64 with AVX2+FMA, where std::fma is one
// instruction). Include only from those files, after defining JS_VEC_DOT_NS.
//
// Summation order. Every integer dot product here sums the same integers as ggml's, so it is
// exact whatever the order; the float part follows ggml's x86 (AVX2) vec_dot kernels step
// for step, so that our logits match llama.cpp's CPU path and do not depend on the machine:
//   - Eight float lanes. Lane k takes the elements e of a block with (e % 32) / 4 == k (the
//     int32 lanes of a 256-bit maddubs/madd or dpbusd over 32 bytes). Per block (32 elements
//     for the legacy types, 256 for the k-quants) the lane's integer sum is converted to float
//     and accumulated with one fused multiply-add by the block's float scale.
//   - The lanes are reduced as ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)).
//   - Min terms (Q4_1/Q5_1/Q5_K: one scalar fused multiply-add per block; Q4_K: four lanes;
//     Q2_K: in the same eight lanes, before the scale term) are added as ggml adds them;
//     Q6_K's -32 offset enters the lanes through the activation group sums.
// The file is built with -ffp-contract=off: only the explicit std::fma calls fuse.
#ifndef JS_VEC_DOT_NS
#error "define JS_VEC_DOT_NS before including vec_dot_kernels.h"
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

#include "engine/quant/blocks.h"
#include "engine/quant/dequantize.h"
#include "engine/quant/quantize.h"
#include "engine/quant/vec_dot.h"
#include "engine/util/half.h"

namespace jetserve::quant::JS_VEC_DOT_NS {
namespace {

// Eight float accumulators in ggml's AVX2 layout.
struct Lanes8 {
  float v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  void Fma(float d, const int32_t (&s)[8]) {
    for (int k = 0; k < 8; ++k) v[k] = std::fma(d, static_cast<float>(s[k]), v[k]);
  }
  float Sum() const { return ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7])); }
};

inline int Lane(int e) { return (e & 31) >> 2; }

// A stored half scale as float: the same value either way (F16C converts exactly).
#ifdef JS_VEC_DOT_AVX2
inline float Half(uint16_t h) { return _cvtsh_ss(h); }
#else
inline float Half(uint16_t h) { return F16ToF32(h); }
#endif

// The tile form of any batched kernel: one weight row at a time.
template <VecDotRowsFn kRows>
void TileByRows(int64_t n, const void* x, uint64_t x_stride, int64_t x_rows, const void* y,
                uint64_t y_stride, int64_t rows, float* out, int64_t out_stride) {
  const auto* xb = static_cast<const uint8_t*>(x);
  for (int64_t r = 0; r < x_rows; ++r) {
    kRows(n, xb + static_cast<uint64_t>(r) * x_stride, y, y_stride, rows, out + r, out_stride);
  }
}

// The batched form of any single-row kernel: one row at a time (the weight row stays in L1).
template <VecDotFn kDot>
void RowsByLoop(int64_t n, const void* x, const void* y, uint64_t y_stride, int64_t rows,
                float* out, int64_t out_stride) {
  const auto* yb = static_cast<const uint8_t*>(y);
  for (int64_t t = 0; t < rows; ++t) {
    out[t * out_stride] = kDot(n, x, yb + static_cast<uint64_t>(t) * y_stride);
  }
}

float DotF32F32(int64_t n, const void* x, const void* y) {
  const auto* a = static_cast<const float*>(x);
  const auto* b = static_cast<const float*>(y);
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

float DotF32(int64_t n, const void* x, const float* y) { return DotF32F32(n, x, y); }

// 16-bit float weights (F16 or BF16, by their conversion) against float activations.
template <float (*kToF32)(uint16_t)>
float DotHalf(int64_t n, const void* x, const float* y) {
  const auto* a = static_cast<const uint16_t*>(x);
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += kToF32(a[i]) * y[i];
  return sum;
}
template <float (*kToF32)(uint16_t)>
float DotHalfQ(int64_t n, const void* x, const void* y) {
  return DotHalf<kToF32>(n, x, static_cast<const float*>(y));
}

uint32_t LoadQh(const uint8_t qh[4]) {
  uint32_t v;
  std::memcpy(&v, qh, 4);
  return v;
}

// Element j (0..31) of a 32-element block with 4-bit (and optionally a 5th bit) quants.
inline int Nibble(const uint8_t* qs, int j) { return j < 16 ? qs[j] & 0xf : qs[j - 16] >> 4; }
inline int Bit5(uint32_t qh, int j) { return static_cast<int>((qh >> j) & 1) << 4; }

// Legacy 32-element blocks: lanes of w[j] * q8[j] with w from `weight(block, j)`.
template <typename Block, typename YBlock, typename Weight>
void LegacyLanes(const Block& x, const YBlock& y, Weight weight, int32_t (&s)[8]) {
  for (int k = 0; k < 8; ++k) {
    int32_t sum = 0;
    for (int j = 4 * k; j < 4 * k + 4; ++j) sum += weight(x, j) * y.qs[j];
    s[k] = sum;
  }
}

template <typename Block, typename Weight>
float DotSymmetric(int64_t n, const void* vx, const void* vy, Weight weight) {
  const auto* x = static_cast<const Block*>(vx);
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  Lanes8 acc;
  int32_t s[8];
  for (int64_t i = 0; i < n / kQK; ++i) {
    LegacyLanes(x[i], y[i], weight, s);
    acc.Fma(Half(x[i].d) * Half(y[i].d), s);
  }
  return acc.Sum();
}

// Q4_1/Q5_1 against Q8_1: the min term uses the activation block's stored sum s.
template <typename Block, typename Weight>
float DotWithMin(int64_t n, const void* vx, const void* vy, Weight weight) {
  const auto* x = static_cast<const Block*>(vx);
  const auto* y = static_cast<const BlockQ8_1*>(vy);
  Lanes8 acc;
  float summs = 0;
  int32_t s[8];
  for (int64_t i = 0; i < n / kQK; ++i) {
    summs = std::fma(Half(x[i].m), Half(y[i].s), summs);
    LegacyLanes(x[i], y[i], weight, s);
    acc.Fma(Half(x[i].d) * Half(y[i].d), s);
  }
  return acc.Sum() + summs;
}

[[maybe_unused]] float DotQ4_0Q8_0(int64_t n, const void* x, const void* y) {
  return DotSymmetric<BlockQ4_0>(n, x, y,
                                 [](const BlockQ4_0& b, int j) { return Nibble(b.qs, j) - 8; });
}
[[maybe_unused]] float DotQ4_1Q8_1(int64_t n, const void* x, const void* y) {
  return DotWithMin<BlockQ4_1>(n, x, y, [](const BlockQ4_1& b, int j) { return Nibble(b.qs, j); });
}
[[maybe_unused]] float DotQ5_0Q8_0(int64_t n, const void* x, const void* y) {
  return DotSymmetric<BlockQ5_0>(n, x, y, [](const BlockQ5_0& b, int j) {
    return (Nibble(b.qs, j) | Bit5(LoadQh(b.qh), j)) - 16;
  });
}
[[maybe_unused]] float DotQ5_1Q8_1(int64_t n, const void* x, const void* y) {
  return DotWithMin<BlockQ5_1>(
      n, x, y, [](const BlockQ5_1& b, int j) { return Nibble(b.qs, j) | Bit5(LoadQh(b.qh), j); });
}
[[maybe_unused]] float DotQ8_0Q8_0(int64_t n, const void* x, const void* y) {
  return DotSymmetric<BlockQ8_0>(n, x, y, [](const BlockQ8_0& b, int j) { return int{b.qs[j]}; });
}

int Get2Bits(const uint8_t* qs, int e) {
  return (qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3;
}

float DotQ2_KQ8_K(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ2_K*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  Lanes8 acc;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const float d = y[i].d * Half(x[i].d);
    const float dmin = -y[i].d * Half(x[i].dmin);
    int32_t mins[8], s[8] = {};
    for (int k = 0; k < 8; ++k) {
      mins[k] = (x[i].scales[2 * k] >> 4) * y[i].bsums[2 * k] +
                (x[i].scales[2 * k + 1] >> 4) * y[i].bsums[2 * k + 1];
    }
    acc.Fma(dmin, mins);
    for (int e = 0; e < kQKK; ++e) {
      s[Lane(e)] += (x[i].scales[e / 16] & 0xf) * Get2Bits(x[i].qs, e) * y[i].qs[e];
    }
    acc.Fma(d, s);
  }
  return acc.Sum();
}

float DotQ3_KQ8_K(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ3_K*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  Lanes8 acc;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    int8_t sc[16];
    UnpackScalesQ3K(x[i].scales, sc);
    int32_t s[8] = {};
    for (int e = 0; e < kQKK; ++e) {
      const int q = Get2Bits(x[i].qs, e) - (((x[i].hmask[e % 32] >> (e / 32)) & 1) ? 0 : 4);
      s[Lane(e)] += sc[e / 16] * q * y[i].qs[e];
    }
    acc.Fma(y[i].d * Half(x[i].d), s);
  }
  return acc.Sum();
}

// Q4_K: eight lanes of scale * q * q8; the mins in four lanes (pairs of 32-element groups).
[[maybe_unused]] float DotQ4_KQ8_K(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ4_K*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  Lanes8 acc;
  float acc_m[4] = {0, 0, 0, 0};
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const float d = y[i].d * Half(x[i].d);
    const float dmin = -y[i].d * Half(x[i].dmin);
    uint8_t sc[8], m[8];
    for (int g = 0; g < 8; ++g) GetScaleMinK4(g, x[i].scales, &sc[g], &m[g]);
    for (int l = 0; l < 4; ++l) {
      const int32_t prod = m[2 * l] * (y[i].bsums[4 * l] + y[i].bsums[4 * l + 1]) +
                           m[2 * l + 1] * (y[i].bsums[4 * l + 2] + y[i].bsums[4 * l + 3]);
      acc_m[l] = std::fma(dmin, static_cast<float>(prod), acc_m[l]);
    }
    int32_t s[8] = {};
    for (int g = 0; g < 8; ++g) {
      const uint8_t* qs = x[i].qs + (g / 2) * 32;
      const int shift = 4 * (g % 2);
      const int8_t* q8 = y[i].qs + g * 32;
      for (int k = 0; k < 8; ++k) {
        int32_t sum = 0;
        for (int l = 4 * k; l < 4 * k + 4; ++l) sum += ((qs[l] >> shift) & 0xf) * q8[l];
        s[k] += sc[g] * sum;
      }
    }
    acc.Fma(d, s);
  }
  return acc.Sum() + ((acc_m[0] + acc_m[2]) + (acc_m[1] + acc_m[3]));
}

// Q5_K: as Q4_K with a fifth bit; the mins in one scalar per block.
[[maybe_unused]] float DotQ5_KQ8_K(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ5_K*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  Lanes8 acc;
  float summs = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const float d = y[i].d * Half(x[i].d);
    const float dmin = -y[i].d * Half(x[i].dmin);
    uint8_t sc[8], m[8];
    for (int g = 0; g < 8; ++g) GetScaleMinK4(g, x[i].scales, &sc[g], &m[g]);
    int32_t mins = 0;
    for (int g = 0; g < 8; ++g) mins += m[g] * (y[i].bsums[2 * g] + y[i].bsums[2 * g + 1]);
    summs = std::fma(dmin, static_cast<float>(mins), summs);
    int32_t s[8] = {};
    for (int g = 0; g < 8; ++g) {
      const uint8_t* qs = x[i].qs + (g / 2) * 32;
      const int shift = 4 * (g % 2);
      const int8_t* q8 = y[i].qs + g * 32;
      for (int k = 0; k < 8; ++k) {
        int32_t sum = 0;
        for (int l = 4 * k; l < 4 * k + 4; ++l) {
          sum += (((qs[l] >> shift) & 0xf) | (((x[i].qh[l] >> g) & 1) << 4)) * q8[l];
        }
        s[k] += sc[g] * sum;
      }
    }
    acc.Fma(d, s);
  }
  return acc.Sum() + summs;
}

// Q6_K: lanes of scale * q * q8 with q unsigned (0..63); the -32 offset comes from the
// activation group sums, lane k taking groups 2k and 2k + 1 (ggml's q8sclsub).
[[maybe_unused]] float DotQ6_KQ8_K(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ6_K*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  Lanes8 acc;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const int8_t* sc = x[i].scales;
    int32_t s[8];
    for (int k = 0; k < 8; ++k) {
      s[k] = -32 * (y[i].bsums[2 * k] * sc[2 * k] + y[i].bsums[2 * k + 1] * sc[2 * k + 1]);
    }
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = x[i].ql + 64 * h;
      const uint8_t* qh = x[i].qh + 32 * h;
      const int8_t* q8 = y[i].qs + 128 * h;
      const int8_t* hs = sc + 8 * h;
      // Element r of this half: low nibble r / 64 of ql[r % 64], high bits 2 * (r / 32) of
      // qh[r % 32]; so one ql/qh pair feeds elements l, l + 32, l + 64, l + 96.
      for (int k = 0; k < 8; ++k) {
        int32_t sum = 0;
        for (int l = 4 * k; l < 4 * k + 4; ++l) {
          const int q1 = (ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4);
          const int q2 = (ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4);
          const int q3 = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
          const int q4 = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
          sum += hs[l / 16] * q1 * q8[l] + hs[2 + l / 16] * q2 * q8[l + 32] +
                 hs[4 + l / 16] * q3 * q8[l + 64] + hs[6 + l / 16] * q4 * q8[l + 96];
        }
        s[k] += sum;
      }
    }
    acc.Fma(y[i].d * Half(x[i].d), s);
  }
  return acc.Sum();
}

// Float activations for a block type: dequantize one block at a time and dot it.
template <GgmlType kType, int kBlock, int kBlockBytes>
float DotF32Blocked(int64_t n, const void* x, const float* y) {
  static const DequantizeRowFn to_float = GetDequantizeRowFn(kType);
  const auto* bytes = static_cast<const uint8_t*>(x);
  float tmp[kBlock];
  float sum = 0;
  for (int64_t i = 0; i < n / kBlock; ++i) {
    to_float(bytes + i * kBlockBytes, tmp, kBlock);
    float block_sum = 0;
    for (int j = 0; j < kBlock; ++j) block_sum += tmp[j] * y[i * kBlock + j];
    sum += block_sum;
  }
  return sum;
}

#ifdef JS_VEC_DOT_AVX2
#include "engine/quant/vec_dot_x86_kernels.h"
#endif

// This variant's activation quantizer for a dot type.
QuantizeRowFn ActivationQuantizer(GgmlType dot_type) {
#ifdef JS_VEC_DOT_AVX2
  switch (dot_type) {
    case GgmlType::kQ8_0:
      return QuantizeActivationQ8_0Simd;
    case GgmlType::kQ8_1:
      return QuantizeActivationQ8_1Simd;
    case GgmlType::kQ8_K:
      return QuantizeActivationQ8_KSimd;
    default:
      break;
  }
#endif
  return GetActivationQuantizer(dot_type);
}

template <GgmlType kType, typename Block, GgmlType kDotType, VecDotFn kDot,
          VecDotRowsFn kRows = RowsByLoop<kDot>, VecDotTileFn kTile = TileByRows<kRows>,
          VecDotPackedFn kPacked = nullptr>
TypeKernels BlockKernels() {
  constexpr int kBlock = kDotType == GgmlType::kQ8_K ? kQKK : kQK;
  return {kType,
          kDotType,
          GetDequantizeRowFn(kType),
          GetQuantizeRowFn(kType),
          ActivationQuantizer(kDotType),
          kDot,
          DotF32Blocked<kType, kBlock, sizeof(Block)>,
          kRows,
          kTile,
          kPacked};
}

}  // namespace

// This variant's kernel table.
std::span<const TypeKernels> KernelTable() {
  static const TypeKernels kTable[] = {
      {GgmlType::kF32, GgmlType::kF32, GetDequantizeRowFn(GgmlType::kF32),
       GetQuantizeRowFn(GgmlType::kF32), GetActivationQuantizer(GgmlType::kF32), DotF32F32, DotF32,
       RowsByLoop<DotF32F32>, TileByRows<RowsByLoop<DotF32F32>>, nullptr},
      {GgmlType::kF16, GgmlType::kF32, GetDequantizeRowFn(GgmlType::kF16),
       GetQuantizeRowFn(GgmlType::kF16), GetActivationQuantizer(GgmlType::kF32), DotHalfQ<F16ToF32>,
       DotHalf<F16ToF32>, RowsByLoop<DotHalfQ<F16ToF32>>,
       TileByRows<RowsByLoop<DotHalfQ<F16ToF32>>>, nullptr},
      {GgmlType::kBF16, GgmlType::kF32, GetDequantizeRowFn(GgmlType::kBF16),
       GetQuantizeRowFn(GgmlType::kBF16), GetActivationQuantizer(GgmlType::kF32),
       DotHalfQ<BF16ToF32>, DotHalf<BF16ToF32>, RowsByLoop<DotHalfQ<BF16ToF32>>,
       TileByRows<RowsByLoop<DotHalfQ<BF16ToF32>>>, nullptr},
#ifdef JS_VEC_DOT_AVX2
      BlockKernels<GgmlType::kQ4_0, BlockQ4_0, GgmlType::kQ8_0, LegacyDot<Q4_0Blocks>,
                   LegacyDotRows<Q4_0Blocks>, LegacyDotTile<Q4_0Blocks>, kPackedQ4_0>(),
      BlockKernels<GgmlType::kQ4_1, BlockQ4_1, GgmlType::kQ8_1, LegacyDot<Q4_1Blocks>,
                   LegacyDotRows<Q4_1Blocks>, LegacyDotTile<Q4_1Blocks>>(),
      BlockKernels<GgmlType::kQ5_0, BlockQ5_0, GgmlType::kQ8_0, LegacyDot<Q5_0Blocks>,
                   LegacyDotRows<Q5_0Blocks>, LegacyDotTile<Q5_0Blocks>>(),
      BlockKernels<GgmlType::kQ5_1, BlockQ5_1, GgmlType::kQ8_1, LegacyDot<Q5_1Blocks>,
                   LegacyDotRows<Q5_1Blocks>, LegacyDotTile<Q5_1Blocks>>(),
      BlockKernels<GgmlType::kQ8_0, BlockQ8_0, GgmlType::kQ8_0, LegacyDot<Q8_0Blocks>,
                   LegacyDotRows<Q8_0Blocks>, LegacyDotTile<Q8_0Blocks>, kPackedQ8_0>(),
      BlockKernels<GgmlType::kQ4_K, BlockQ4_K, GgmlType::kQ8_K, DotQ4_KQ8_KSimd, KDotRows<Q4_KTile>,
                   KDotTile<Q4_KTile>, kPackedQ4_K>(),
      BlockKernels<GgmlType::kQ5_K, BlockQ5_K, GgmlType::kQ8_K, KDot<Q5_KTile>, KDotRows<Q5_KTile>,
                   KDotTile<Q5_KTile>>(),
      BlockKernels<GgmlType::kQ6_K, BlockQ6_K, GgmlType::kQ8_K, DotQ6_KQ8_KSimd, KDotRows<Q6_KTile>,
                   KDotTile<Q6_KTile>, kPackedQ6_K>(),
#else
      BlockKernels<GgmlType::kQ4_0, BlockQ4_0, GgmlType::kQ8_0, DotQ4_0Q8_0>(),
      BlockKernels<GgmlType::kQ4_1, BlockQ4_1, GgmlType::kQ8_1, DotQ4_1Q8_1>(),
      BlockKernels<GgmlType::kQ5_0, BlockQ5_0, GgmlType::kQ8_0, DotQ5_0Q8_0>(),
      BlockKernels<GgmlType::kQ5_1, BlockQ5_1, GgmlType::kQ8_1, DotQ5_1Q8_1>(),
      BlockKernels<GgmlType::kQ8_0, BlockQ8_0, GgmlType::kQ8_0, DotQ8_0Q8_0>(),
      BlockKernels<GgmlType::kQ4_K, BlockQ4_K, GgmlType::kQ8_K, DotQ4_KQ8_K>(),
      BlockKernels<GgmlType::kQ5_K, BlockQ5_K, GgmlType::kQ8_K, DotQ5_KQ8_K>(),
      BlockKernels<GgmlType::kQ6_K, BlockQ6_K, GgmlType::kQ8_K, DotQ6_KQ8_K>(),
#endif
      BlockKernels<GgmlType::kQ2_K, BlockQ2_K, GgmlType::kQ8_K, DotQ2_KQ8_K>(),
      BlockKernels<GgmlType::kQ3_K, BlockQ3_K, GgmlType::kQ8_K, DotQ3_KQ8_K>(),
  };
  return kTable;
}

}  // namespace jetserve::quant::JS_VEC_DOT_NS
