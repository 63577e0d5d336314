#include "engine/quant/packed.h"

#include <cmath>
#include <cstring>

#include "engine/util/half.h"

namespace jetserve::quant {

uint64_t PackedGroupBytes(GgmlType type, int64_t n) {
  if (n <= 0) return 0;
  switch (type) {
    case GgmlType::kQ4_0:
      return n % kQK == 0 ? static_cast<uint64_t>(n / kQK) * sizeof(PackedQ4_0) : 0;
    case GgmlType::kQ8_0:
      return n % kQK == 0 ? static_cast<uint64_t>(n / kQK) * sizeof(PackedQ8_0) : 0;
    case GgmlType::kQ4_K:
      return n % kQKK == 0 ? static_cast<uint64_t>(n / kQKK) * sizeof(PackedQ4_K) : 0;
    case GgmlType::kQ6_K:
      return n % kQKK == 0 ? static_cast<uint64_t>(n / kQKK) * sizeof(PackedQ6_K) : 0;
    default:
      return 0;
  }
}

bool PackedUsesTable(GgmlType type) { return type == GgmlType::kQ4_0 || type == GgmlType::kQ8_0; }

namespace {

void PackQ4_0(const BlockQ4_0* row, int64_t l, int64_t nb, PackedQ4_0* out) {
  for (int64_t i = 0; i < nb; ++i) {
    out[i].d[l] = row[i].d;
    for (int j = 0; j < kQK / 8; ++j) std::memcpy(out[i].qs[j][l], row[i].qs + 4 * j, 4);
  }
}

void PackQ8_0(const BlockQ8_0* row, int64_t l, int64_t nb, PackedQ8_0* out) {
  for (int64_t i = 0; i < nb; ++i) {
    out[i].d[l] = row[i].d;
    for (int j = 0; j < kQK / 4; ++j) {
      for (int k = 0; k < 4; ++k) {
        out[i].qs[j][l][k] = static_cast<uint8_t>(row[i].qs[4 * j + k] + 128);
      }
    }
  }
}

void PackQ4_K(const BlockQ4_K* row, int64_t l, int64_t nb, PackedQ4_K* out) {
  for (int64_t i = 0; i < nb; ++i) {
    out[i].d[l] = row[i].d;
    out[i].dmin[l] = row[i].dmin;
    for (int g = 0; g < 8; ++g) {
      GetScaleMinK4(g, row[i].scales, &out[i].scales[g][l], &out[i].mins[g][l]);
    }
    for (int w = 0; w < kQKK / 8; ++w) std::memcpy(out[i].qs[w][l], row[i].qs + 4 * w, 4);
  }
}

// Element e's 6-bit quant (0..63) of a Q6_K block (blocks.h's layout).
int Q6Quant(const BlockQ6_K& b, int e) {
  const int h = e / 128, r = e % 128;
  const int low = (b.ql[h * 64 + r % 64] >> (4 * (r / 64))) & 15;
  const int high = (b.qh[h * 32 + r % 32] >> (2 * (r / 32))) & 3;
  return low | (high << 4);
}

void PackQ6_K(const BlockQ6_K* row, int64_t l, int64_t nb, PackedQ6_K* out) {
  for (int64_t i = 0; i < nb; ++i) {
    out[i].d[l] = row[i].d;
    for (int g = 0; g < kQKK / 16; ++g) out[i].scales[g][l] = row[i].scales[g];
    for (int w = 0; w < kQKK / 8; ++w) {
      for (int k = 0; k < 4; ++k) {
        out[i].ql[w][l][k] = static_cast<uint8_t>((Q6Quant(row[i], 4 * w + k) & 15) |
                                                  ((Q6Quant(row[i], 128 + 4 * w + k) & 15) << 4));
      }
    }
    for (int v = 0; v < kQKK / 16; ++v) {
      for (int k = 0; k < 4; ++k) {
        int byte = 0;
        for (int j = 0; j < 4; ++j) byte |= (Q6Quant(row[i], 64 * j + 4 * v + k) >> 4) << (2 * j);
        out[i].qh[v][l][k] = static_cast<uint8_t>(byte);
      }
    }
  }
}

template <typename Block, typename Packed, int kBlock,
          void (*kPack)(const Block*, int64_t, int64_t, Packed*)>
void PackAll(int64_t n, const uint8_t* x, uint64_t x_stride, int64_t rows, uint8_t* out) {
  const int64_t nb = n / kBlock;
  auto* packed = reinterpret_cast<Packed*>(out);
  for (int64_t g = 0; g < rows / kPackRows; ++g) {
    for (int64_t l = 0; l < kPackRows; ++l) {
      kPack(reinterpret_cast<const Block*>(x + static_cast<uint64_t>(g * kPackRows + l) * x_stride),
            l, nb, packed + g * nb);
    }
  }
}

// The portable packed tile: for each activation row, group and weight row (lane l), acc over
// the blocks in order with K::Step(block, activation block, table entry or nullptr, l, acc).
template <typename K>
void ReferenceTile(int64_t n, const void* x, int64_t x_groups, const void* y, uint64_t y_stride,
                   const PackedActivation* table, int64_t rows, float* out, int64_t out_stride) {
  const int64_t nb = n / K::kBlockElements;
  const auto* packed = static_cast<const typename K::Packed*>(x);
  for (int64_t t = 0; t < rows; ++t) {
    const auto* a = reinterpret_cast<const typename K::Y*>(static_cast<const uint8_t*>(y) +
                                                           static_cast<uint64_t>(t) * y_stride);
    for (int64_t g = 0; g < x_groups; ++g) {
      for (int l = 0; l < kPackRows; ++l) {
        float acc = 0.f;
        for (int64_t i = 0; i < nb; ++i) {
          acc = K::Step(packed[g * nb + i], a[i], table != nullptr ? &table[t * nb + i] : nullptr,
                        l, acc);
        }
        out[t * out_stride + g * kPackRows + l] = acc;
      }
    }
  }
}

struct ReferenceQ4_0 {
  using Packed = PackedQ4_0;
  using Y = BlockQ8_0;
  static constexpr int64_t kBlockElements = kQK;
  static float Step(const PackedQ4_0& b, const BlockQ8_0& a, const PackedActivation* p, int l,
                    float acc) {
    int32_t sum = 0;
    for (int j = 0; j < kQK / 8; ++j) {
      for (int k = 0; k < 4; ++k) {
        const int q = b.qs[j][l][k];
        sum += ((q & 15) - 8) * a.qs[4 * j + k] + ((q >> 4) - 8) * a.qs[16 + 4 * j + k];
      }
    }
    return std::fma(static_cast<float>(sum), F16ToF32(b.d[l]) * p->d, acc);
  }
};

struct ReferenceQ8_0 {
  using Packed = PackedQ8_0;
  using Y = BlockQ8_0;
  static constexpr int64_t kBlockElements = kQK;
  static float Step(const PackedQ8_0& b, const BlockQ8_0& a, const PackedActivation* p, int l,
                    float acc) {
    int32_t sum = 0;
    for (int e = 0; e < kQK; ++e) sum += (b.qs[e / 4][l][e % 4] - 128) * a.qs[e];
    return std::fma(static_cast<float>(sum), F16ToF32(b.d[l]) * p->d, acc);
  }
};

struct ReferenceQ4_K {
  using Packed = PackedQ4_K;
  using Y = BlockQ8_K;
  static constexpr int64_t kBlockElements = kQKK;
  static float Step(const PackedQ4_K& b, const BlockQ8_K& a, const PackedActivation*, int l,
                    float acc) {
    int32_t isum = 0, msum = 0;
    for (int grp = 0; grp < 8; ++grp) {
      int32_t dot = 0;
      for (int e = 0; e < 32; ++e) {
        const int q = b.qs[(grp / 2) * 8 + e / 4][l][e % 4];
        dot += (grp % 2 == 0 ? q & 15 : q >> 4) * a.qs[32 * grp + e];
      }
      isum += b.scales[grp][l] * dot;
      msum += b.mins[grp][l] * (a.bsums[2 * grp] + a.bsums[2 * grp + 1]);
    }
    acc = std::fma(static_cast<float>(isum), F16ToF32(b.d[l]) * a.d, acc);
    return std::fma(-static_cast<float>(msum), F16ToF32(b.dmin[l]) * a.d, acc);
  }
};

struct ReferenceQ6_K {
  using Packed = PackedQ6_K;
  using Y = BlockQ8_K;
  static constexpr int64_t kBlockElements = kQKK;
  static float Step(const PackedQ6_K& b, const BlockQ8_K& a, const PackedActivation*, int l,
                    float acc) {
    int32_t isum = 0;
    for (int grp = 0; grp < kQKK / 16; ++grp) {
      int32_t dot = 0;
      for (int e = 16 * grp; e < 16 * grp + 16; ++e) {
        const int w = e / 4, k = e % 4;
        const int low = w < 32 ? b.ql[w][l][k] & 15 : b.ql[w - 32][l][k] >> 4;
        const int high = (b.qh[w % 16][l][k] >> (2 * (w / 16))) & 3;
        dot += ((low | (high << 4)) - 32) * a.qs[e];
      }
      isum += b.scales[grp][l] * dot;
    }
    return std::fma(static_cast<float>(isum), F16ToF32(b.d[l]) * a.d, acc);
  }
};

}  // namespace

void PackRows(GgmlType type, int64_t n, const uint8_t* x, uint64_t x_stride, int64_t rows,
              uint8_t* out) {
  switch (type) {
    case GgmlType::kQ4_0:
      PackAll<BlockQ4_0, PackedQ4_0, kQK, PackQ4_0>(n, x, x_stride, rows, out);
      break;
    case GgmlType::kQ8_0:
      PackAll<BlockQ8_0, PackedQ8_0, kQK, PackQ8_0>(n, x, x_stride, rows, out);
      break;
    case GgmlType::kQ4_K:
      PackAll<BlockQ4_K, PackedQ4_K, kQKK, PackQ4_K>(n, x, x_stride, rows, out);
      break;
    case GgmlType::kQ6_K:
      PackAll<BlockQ6_K, PackedQ6_K, kQKK, PackQ6_K>(n, x, x_stride, rows, out);
      break;
    default:
      break;
  }
}

VecDotPackedFn PackedTileReference(GgmlType type) {
  switch (type) {
    case GgmlType::kQ4_0:
      return ReferenceTile<ReferenceQ4_0>;
    case GgmlType::kQ8_0:
      return ReferenceTile<ReferenceQ8_0>;
    case GgmlType::kQ4_K:
      return ReferenceTile<ReferenceQ4_K>;
    case GgmlType::kQ6_K:
      return ReferenceTile<ReferenceQ6_K>;
    default:
      return nullptr;
  }
}

void PreparePackedActivation(int64_t n, const void* y, PackedActivation* table) {
  const auto* b = static_cast<const BlockQ8_0*>(y);
  for (int64_t i = 0; i < n / kQK; ++i) {
    int32_t sum = 0;
    for (int k = 0; k < kQK; ++k) sum += b[i].qs[k];
    table[i] = {F16ToF32(b[i].d), sum};
  }
}

}  // namespace jetserve::quant
