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
// not depend on the other rows.

#ifdef JS_VEC_DOT_VNNI
// Rows per pass of the batched legacy kernels: their accumulators stay in registers.
inline constexpr int kLegacyRows = 8;
#else
inline constexpr int kLegacyRows = 4;
#endif
// Activation rows per pass of the tile kernels (8: one vector of lanes in their tables; 16
// rows, or 512-bit vectors holding two rows, measured no faster on Zen 4, which splits
// 512-bit operations), and the fewest that take the wide form (vec_dot_bench's BM_Tile: the
// narrow one wins at one row only).
inline constexpr int kTileRows = 8;
inline constexpr int kTileWideMin = 2;

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

// Legacy block types: the block's 32 weights as bytes (signed for the symmetric types), and
// as unsigned bytes u = w + kOffset (what VNNI's unsigned-by-signed products take directly:
// sum(w * a) = sum(u * a) - kOffset * sum(a), exact in int32).
struct Q4_0Blocks {
  using X = BlockQ4_0;
  using Y = BlockQ8_0;
  static constexpr bool kSigned = true;
  static constexpr bool kMin = false;
  static constexpr int kOffset = 8;
  static __m256i Unsigned(const X& b) { return Nibbles32(b.qs); }
  static __m256i Weights(const X& b) {
    return _mm256_sub_epi8(Nibbles32(b.qs), _mm256_set1_epi8(8));
  }
};
struct Q4_1Blocks {
  using X = BlockQ4_1;
  using Y = BlockQ8_1;
  static constexpr bool kSigned = false;
  static constexpr bool kMin = true;
  static constexpr int kOffset = 0;
  static __m256i Unsigned(const X& b) { return Nibbles32(b.qs); }
  static __m256i Weights(const X& b) { return Nibbles32(b.qs); }
};
struct Q5_0Blocks {
  using X = BlockQ5_0;
  using Y = BlockQ8_0;
  static constexpr bool kSigned = true;
  static constexpr bool kMin = false;
  static constexpr int kOffset = 16;
  static __m256i Unsigned(const X& b) { return _mm256_or_si256(Nibbles32(b.qs), FifthBits(b.qh)); }
  static __m256i Weights(const X& b) {
    return _mm256_sub_epi8(_mm256_or_si256(Nibbles32(b.qs), FifthBits(b.qh)), _mm256_set1_epi8(16));
  }
};
struct Q5_1Blocks {
  using X = BlockQ5_1;
  using Y = BlockQ8_1;
  static constexpr bool kSigned = false;
  static constexpr bool kMin = true;
  static constexpr int kOffset = 0;
  static __m256i Unsigned(const X& b) { return _mm256_or_si256(Nibbles32(b.qs), FifthBits(b.qh)); }
  static __m256i Weights(const X& b) { return _mm256_or_si256(Nibbles32(b.qs), FifthBits(b.qh)); }
};
struct Q8_0Blocks {
  using X = BlockQ8_0;
  using Y = BlockQ8_0;
  static constexpr bool kSigned = true;
  static constexpr bool kMin = false;
  static constexpr int kOffset = 128;
  static __m256i Unsigned(const X& b) {  // w + 128 (mod 256) is w with its top bit flipped
    return _mm256_xor_si256(Weights(b), _mm256_set1_epi8(static_cast<char>(0x80)));
  }
  static __m256i Weights(const X& b) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
  }
};

// R activation rows (row r's blocks at y + r * y_stride) against one weight row of nb blocks.
template <typename T, int R>
void LegacyRowsFixed(int64_t nb, const typename T::X* x, const uint8_t* y, uint64_t y_stride,
                     float* out, int64_t out_stride) {
  using Y = typename T::Y;
  const Y* yr[R];
  __m256 acc[R];
  float summs[R];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    yr[r] = reinterpret_cast<const Y*>(y + static_cast<uint64_t>(r) * y_stride);
    acc[r] = _mm256_setzero_ps();
    summs[r] = 0;
  }
  for (int64_t i = 0; i < nb; ++i) {
    PrefetchAhead(&x[i]);
    const __m256i w = T::Weights(x[i]);
    const __m256i u = T::kSigned ? _mm256_sign_epi8(w, w) : w;
    const float xd = Half(x[i].d);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const Y& b = yr[r][i];
      __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
      if constexpr (T::kSigned) a = _mm256_sign_epi8(a, w);
      if constexpr (T::kMin) summs[r] = std::fma(Half(x[i].m), Half(b.s), summs[r]);
      acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(xd * Half(b.d)), _mm256_cvtepi32_ps(LaneSums(u, a)),
                               acc[r]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    if constexpr (T::kMin) {
      out[r * out_stride] = ReduceLanes(acc[r]) + summs[r];
    } else {
      out[r * out_stride] = ReduceLanes(acc[r]);
    }
  }
}

template <typename T>
float LegacyDot(int64_t n, const void* x, const void* y) {
  float out;
  LegacyRowsFixed<T, 1>(n / kQK, static_cast<const typename T::X*>(x),
                        static_cast<const uint8_t*>(y), 0, &out, 0);
  return out;
}

// The last rows < kLegacyRows, by a pass of exactly that many rows.
template <typename T, int R>
void LegacyRowsTail(int64_t rows, int64_t nb, const typename T::X* x, const uint8_t* y,
                    uint64_t y_stride, float* out, int64_t out_stride) {
  if constexpr (R > 0) {
    if (rows == R) {
      LegacyRowsFixed<T, R>(nb, x, y, y_stride, out, out_stride);
    } else {
      LegacyRowsTail<T, R - 1>(rows, nb, x, y, y_stride, out, out_stride);
    }
  }
}

template <typename T>
void LegacyDotRows(int64_t n, const void* vx, const void* vy, uint64_t y_stride, int64_t rows,
                   float* out, int64_t out_stride) {
  const auto* x = static_cast<const typename T::X*>(vx);
  const auto* y = static_cast<const uint8_t*>(vy);
  int64_t t = 0;
  for (; t + kLegacyRows <= rows; t += kLegacyRows) {
    LegacyRowsFixed<T, kLegacyRows>(n / kQK, x, y + static_cast<uint64_t>(t) * y_stride, y_stride,
                                    out + t * out_stride, out_stride);
  }
  LegacyRowsTail<T, kLegacyRows - 1>(rows - t, n / kQK, x, y + static_cast<uint64_t>(t) * y_stride,
                                     y_stride, out + t * out_stride, out_stride);
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

// Lane r of sums (plus lane r of summs, the Q8_1 min terms, for the types with a min) to
// out[r * out_stride], for the R rows of a tile.
template <typename T, int R>
inline void StoreRowSums(__m256 sums, __m256 summs, float* out, int64_t out_stride) {
  if constexpr (T::kMin) sums = _mm256_add_ps(sums, summs);
  alignas(32) float v[8];
  _mm256_store_ps(v, sums);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) out[r * out_stride] = v[r];
}

// Tiles: weight rows against up to kTileRows activation rows, for rows of at most
// kTileBlocks blocks (8192 elements: a 1.1B llama's 5632-wide feed-forward rows included).
// The activations' tables live on the stack: about 150 KB at 256 blocks with VNNI.
inline constexpr int64_t kTileBlocks = 256;

