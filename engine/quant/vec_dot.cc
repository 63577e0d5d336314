#include "engine/quant/vec_dot.h"

#include <cstring>

#include "engine/quant/blocks.h"
#include "engine/util/half.h"

namespace jetserve::quant {
namespace {

float DotF32F32(int64_t n, const void* x, const void* y) {
  const auto* a = static_cast<const float*>(x);
  const auto* b = static_cast<const float*>(y);
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

float DotF32(int64_t n, const void* x, const float* y) { return DotF32F32(n, x, y); }

float DotF16(int64_t n, const void* x, const float* y) {
  const auto* a = static_cast<const uint16_t*>(x);
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += F16ToF32(a[i]) * y[i];
  return sum;
}
float DotF16Q(int64_t n, const void* x, const void* y) {
  return DotF16(n, x, static_cast<const float*>(y));
}

float DotBF16(int64_t n, const void* x, const float* y) {
  const auto* a = static_cast<const uint16_t*>(x);
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += BF16ToF32(a[i]) * y[i];
  return sum;
}
float DotBF16Q(int64_t n, const void* x, const void* y) {
  return DotBF16(n, x, static_cast<const float*>(y));
}

int SumQ8(const int8_t* q, int n) {
  int s = 0;
  for (int j = 0; j < n; ++j) s += q[j];
  return s;
}

float DotQ4_0Q8_0(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ4_0*>(vx);
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  float sum = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int acc = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      acc += ((x[i].qs[j] & 0xf) - 8) * y[i].qs[j];
      acc += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + kQK / 2];
    }
    sum += F16ToF32(x[i].d) * F16ToF32(y[i].d) * static_cast<float>(acc);
  }
  return sum;
}

float DotQ4_1Q8_0(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ4_1*>(vx);
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  float sum = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int acc = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      acc += (x[i].qs[j] & 0xf) * y[i].qs[j];
      acc += (x[i].qs[j] >> 4) * y[i].qs[j + kQK / 2];
    }
    const float dy = F16ToF32(y[i].d);
    sum += F16ToF32(x[i].d) * dy * static_cast<float>(acc) +
           F16ToF32(x[i].m) * dy * static_cast<float>(SumQ8(y[i].qs, kQK));
  }
  return sum;
}

uint32_t LoadQh(const uint8_t qh[4]) {
  uint32_t v;
  std::memcpy(&v, qh, 4);
  return v;
}

float DotQ5_0Q8_0(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ5_0*>(vx);
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  float sum = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    const uint32_t qh = LoadQh(x[i].qh);
    int acc = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int lo = ((x[i].qs[j] & 0xf) | static_cast<int>(((qh >> j) & 1) << 4)) - 16;
      const int hi = ((x[i].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4)) - 16;
      acc += lo * y[i].qs[j] + hi * y[i].qs[j + kQK / 2];
    }
    sum += F16ToF32(x[i].d) * F16ToF32(y[i].d) * static_cast<float>(acc);
  }
  return sum;
}

float DotQ5_1Q8_0(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ5_1*>(vx);
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  float sum = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    const uint32_t qh = LoadQh(x[i].qh);
    int acc = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int lo = (x[i].qs[j] & 0xf) | static_cast<int>(((qh >> j) & 1) << 4);
      const int hi = (x[i].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      acc += lo * y[i].qs[j] + hi * y[i].qs[j + kQK / 2];
    }
    const float dy = F16ToF32(y[i].d);
    sum += F16ToF32(x[i].d) * dy * static_cast<float>(acc) +
           F16ToF32(x[i].m) * dy * static_cast<float>(SumQ8(y[i].qs, kQK));
  }
  return sum;
}

float DotQ8_0Q8_0(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ8_0*>(vx);
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  float sum = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int acc = 0;
    for (int j = 0; j < kQK; ++j) acc += x[i].qs[j] * y[i].qs[j];
    sum += F16ToF32(x[i].d) * F16ToF32(y[i].d) * static_cast<float>(acc);
  }
  return sum;
}

int Get2Bits(const uint8_t* qs, int e) {
  return (qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3;
}

float DotQ2_KQ8_K(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ2_K*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  float sum = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    int acc = 0;
    int acc_min = 0;
    for (int g = 0; g < 16; ++g) {
      int s = 0;
      for (int l = 0; l < 16; ++l) s += Get2Bits(x[i].qs, g * 16 + l) * y[i].qs[g * 16 + l];
      acc += (x[i].scales[g] & 0xf) * s;
      acc_min += (x[i].scales[g] >> 4) * y[i].bsums[g];
    }
    sum += y[i].d * (F16ToF32(x[i].d) * static_cast<float>(acc) -
                     F16ToF32(x[i].dmin) * static_cast<float>(acc_min));
  }
  return sum;
}

float DotQ3_KQ8_K(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ3_K*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  float sum = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    int8_t sc[16];
    UnpackScalesQ3K(x[i].scales, sc);
    int acc = 0;
    for (int g = 0; g < 16; ++g) {
      int s = 0;
      for (int l = 0; l < 16; ++l) {
        const int e = g * 16 + l;
        const int q = Get2Bits(x[i].qs, e) - (((x[i].hmask[e % 32] >> (e / 32)) & 1) ? 0 : 4);
        s += q * y[i].qs[e];
      }
      acc += sc[g] * s;
    }
    sum += y[i].d * F16ToF32(x[i].d) * static_cast<float>(acc);
  }
  return sum;
}

