// Float, legacy-block and Q8_K quantizers; the k-quants are in quantize_k.cc. Built with
// -ffp-contract=off so the float expressions round exactly as the reference's do.
#include "engine/quant/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "engine/quant/blocks.h"
#include "engine/util/half.h"
#include "engine/util/string_view_compat.h"

namespace jetserve::quant {
namespace {

void QuantizeRowF32(const float* src, void* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void QuantizeRowF16(const float* src, void* dst, int64_t n) {
  auto* d = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = F32ToF16(src[i]);
}

void QuantizeRowBF16(const float* src, void* dst, int64_t n) {
  auto* d = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = F32ToBF16(src[i]);
}

// Converting a float that is NaN, infinite or out of range to an integer type is undefined
// behaviour. Non-finite values reach the conversions only from non-finite input (or a
// block whose largest magnitude is so small that 1 / scale overflows); there they become
// 0, which is what ggml's reference quantizers store on x86 (the truncating conversion
// yields 0x80000000, whose low byte is 0; nearest_int of Q8_K maps NaN and infinity to
// 0 as well). Finite values are clamped to [lo, hi]: in range for every finite input.
float FiniteOrZero(float v, float lo, float hi) {
  if (!std::isfinite(v)) return 0.0f;
  return std::clamp(v, lo, hi);
}

int8_t RoundToInt8(float v) { return static_cast<int8_t>(FiniteOrZero(v, -128.0f, 127.0f)); }

// The element of largest magnitude, keeping its sign (the first one on ties).
float SignedAbsMax(const float* x, int n) {
  float amax = 0;
  float max = 0;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

// Symmetric 4/5-bit: d = max / -2^(bits-1); q = trunc(x * id + offset + 0.5) computed the way
// the reference does (product and sum in double, then rounded to float).
template <int kOffset>
void QuantizeSymmetric(const float* x, float* d_out, uint8_t q[kQK]) {
  const float max = SignedAbsMax(x, kQK);
  const float d = max / static_cast<float>(-kOffset);
  const float id = d != 0 ? 1.0f / d : 0.0f;
  for (int j = 0; j < kQK; ++j) {
    const float v =
        static_cast<float>(static_cast<double>(x[j]) * static_cast<double>(id) + (kOffset + 0.5));
    const float t = std::trunc(v);
    q[j] = static_cast<uint8_t>(FiniteOrZero(t, 0.0f, static_cast<float>(2 * kOffset - 1)));
  }
  *d_out = d;
}

// Asymmetric: d = (max - min) / levels; q = trunc((x - min) * id + 0.5).
template <int kLevels>
void QuantizeAsymmetric(const float* x, float* d_out, float* min_out, uint8_t q[kQK]) {
  float min = x[0];
  float max = x[0];
  for (int j = 1; j < kQK; ++j) {
    min = std::min(min, x[j]);
    max = std::max(max, x[j]);
  }
  const float d = (max - min) / static_cast<float>(kLevels);
  const float id = d != 0 ? 1.0f / d : 0.0f;
  for (int j = 0; j < kQK; ++j) {
    const float v = (x[j] - min) * id + 0.5f;
    q[j] = static_cast<uint8_t>(FiniteOrZero(std::trunc(v), 0.0f, static_cast<float>(kLevels)));
  }
  *d_out = d;
  *min_out = min;
}

void PackNibbles(const uint8_t q[kQK], uint8_t qs[kQK / 2]) {
  for (int j = 0; j < kQK / 2; ++j) {
    qs[j] = static_cast<uint8_t>((q[j] & 0xf) | ((q[j + kQK / 2] & 0xf) << 4));
  }
}

void PackHighBits(const uint8_t q[kQK], uint8_t qh[4]) {
  uint32_t h = 0;
  for (int j = 0; j < kQK; ++j) h |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
  std::memcpy(qh, &h, 4);
}

void QuantizeRowQ4_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ4_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
    uint8_t q[kQK];
    float d;
    QuantizeSymmetric<8>(src, &d, q);
    b[i].d = F32ToF16(d);
    PackNibbles(q, b[i].qs);
  }
}

void QuantizeRowQ5_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ5_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
    uint8_t q[kQK];
    float d;
    QuantizeSymmetric<16>(src, &d, q);
    b[i].d = F32ToF16(d);
    PackNibbles(q, b[i].qs);
    PackHighBits(q, b[i].qh);
  }
}