// One row: the R activation rows' block scales (and Q8_1 sums) converted once
// into a table of eight lanes per block (lane r: row r), the scale products by a lane
// permute and each row reduced on its own; per weight row tables would cost more than they
// save.
template <typename T, int R>
void LegacyTileNarrow(int64_t nb, const uint8_t* x, uint64_t x_stride, int64_t x_rows,
                      const uint8_t* y, uint64_t y_stride, float* out, int64_t out_stride) {
  using Y = typename T::Y;
  alignas(32) float yd[kTileBlocks][8];
  alignas(32) float ys[T::kMin ? kTileBlocks : 1][8];
  for (int64_t i = 0; i < nb; ++i) {
    for (int r = 0; r < 8; ++r) {
      const Y* b =
          r < R ? reinterpret_cast<const Y*>(y + static_cast<uint64_t>(r) * y_stride) + i : nullptr;
      yd[i][r] = b != nullptr ? Half(b->d) : 0.f;
      if constexpr (T::kMin) ys[i][r] = b != nullptr ? Half(b->s) : 0.f;
    }
  }
  for (int64_t xr = 0; xr < x_rows; ++xr) {
    const auto* xb =
        reinterpret_cast<const typename T::X*>(x + static_cast<uint64_t>(xr) * x_stride);
    __m256 acc[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
    __m256 summs = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      PrefetchAhead(&xb[i]);
      const __m256i w = T::Weights(xb[i]);
      const __m256i u = T::kSigned ? _mm256_sign_epi8(w, w) : w;
      const __m256 dv = _mm256_mul_ps(_mm256_set1_ps(Half(xb[i].d)), _mm256_load_ps(yd[i]));
      if constexpr (T::kMin) {
        summs = _mm256_fmadd_ps(_mm256_set1_ps(Half(xb[i].m)), _mm256_load_ps(ys[i]), summs);
      }
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const Y& b = reinterpret_cast<const Y*>(y + static_cast<uint64_t>(r) * y_stride)[i];
        __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
        if constexpr (T::kSigned) a = _mm256_sign_epi8(a, w);
        acc[r] = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(dv, _mm256_set1_epi32(r)),
                                 _mm256_cvtepi32_ps(LaneSums(u, a)), acc[r]);
      }
    }
    alignas(32) float sm[8];
    _mm256_store_ps(sm, summs);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      if constexpr (T::kMin) {
        out[r * out_stride + xr] = ReduceLanes(acc[r]) + sm[r];
      } else {
        out[r * out_stride + xr] = ReduceLanes(acc[r]);
      }
    }
  }
}

#ifdef JS_VEC_DOT_VNNI
// Weight rows per pass of the wide tile: two share each activation load (the loads, three
// per block and row with one weight row, are what bounds the pass), within the 32 vector
// registers AVX-512VL gives.
inline constexpr int kTileWeightRows = 2;
#else
inline constexpr int kTileWeightRows = 1;
#endif

// W weight rows (row w at x + w * x_stride) of LegacyTileWide against its R activation rows'
// tables: yd, ys (scales and Q8_1 sums, lane r: row r), yo (block i, row r at
// yo + (i * R + r) * 8: the offset's start values), yq (at yq + (i * R + r) * 32: the
// activation bytes); dv is scratch. Each row's steps are those of one row alone.
template <typename T, int R, int W>
void LegacyWideRows(int64_t nb, const uint8_t* x, uint64_t x_stride, const float (*yd)[8],
                    const float (*ys)[8], const int32_t* yo, const int8_t* yq,
                    float (*dv)[kTileBlocks][8], float* out, int64_t out_stride) {
#ifdef JS_VEC_DOT_VNNI
  constexpr bool kOffset = T::kOffset != 0;
#else
  constexpr bool kOffset = false;
#endif
  const typename T::X* xb[W];
  __m256 summs[W];
#pragma GCC unroll 2
  for (int w = 0; w < W; ++w) {
    xb[w] = reinterpret_cast<const typename T::X*>(x + static_cast<uint64_t>(w) * x_stride);
    summs[w] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      PrefetchAhead(&xb[w][i]);
      _mm256_store_ps(dv[w][i],
                      _mm256_mul_ps(_mm256_set1_ps(Half(xb[w][i].d)), _mm256_load_ps(yd[i])));
      if constexpr (T::kMin) {
        summs[w] =
            _mm256_fmadd_ps(_mm256_set1_ps(Half(xb[w][i].m)), _mm256_load_ps(ys[i]), summs[w]);
      }
    }
  }
  __m256 acc[W][8];
#pragma GCC unroll 2
  for (int w = 0; w < W; ++w) {
#pragma GCC unroll 8
    for (int r = 0; r < 8; ++r) acc[w][r] = _mm256_setzero_ps();
  }
  for (int64_t i = 0; i < nb; ++i) {
    const int8_t* yqi = yq + i * R * 32;
    if constexpr (kOffset) {
#ifdef JS_VEC_DOT_VNNI
      const int32_t* yoi = yo + i * R * 8;
      __m256i u[W];
#pragma GCC unroll 2
      for (int w = 0; w < W; ++w) u[w] = T::Unsigned(xb[w][i]);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m256i a = _mm256_load_si256(reinterpret_cast<const __m256i*>(yqi + 32 * r));
        const __m256i o = _mm256_load_si256(reinterpret_cast<const __m256i*>(yoi + 8 * r));
#pragma GCC unroll 2
        for (int w = 0; w < W; ++w) {
          const __m256i s = _mm256_dpbusd_epi32(o, u[w], a);
          acc[w][r] = _mm256_fmadd_ps(_mm256_broadcast_ss(&dv[w][i][r]), _mm256_cvtepi32_ps(s),
                                      acc[w][r]);
        }
      }
#endif
    } else {
      (void)yo;
      __m256i wv[W], u[W];
#pragma GCC unroll 2
      for (int w = 0; w < W; ++w) {
        wv[w] = T::Weights(xb[w][i]);
        u[w] = T::kSigned ? _mm256_sign_epi8(wv[w], wv[w]) : wv[w];
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m256i a = _mm256_load_si256(reinterpret_cast<const __m256i*>(yqi + 32 * r));
#pragma GCC unroll 2
        for (int w = 0; w < W; ++w) {
          const __m256i aw = T::kSigned ? _mm256_sign_epi8(a, wv[w]) : a;
          acc[w][r] = _mm256_fmadd_ps(_mm256_broadcast_ss(&dv[w][i][r]),
                                      _mm256_cvtepi32_ps(LaneSums(u[w], aw)), acc[w][r]);
        }
      }
    }
  }
#pragma GCC unroll 2
  for (int w = 0; w < W; ++w) StoreRowSums<T, R>(ReduceLanes8(acc[w]), summs[w], out + w, out_stride);
}

// More rows: per weight row, the products xd * yd and the fused min terms of all R rows are
// computed as vectors into a table (lane r being the single-row kernel's value for row r),
// so that the inner loop is one integer dot, one conversion and one fused multiply-add (by
// the row's product, broadcast from the table) per block and row, and eight rows are reduced
// together. The activation bytes are copied aligned (a block's 32 bytes would often straddle
// cache lines). With VNNI the symmetric types take the unsigned weights and the
// activations' lane sums times -kOffset as the dot's starting value, instead of two sign
// operations per block and row.
template <typename T, int R>
void LegacyTileWide(int64_t nb, const uint8_t* x, uint64_t x_stride, int64_t x_rows,
                    const uint8_t* y, uint64_t y_stride, float* out, int64_t out_stride) {
  static_assert(R <= 8, "one vector of row lanes");
  using Y = typename T::Y;
#ifdef JS_VEC_DOT_VNNI
  constexpr bool kOffset = T::kOffset != 0;
#else
  constexpr bool kOffset = false;
#endif
  const Y* yr[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    yr[r] = reinterpret_cast<const Y*>(y + static_cast<uint64_t>(r) * y_stride);
  }
  alignas(32) float yd[kTileBlocks][8];
  alignas(32) float ys[T::kMin ? kTileBlocks : 1][8];
  alignas(32) int32_t yo[kOffset ? kTileBlocks : 1][kOffset ? R : 1][8];
  alignas(64) int8_t yq[kTileBlocks][R][32];
  for (int64_t i = 0; i < nb; ++i) {
    for (int r = 0; r < 8; ++r) {
      yd[i][r] = r < R ? Half(yr[r][i].d) : 0.f;
      if constexpr (T::kMin) ys[i][r] = r < R ? Half(yr[r][i].s) : 0.f;
    }
    for (int r = 0; r < R; ++r) {
      std::memcpy(yq[i][r], yr[r][i].qs, 32);
      if constexpr (kOffset) {
        const __m256i a = _mm256_load_si256(reinterpret_cast<const __m256i*>(yq[i][r]));
        const __m256i off = _mm256_set1_epi8(static_cast<char>(T::kOffset));
        _mm256_store_si256(reinterpret_cast<__m256i*>(yo[i][r]),
                           _mm256_sub_epi32(_mm256_setzero_si256(), LaneSums(off, a)));
      }
    }
  }
  alignas(32) float dv[kTileWeightRows][kTileBlocks][8];
  int64_t xr = 0;
  for (; xr + kTileWeightRows <= x_rows; xr += kTileWeightRows) {
    LegacyWideRows<T, R, kTileWeightRows>(nb, x + static_cast<uint64_t>(xr) * x_stride, x_stride,
                                          yd, ys, &yo[0][0][0], &yq[0][0][0], dv, out + xr,
                                          out_stride);
  }
  for (; xr < x_rows; ++xr) {
    LegacyWideRows<T, R, 1>(nb, x + static_cast<uint64_t>(xr) * x_stride, x_stride, yd, ys,
                            &yo[0][0][0], &yq[0][0][0], dv, out + xr, out_stride);
  }
}

