// x86 kernels over packed weights (packed.h). Part of vec_dot_x86_kernels.h, which includes
// it inside the variant namespace after the shared helpers. Only the AVX-512 VNNI build has
// them: the AVX2 build keeps the row-major tiles (kPacked* = nullptr, weights not packed).

#ifdef JS_VEC_DOT_VNNI
// Four activation bytes broadcast to every 32-bit lane.
inline __m512i Broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// Sixteen half scales (one per row lane) as floats.
inline __m512 HalfLanes(const uint16_t (&h)[kPackRows]) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h)));
}

// Per row lane: sum over k of w[k]'s two 16-bit halves times the Q8_K bsums 2k and 2k + 1
// (vpmaddwd against each pair broadcast).
inline __m512i BsumPairsDot(const __m512i (&w)[8], const int16_t* bsums) {
  __m512i sum = _mm512_setzero_si512();
#pragma GCC unroll 8
  for (int k = 0; k < 8; ++k) {
    int32_t pair;
    std::memcpy(&pair, bsums + 2 * k, 4);
    sum = _mm512_add_epi32(sum, _mm512_madd_epi16(w[k], _mm512_set1_epi32(pair)));
  }
  return sum;
}

// The blocks of one packed group (sixteen weight rows, one per 32-bit lane) against C
// activation rows (row c's blocks at y + c * y_stride, its table entries at
// table + c * nb when the type reads a table): K::Block per block, each block's bytes
// prefetched kPrefetchBytes ahead (one sequential stream); the sixteen results of row c
// stored at out + c * out_stride.
template <typename K, int C>
void PackedRows(int64_t nb, const typename K::Packed* xg, const uint8_t* y, uint64_t y_stride,
                const PackedActivation* table, float* out, int64_t out_stride) {
  using Y = typename K::Y;
  __m512 acc[C];
  const Y* a[C];
  const PackedActivation* p[C];
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) {
    acc[c] = _mm512_setzero_ps();
    a[c] = reinterpret_cast<const Y*>(y + static_cast<uint64_t>(c) * y_stride);
    p[c] = table != nullptr ? table + c * nb : nullptr;
  }
  for (int64_t i = 0; i < nb; ++i) {
    const char* ahead = reinterpret_cast<const char*>(&xg[i]) + kPrefetchBytes;
#pragma GCC unroll 8
    for (uint64_t o = 0; o < sizeof(xg[i]); o += 64) _mm_prefetch(ahead + o, _MM_HINT_T0);
    K::template Block<C>(xg[i], i, a, p, acc);
  }
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) _mm512_storeu_ps(out + c * out_stride, acc[c]);
}

// Activation rows per pass over the groups: eight accumulators, the block's weight vectors and
// the scales within the 32 vector registers.
inline constexpr int kPackedColumns = 8;

template <typename K>
void PackedTile(int64_t n, const void* x, int64_t x_groups, const void* y, uint64_t y_stride,
                const PackedActivation* table, int64_t rows, float* out, int64_t out_stride) {
  const int64_t nb = n / K::kBlockElements;
  const auto* xp = static_cast<const typename K::Packed*>(x);
  const auto* yb = static_cast<const uint8_t*>(y);
  ForEachTile<kPackedColumns>(rows, [&](auto c, int64_t t) {
    for (int64_t g = 0; g < x_groups; ++g) {
      PackedRows<K, decltype(c)::value>(nb, xp + g * nb, yb + static_cast<uint64_t>(t) * y_stride,
                                        y_stride, table != nullptr ? table + t * nb : nullptr,
                                        out + t * out_stride + g * kPackRows, out_stride);
    }
  });
}

// The symmetric legacy types' block (Q4_0, Q8_0) against C activation rows: u[k] holds elements
// 4k..4k+3 of each row unsigned (the quant plus kOffset), taken by vpdpbusd against the
// activation's four matching bytes from the start value -kOffset * sum(a), in two chains of
// four; then one conversion, scale product and fused multiply-add for the sixteen rows.
template <int kOffset, int C>
inline void SymmetricColumns(const __m512i (&u)[8], __m512 dw, int64_t i,
                             const BlockQ8_0* const (&a)[C], const PackedActivation* const (&p)[C],
                             __m512 (&acc)[C]) {
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) {
    const int8_t* aq = a[c][i].qs;
    __m512i s0 = _mm512_set1_epi32(-kOffset * p[c][i].sum);
    __m512i s1 = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      s0 = _mm512_dpbusd_epi32(s0, u[2 * j], Broadcast4(aq + 8 * j));
      s1 = _mm512_dpbusd_epi32(s1, u[2 * j + 1], Broadcast4(aq + 8 * j + 4));
    }
    acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)),
                             _mm512_mul_ps(dw, _mm512_set1_ps(p[c][i].d)), acc[c]);
  }
}

