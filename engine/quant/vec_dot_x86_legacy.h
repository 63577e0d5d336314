// x86 kernels of the legacy block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0): single rows, rows
// and tiles. Part of vec_dot_x86_kernels.h, which includes it inside the variant namespace
// after the shared helpers.

// Legacy block types: the block's 32 weights as bytes (signed for the symmetric types), and
// as unsigned bytes u = w + kOffset (what VNNI's unsigned-by-signed products take directly:
// sum(w * a) = sum(u * a) - kOffset * sum(a), exact in int32).
template <typename XB, typename YB, int Offset>
struct LegacyBlocks {
  using X = XB;
  using Y = YB;
  static constexpr int kOffset = Offset;
  static constexpr bool kSigned = Offset != 0;
  static constexpr bool kMin = Offset == 0;  // unsigned quants with a min; Q8_1 activations
  static constexpr bool kFifth = std::is_same_v<X, BlockQ5_0> || std::is_same_v<X, BlockQ5_1>;
  static __m256i Unsigned(const X& b) {
    if constexpr (std::is_same_v<X, BlockQ8_0>) {  // w + 128 (mod 256): w, top bit flipped
      return _mm256_xor_si256(Weights(b), _mm256_set1_epi8(static_cast<char>(0x80)));
    } else if constexpr (kFifth) {
      return _mm256_or_si256(Nibbles32(b.qs), FifthBits(b.qh));
    } else {
      return Nibbles32(b.qs);
    }
  }
  static __m256i Weights(const X& b) {
    if constexpr (std::is_same_v<X, BlockQ8_0>) {
      return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
    } else if constexpr (kSigned) {
      return _mm256_sub_epi8(Unsigned(b), _mm256_set1_epi8(static_cast<char>(kOffset)));
    } else {
      return Unsigned(b);
    }
  }
};
using Q4_0Blocks = LegacyBlocks<BlockQ4_0, BlockQ8_0, 8>;
using Q4_1Blocks = LegacyBlocks<BlockQ4_1, BlockQ8_1, 0>;
using Q5_0Blocks = LegacyBlocks<BlockQ5_0, BlockQ8_0, 16>;
using Q5_1Blocks = LegacyBlocks<BlockQ5_1, BlockQ8_1, 0>;
using Q8_0Blocks = LegacyBlocks<BlockQ8_0, BlockQ8_0, 128>;

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

// One activation row (decode) against W weight rows at a time, each with its own
// accumulators and the single-row kernel's steps: one row's fused multiply-adds form a chain
// that bounded the kernel at one block per FMA latency (vec_dot_bench's BM_Tile on a Zen 5,
// one thread, G multiply-adds/s, one row -> four: Q4_0 in L2 28 -> 35, from memory 30 -> 35;
// Q8_0 in L2 35 -> 45). The activation's bytes are copied aligned, its scales converted once; with
// VNNI the weights go in unsigned, the activation's lane sums times -kOffset being the dot's
// starting value (yo), so the symmetric types need no sign operations.
inline constexpr int kOneRowWeightRows = 4;

template <typename T, int W>
void LegacyOneRows(int64_t nb, const uint8_t* x, uint64_t x_stride, const float* yd,
                   const float* ys, [[maybe_unused]] const int32_t (*yo)[8], const int8_t (*yq)[32],
                   float* out) {
  using X = typename T::X;
  const X* xb[W];
  __m256 acc[W];
  float summs[W];
#pragma GCC unroll 4
  for (int w = 0; w < W; ++w) {
    xb[w] = reinterpret_cast<const X*>(x + static_cast<uint64_t>(w) * x_stride);
    acc[w] = _mm256_setzero_ps();
    summs[w] = 0.f;
  }
  // The next W rows prefetched as one sequential stream, W blocks' bytes per step (each row
  // prefetched ahead on its own, W streams a row apart, read Q8_0 from memory at a third of
  // the speed of one row).
  const char* next =
      reinterpret_cast<const char*>(x + static_cast<uint64_t>(W) * x_stride) + kPrefetchBytes;
  constexpr uint64_t kStep = W * sizeof(X);
  for (int64_t i = 0; i < nb; ++i) {
#pragma GCC unroll 4
    for (uint64_t o = 0; o < kStep; o += 64) _mm_prefetch(next + i * kStep + o, _MM_HINT_T0);
    const __m256i a = _mm256_load_si256(reinterpret_cast<const __m256i*>(yq[i]));
#pragma GCC unroll 4
    for (int w = 0; w < W; ++w) {
      const X& b = xb[w][i];
      __m256i s;
#ifdef JS_VEC_DOT_VNNI
      const __m256i start = T::kOffset != 0
                                ? _mm256_load_si256(reinterpret_cast<const __m256i*>(yo[i]))
                                : _mm256_setzero_si256();
      s = _mm256_dpbusd_epi32(start, T::Unsigned(b), a);
#else
      if constexpr (T::kSigned) {
        const __m256i q = T::Weights(b);
        s = LaneSums(_mm256_sign_epi8(q, q), _mm256_sign_epi8(a, q));
      } else {
        s = LaneSums(T::Weights(b), a);
      }
#endif
      acc[w] = _mm256_fmadd_ps(_mm256_set1_ps(Half(b.d) * yd[i]), _mm256_cvtepi32_ps(s), acc[w]);
      if constexpr (T::kMin) summs[w] = std::fma(Half(b.m), ys[i], summs[w]);
    }
  }
#pragma GCC unroll 4
  for (int w = 0; w < W; ++w)
    out[w] = T::kMin ? ReduceLanes(acc[w]) + summs[w] : ReduceLanes(acc[w]);
}