#ifdef JS_VEC_DOT_VNNI
// The wide tile with AVX-512: two activation rows per 512-bit vector (row 2p in the low half,
// row 2p + 1 in the high half) against each weight block broadcast to both halves, so that
// one integer dot, conversion, scale product and fused multiply-add serve two rows (the
// 256-bit form spends the same instructions on one). The tables hold the rows side by side:
// yq (block i, pair p: 64 activation bytes), yo (the offset start values, VNNI's unsigned
// form of every legacy type: zero for the unsigned ones), yd2 (the pair's scales, eight lanes
// each, multiplied by the weight scale per block: xd * yd, the single-row kernel's product);
// ys (kMin: lane r, row r's Q8_1 sum). W weight rows share each table load (four: sixteen
// accumulators; vec_dot_bench's BM_Tile, Q4_0 at 128 rows: 54 G multiply-adds/s with the
// 256-bit wide tile, 67 with two weight rows here, 75 with four and the nibbles unpacked in
// 512 bits). Each row's steps are the single-row kernel's; an odd last row is paired with
// zeros whose results are dropped.
inline constexpr int kTilePairWeightRows = 4;
// The fewest activation rows that take the paired form (vec_dot_bench's BM_Tile: at 2-3 rows
// the 256-bit wide tile is as fast).
inline constexpr int kTilePairsMin = 4;

// 32 nibbles as Nibbles32 does, in both halves of a 512-bit vector: the 16 packed bytes in
// every 128-bit lane, the odd lanes shifted to their high nibbles.
inline __m512i Nibbles512(const uint8_t* qs) {
  const __m512i packed =
      _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
  return _mm512_and_si512(
      _mm512_srlv_epi16(packed, _mm512_setr_epi64(0, 0, 0x0004000400040004, 0x0004000400040004,
                                                   0, 0, 0x0004000400040004, 0x0004000400040004)),
      _mm512_set1_epi8(0x0f));
}

// A block's unsigned weights (T::Unsigned) in both halves of a 512-bit vector.
template <typename T>
__m512i Unsigned512(const typename T::X& b) {
  if constexpr (std::is_same_v<T, Q4_0Blocks> || std::is_same_v<T, Q4_1Blocks>) {
    return Nibbles512(b.qs);
  } else if constexpr (std::is_same_v<T, Q5_0Blocks> || std::is_same_v<T, Q5_1Blocks>) {
    // The fifth bit: bit j of qh adds 0x10 to byte j of each half, by a byte mask.
    uint32_t qh;
    std::memcpy(&qh, b.qh, 4);
    const __m512i nibbles = Nibbles512(b.qs);
    return _mm512_mask_add_epi8(nibbles, _cvtu64_mask64(qh | (uint64_t{qh} << 32)), nibbles,
                                _mm512_set1_epi8(0x10));
  } else {
    static_assert(std::is_same_v<T, Q8_0Blocks>);
    return _mm512_xor_si512(
        _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs))),
        _mm512_set1_epi8(static_cast<char>(0x80)));
  }
}

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

template <typename T, int R, int W>
void LegacyPairRows(int64_t nb, const uint8_t* x, uint64_t x_stride, const float* yd2,
                    const float (*ys)[8], const int32_t* yo, const int8_t* yq, float* out,
                    int64_t out_stride) {
  constexpr int P = (R + 1) / 2;
  constexpr bool kOffset = T::kOffset != 0;
  const typename T::X* xb[W];
  __m256 summs[W];
  __m512 acc[W][P];
#pragma GCC unroll 4
  for (int w = 0; w < W; ++w) {
    xb[w] = reinterpret_cast<const typename T::X*>(x + static_cast<uint64_t>(w) * x_stride);
    summs[w] = _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) acc[w][p] = _mm512_setzero_ps();
  }
  for (int64_t i = 0; i < nb; ++i) {
    __m512i u[W];
    __m512 xd[W];
#pragma GCC unroll 4
    for (int w = 0; w < W; ++w) {
      PrefetchAhead(&xb[w][i]);
      u[w] = Unsigned512<T>(xb[w][i]);
      xd[w] = _mm512_set1_ps(Half(xb[w][i].d));
      if constexpr (T::kMin) {
        summs[w] =
            _mm256_fmadd_ps(_mm256_set1_ps(Half(xb[w][i].m)), _mm256_load_ps(ys[i]), summs[w]);
      }
    }
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) {
      const int64_t k = i * P + p;
      const __m512i a = _mm512_load_si512(yq + k * 64);
      const __m512i o = kOffset ? _mm512_load_si512(yo + k * 16) : _mm512_setzero_si512();
      const __m512 yd = _mm512_load_ps(yd2 + k * 16);
#pragma GCC unroll 4
      for (int w = 0; w < W; ++w) {
        acc[w][p] = _mm512_fmadd_ps(_mm512_mul_ps(xd[w], yd),
                                    _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(o, u[w], a)), acc[w][p]);
      }
    }
  }
#pragma GCC unroll 4
  for (int w = 0; w < W; ++w) StoreRowSums<T, R>(ReducePairs<P>(acc[w]), summs[w], out + w, out_stride);
}

template <typename T, int R>
void LegacyTilePairs(int64_t nb, const uint8_t* x, uint64_t x_stride, int64_t x_rows,
                     const uint8_t* y, uint64_t y_stride, float* out, int64_t out_stride) {
  static_assert(R <= 8, "one vector of row lanes");
  constexpr int P = (R + 1) / 2;
  constexpr bool kOffset = T::kOffset != 0;
  using Y = typename T::Y;
  alignas(64) int8_t yq[kTileBlocks][2 * P][32];
  alignas(64) int32_t yo[kOffset ? kTileBlocks : 1][2 * P][8];
  alignas(64) float yd2[kTileBlocks][P][16];
  alignas(32) float ys[T::kMin ? kTileBlocks : 1][8];
  const __m256i off = _mm256_set1_epi8(static_cast<char>(T::kOffset));
  for (int64_t i = 0; i < nb; ++i) {
    for (int r = 0; r < 2 * P; ++r) {
      const Y* b =
          r < R ? reinterpret_cast<const Y*>(y + static_cast<uint64_t>(r) * y_stride) + i : nullptr;
      if (b != nullptr) {
        std::memcpy(yq[i][r], b->qs, 32);
      } else {
        std::memset(yq[i][r], 0, 32);
      }
      if constexpr (kOffset) {
        const __m256i a = _mm256_load_si256(reinterpret_cast<const __m256i*>(yq[i][r]));
        _mm256_store_si256(reinterpret_cast<__m256i*>(yo[i][r]),
                           _mm256_sub_epi32(_mm256_setzero_si256(), LaneSums(off, a)));
      }
      _mm256_store_ps(&yd2[i][r / 2][8 * (r % 2)], _mm256_set1_ps(b != nullptr ? Half(b->d) : 0.f));
    }
    if constexpr (T::kMin) {
      for (int r = 0; r < 8; ++r) {
        ys[i][r] =
            r < R ? Half(reinterpret_cast<const Y*>(y + static_cast<uint64_t>(r) * y_stride)[i].s)
                  : 0.f;
      }
    }
  }
  int64_t xr = 0;
  for (; xr + kTilePairWeightRows <= x_rows; xr += kTilePairWeightRows) {
    LegacyPairRows<T, R, kTilePairWeightRows>(nb, x + static_cast<uint64_t>(xr) * x_stride,
                                              x_stride, &yd2[0][0][0], ys, &yo[0][0][0],
                                              &yq[0][0][0], out + xr, out_stride);
  }
  for (; xr < x_rows; ++xr) {
    LegacyPairRows<T, R, 1>(nb, x + static_cast<uint64_t>(xr) * x_stride, x_stride,
                            &yd2[0][0][0], ys, &yo[0][0][0], &yq[0][0][0], out + xr, out_stride);
  }
}
#endif