// One block of a packed Q4_0 group against C activation rows: the four 64-byte chunks give the
// eight vectors of nibbles (chunk j's low nibbles are elements 4j..4j+3 of each row, its high
// ones 16+4j..), unsigned with offset 8.
struct PackedQ4_0Kernel {
  using Packed = PackedQ4_0;
  using Y = BlockQ8_0;
  static constexpr int64_t kBlockElements = kQK;
  template <int C>
  static void Block(const PackedQ4_0& b, int64_t i, const BlockQ8_0* const (&a)[C],
                    const PackedActivation* const (&p)[C], __m512 (&acc)[C]) {
    const __m512i nibble = _mm512_set1_epi8(0x0f);
    const __m512 dw = HalfLanes(b.d);
    __m512i u[8];
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const __m512i q = _mm512_loadu_si512(b.qs[j]);
      u[j] = _mm512_and_si512(q, nibble);
      u[4 + j] = _mm512_and_si512(_mm512_srli_epi16(q, 4), nibble);
    }
    SymmetricColumns<8>(u, dw, i, a, p, acc);
  }
};

// One block of a packed Q8_0 group against C activation rows: the eight vectors of quants as
// stored, unsigned with offset 128.
struct PackedQ8_0Kernel {
  using Packed = PackedQ8_0;
  using Y = BlockQ8_0;
  static constexpr int64_t kBlockElements = kQK;
  template <int C>
  static void Block(const PackedQ8_0& b, int64_t i, const BlockQ8_0* const (&a)[C],
                    const PackedActivation* const (&p)[C], __m512 (&acc)[C]) {
    const __m512 dw = HalfLanes(b.d);
    __m512i u[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) u[j] = _mm512_loadu_si512(b.qs[j]);
    SymmetricColumns<128>(u, dw, i, a, p, acc);
  }
};

// One block of a packed Q4_K group against C activation rows. Per super-block and group of 32: the
// eight nibble vectors of the group (four weight bytes per row and lane), eight vpdpbusd against
// the activation's matching bytes, times the rows' scales (vpmulld) into the integer sum; the mins
// times the activation's bsums by vpmaddwd (each row's min in both 16-bit halves of its lane,
// against a pair of bsums: the group's 32-element sum). Then the float steps of packed.h.
struct PackedQ4_KKernel {
  using Packed = PackedQ4_K;
  using Y = BlockQ8_K;
  static constexpr int64_t kBlockElements = kQKK;
  template <int C>
  static void Block(const PackedQ4_K& b, int64_t i, const BlockQ8_K* const (&a)[C],
                    const PackedActivation* const (&)[C], __m512 (&acc)[C]) {
    const __m512i nibble = _mm512_set1_epi8(0x0f);
    __m512i isum[C];
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) isum[c] = _mm512_setzero_si512();
    for (int grp = 0; grp < 8; ++grp) {
      __m512i u[8];
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        const __m512i q = _mm512_loadu_si512(b.qs[(grp / 2) * 8 + j]);
        u[j] = _mm512_and_si512(grp % 2 == 0 ? q : _mm512_srli_epi16(q, 4), nibble);
      }
      const __m512i sc =
          _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales[grp])));
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        const int8_t* aq = a[c][i].qs + 32 * grp;
        __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) {
          s0 = _mm512_dpbusd_epi32(s0, u[2 * j], Broadcast4(aq + 8 * j));
          s1 = _mm512_dpbusd_epi32(s1, u[2 * j + 1], Broadcast4(aq + 8 * j + 4));
        }
        isum[c] = _mm512_add_epi32(isum[c], _mm512_mullo_epi32(_mm512_add_epi32(s0, s1), sc));
      }
    }
    __m512i mins[8];
#pragma GCC unroll 8
    for (int grp = 0; grp < 8; ++grp) {
      const __m512i m =
          _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.mins[grp])));
      mins[grp] = _mm512_or_si512(m, _mm512_slli_epi32(m, 16));
    }
    const __m512 dw = HalfLanes(b.d);
    const __m512 dm = HalfLanes(b.dmin);
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      const __m512i msum = BsumPairsDot(mins, a[c][i].bsums);
      const __m512 dy = _mm512_set1_ps(a[c][i].d);
      acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[c]), _mm512_mul_ps(dw, dy), acc[c]);
      acc[c] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum), _mm512_mul_ps(dm, dy), acc[c]);
    }
  }
};

