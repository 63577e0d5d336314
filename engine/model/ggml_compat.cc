#include "engine/model/ggml_compat.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/quant/blocks.h"
#include "engine/util/half.h"

namespace jetserve::model {
namespace {

using quant::BlockQ4_1;
using quant::BlockQ5_1;
using quant::BlockQ8_0;
using quant::kQK;

// The block's activation sum as llama.cpp's Q8_1 stores it: fp16(d * sum(q)).
float Q8_1Sum(const BlockQ8_0& y) {
  int s = 0;
  for (int j = 0; j < kQK; ++j) s += y.qs[j];
  return F16ToF32(F32ToF16(F16ToF32(y.d) * static_cast<float>(s)));
}

float DotQ4_1Q8_1(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ4_1*>(vx);
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  float sum = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int acc = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      acc += (x[i].qs[j] & 0xf) * y[i].qs[j];
      acc += (x[i].qs[j] >> 4) * y[i].qs[j + kQK / 2];
    }
    sum += F16ToF32(x[i].d) * F16ToF32(y[i].d) * static_cast<float>(acc) +
           F16ToF32(x[i].m) * Q8_1Sum(y[i]);
  }
  return sum;
}

float DotQ5_1Q8_1(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ5_1*>(vx);
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  float sum = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, 4);
    int acc = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int lo = (x[i].qs[j] & 0xf) | static_cast<int>(((qh >> j) & 1) << 4);
      const int hi = (x[i].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      acc += lo * y[i].qs[j] + hi * y[i].qs[j + kQK / 2];
    }
    sum += F16ToF32(x[i].d) * F16ToF32(y[i].d) * static_cast<float>(acc) +
           F16ToF32(x[i].m) * Q8_1Sum(y[i]);
  }
  return sum;
}

// Activation quantizers as llama.cpp's CPU backend runs them on x86 (AVX2): Q8_0 with
// id = 127 / amax and round-half-even; Q8_K with the signed extreme mapped to -127.
void QuantizeActQ8_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
    float amax = 0;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(src[j]));
    const float d = amax / 127.f;
    const float id = amax != 0.f ? 127.f / amax : 0.f;
    b[i].d = F32ToF16(d);
    for (int j = 0; j < kQK; ++j) b[i].qs[j] = static_cast<int8_t>(std::nearbyint(src[j] * id));
  }
}

void QuantizeActQ8_K(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<quant::BlockQ8_K*>(dst);
  constexpr int kK = 256;
  for (int64_t i = 0; i < n / kK; ++i, src += kK) {
    float amax = 0, max = 0;
    for (int j = 0; j < kK; ++j) {
      const float ax = std::fabs(src[j]);
      if (ax > amax) {
        amax = ax;
        max = src[j];
      }
    }
    if (amax == 0.f) {
      b[i].d = 0;
      std::memset(b[i].qs, 0, sizeof(b[i].qs));
      std::memset(b[i].bsums, 0, sizeof(b[i].bsums));
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < kK; ++j) {
      const int v = static_cast<int>(std::nearbyint(iscale * src[j]));
      b[i].qs[j] = static_cast<int8_t>(std::min(127, v));
    }
    for (int g = 0; g < kK / 16; ++g) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += b[i].qs[g * 16 + l];
      b[i].bsums[g] = static_cast<int16_t>(sum);
    }
    b[i].d = 1.f / iscale;
  }
}

quant::TypeKernels With(GgmlType type, quant::VecDotFn dot) {
  const quant::TypeKernels* base = quant::GetTypeKernels(type);
  quant::TypeKernels k{};
  if (base == nullptr) return k;
  k = *base;
  if (dot != nullptr) k.vec_dot = dot;
  if (k.vec_dot_type == GgmlType::kQ8_0) k.quantize_activation = QuantizeActQ8_0;
  if (k.vec_dot_type == GgmlType::kQ8_K) k.quantize_activation = QuantizeActQ8_K;
  return k;
}

}  // namespace

const quant::TypeKernels* DecoderKernels(GgmlType type) {
  static const auto* table = [] {
    auto* t = new std::vector<quant::TypeKernels>();
    for (uint32_t raw = 0; raw < 64; ++raw) {
      const auto t_type = static_cast<GgmlType>(raw);
      if (quant::GetTypeKernels(t_type) == nullptr) continue;
      quant::VecDotFn dot = nullptr;
      if (t_type == GgmlType::kQ4_1) dot = DotQ4_1Q8_1;
      if (t_type == GgmlType::kQ5_1) dot = DotQ5_1Q8_1;
      t->push_back(With(t_type, dot));
    }
    return t;
  }();
  for (const quant::TypeKernels& k : *table) {
    if (k.type == type) return &k;
  }
  return nullptr;
}

}  // namespace jetserve::model