#ifdef JS_VEC_DOT_VNNI
// One activation row against weight rows of a symmetric type (Q4_0, Q5_0, Q8_0) with VNNI:
// as the wide tile, the unsigned weights and the activation's lane sums times -kOffset as
// the dot's starting value (two sign operations fewer per block) and the activation bytes
// copied aligned. The steps per row are LegacyRowsFixed's. One weight row at a time: four
// rows interleaved ran 1.8x faster in L2 but 2.6x slower streaming from DRAM (decode).
template <typename T>
void LegacyTileOneOffset(int64_t nb, const uint8_t* x, uint64_t x_stride, int64_t x_rows,
                         const uint8_t* y, float* out) {
  const auto* yb = reinterpret_cast<const typename T::Y*>(y);
  alignas(32) float yd[kTileBlocks];
  alignas(32) int32_t yo[kTileBlocks][8];
  alignas(32) int8_t yq[kTileBlocks][32];
  const __m256i off = _mm256_set1_epi8(static_cast<char>(T::kOffset));
  for (int64_t i = 0; i < nb; ++i) {
    yd[i] = Half(yb[i].d);
    std::memcpy(yq[i], yb[i].qs, 32);
    const __m256i a = _mm256_load_si256(reinterpret_cast<const __m256i*>(yq[i]));
    _mm256_store_si256(reinterpret_cast<__m256i*>(yo[i]),
                       _mm256_sub_epi32(_mm256_setzero_si256(), LaneSums(off, a)));
  }
  for (int64_t xr = 0; xr < x_rows; ++xr) {
    const auto* xb =
        reinterpret_cast<const typename T::X*>(x + static_cast<uint64_t>(xr) * x_stride);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      PrefetchAhead(&xb[i]);
      const __m256i s =
          _mm256_dpbusd_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(yo[i])),
                              T::Unsigned(xb[i]),
                              _mm256_load_si256(reinterpret_cast<const __m256i*>(yq[i])));
      acc = _mm256_fmadd_ps(_mm256_set1_ps(Half(xb[i].d) * yd[i]), _mm256_cvtepi32_ps(s), acc);
    }
    out[xr] = ReduceLanes(acc);
  }
}
#endif

template <typename T, int R>
void LegacyTileFixed(int64_t nb, const uint8_t* x, uint64_t x_stride, int64_t x_rows,
                     const uint8_t* y, uint64_t y_stride, float* out, int64_t out_stride) {
#ifdef JS_VEC_DOT_VNNI
  if constexpr (R == 1 && T::kOffset != 0) {
    LegacyTileOneOffset<T>(nb, x, x_stride, x_rows, y, out);
    return;
  }
#endif
  if constexpr (R < kTileWideMin) {
    LegacyTileNarrow<T, R>(nb, x, x_stride, x_rows, y, y_stride, out, out_stride);
#ifdef JS_VEC_DOT_VNNI
  } else if constexpr (R >= kTilePairsMin) {
    LegacyTilePairs<T, R>(nb, x, x_stride, x_rows, y, y_stride, out, out_stride);
#endif
  } else {
    LegacyTileWide<T, R>(nb, x, x_stride, x_rows, y, y_stride, out, out_stride);
  }
}

template <typename T, int R>
void LegacyTileTail(int64_t rows, int64_t nb, const uint8_t* x, uint64_t x_stride, int64_t x_rows,
                    const uint8_t* y, uint64_t y_stride, float* out, int64_t out_stride) {
  if constexpr (R > 0) {
    if (rows == R) {
      LegacyTileFixed<T, R>(nb, x, x_stride, x_rows, y, y_stride, out, out_stride);
    } else {
      LegacyTileTail<T, R - 1>(rows, nb, x, x_stride, x_rows, y, y_stride, out, out_stride);
    }
  }
}

template <typename T>
void LegacyDotTile(int64_t n, const void* vx, uint64_t x_stride, int64_t x_rows, const void* vy,
                   uint64_t y_stride, int64_t rows, float* out, int64_t out_stride) {
  const auto* x = static_cast<const uint8_t*>(vx);
  const auto* y = static_cast<const uint8_t*>(vy);
  const int64_t nb = n / kQK;
  if (nb > kTileBlocks) {
    for (int64_t r = 0; r < x_rows; ++r) {
      LegacyDotRows<T>(n, x + static_cast<uint64_t>(r) * x_stride, y, y_stride, rows, out + r,
                       out_stride);
    }
    return;
  }
  int64_t t = 0;
  for (; t + kTileRows <= rows; t += kTileRows) {
    LegacyTileFixed<T, kTileRows>(nb, x, x_stride, x_rows, y + static_cast<uint64_t>(t) * y_stride,
                                  y_stride, out + t * out_stride, out_stride);
  }
  LegacyTileTail<T, kTileRows - 1>(rows - t, nb, x, x_stride, x_rows,
                                   y + static_cast<uint64_t>(t) * y_stride, y_stride,
                                   out + t * out_stride, out_stride);
}

// int16 pair sums of u (unsigned) times s (signed) bytes, times a per-lane int16 scale, as
// int32 lanes: lane k = scale * (sum of the products of bytes 4k..4k+3).
inline __m256i ScaledLaneSums(__m256i u8, __m256i s8, __m256i scale16) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u8, s8), scale16);
}

// Q4_K: the lanes' integers sum sc[g] * q * q8 over the eight groups; the min term in four
// float lanes, lane l taking groups 2l and 2l + 1.
float DotQ4_KQ8_KSimd(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ4_K*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  __m256 acc = _mm256_setzero_ps();
  __m128 acc_m = _mm_setzero_ps();
  for (int64_t i = 0; i < n / kQKK; ++i) {
    PrefetchAhead(&x[i]);
    const float d = y[i].d * Half(x[i].d);
    const float dmin = -y[i].d * Half(x[i].dmin);
    alignas(16) int16_t sc16[8], m16[16];
    for (int g = 0; g < 8; ++g) {
      uint8_t sc, m;
      GetScaleMinK4(g, x[i].scales, &sc, &m);
      sc16[g] = sc;
      m16[2 * g] = m16[2 * g + 1] = m;
    }
    // Group g's min times its two 16-element activation sums, then pairs of groups.
    const __m256i gm =
        _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].bsums)),
                          _mm256_load_si256(reinterpret_cast<const __m256i*>(m16)));
    const __m128i prod =
        _mm_hadd_epi32(_mm256_castsi256_si128(gm), _mm256_extracti128_si256(gm, 1));
    acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(prod), acc_m);
    __m256i s = _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qs + 32 * j));
      const __m256i a_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].qs + 64 * j));
      const __m256i a_hi =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].qs + 64 * j + 32));
      s = _mm256_add_epi32(
          s, ScaledLaneSums(_mm256_and_si256(q, low4), a_lo, _mm256_set1_epi16(sc16[2 * j])));
      s = _mm256_add_epi32(s, ScaledLaneSums(_mm256_and_si256(_mm256_srli_epi16(q, 4), low4), a_hi,
                                             _mm256_set1_epi16(sc16[2 * j + 1])));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(s), acc);
  }
  alignas(16) float m[4];
  _mm_store_ps(m, acc_m);
  return ReduceLanes(acc) + ((m[0] + m[2]) + (m[1] + m[3]));
}