// One block of a packed Q6_K group against C activation rows. Per super-block and group of 16: four
// vectors of unsigned 6-bit quants (four elements of each row per lane: the low 4 bits from
// ql, the high 2 from qh shifted into bits 4-5), four vpdpbusd in two chains, times the rows'
// scales (vpmulld) into the integer sum; the offset once per super-block (below); then one
// conversion, scale product and fused multiply-add for the sixteen rows.
struct PackedQ6_KKernel {
  using Packed = PackedQ6_K;
  using Y = BlockQ8_K;
  static constexpr int64_t kBlockElements = kQKK;
  template <int C>
  static void Block(const PackedQ6_K& b, int64_t i, const BlockQ8_K* const (&a)[C],
                    const PackedActivation* const (&)[C], __m512 (&acc)[C]) {
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    const __m512i high2 = _mm512_set1_epi8(0x30);
    __m512i isum[C];
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) isum[c] = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {  // elements 64j.. (the high bits' pair j)
      for (int sub = 0; sub < 4; ++sub) {
        const int grp = 4 * j + sub;
        __m512i u[4];
#pragma GCC unroll 4
        for (int m = 0; m < 4; ++m) {
          const int w = 16 * j + 4 * sub + m;
          const __m512i l = _mm512_loadu_si512(b.ql[w % 32]);
          const __m512i lo = _mm512_and_si512(j < 2 ? l : _mm512_srli_epi16(l, 4), low4);
          const __m512i h = _mm512_loadu_si512(b.qh[4 * sub + m]);
          const __m512i hs = j == 0   ? _mm512_slli_epi16(h, 4)
                             : j == 1 ? _mm512_slli_epi16(h, 2)
                             : j == 2 ? h
                                      : _mm512_srli_epi16(h, 2);
          u[m] = _mm512_ternarylogic_epi32(hs, high2, lo, 0xea);  // (hs & high2) | lo
        }
        const __m512i sc =
            _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales[grp])));
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) {
          const int8_t* aq = a[c][i].qs + 16 * grp;
          __m512i d0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u[0], Broadcast4(aq));
          __m512i d1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u[1], Broadcast4(aq + 4));
          d0 = _mm512_dpbusd_epi32(d0, u[2], Broadcast4(aq + 8));
          d1 = _mm512_dpbusd_epi32(d1, u[3], Broadcast4(aq + 12));
          isum[c] = _mm512_add_epi32(isum[c], _mm512_mullo_epi32(_mm512_add_epi32(d0, d1), sc));
        }
      }
    }
    // The -32 offset: 32 * sum over the groups of scale * bsum, by vpmaddwd on pairs of
    // groups (both scales of a row in its lane's 16-bit halves).
    __m512i pairs[8];
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) {
      const __m512i s0 =
          _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales[2 * k])));
      const __m512i s1 = _mm512_cvtepi8_epi32(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales[2 * k + 1])));
      pairs[k] = _mm512_mask_blend_epi16(0xaaaaaaaa, s0, _mm512_slli_epi32(s1, 16));
    }
    const __m512 dw = HalfLanes(b.d);
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      const __m512i offset = BsumPairsDot(pairs, a[c][i].bsums);
      const __m512i s = _mm512_sub_epi32(isum[c], _mm512_slli_epi32(offset, 5));
      acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, _mm512_set1_ps(a[c][i].d)),
                               acc[c]);
    }
  }
};

inline constexpr VecDotPackedFn kPackedQ4_0 = PackedTile<PackedQ4_0Kernel>;
inline constexpr VecDotPackedFn kPackedQ8_0 = PackedTile<PackedQ8_0Kernel>;
inline constexpr VecDotPackedFn kPackedQ4_K = PackedTile<PackedQ4_KKernel>;
inline constexpr VecDotPackedFn kPackedQ6_K = PackedTile<PackedQ6_KKernel>;
#else
inline constexpr VecDotPackedFn kPackedQ4_0 = nullptr;
inline constexpr VecDotPackedFn kPackedQ8_0 = nullptr;
inline constexpr VecDotPackedFn kPackedQ4_K = nullptr;
inline constexpr VecDotPackedFn kPackedQ6_K = nullptr;
#endif
