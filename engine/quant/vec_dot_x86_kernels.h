// Hand-written x86 kernels (AVX2+FMA+F16C; with JS_VEC_DOT_VNNI also AVX-512VL VNNI),
// included by vec_dot_kernels.h inside its variant namespace. They compute the portable
// kernels' steps exactly:
//   - the int32 lane k of madd(maddubs(u, s), 1), or of dpbusd(0, u, s), sums bytes
//     4k..4k+3 of the block: the same integers LegacyLanes and the k-quant loops sum (integer
//     sums are exact in any order; maddubs' int16 pairs stay below its saturation for every
//     weight type here, and signed weights go through the |w|, sign(a, w) form, exact for
//     activations in [-127, 127], which our activation quantizers produce);
//   - the float steps are the same fused multiply-adds and products, lane for lane, and the
//     lanes are reduced in the same order.
// So every result has the portable kernel's bits (quant_test compares them on random and
// extreme blocks). The batched kernels run several activation rows against each weight block
// while it is unpacked in registers; each row keeps its own accumulators, so its result does
// not depend on the other rows. This file holds the shared helpers and includes the kernels
// by family: vec_dot_x86_legacy.h, vec_dot_x86_kquants.h and vec_dot_x86_quantize.h.

#ifdef JS_VEC_DOT_VNNI
// Rows per pass of the batched legacy kernels: their accumulators stay in registers.
inline constexpr int kLegacyRows = 8;
#else
inline constexpr int kLegacyRows = 4;
#endif
// Activation rows per pass of the tile kernels (8: one vector of lanes in their tables; 16
// rows measured no faster on Zen 4, nor as 16-row k-quant pairs on an AVX-512 Xeon). One
// activation row takes the one-row form, two and three the wide one; the AVX-512 build holds
// two rows per 512-bit vector from four rows up (the paired tiles: faster on the Xeons
// measured; session 5 found a 512-bit form no faster on Zen 4, which splits 512-bit
// operations).
inline constexpr int kTileRows = 8;

// Runs tile(std::integral_constant<int, R>{}, t) over activation rows t.. in passes of Max
// rows and, for the rest (R = rows % Max), one pass of its own fixed size.
template <int R, typename Tile>
inline void TileRest(int64_t rows, int64_t t, Tile& tile) {
  if constexpr (R > 0) {
    if (rows == R) {
      tile(std::integral_constant<int, R>{}, t);
    } else {
      TileRest<R - 1>(rows, t, tile);
    }
  }
}
template <int Max, typename Tile>
inline void ForEachTile(int64_t rows, Tile&& tile) {
  int64_t t = 0;
  for (; t + Max <= rows; t += Max) tile(std::integral_constant<int, Max>{}, t);
  TileRest<Max - 1>(rows - t, t, tile);
}

inline __m256i LaneSums(__m256i u8, __m256i s8) {
#ifdef JS_VEC_DOT_VNNI
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u8, s8);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u8, s8), _mm256_set1_epi16(1));
#endif
}

inline float ReduceLanes(__m256 acc) {
  alignas(32) float v[8];
  _mm256_store_ps(v, acc);
  return ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
}

// Decode reads each weight row once, from memory. The kernels prefetch the weights
// kPrefetchBytes ahead of their reads: the hardware prefetchers alone left the one-row
// kernels at about a third of the read bandwidth on the x86 VMs measured (vec_dot_bench's
// BM_Tile, 131072 x 576 Q8_0 against one row, from memory: 6.4 -> 15 G multiply-adds/s).
// A prefetch is a hint: an address past the matrix does not fault.
inline constexpr uint64_t kPrefetchBytes = 4096;
template <typename X>
inline void PrefetchAhead(const X* block) {
  const char* p = reinterpret_cast<const char*>(block) + kPrefetchBytes;
#pragma GCC unroll 4
  for (uint64_t o = 0; o < sizeof(X); o += 64) _mm_prefetch(p + o, _MM_HINT_T0);
}

// 32 nibbles of a legacy block as bytes: element j < 16 is qs[j] & 15, j >= 16 qs[j-16] >> 4.
inline __m256i Nibbles32(const uint8_t* qs) {
  const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i low4 = _mm_set1_epi8(0x0f);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(packed, 4), low4),
                          _mm_and_si128(packed, low4));
}

// Bit j of the little-endian 32-bit qh as 0x10 in byte j (the fifth bit of Q5_0/Q5_1).
inline __m256i FifthBits(const uint8_t qh[4]) {
  uint32_t bits;
  std::memcpy(&bits, qh, 4);
  const __m256i spread =
      _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int32_t>(bits)),
                          _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101,
                                             0x0202020202020202, 0x0303030303030303));
  const __m256i set = _mm256_cmpeq_epi8(
      _mm256_or_si256(spread, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe)), _mm256_set1_epi8(-1));
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

// [a0+a4, a1+a5, a2+a6, a3+a7 | b0+b4, ...]
inline __m256 PairSums(__m256 a, __m256 b) {
  return _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
}
// Of two PairSums: [(l0+l4)+(l2+l6), (l1+l5)+(l3+l7)] of rows 0, 2 | of rows 1, 3.
inline __m256 QuadSums(__m256 a, __m256 b) {
  return _mm256_add_ps(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(1, 0, 1, 0)),
                       _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
}
// Eight rows' lane reductions at once: lane r of the result is ReduceLanes(acc[r]), with the
// same additions ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)) for each row.
inline __m256 ReduceLanes8(const __m256 (&acc)[8]) {
  const __m256 rows = _mm256_hadd_ps(QuadSums(PairSums(acc[0], acc[1]), PairSums(acc[2], acc[3])),
                                     QuadSums(PairSums(acc[4], acc[5]), PairSums(acc[6], acc[7])));
  return _mm256_permutevar8x32_ps(rows, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));  // 0246|1357
}

#ifdef JS_VEC_DOT_VNNI
// The eight rows' lane reductions of P pair accumulators (ReduceLanes of each half).
template <int P>
inline __m256 ReducePairs(const __m512 (&acc)[P]) {
  __m256 rows[8];
#pragma GCC unroll 8
  for (int r = 2 * P; r < 8; ++r) rows[r] = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int p = 0; p < P; ++p) {
    rows[2 * p] = _mm512_castps512_ps256(acc[p]);
    rows[2 * p + 1] = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[p]), 1));
  }
  return ReduceLanes8(rows);
}
#endif

#include "engine/quant/vec_dot_x86_kquants.h"
#include "engine/quant/vec_dot_x86_legacy.h"
#include "engine/quant/vec_dot_x86_packed.h"
#include "engine/quant/vec_dot_x86_quantize.h"