// Q6_K's four 32-element chunks of a block half as unsigned 6-bit bytes, from its low bit
// planes l0, l1 (ql bytes 64h.., 64h + 32..) and high bit pairs hb (qh bytes 32h..); for
// 256-bit vectors and, with AVX-512, for the same bytes in both halves of 512-bit ones.
inline __m256i VAnd(__m256i a, __m256i b) { return _mm256_and_si256(a, b); }
inline __m256i VOr(__m256i a, __m256i b) { return _mm256_or_si256(a, b); }
template <int N>
inline __m256i VShr16(__m256i a) { return _mm256_srli_epi16(a, N); }
template <int N>
inline __m256i VShl16(__m256i a) { return _mm256_slli_epi16(a, N); }
#ifdef JS_VEC_DOT_VNNI
inline __m512i VAnd(__m512i a, __m512i b) { return _mm512_and_si512(a, b); }
inline __m512i VOr(__m512i a, __m512i b) { return _mm512_or_si512(a, b); }
template <int N>
inline __m512i VShr16(__m512i a) { return _mm512_srli_epi16(a, N); }
template <int N>
inline __m512i VShl16(__m512i a) { return _mm512_slli_epi16(a, N); }
#endif
template <typename V>
inline void Q6Chunks(V l0, V l1, V hb, V low4, V two, V* q) {
  q[0] = VOr(VAnd(l0, low4), VShl16<4>(VAnd(hb, two)));
  q[1] = VOr(VAnd(l1, low4), VShl16<4>(VAnd(VShr16<2>(hb), two)));
  q[2] = VOr(VAnd(VShr16<4>(l0), low4), VShl16<4>(VAnd(VShr16<4>(hb), two)));
  q[3] = VOr(VAnd(VShr16<4>(l1), low4), VShl16<4>(VAnd(VShr16<6>(hb), two)));
}

// Q6_K: unsigned 6-bit q (0..63) times q8 with the 16-element group scales; the -32 offset
// enters lane k through the activation sums of groups 2k and 2k + 1.
float DotQ6_KQ8_KSimd(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ6_K*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  const __m256i two = _mm256_set1_epi8(0x03);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQKK; ++i) {
    PrefetchAhead(&x[i]);
    const int8_t* sc = x[i].scales;
    const __m256i sc16 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc)));
    const __m256i offset =
        _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].bsums)), sc16);
    __m256i s = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 5));
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = x[i].ql + 64 * h;
      const int8_t* q8 = y[i].qs + 128 * h;
      const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
      const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
      const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qh + 32 * h));
      __m256i q[4];
      Q6Chunks(l0, l1, hb, low4, two, q);
      for (int c = 0; c < 4; ++c) {
        // Elements 32c..32c+31 of this half: scales 8h + 2c (bytes 0..15) and 8h + 2c + 1.
        const __m256i scale = _mm256_set_m128i(_mm_set1_epi16(sc[8 * h + 2 * c + 1]),
                                               _mm_set1_epi16(sc[8 * h + 2 * c]));
        const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 32 * c));
        s = _mm256_add_epi32(s, ScaledLaneSums(q[c], a, scale));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(y[i].d * Half(x[i].d)), _mm256_cvtepi32_ps(s), acc);
  }
  return ReduceLanes(acc);
}

// A BlockQ8_K's fields with the quants 32-byte aligned.
struct alignas(32) AlignedQ8K {
  int8_t qs[kQKK];
  int16_t bsums[kQKK / 16];
  float d;
};
// Activation blocks per row that the tiles copy aligned (rows of up to 8192 elements).
inline constexpr int64_t kKTileBlocks = 32;

// K-quant tiles: each weight block's quants and scales are unpacked once for up to
// kKTileRows activation rows (Q4_K and Q5_K: eight 32-element groups with 6-bit scales and
// mins; Q6_K: eight 32-element chunks of 6-bit quants with two 16-element scales each). Per
// row the integers, conversions and fused multiply-adds are the single-row kernels' (the
// portable DotQ*_KQ8_K), in their order.
#ifdef JS_VEC_DOT_VNNI
inline constexpr int kKTileRows = 8;
#else
inline constexpr int kKTileRows = 4;
#endif

// acc + lane k of scale16 * (the int16 pair sums of u times s bytes 4k..4k+3).
inline __m256i AddScaledLaneSums(__m256i acc, __m256i u8, __m256i s8, __m256i scale16) {
#ifdef JS_VEC_DOT_VNNI
  return _mm256_dpwssd_epi32(acc, _mm256_maddubs_epi16(u8, s8), scale16);
#else
  return _mm256_add_epi32(acc, ScaledLaneSums(u8, s8, scale16));
#endif
}

inline __m256i LoadQ8(const int8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// init + the lanes of scale[g] * q[g] * (activation bytes 32g..32g+31) over the eight groups,
// in two chains (exact integers: the order does not matter) so that one row's dependent
// multiply-adds do not serialise.
inline __m256i GroupSums(const __m256i (&q)[8], const __m256i (&scale)[8], const int8_t* a,
                         __m256i init) {
  __m256i even = init, odd = _mm256_setzero_si256();
#pragma GCC unroll 4
  for (int g = 0; g < 8; g += 2) {
    even = AddScaledLaneSums(even, q[g], LoadQ8(a + 32 * g), scale[g]);
    odd = AddScaledLaneSums(odd, q[g + 1], LoadQ8(a + 32 * g + 32), scale[g + 1]);
  }
  return _mm256_add_epi32(even, odd);
}
// The same with scale[g] the int16 pair (scale, scale) broadcast from memory.
inline __m256i GroupSums(const __m256i (&q)[8], const int32_t (&scale)[8], const int8_t* a,
                         __m256i init) {
  __m256i even = init, odd = _mm256_setzero_si256();
#pragma GCC unroll 4
  for (int g = 0; g < 8; g += 2) {
    even = AddScaledLaneSums(even, q[g], LoadQ8(a + 32 * g), _mm256_set1_epi32(scale[g]));
    odd = AddScaledLaneSums(odd, q[g + 1], LoadQ8(a + 32 * g + 32), _mm256_set1_epi32(scale[g + 1]));
  }
  return _mm256_add_epi32(even, odd);
}

// Group g's 32 weights of a Q4_K / Q5_K block as bytes (without Q5_K's fifth bit), its scale
// in both int16 halves of scale[g] (32-byte aligned; broadcast from memory by the dot
// products, which leaves registers for eight rows' accumulators), and the mins as int16 pairs (lanes 2g, 2g + 1: group g's min).
inline void UnpackK4Scales(const uint8_t* scales, int32_t (&scale)[8], __m256i* mins) {
  // GetScaleMinK4 for the eight groups at once, byte g of sc and m being group g's, in
  // registers (a table written bytewise and read as a vector would stall store forwarding).
  uint32_t a, b, c;  // scale bytes 0-3, 4-7, 8-11
  std::memcpy(&a, scales, 4);
  std::memcpy(&b, scales + 4, 4);
  std::memcpy(&c, scales + 8, 4);
  constexpr uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
  const uint64_t sc = (a & kLow6) | static_cast<uint64_t>((c & kLow4) | (((a >> 6) & kLow2) << 4))
                                        << 32;
  const uint64_t m =
      (b & kLow6) | static_cast<uint64_t>(((c >> 4) & kLow4) | (((b >> 6) & kLow2) << 4)) << 32;
  const __m256i sc32 = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(sc)));
  _mm256_store_si256(reinterpret_cast<__m256i*>(scale),
                     _mm256_or_si256(sc32, _mm256_slli_epi32(sc32, 16)));
  const __m128i m8 = _mm_cvtsi64_si128(static_cast<int64_t>(m));
  *mins = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
}
inline void UnpackK4Groups(const uint8_t* scales, const uint8_t* qs, __m256i (&q)[8],
                           int32_t (&scale)[8], __m256i* mins) {
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  UnpackK4Scales(scales, scale, mins);
  for (int j = 0; j < 4; ++j) {
    const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * j));
    q[2 * j] = _mm256_and_si256(packed, low4);
    q[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low4);
  }
}