template <bool kFiveBit, typename Block>
float DotQ45_KQ8_K(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const Block*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  float sum = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    int acc = 0;
    int acc_min = 0;
    for (int g = 0; g < 8; ++g) {
      uint8_t sc;
      uint8_t m;
      GetScaleMinK4(g, x[i].scales, &sc, &m);
      const uint8_t* qs = x[i].qs + (g / 2) * 32;
      const int shift = 4 * (g % 2);
      int s = 0;
      for (int l = 0; l < 32; ++l) {
        int q = (qs[l] >> shift) & 0xf;
        if constexpr (kFiveBit) q |= ((x[i].qh[l] >> g) & 1) << 4;
        s += q * y[i].qs[g * 32 + l];
      }
      acc += sc * s;
      acc_min += m * (y[i].bsums[2 * g] + y[i].bsums[2 * g + 1]);
    }
    sum += y[i].d * (F16ToF32(x[i].d) * static_cast<float>(acc) -
                     F16ToF32(x[i].dmin) * static_cast<float>(acc_min));
  }
  return sum;
}

float DotQ6_KQ8_K(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ6_K*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  float sum = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    int group_sums[16] = {};
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = x[i].ql + 64 * h;
      const uint8_t* qh = x[i].qh + 32 * h;
      const int8_t* q8 = y[i].qs + 128 * h;
      int* gs = group_sums + 8 * h;
      // Element r of this half: low nibble r / 64 of ql[r % 64], high bits 2 * (r / 32) of
      // qh[r % 32]; so one ql/qh pair feeds elements l, l + 32, l + 64, l + 96.
      for (int l = 0; l < 32; ++l) {
        const int q1 = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        gs[l / 16] += q1 * q8[l];
        gs[2 + l / 16] += q2 * q8[l + 32];
        gs[4 + l / 16] += q3 * q8[l + 64];
        gs[6 + l / 16] += q4 * q8[l + 96];
      }
    }
    int acc = 0;
    for (int g = 0; g < 16; ++g) acc += x[i].scales[g] * group_sums[g];
    sum += y[i].d * F16ToF32(x[i].d) * static_cast<float>(acc);
  }
  return sum;
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

template <GgmlType kType, typename Block, GgmlType kDotType>
TypeKernels BlockKernels(VecDotFn dot) {
  constexpr int kBlock = kDotType == GgmlType::kQ8_K ? kQKK : kQK;
  return {kType,
          kDotType,
          GetDequantizeRowFn(kType),
          GetQuantizeRowFn(kType),
          GetQuantizeRowFn(kDotType),
          dot,
          DotF32Blocked<kType, kBlock, sizeof(Block)>};
}

}  // namespace

const TypeKernels* GetTypeKernels(GgmlType type) {
  static const TypeKernels kTable[] = {
      {GgmlType::kF32, GgmlType::kF32, GetDequantizeRowFn(GgmlType::kF32),
       GetQuantizeRowFn(GgmlType::kF32), GetQuantizeRowFn(GgmlType::kF32), DotF32F32, DotF32},
      {GgmlType::kF16, GgmlType::kF32, GetDequantizeRowFn(GgmlType::kF16),
       GetQuantizeRowFn(GgmlType::kF16), GetQuantizeRowFn(GgmlType::kF32), DotF16Q, DotF16},
      {GgmlType::kBF16, GgmlType::kF32, GetDequantizeRowFn(GgmlType::kBF16),
       GetQuantizeRowFn(GgmlType::kBF16), GetQuantizeRowFn(GgmlType::kF32), DotBF16Q, DotBF16},
      BlockKernels<GgmlType::kQ4_0, BlockQ4_0, GgmlType::kQ8_0>(DotQ4_0Q8_0),
      BlockKernels<GgmlType::kQ4_1, BlockQ4_1, GgmlType::kQ8_0>(DotQ4_1Q8_0),
      BlockKernels<GgmlType::kQ5_0, BlockQ5_0, GgmlType::kQ8_0>(DotQ5_0Q8_0),
      BlockKernels<GgmlType::kQ5_1, BlockQ5_1, GgmlType::kQ8_0>(DotQ5_1Q8_0),
      BlockKernels<GgmlType::kQ8_0, BlockQ8_0, GgmlType::kQ8_0>(DotQ8_0Q8_0),
      BlockKernels<GgmlType::kQ2_K, BlockQ2_K, GgmlType::kQ8_K>(DotQ2_KQ8_K),
      BlockKernels<GgmlType::kQ3_K, BlockQ3_K, GgmlType::kQ8_K>(DotQ3_KQ8_K),
      BlockKernels<GgmlType::kQ4_K, BlockQ4_K, GgmlType::kQ8_K>(DotQ45_KQ8_K<false, BlockQ4_K>),
      BlockKernels<GgmlType::kQ5_K, BlockQ5_K, GgmlType::kQ8_K>(DotQ45_KQ8_K<true, BlockQ5_K>),
      BlockKernels<GgmlType::kQ6_K, BlockQ6_K, GgmlType::kQ8_K>(DotQ6_KQ8_K),
  };
  for (const TypeKernels& k : kTable) {
    if (k.type == type) return &k;
  }
  return nullptr;
}

}  // namespace jetserve::quant
