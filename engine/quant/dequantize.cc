// Scalar dequantization. Built with -ffp-contract=off: the reference evaluates d * q and the
// subtraction of the minimum as separate float operations, so must we, to match to the bit.
#include "engine/quant/dequantize.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/quant/blocks.h"
#include "engine/util/half.h"
#include "engine/util/string_view_compat.h"

namespace jetserve::quant {
namespace {

void DequantF32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void DequantF16(const void* src, float* dst, int64_t n) {
  const auto* s = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = F16ToF32(s[i]);
}

void DequantBF16(const void* src, float* dst, int64_t n) {
  const auto* s = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = BF16ToF32(s[i]);
}

void DequantQ4_0(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ4_0*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = F16ToF32(b[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = d * static_cast<float>((b[i].qs[j] & 0xf) - 8);
      dst[j + kQK / 2] = d * static_cast<float>((b[i].qs[j] >> 4) - 8);
    }
  }
}

void DequantQ4_1(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ4_1*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = F16ToF32(b[i].d);
    const float m = F16ToF32(b[i].m);
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = d * static_cast<float>(b[i].qs[j] & 0xf) + m;
      dst[j + kQK / 2] = d * static_cast<float>(b[i].qs[j] >> 4) + m;
    }
  }
}

uint32_t LoadQh(const uint8_t qh[4]) {
  uint32_t v;
  std::memcpy(&v, qh, 4);
  return v;
}

void DequantQ5_0(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ5_0*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = F16ToF32(b[i].d);
    const uint32_t qh = LoadQh(b[i].qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int lo = (b[i].qs[j] & 0xf) | static_cast<int>(((qh >> j) & 1) << 4);
      const int hi = (b[i].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      dst[j] = d * static_cast<float>(lo - 16);
      dst[j + kQK / 2] = d * static_cast<float>(hi - 16);
    }
  }
}

void DequantQ5_1(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ5_1*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = F16ToF32(b[i].d);
    const float m = F16ToF32(b[i].m);
    const uint32_t qh = LoadQh(b[i].qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int lo = (b[i].qs[j] & 0xf) | static_cast<int>(((qh >> j) & 1) << 4);
      const int hi = (b[i].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      dst[j] = d * static_cast<float>(lo) + m;
      dst[j + kQK / 2] = d * static_cast<float>(hi) + m;
    }
  }
}

void DequantQ8_0(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ8_0*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = F16ToF32(b[i].d);
    for (int j = 0; j < kQK; ++j) dst[j] = static_cast<float>(b[i].qs[j]) * d;
  }
}