#ifdef JS_VEC_DOT_VNNI
// K-quant tiles with AVX-512, as the legacy paired tile: two activation rows per 512-bit
// vector (rows 2p and 2p + 1 in the low and high halves) against each weight group broadcast
// to both halves, so that every integer and float step serves two rows; the rows' integers,
// products and fused multiply-adds are the single-row kernel's, lane for lane. The activation
// blocks of a pair are copied interleaved by group (group g: row 2p's 32 bytes, then row
// 2p + 1's), with both rows' group sums and scales side by side. (vec_dot_bench's BM_Tile at
// 128 rows: Q4_K 59 -> 73 G multiply-adds/s, Q6_K 61 -> 72. Two groups of one row per
// vector instead, with the per-row float steps left 256-bit, measured slower than the
// 256-bit tile.)
struct alignas(64) KPairBlock {
  int8_t qs[8][2][32];
  int16_t bsums[2][16];
  float d[2][8];  // row 2p's d in lanes 0-7, row 2p + 1's in lanes 8-15
};
// The fewest activation rows that take the paired tiles.
inline constexpr int kKPairsMin = 4;

inline __m512i Broadcast256(const void* p) {
  return _mm512_broadcast_i64x4(_mm256_loadu_si256(static_cast<const __m256i*>(p)));
}

// init + the lanes of scale[g] * q[g] * (group g's activation bytes) over the eight groups,
// for both rows of a pair; as GroupSums, in two chains of exact integers.
template <typename S>
inline __m512i PairGroupSums(const __m512i (&q)[8], const S& scale, const KPairBlock& a,
                             __m512i init) {
  __m512i even = init, odd = _mm512_setzero_si512();
#pragma GCC unroll 4
  for (int g = 0; g < 8; g += 2) {
    even = _mm512_dpwssd_epi32(even, _mm512_maddubs_epi16(q[g], _mm512_load_si512(a.qs[g])),
                               scale(g));
    odd = _mm512_dpwssd_epi32(odd, _mm512_maddubs_epi16(q[g + 1], _mm512_load_si512(a.qs[g + 1])),
                              scale(g + 1));
  }
  return _mm512_add_epi32(even, odd);
}

#endif

// Q4_K (DotQ4_KQ8_K's steps): eight lanes of scale * q * q8 per block, the mins in four
// float lanes, lane l taking groups 2l and 2l + 1.
struct Q4_KTile {
  static constexpr VecDotFn kOneRow = nullptr;  // the tile of one row is faster
  static constexpr bool kPairs = true;
#ifdef JS_VEC_DOT_VNNI
  // The mins as in DotQ4_KQ8_K: lane 2l of each half sums groups 2l and 2l + 1 (lane l of
  // the single-row kernel's four), the odd lanes are not used.
  template <int R>
  static void RunPairs(int64_t nb, const uint8_t* x, uint64_t x_stride, int64_t x_rows,
                       const KPairBlock (*y)[kKTileBlocks], float* out, int64_t out_stride) {
    constexpr int P = (R + 1) / 2;
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    for (int64_t xr = 0; xr < x_rows; ++xr) {
      const auto* xb = reinterpret_cast<const BlockQ4_K*>(x + static_cast<uint64_t>(xr) * x_stride);
      __m512 acc[P], acc_m[P];
#pragma GCC unroll 4
      for (int p = 0; p < P; ++p) {
        acc[p] = _mm512_setzero_ps();
        acc_m[p] = _mm512_setzero_ps();
      }
      for (int64_t i = 0; i < nb; ++i) {
        PrefetchAhead(&xb[i]);
        alignas(32) int32_t scale[8];
        __m256i mins;
        UnpackK4Scales(xb[i].scales, scale, &mins);
        __m512i q[8];
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) {
          const __m512i packed = Broadcast256(xb[i].qs + 32 * j);
          q[2 * j] = _mm512_and_si512(packed, low4);
          q[2 * j + 1] = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low4);
        }
        const __m512i mins2 = _mm512_broadcast_i64x4(mins);
        const __m512 xd = _mm512_set1_ps(Half(xb[i].d));
        const __m512 nxdmin = _mm512_set1_ps(-Half(xb[i].dmin));
        const auto sc = [&](int g) { return _mm512_set1_epi32(scale[g]); };
#pragma GCC unroll 4
        for (int p = 0; p < P; ++p) {
          const KPairBlock& a = y[p][i];
          const __m512 yd = _mm512_load_ps(a.d);
          const __m512i s = PairGroupSums(q, sc, a, _mm512_setzero_si512());
          acc[p] = _mm512_fmadd_ps(_mm512_mul_ps(xd, yd), _mm512_cvtepi32_ps(s), acc[p]);
          const __m512i gm = _mm512_madd_epi16(_mm512_load_si512(a.bsums), mins2);
          acc_m[p] = _mm512_fmadd_ps(_mm512_mul_ps(nxdmin, yd),
                                     _mm512_cvtepi32_ps(_mm512_add_epi32(gm, _mm512_srli_epi64(gm, 32))),
                                     acc_m[p]);
        }
      }
      alignas(32) float v[8];
      _mm256_store_ps(v, ReducePairs<P>(acc));
#pragma GCC unroll 4
      for (int p = 0; p < P; ++p) {
        alignas(64) float m[16];
        _mm512_store_ps(m, acc_m[p]);
        for (int h = 0; h < 2 && 2 * p + h < R; ++h) {
          const float* l = m + 8 * h;
          out[(2 * p + h) * out_stride + xr] = v[2 * p + h] + ((l[0] + l[4]) + (l[2] + l[6]));
        }
      }
    }
  }
#endif
  template <int R, typename YB>
  static void Run(int64_t nb, const uint8_t* x, uint64_t x_stride, int64_t x_rows,
                  const YB* const (&y)[R], float* out, int64_t out_stride) {
    for (int64_t xr = 0; xr < x_rows; ++xr) {
      const auto* xb = reinterpret_cast<const BlockQ4_K*>(x + static_cast<uint64_t>(xr) * x_stride);
      __m256 acc[R];
      __m128 acc_m[R];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        acc[r] = _mm256_setzero_ps();
        acc_m[r] = _mm_setzero_ps();
      }
      for (int64_t i = 0; i < nb; ++i) {
        PrefetchAhead(&xb[i]);
        __m256i q[8], mins;
        alignas(32) int32_t scale[8];
        UnpackK4Groups(xb[i].scales, xb[i].qs, q, scale, &mins);
        const float xd = Half(xb[i].d);
        const float xdmin = Half(xb[i].dmin);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          const YB& a = y[r][i];
          const float d = a.d * xd;
          const float dmin = -a.d * xdmin;
          const __m256i gm = _mm256_madd_epi16(
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bsums)), mins);
          const __m128i prod =
              _mm_hadd_epi32(_mm256_castsi256_si128(gm), _mm256_extracti128_si256(gm, 1));
          acc_m[r] = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(prod), acc_m[r]);
          const __m256i s = GroupSums(q, scale, a.qs, _mm256_setzero_si256());
          acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(s), acc[r]);
        }
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        alignas(16) float m[4];
        _mm_store_ps(m, acc_m[r]);
        out[r * out_stride + xr] = ReduceLanes(acc[r]) + ((m[0] + m[2]) + (m[1] + m[3]));
      }
    }
  }
};

