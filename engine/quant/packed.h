// Weight matrices repacked at load time for the packed tile kernels
// (TypeKernels::packed_tile): kPackRows weight rows interleaved block by block, so that one
// 32-bit SIMD lane holds four bytes of one weight row and a 512-bit integer dot product
// (VNNI's vpdpbusd) advances sixteen rows at once against four broadcast activation bytes.
// After a block's eight such steps each lane holds its row's whole block sum, and the float
// step (conversion, scale product, fused multiply-add) is done once per block for sixteen rows,
// where the row-major kernels do it per block for each row's eight partial sums.
//
// Summation order of a packed product (every variant, the portable one included): per weight
// row and activation row, acc = 0, then per block i (in order):
//   - Q4_0: acc = fma(float(isum), dw * dy, acc), isum the block's exact integer dot product
//     of the weights (nibble - 8) and the activation quants, dw and dy the half scales.
//   - Q8_0: as Q4_0, with the weights' own int8 quants.
//   - Q4_K: acc = fma(float(isum), d * dy, acc), then acc = fma(-float(msum), dmin * dy, acc),
//     with isum = sum over the 8 groups of scale_g * (nibbles . quants of group g) and
//     msum = sum over the groups of min_g * (the group's two Q8_K bsums), both exact in int32
//     (isum's conversion rounds to nearest even past 2^24).
//   - Q6_K: acc = fma(float(isum), d * dy, acc), isum = sum over the 16 groups of
//     scale_g * ((q - 32) . quants of group g), exact in int32.
// This is not the row-major kernels' order (eight float lanes per row): a model uses one or
// the other for a matrix, whatever the batch, so its results stay independent of batch
// composition.
//
//   if (uint64_t g = PackedGroupBytes(type, n); g != 0 && rows % kPackRows == 0) {
//     std::vector<uint8_t> packed(g * (rows / kPackRows));
//     PackRows(type, n, w, row_bytes, rows, packed.data());
//   }
#ifndef JETSERVE_ENGINE_QUANT_PACKED_H_
#define JETSERVE_ENGINE_QUANT_PACKED_H_

#include <cstdint>

#include "engine/format/gguf_types.h"
#include "engine/quant/blocks.h"

namespace jetserve::quant {

inline constexpr int64_t kPackRows = 16;

// A packed Q4_0 block: block i of kPackRows rows. d[l]: row l's half scale. qs[j][l]: row l's
// stored bytes 4j..4j+3 (byte k: element 4j+k in the low nibble, 16+4j+k in the high one,
// Q4_0's own order), so the 32-bit word of lane l in 64-byte chunk j is row l's.
struct PackedQ4_0 {
  uint16_t d[kPackRows];
  uint8_t qs[kQK / 8][kPackRows][4];
};
static_assert(sizeof(PackedQ4_0) == kPackRows * sizeof(BlockQ4_0));

// A packed Q8_0 block of kPackRows rows. d[l]: row l's half scale; qs[j][l]: row l's quants
// 4j..4j+3 stored unsigned, q + 128 (what vpdpbusd takes: sum(q * a) = sum(u * a) - 128 sum(a)).
struct PackedQ8_0 {
  uint16_t d[kPackRows];
  uint8_t qs[kQK / 4][kPackRows][4];
};
static_assert(sizeof(PackedQ8_0) == kPackRows * sizeof(BlockQ8_0));

// A packed Q4_K super-block of kPackRows rows. d, dmin[l]: row l's half scales. scales[g][l],
// mins[g][l]: group g's 6-bit scale and min (unpacked). qs[w][l]: row l's stored bytes
// 4w..4w+3 (Q4_K's order: for w / 8 = p, the low nibbles are elements 4(w % 8).. of group 2p,
// the high ones those of group 2p + 1).
struct PackedQ4_K {
  uint16_t d[kPackRows];
  uint16_t dmin[kPackRows];
  uint8_t scales[8][kPackRows];
  uint8_t mins[8][kPackRows];
  uint8_t qs[kQKK / 8][kPackRows][4];
};
static_assert(sizeof(PackedQ4_K) == kPackRows * (sizeof(BlockQ4_K) + 4));

// A packed Q6_K super-block of kPackRows rows, its quants re-laid so that each 32-bit lane
// word holds four consecutive elements of one row. d[l]: row l's half scale; scales[g][l]:
// group g's scale. ql[w][l]: byte k holds the low 4 bits of element 4w+k (low nibble) and of
// element 128+4w+k (high nibble); qh[v][l]: bits 2j..2j+1 of byte k are the high 2 bits of
// element 64j+4v+k.
struct PackedQ6_K {
  uint16_t d[kPackRows];
  int8_t scales[kQKK / 16][kPackRows];
  uint8_t ql[kQKK / 8][kPackRows][4];
  uint8_t qh[kQKK / 16][kPackRows][4];
};
static_assert(sizeof(PackedQ6_K) == kPackRows * sizeof(BlockQ6_K));

// Whether the packed tiles of `type` read a PreparePackedActivation table (the Q8_0 types);
// the others read only the activation blocks (table may be nullptr).
bool PackedUsesTable(GgmlType type);

// What the packed tiles read of each activation block besides its quants (Q8_0 blocks): its
// scale as float and the sum of its quants (the symmetric types' offset term). One per
// block, row after row (PreparePackedActivation).
struct PackedActivation {
  float d;
  int32_t sum;
};

// Bytes of one group of kPackRows packed rows of n elements, or 0 when `type` has no packed
// form or n is not a whole number of its blocks.
uint64_t PackedGroupBytes(GgmlType type, int64_t n);

// Packs `rows` (a multiple of kPackRows) weight rows of n elements at x (row r at
// x + r * x_stride) into rows / kPackRows groups at out, group g at out + g * PackedGroupBytes.
// Only for types with a packed form.
void PackRows(GgmlType type, int64_t n, const uint8_t* x, uint64_t x_stride, int64_t rows,
              uint8_t* out);

// The portable packed tile of `type` (a VecDotPackedFn; nullptr without a packed form):
// the reference the SIMD variants' packed_tile kernels give the bits of.
using VecDotPackedFn = void (*)(int64_t n, const void* x, int64_t x_groups, const void* y,
                                uint64_t y_stride, const PackedActivation* table, int64_t rows,
                                float* out, int64_t out_stride);
VecDotPackedFn PackedTileReference(GgmlType type);

// The n / 32 entries of one activation row quantized to Q8_0 (y) into table.
void PreparePackedActivation(int64_t n, const void* y, PackedActivation* table);

}  // namespace jetserve::quant

#endif  // JETSERVE_ENGINE_QUANT_PACKED_H_