void QuantizeRowQ4_1(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ4_1*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
    uint8_t q[kQK];
    float d;
    float m;
    QuantizeAsymmetric<15>(src, &d, &m, q);
    b[i].d = F32ToF16(d);
    b[i].m = F32ToF16(m);
    PackNibbles(q, b[i].qs);
  }
}

void QuantizeRowQ5_1(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ5_1*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
    uint8_t q[kQK];
    float d;
    float m;
    QuantizeAsymmetric<31>(src, &d, &m, q);
    b[i].d = F32ToF16(d);
    b[i].m = F32ToF16(m);
    PackNibbles(q, b[i].qs);
    PackHighBits(q, b[i].qh);
  }
}

}  // namespace

void QuantizeRowQ8_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
    float amax = 0;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(src[j]));
    const float d = amax / 127.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    b[i].d = F32ToF16(d);
    for (int j = 0; j < kQK; ++j) b[i].qs[j] = RoundToInt8(std::round(src[j] * id));
  }
}

namespace {

// Absolute maximum of a 32-element block and its quantization with 127 / amax, rounding half
// to even (the x86 kernels' _mm256_round_ps); returns d = amax / 127.
float Quantize32ActQ8(const float* src, int8_t* q) {
  float amax = 0;
  for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(src[j]));
  const float id = amax != 0.f ? 127.f / amax : 0.f;
  for (int j = 0; j < kQK; ++j) q[j] = RoundToInt8(std::nearbyint(src[j] * id));
  return amax / 127.f;
}

}  // namespace

void QuantizeActivationQ8_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, src += kQK)
    b[i].d = F32ToF16(Quantize32ActQ8(src, b[i].qs));
}

void QuantizeActivationQ8_1(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
    const float d = Quantize32ActQ8(src, b[i].qs);
    int sum = 0;
    for (int j = 0; j < kQK; ++j) sum += b[i].qs[j];
    b[i].d = F32ToF16(d);
    b[i].s = F32ToF16(d * static_cast<float>(sum));
  }
}

void QuantizeRowQ8_K(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_K*>(dst);
  for (int64_t i = 0; i < n / kQKK; ++i, src += kQKK) {
    float amax = 0;
    float max = 0;
    for (int j = 0; j < kQKK; ++j) {
      const float ax = std::fabs(src[j]);
      if (ax > amax) {
        amax = ax;
        max = src[j];
      }
    }
    if (amax == 0.f) {
      std::memset(&b[i], 0, sizeof(b[i]));
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < kQKK; ++j) {
      b[i].qs[j] = RoundToInt8(std::nearbyint(iscale * src[j]));
    }
    for (int g = 0; g < kQKK / 16; ++g) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += b[i].qs[g * 16 + l];
      b[i].bsums[g] = static_cast<int16_t>(sum);
    }
    b[i].d = 1.f / iscale;
  }
}

QuantizeRowFn GetActivationQuantizer(GgmlType dot_type) {
  switch (dot_type) {
    case GgmlType::kF32:
      return QuantizeRowF32;
    case GgmlType::kQ8_0:
      return QuantizeActivationQ8_0;
    case GgmlType::kQ8_1:
      return QuantizeActivationQ8_1;
    case GgmlType::kQ8_K:
      return QuantizeRowQ8_K;
    default:
      return nullptr;
  }
}