// Q5_K (DotQ5_KQ8_K's steps): as Q4_K with the fifth bit of group g's element l in bit g of
// qh[l]; the mins summed in int32 and added with one scalar fused multiply-add per block.
struct Q5_KTile {
  static constexpr VecDotFn kOneRow = nullptr;
  static constexpr bool kPairs = false;
  template <int R, typename YB>
  static void Run(int64_t nb, const uint8_t* x, uint64_t x_stride, int64_t x_rows,
                  const YB* const (&y)[R], float* out, int64_t out_stride) {
    const __m256i bit4 = _mm256_set1_epi8(0x10);
    for (int64_t xr = 0; xr < x_rows; ++xr) {
      const auto* xb = reinterpret_cast<const BlockQ5_K*>(x + static_cast<uint64_t>(xr) * x_stride);
      __m256 acc[R];
      float summs[R];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        acc[r] = _mm256_setzero_ps();
        summs[r] = 0;
      }
      for (int64_t i = 0; i < nb; ++i) {
        PrefetchAhead(&xb[i]);
        __m256i q[8], mins;
        alignas(32) int32_t scale[8];
        UnpackK4Groups(xb[i].scales, xb[i].qs, q, scale, &mins);
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[i].qh));
        // Bit g of each qh byte moved to bit 4 (16-bit shifts: the bits crossing into the
        // other byte land below bit 4 there and are masked off).
        q[0] = _mm256_or_si256(q[0], _mm256_and_si256(_mm256_slli_epi16(qh, 4), bit4));
        q[1] = _mm256_or_si256(q[1], _mm256_and_si256(_mm256_slli_epi16(qh, 3), bit4));
        q[2] = _mm256_or_si256(q[2], _mm256_and_si256(_mm256_slli_epi16(qh, 2), bit4));
        q[3] = _mm256_or_si256(q[3], _mm256_and_si256(_mm256_slli_epi16(qh, 1), bit4));
        q[4] = _mm256_or_si256(q[4], _mm256_and_si256(qh, bit4));
        q[5] = _mm256_or_si256(q[5], _mm256_and_si256(_mm256_srli_epi16(qh, 1), bit4));
        q[6] = _mm256_or_si256(q[6], _mm256_and_si256(_mm256_srli_epi16(qh, 2), bit4));
        q[7] = _mm256_or_si256(q[7], _mm256_and_si256(_mm256_srli_epi16(qh, 3), bit4));
        const float xd = Half(xb[i].d);
        const float xdmin = Half(xb[i].dmin);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          const YB& a = y[r][i];
          const float d = a.d * xd;
          const float dmin = -a.d * xdmin;
          const __m256i gm = _mm256_madd_epi16(
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bsums)), mins);
          const __m128i g4 =
              _mm_add_epi32(_mm256_castsi256_si128(gm), _mm256_extracti128_si256(gm, 1));
          const __m128i g2 = _mm_add_epi32(g4, _mm_unpackhi_epi64(g4, g4));
          const int32_t m = _mm_cvtsi128_si32(_mm_add_epi32(g2, _mm_srli_si128(g2, 4)));
          summs[r] = std::fma(dmin, static_cast<float>(m), summs[r]);
          const __m256i s = GroupSums(q, scale, a.qs, _mm256_setzero_si256());
          acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(s), acc[r]);
        }
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) out[r * out_stride + xr] = ReduceLanes(acc[r]) + summs[r];
    }
  }
};

// Q6_K (DotQ6_KQ8_KSimd's steps): unsigned 6-bit quants, the -32 offset from the activation
// group sums.
struct Q6_KTile {
  static constexpr VecDotFn kOneRow = DotQ6_KQ8_KSimd;  // ~10% faster than a tile of one row
  static constexpr bool kPairs = true;
#ifdef JS_VEC_DOT_VNNI
  // Chunk j's scales (16-element groups 2j and 2j + 1, int16 lanes 0-7 and 8-15 of each half)
  // by a word permute of the block's sixteen scales.
  template <int R>
  static void RunPairs(int64_t nb, const uint8_t* x, uint64_t x_stride, int64_t x_rows,
                       const KPairBlock (*y)[kKTileBlocks], float* out, int64_t out_stride) {
    constexpr int P = (R + 1) / 2;
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    const __m512i two = _mm512_set1_epi8(0x03);
    // Word t of chunk j's scale vector: scale 2j + ((t % 16) >= 8).
    const __m512i upper = _mm512_set1_epi16(1);
    const __m512i second =
        _mm512_and_si512(_mm512_srli_epi16(_mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22,
                                                            21, 20, 19, 18, 17, 16, 15, 14, 13, 12,
                                                            11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                           3),
                         upper);
    for (int64_t xr = 0; xr < x_rows; ++xr) {
      const auto* xb = reinterpret_cast<const BlockQ6_K*>(x + static_cast<uint64_t>(xr) * x_stride);
      __m512 acc[P];
#pragma GCC unroll 4
      for (int p = 0; p < P; ++p) acc[p] = _mm512_setzero_ps();
      for (int64_t i = 0; i < nb; ++i) {
        PrefetchAhead(&xb[i]);
        const BlockQ6_K& b = xb[i];
        const __m512i sc16 = _mm512_broadcast_i64x4(
            _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales))));
        __m512i q[8], scale[8];
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
          const __m512i l0 = Broadcast256(b.ql + 64 * h);
          const __m512i l1 = Broadcast256(b.ql + 64 * h + 32);
          const __m512i hb = Broadcast256(b.qh + 32 * h);
          Q6Chunks(l0, l1, hb, low4, two, q + 4 * h);
        }
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {
          scale[j] = _mm512_permutexvar_epi16(
              _mm512_add_epi16(second, _mm512_set1_epi16(static_cast<int16_t>(2 * j))), sc16);
        }
        const __m512 xd = _mm512_set1_ps(Half(b.d));
        const auto sc = [&](int j) { return scale[j]; };
#pragma GCC unroll 4
        for (int p = 0; p < P; ++p) {
          const KPairBlock& a = y[p][i];
          const __m512i offset = _mm512_madd_epi16(_mm512_load_si512(a.bsums), sc16);
          const __m512i s = PairGroupSums(
              q, sc, a, _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(offset, 5)));
          acc[p] = _mm512_fmadd_ps(_mm512_mul_ps(xd, _mm512_load_ps(a.d)), _mm512_cvtepi32_ps(s),
                                   acc[p]);
        }
      }
      alignas(32) float v[8];
      _mm256_store_ps(v, ReducePairs<P>(acc));
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) out[r * out_stride + xr] = v[r];
    }
  }
#endif
  template <int R, typename YB>
  static void Run(int64_t nb, const uint8_t* x, uint64_t x_stride, int64_t x_rows,
                  const YB* const (&y)[R], float* out, int64_t out_stride) {
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m256i two = _mm256_set1_epi8(0x03);
    for (int64_t xr = 0; xr < x_rows; ++xr) {
      const auto* xb = reinterpret_cast<const BlockQ6_K*>(x + static_cast<uint64_t>(xr) * x_stride);
      __m256 acc[R];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
      for (int64_t i = 0; i < nb; ++i) {
        PrefetchAhead(&xb[i]);
        const BlockQ6_K& b = xb[i];
        const __m256i sc16 =
            _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales)));
        __m256i q[8], scale[8];
        for (int h = 0; h < 2; ++h) {
          const uint8_t* ql = b.ql + 64 * h;
          const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
          const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
          const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh + 32 * h));
          Q6Chunks(l0, l1, hb, low4, two, q + 4 * h);
          for (int c = 0; c < 4; ++c) {
            scale[4 * h + c] = _mm256_set_m128i(_mm_set1_epi16(b.scales[8 * h + 2 * c + 1]),
                                                _mm_set1_epi16(b.scales[8 * h + 2 * c]));
          }
        }
        const float xd = Half(b.d);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          const YB& a = y[r][i];
          const __m256i offset = _mm256_madd_epi16(
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bsums)), sc16);
          const __m256i s = GroupSums(
              q, scale, a.qs, _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 5)));
          acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(a.d * xd), _mm256_cvtepi32_ps(s), acc[r]);
        }
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) out[r * out_stride + xr] = ReduceLanes(acc[r]);
    }
  }
};