void DequantQ2_K(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ2_K*>(src);
  for (int64_t i = 0; i < n / kQKK; ++i, dst += kQKK) {
    const float d = F16ToF32(b[i].d);
    const float dmin = F16ToF32(b[i].dmin);
    for (int g = 0; g < 16; ++g) {
      const float dl = d * static_cast<float>(b[i].scales[g] & 0xf);
      const float ml = dmin * static_cast<float>(b[i].scales[g] >> 4);
      for (int l = 0; l < 16; ++l) {
        const int e = g * 16 + l;
        const int q = (b[i].qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3;
        dst[e] = dl * static_cast<float>(q) - ml;
      }
    }
  }
}

void DequantQ3_K(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ3_K*>(src);
  for (int64_t i = 0; i < n / kQKK; ++i, dst += kQKK) {
    const float d = F16ToF32(b[i].d);
    int8_t sc[16];
    UnpackScalesQ3K(b[i].scales, sc);
    for (int g = 0; g < 16; ++g) {
      const float dl = d * static_cast<float>(sc[g]);
      for (int l = 0; l < 16; ++l) {
        const int e = g * 16 + l;
        const int low = (b[i].qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3;
        const int high = (b[i].hmask[e % 32] >> (e / 32)) & 1;
        dst[e] = dl * static_cast<float>(low - (high ? 0 : 4));
      }
    }
  }
}

void DequantQ4_K(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ4_K*>(src);
  for (int64_t i = 0; i < n / kQKK; ++i, dst += kQKK) {
    const float d = F16ToF32(b[i].d);
    const float dmin = F16ToF32(b[i].dmin);
    for (int g = 0; g < 8; ++g) {
      uint8_t sc;
      uint8_t m;
      GetScaleMinK4(g, b[i].scales, &sc, &m);
      const float d1 = d * static_cast<float>(sc);
      const float m1 = dmin * static_cast<float>(m);
      const uint8_t* qs = b[i].qs + (g / 2) * 32;
      const int shift = 4 * (g % 2);
      for (int l = 0; l < 32; ++l) {
        dst[g * 32 + l] = d1 * static_cast<float>((qs[l] >> shift) & 0xf) - m1;
      }
    }
  }
}

void DequantQ5_K(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ5_K*>(src);
  for (int64_t i = 0; i < n / kQKK; ++i, dst += kQKK) {
    const float d = F16ToF32(b[i].d);
    const float dmin = F16ToF32(b[i].dmin);
    for (int g = 0; g < 8; ++g) {
      uint8_t sc;
      uint8_t m;
      GetScaleMinK4(g, b[i].scales, &sc, &m);
      const float d1 = d * static_cast<float>(sc);
      const float m1 = dmin * static_cast<float>(m);
      const uint8_t* qs = b[i].qs + (g / 2) * 32;
      const int shift = 4 * (g % 2);
      for (int l = 0; l < 32; ++l) {
        const int q = ((qs[l] >> shift) & 0xf) | (((b[i].qh[l] >> g) & 1) << 4);
        dst[g * 32 + l] = d1 * static_cast<float>(q) - m1;
      }
    }
  }
}

void DequantQ6_K(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ6_K*>(src);
  for (int64_t i = 0; i < n / kQKK; ++i, dst += kQKK) {
    const float d = F16ToF32(b[i].d);
    for (int e = 0; e < kQKK; ++e) {
      const int h = e / 128;
      const int r = e % 128;
      const int low = (b[i].ql[h * 64 + r % 64] >> (4 * (r / 64))) & 0xf;
      const int high = (b[i].qh[h * 32 + r % 32] >> (2 * (r / 32))) & 3;
      const float dl = d * static_cast<float>(b[i].scales[e / 16]);
      dst[e] = dl * static_cast<float>((low | (high << 4)) - 32);
    }
  }
}

void DequantQ8_1(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ8_1*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = F16ToF32(b[i].d);
    for (int j = 0; j < kQK; ++j) dst[j] = d * static_cast<float>(b[i].qs[j]);
  }
}

void DequantQ8_K(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ8_K*>(src);
  for (int64_t i = 0; i < n / kQKK; ++i, dst += kQKK) {
    for (int j = 0; j < kQKK; ++j) dst[j] = b[i].d * static_cast<float>(b[i].qs[j]);
  }
}

}  // namespace

DequantizeRowFn GetDequantizeRowFn(GgmlType type) {
  switch (type) {
    case GgmlType::kF32:
      return DequantF32;
    case GgmlType::kF16:
      return DequantF16;
    case GgmlType::kBF16:
      return DequantBF16;
    case GgmlType::kQ4_0:
      return DequantQ4_0;
    case GgmlType::kQ4_1:
      return DequantQ4_1;
    case GgmlType::kQ5_0:
      return DequantQ5_0;
    case GgmlType::kQ5_1:
      return DequantQ5_1;
    case GgmlType::kQ8_0:
      return DequantQ8_0;
    case GgmlType::kQ2_K:
      return DequantQ2_K;
    case GgmlType::kQ3_K:
      return DequantQ3_K;
    case GgmlType::kQ4_K:
      return DequantQ4_K;
    case GgmlType::kQ5_K:
      return DequantQ5_K;
    case GgmlType::kQ6_K:
      return DequantQ6_K;
    case GgmlType::kQ8_1:
      return DequantQ8_1;
    case GgmlType::kQ8_K:
      return DequantQ8_K;
    default:
      return nullptr;
  }
}

absl::Status DequantizeRow(GgmlType type, const void* src, float* dst, int64_t n) {
  DequantizeRowFn fn = GetDequantizeRowFn(type);
  if (fn == nullptr) {
    return absl::UnimplementedError(
        absl::StrCat("cannot dequantize tensor type ", Sv(GgmlTypeName(type))));
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

absl::StatusOr<std::vector<float>> DequantizeBytes(GgmlType type, absl::Span<const uint8_t> bytes,
                                                   int64_t n) {
  const int64_t dims[1] = {n};
  absl::StatusOr<uint64_t> need = GgmlTensorBytes(type, dims);
  if (!need.ok()) return need.status();
  if (*need != bytes.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        n, " ", Sv(GgmlTypeName(type)), " elements need ", *need, " bytes, got ", bytes.size()));
  }
  std::vector<float> out(static_cast<size_t>(n));
  absl::Status s = DequantizeRow(type, bytes.data(), out.data(), n);
  if (!s.ok()) return s;
  return out;
}

}  // namespace jetserve::quant