QuantizeRowFn GetQuantizeRowFn(GgmlType type) {
  switch (type) {
    case GgmlType::kF32:
      return QuantizeRowF32;
    case GgmlType::kF16:
      return QuantizeRowF16;
    case GgmlType::kBF16:
      return QuantizeRowBF16;
    case GgmlType::kQ4_0:
      return QuantizeRowQ4_0;
    case GgmlType::kQ4_1:
      return QuantizeRowQ4_1;
    case GgmlType::kQ5_0:
      return QuantizeRowQ5_0;
    case GgmlType::kQ5_1:
      return QuantizeRowQ5_1;
    case GgmlType::kQ8_0:
      return QuantizeRowQ8_0;
    case GgmlType::kQ2_K:
      return QuantizeRowQ2_K;
    case GgmlType::kQ3_K:
      return QuantizeRowQ3_K;
    case GgmlType::kQ4_K:
      return QuantizeRowQ4_K;
    case GgmlType::kQ5_K:
      return QuantizeRowQ5_K;
    case GgmlType::kQ6_K:
      return QuantizeRowQ6_K;
    case GgmlType::kQ8_K:
      return QuantizeRowQ8_K;
    default:
      return nullptr;
  }
}

uint64_t RowBytes(GgmlType type, int64_t n) {
  std::optional<GgmlTypeTraits> t = GetGgmlTypeTraits(type);
  if (!t || n < 0) return 0;
  return static_cast<uint64_t>(n) / t->block_size * t->type_size;
}

absl::Status QuantizeRow(GgmlType type, const float* src, void* dst, int64_t n) {
  QuantizeRowFn fn = GetQuantizeRowFn(type);
  if (fn == nullptr) {
    return absl::UnimplementedError(
        absl::StrCat("cannot quantize to tensor type ", Sv(GgmlTypeName(type))));
  }
  const int64_t block = GetGgmlTypeTraits(type)->block_size;
  if (n < 0 || n % block != 0) {
    return absl::InvalidArgumentError(absl::StrCat("row of ", n,
                                                   " elements is not a multiple of the ",
                                                   Sv(GgmlTypeName(type)), " block size ", block));
  }
  fn(src, dst, n);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint8_t>> QuantizeFloats(GgmlType type, absl::Span<const float> src) {
  const int64_t n = static_cast<int64_t>(src.size());
  std::vector<uint8_t> out(RowBytes(type, n));
  absl::Status s = QuantizeRow(type, src.data(), out.data(), n);
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<uint8_t>> QuantizeMatrix(GgmlType type, absl::Span<const float> src,
                                                    int64_t n_per_row, int threads) {
  QuantizeRowFn fn = GetQuantizeRowFn(type);
  if (fn == nullptr) {
    return absl::UnimplementedError(
        absl::StrCat("cannot quantize to tensor type ", Sv(GgmlTypeName(type))));
  }
  const int64_t block = GetGgmlTypeTraits(type)->block_size;
  const int64_t n = static_cast<int64_t>(src.size());
  if (n_per_row <= 0 || n_per_row % block != 0 || n % n_per_row != 0) {
    return absl::InvalidArgumentError(absl::StrCat("rows of ", n_per_row, " elements (", n,
                                                   " in all) do not fit the ",
                                                   Sv(GgmlTypeName(type)), " block size ", block));
  }
  const int64_t rows = n / n_per_row;
  const uint64_t row_bytes = RowBytes(type, n_per_row);
  std::vector<uint8_t> out(row_bytes * rows);
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = static_cast<int>(std::min<int64_t>(threads, rows));
  auto work = [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      fn(src.data() + r * n_per_row, out.data() + r * row_bytes, n_per_row);
    }
  };
  if (threads <= 1) {
    work(0, rows);
    return out;
  }
  std::vector<std::thread> pool;
  const int64_t chunk = (rows + threads - 1) / threads;
  for (int64_t begin = 0; begin < rows; begin += chunk) {
    pool.emplace_back(work, begin, std::min(rows, begin + chunk));
  }
  for (std::thread& t : pool) t.join();
  return out;
}

}  // namespace jetserve::quant