template <typename K, int R>
void KTileFixed(int64_t nb, const uint8_t* x, uint64_t x_stride, int64_t x_rows,
                const uint8_t* y, uint64_t y_stride, float* out, int64_t out_stride) {
  const BlockQ8_K* yr[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    yr[r] = reinterpret_cast<const BlockQ8_K*>(y + static_cast<uint64_t>(r) * y_stride);
  }
  if (R == 1 || x_rows < 4 || nb > kKTileBlocks) {
    K::template Run<R>(nb, x, x_stride, x_rows, yr, out, out_stride);
    return;
  }
#ifdef JS_VEC_DOT_VNNI
  if constexpr (K::kPairs && R >= kKPairsMin) {
    constexpr int P = (R + 1) / 2;
    alignas(64) KPairBlock pairs[P][kKTileBlocks];
    for (int p = 0; p < P; ++p) {
      for (int64_t i = 0; i < nb; ++i) {
        KPairBlock& c = pairs[p][i];
        for (int h = 0; h < 2; ++h) {
          const int r = 2 * p + h;
          if (r < R) {
            const BlockQ8_K& b = yr[r][i];
            for (int g = 0; g < 8; ++g) std::memcpy(c.qs[g][h], b.qs + 32 * g, 32);
            std::memcpy(c.bsums[h], b.bsums, sizeof(b.bsums));
            std::fill(c.d[h], c.d[h] + 8, b.d);
          } else {
            for (int g = 0; g < 8; ++g) std::memset(c.qs[g][h], 0, 32);
            std::memset(c.bsums[h], 0, sizeof(c.bsums[h]));
            std::fill(c.d[h], c.d[h] + 8, 0.f);
          }
        }
      }
    }
    K::template RunPairs<R>(nb, x, x_stride, x_rows, pairs, out, out_stride);
    return;
  }
#endif
  // Several weight rows: the activation blocks copied so that their quants are 32-byte
  // aligned (in a BlockQ8_K they start at byte 4, so every other 32-byte load would split
  // a cache line), once for all the weight rows.
  alignas(64) AlignedQ8K copy[R][kKTileBlocks];
  const AlignedQ8K* cr[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    for (int64_t i = 0; i < nb; ++i) {
      std::memcpy(copy[r][i].qs, yr[r][i].qs, sizeof(copy[r][i].qs));
      std::memcpy(copy[r][i].bsums, yr[r][i].bsums, sizeof(copy[r][i].bsums));
      copy[r][i].d = yr[r][i].d;
    }
    cr[r] = copy[r];
  }
  K::template Run<R>(nb, x, x_stride, x_rows, cr, out, out_stride);
}

template <typename K, int R>
void KTileTail(int64_t rows, int64_t nb, const uint8_t* x, uint64_t x_stride, int64_t x_rows,
               const uint8_t* y, uint64_t y_stride, float* out, int64_t out_stride) {
  if constexpr (R > 0) {
    if (rows == R) {
      KTileFixed<K, R>(nb, x, x_stride, x_rows, y, y_stride, out, out_stride);
    } else {
      KTileTail<K, R - 1>(rows, nb, x, x_stride, x_rows, y, y_stride, out, out_stride);
    }
  }
}

template <typename K>
void KDotTile(int64_t n, const void* vx, uint64_t x_stride, int64_t x_rows, const void* vy,
              uint64_t y_stride, int64_t rows, float* out, int64_t out_stride) {
  const auto* x = static_cast<const uint8_t*>(vx);
  const auto* y = static_cast<const uint8_t*>(vy);
  const int64_t nb = n / kQKK;
  if constexpr (K::kOneRow != nullptr) {
    if (rows == 1) {
      for (int64_t r = 0; r < x_rows; ++r) {
        out[r] = K::kOneRow(n, x + static_cast<uint64_t>(r) * x_stride, y);
      }
      return;
    }
  }
  int64_t t = 0;
  for (; t + kKTileRows <= rows; t += kKTileRows) {
    KTileFixed<K, kKTileRows>(nb, x, x_stride, x_rows, y + static_cast<uint64_t>(t) * y_stride,
                              y_stride, out + t * out_stride, out_stride);
  }
  KTileTail<K, kKTileRows - 1>(rows - t, nb, x, x_stride, x_rows,
                               y + static_cast<uint64_t>(t) * y_stride, y_stride,
                               out + t * out_stride, out_stride);
}

template <typename K>
void KDotRows(int64_t n, const void* x, const void* y, uint64_t y_stride, int64_t rows,
              float* out, int64_t out_stride) {
  KDotTile<K>(n, x, 0, 1, y, y_stride, rows, out, out_stride);
}

template <typename K>
float KDot(int64_t n, const void* x, const void* y) {
  float out;
  KTileFixed<K, 1>(n / kQKK, static_cast<const uint8_t*>(x), 0, 1, static_cast<const uint8_t*>(y),
                   0, &out, 0);
  return out;
}

// Activation quantizers with the portable ones' steps (quantize.cc): the block maximum of
// |x| (a maximum is exact in any order; NaN inputs are skipped as std::max skips them), the
// same product and round-half-even, and the integer's low byte kept as the portable cast
// keeps it; half scales through F16C's round-to-nearest-even (the same bits for every
// non-NaN value).
inline __m256 AbsMax8(__m256 acc, __m256 v) {
  return _mm256_max_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.f), v), acc);  // NaN: keeps acc
}
inline float HorizontalMax(__m256 v) {
  alignas(32) float m[8];
  _mm256_store_ps(m, v);
  float r = 0;
  for (const float x : m) r = std::max(r, x);
  return r;
}
// Rounds 32 floats times `scale` to integers and stores their low bytes.
inline __m256i RoundToBytes(const float* src, float scale, __m256i lo_limit, bool clamp_high) {
  __m256i i[4];
  const __m256 s = _mm256_set1_ps(scale);
  for (int k = 0; k < 4; ++k) {
    const __m256 r = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(src + 8 * k), s),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    i[k] = _mm256_cvtps_epi32(r);
    if (clamp_high) i[k] = _mm256_min_epi32(i[k], _mm256_set1_epi32(127));
    i[k] = _mm256_and_si256(i[k], lo_limit);
  }
  const __m256i p =
      _mm256_packus_epi16(_mm256_packus_epi32(i[0], i[1]), _mm256_packus_epi32(i[2], i[3]));
  return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}
inline float QuantizeBlock32(const float* src, int8_t* q) {
  __m256 m = _mm256_setzero_ps();
  for (int k = 0; k < 4; ++k) m = AbsMax8(m, _mm256_loadu_ps(src + 8 * k));
  const float amax = HorizontalMax(m);
  const float id = amax != 0.f ? 127.f / amax : 0.f;
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q),
                      RoundToBytes(src, id, _mm256_set1_epi32(0xff), false));
  return amax / 127.f;
}
inline uint16_t ToHalf(float f) {
  // _mm_cvtps_ph rather than _cvtss_sh: clang's _cvtss_sh macro expands to a compound literal,
  // which -Wpedantic rejects in C++.
  const __m128i h = _mm_cvtps_ph(_mm_set_ss(f), _MM_FROUND_TO_NEAREST_INT);
  return static_cast<uint16_t>(_mm_extract_epi16(h, 0));
}

void QuantizeActivationQ8_0Simd(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, src += kQK) b[i].d = ToHalf(QuantizeBlock32(src, b[i].qs));
}

void QuantizeActivationQ8_1Simd(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
    const float d = QuantizeBlock32(src, b[i].qs);
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    const __m256i s32 =
        _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1));
    alignas(32) int32_t s[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(s), s32);
    const int sum = s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
    b[i].d = ToHalf(d);
    b[i].s = ToHalf(d * static_cast<float>(sum));
  }
}

void QuantizeActivationQ8_KSimd(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_K*>(dst);
  for (int64_t i = 0; i < n / kQKK; ++i, src += kQKK) {
    __m256 m = _mm256_setzero_ps();
    for (int k = 0; k < kQKK / 8; ++k) m = AbsMax8(m, _mm256_loadu_ps(src + 8 * k));
    const float amax = HorizontalMax(m);
    if (amax == 0.f) {
      std::memset(&b[i], 0, sizeof(b[i]));
      continue;
    }
    float max = 0;  // the first element of largest magnitude, with its sign
    for (int j = 0; j < kQKK; ++j) {
      if (std::fabs(src[j]) == amax) {
        max = src[j];
        break;
      }
    }
    const float iscale = -127.f / max;
    for (int g = 0; g < kQKK / 32; ++g) {
      const __m256i q = RoundToBytes(src + 32 * g, iscale, _mm256_set1_epi32(0xff), true);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(b[i].qs + 32 * g), q);
      // Sums of the two 16-element groups: bytes as int16 pairs, then 16-bit lanes.
      const __m256i pairs = _mm256_maddubs_epi16(_mm256_set1_epi8(1), q);
      alignas(32) int16_t p[16];
      _mm256_store_si256(reinterpret_cast<__m256i*>(p), pairs);
      int s0 = 0, s1 = 0;
      for (int k = 0; k < 8; ++k) {
        s0 += p[k];
        s1 += p[8 + k];
      }
      b[i].bsums[2 * g] = static_cast<int16_t>(s0);
      b[i].bsums[2 * g + 1] = static_cast<int16_t>(s1);
    }
    b[i].d = 1.f / iscale;
  }
}