template <typename T>
void LegacyTileOne(int64_t nb, const uint8_t* x, uint64_t x_stride, int64_t x_rows,
                   const uint8_t* y, float* out) {
  const auto* yb = reinterpret_cast<const typename T::Y*>(y);
#ifdef JS_VEC_DOT_VNNI
  constexpr bool kStart = T::kOffset != 0;
#else
  constexpr bool kStart = false;
#endif
  alignas(32) float yd[kTileBlocks];
  alignas(32) float ys[T::kMin ? kTileBlocks : 1];
  alignas(32) int32_t yo[kStart ? kTileBlocks : 1][8];
  alignas(32) int8_t yq[kTileBlocks][32];
  for (int64_t i = 0; i < nb; ++i) {
    yd[i] = Half(yb[i].d);
    if constexpr (T::kMin) ys[i] = Half(yb[i].s);
    std::memcpy(yq[i], yb[i].qs, 32);
    if constexpr (kStart) {
      const __m256i a = _mm256_load_si256(reinterpret_cast<const __m256i*>(yq[i]));
      const __m256i off = _mm256_set1_epi8(static_cast<char>(T::kOffset));
      _mm256_store_si256(reinterpret_cast<__m256i*>(yo[i]),
                         _mm256_sub_epi32(_mm256_setzero_si256(), LaneSums(off, a)));
    }
  }
  int64_t xr = 0;
  for (; xr + kOneRowWeightRows <= x_rows; xr += kOneRowWeightRows) {
    LegacyOneRows<T, kOneRowWeightRows>(nb, x + static_cast<uint64_t>(xr) * x_stride, x_stride, yd,
                                        ys, yo, yq, out + xr);
  }
  for (; xr < x_rows; ++xr) {
    LegacyOneRows<T, 1>(nb, x + static_cast<uint64_t>(xr) * x_stride, x_stride, yd, ys, yo, yq,
                        out + xr);
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
          acc[w][r] =
              _mm256_fmadd_ps(_mm256_broadcast_ss(&dv[w][i][r]), _mm256_cvtepi32_ps(s), acc[w][r]);
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
  for (int w = 0; w < W; ++w)
    StoreRowSums<T, R>(ReduceLanes8(acc[w]), summs[w], out + w, out_stride);
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
      _mm512_srlv_epi16(packed, _mm512_setr_epi64(0, 0, 0x0004000400040004, 0x0004000400040004, 0,
                                                  0, 0x0004000400040004, 0x0004000400040004)),
      _mm512_set1_epi8(0x0f));
}

// A block's unsigned weights (T::Unsigned) in both halves of a 512-bit vector.
template <typename T>
__m512i Unsigned512(const typename T::X& b) {
  if constexpr (std::is_same_v<T, Q4_0Blocks> || std::is_same_v<T, Q4_1Blocks>) {
    return Nibbles512(b.qs);
  } else if constexpr (T::kFifth) {
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
  for (int w = 0; w < W; ++w)
    StoreRowSums<T, R>(ReducePairs<P>(acc[w]), summs[w], out + w, out_stride);
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
    LegacyPairRows<T, R, 1>(nb, x + static_cast<uint64_t>(xr) * x_stride, x_stride, &yd2[0][0][0],
                            ys, &yo[0][0][0], &yq[0][0][0], out + xr, out_stride);
  }
}
#endif

template <typename T, int R>
void LegacyTileFixed(int64_t nb, const uint8_t* x, uint64_t x_stride, int64_t x_rows,
                     const uint8_t* y, uint64_t y_stride, float* out, int64_t out_stride) {
  if constexpr (R == 1) {
    LegacyTileOne<T>(nb, x, x_stride, x_rows, y, out);
#ifdef JS_VEC_DOT_VNNI
  } else if constexpr (R >= kTilePairsMin) {
    LegacyTilePairs<T, R>(nb, x, x_stride, x_rows, y, y_stride, out, out_stride);
#endif
  } else {
    LegacyTileWide<T, R>(nb, x, x_stride, x_rows, y, y_stride, out, out_stride);
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
  ForEachTile<kTileRows>(rows, [&](auto r, int64_t t) {
    LegacyTileFixed<T, decltype(r)::value>(nb, x, x_stride, x_rows,
                                           y + static_cast<uint64_t>(t) * y_stride, y_stride,
                                           out + t * out_stride, out_stride);
  });
}
