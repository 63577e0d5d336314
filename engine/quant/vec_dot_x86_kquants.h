// x86 kernels of the k-quant types (Q4_K, Q5_K, Q6_K): single rows and tiles. Part of
// vec_dot_x86_kernels.h, which includes it inside the variant namespace after the shared
// helpers.

// int16 pair sums of u (unsigned) times s (signed) bytes, times a per-lane int16 scale, as
// int32 lanes: lane k = scale * (sum of the products of bytes 4k..4k+3).
inline __m256i ScaledLaneSums(__m256i u8, __m256i s8, __m256i scale16) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u8, s8), scale16);
}

// acc + lane k of scale16 * (the int16 pair sums of u times s bytes 4k..4k+3).
inline __m256i AddScaledLaneSums(__m256i acc, __m256i u8, __m256i s8, __m256i scale16) {
#ifdef JS_VEC_DOT_VNNI
  return _mm256_dpwssd_epi32(acc, _mm256_maddubs_epi16(u8, s8), scale16);
#else
  return _mm256_add_epi32(acc, ScaledLaneSums(u8, s8, scale16));
#endif
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
inline __m256i VShr16(__m256i a) {
  return _mm256_srli_epi16(a, N);
}
template <int N>
inline __m256i VShl16(__m256i a) {
  return _mm256_slli_epi16(a, N);
}
#ifdef JS_VEC_DOT_VNNI
inline __m512i VAnd(__m512i a, __m512i b) { return _mm512_and_si512(a, b); }
inline __m512i VOr(__m512i a, __m512i b) { return _mm512_or_si512(a, b); }
template <int N>
inline __m512i VShr16(__m512i a) {
  return _mm512_srli_epi16(a, N);
}
template <int N>
inline __m512i VShl16(__m512i a) {
  return _mm512_slli_epi16(a, N);
}
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
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) {
        // Elements 32c..32c+31 of this half: scales 8h + 2c (bytes 0..15) and 8h + 2c + 1.
        const int j = 8 * h + 2 * c;
#ifdef JS_VEC_DOT_VNNI
        // One word permute of the sixteen scales (a pair of broadcasts and an insert each
        // took a third of the kernel's instructions).
        const __m256i scale =
            _mm256_permutexvar_epi16(_mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(j + 1)),
                                                      _mm_set1_epi16(static_cast<int16_t>(j))),
                                     sc16);
#else
        const __m256i scale = _mm256_set_m128i(_mm_set1_epi16(sc[j + 1]), _mm_set1_epi16(sc[j]));
#endif
        const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 32 * c));
        s = AddScaledLaneSums(s, q[c], a, scale);
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
    odd =
        AddScaledLaneSums(odd, q[g + 1], LoadQ8(a + 32 * g + 32), _mm256_set1_epi32(scale[g + 1]));
  }
  return _mm256_add_epi32(even, odd);
}

// Group g's 32 weights of a Q4_K / Q5_K block as bytes (without Q5_K's fifth bit), its scale
// in both int16 halves of scale[g] (32-byte aligned; broadcast from memory by the dot
// products, which leaves registers for eight rows' accumulators), and the mins as int16 pairs
// (lanes 2g, 2g + 1: group g's min).
inline __m256i K4ScaleVector(const uint8_t* scales, __m256i* mins) {
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
  const __m128i m8 = _mm_cvtsi64_si128(static_cast<int64_t>(m));
  *mins = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
  return _mm256_or_si256(sc32, _mm256_slli_epi32(sc32, 16));
}
inline void UnpackK4Scales(const uint8_t* scales, int32_t (&scale)[8], __m256i* mins) {
  _mm256_store_si256(reinterpret_cast<__m256i*>(scale), K4ScaleVector(scales, mins));
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

// The 256-bit tile of Q4_K and Q5_K, one activation row per accumulator, with each
// single-row kernel's steps: DotQ4_KQ8_K sums the mins in four float lanes (lane l: groups 2l
// and 2l + 1), DotQ5_KQ8_K in one int32 added by a scalar fused multiply-add per block, and
// Q5_K's fifth bit of group g's element l is bit g of qh[l].
template <typename Block, int R, typename YB>
void K4Rows(int64_t nb, const uint8_t* x, uint64_t x_stride, int64_t x_rows,
            const YB* const (&y)[R], float* out, int64_t out_stride) {
  constexpr bool kQ5 = std::is_same_v<Block, BlockQ5_K>;
  const __m256i bit4 = _mm256_set1_epi8(0x10);
  for (int64_t xr = 0; xr < x_rows; ++xr) {
    const auto* xb = reinterpret_cast<const Block*>(x + static_cast<uint64_t>(xr) * x_stride);
    __m256 acc[R];
    __m128 acc_m[kQ5 ? 1 : R];  // Q4_K's mins
    float summs[kQ5 ? R : 1];   // Q5_K's
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      acc[r] = _mm256_setzero_ps();
      if constexpr (kQ5) {
        summs[r] = 0;
      } else {
        acc_m[r] = _mm_setzero_ps();
      }
    }
    for (int64_t i = 0; i < nb; ++i) {
      PrefetchAhead(&xb[i]);
      __m256i q[8], mins;
      alignas(32) int32_t scale[8];
      UnpackK4Groups(xb[i].scales, xb[i].qs, q, scale, &mins);
      if constexpr (kQ5) {
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
      }
      const float xd = Half(xb[i].d);
      const float xdmin = Half(xb[i].dmin);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const YB& a = y[r][i];
        const float d = a.d * xd;
        const float dmin = -a.d * xdmin;
        const __m256i gm =
            _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bsums)), mins);
        if constexpr (kQ5) {
          const __m128i g4 =
              _mm_add_epi32(_mm256_castsi256_si128(gm), _mm256_extracti128_si256(gm, 1));
          const __m128i g2 = _mm_add_epi32(g4, _mm_unpackhi_epi64(g4, g4));
          const int32_t m = _mm_cvtsi128_si32(_mm_add_epi32(g2, _mm_srli_si128(g2, 4)));
          summs[r] = std::fma(dmin, static_cast<float>(m), summs[r]);
        } else {
          const __m128i prod =
              _mm_hadd_epi32(_mm256_castsi256_si128(gm), _mm256_extracti128_si256(gm, 1));
          acc_m[r] = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(prod), acc_m[r]);
        }
        const __m256i s = GroupSums(q, scale, a.qs, _mm256_setzero_si256());
        acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(s), acc[r]);
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      if constexpr (kQ5) {
        out[r * out_stride + xr] = ReduceLanes(acc[r]) + summs[r];
      } else {
        alignas(16) float m[4];
        _mm_store_ps(m, acc_m[r]);
        out[r * out_stride + xr] = ReduceLanes(acc[r]) + ((m[0] + m[2]) + (m[1] + m[3]));
      }
    }
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
    even =
        _mm512_dpwssd_epi32(even, _mm512_maddubs_epi16(q[g], _mm512_load_si512(a.qs[g])), scale(g));
    odd = _mm512_dpwssd_epi32(odd, _mm512_maddubs_epi16(q[g + 1], _mm512_load_si512(a.qs[g + 1])),
                              scale(g + 1));
  }
  return _mm512_add_epi32(even, odd);
}

// Q4_K decode (one activation row) with AVX-512: two weight rows per 512-bit vector (rows w
// and w + 1 in the low and high halves) against the activation broadcast to both, so that the
// integer steps serve two rows; each half's integers, products and fused multiply-adds are
// DotQ4_KQ8_K's (the mins as in Q4_KTile::RunPairs: lane 2l of a half sums groups 2l and
// 2l + 1). Rows four at a time, then a pair; an odd last row goes through the 256-bit tile.
inline __m512 Halves(float lo, float hi) {
  return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_set1_ps(lo)),
                                             _mm256_castps_pd(_mm256_set1_ps(hi)), 1));
}
// P pairs of weight rows (2P rows from x) at a time: independent chains, and the next 2P
// rows prefetched as one sequential stream (as the legacy one-row kernel).
template <int P>
void Q4_KOneRowPairs(int64_t nb, const uint8_t* x, uint64_t x_stride, const BlockQ8_K* y,
                     float* out) {
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  const BlockQ4_K* xb[2 * P];
#pragma GCC unroll 4
  for (int r = 0; r < 2 * P; ++r) {
    xb[r] = reinterpret_cast<const BlockQ4_K*>(x + static_cast<uint64_t>(r) * x_stride);
  }
  __m512 acc[P], acc_m[P];
#pragma GCC unroll 2
  for (int p = 0; p < P; ++p) acc[p] = acc_m[p] = _mm512_setzero_ps();
  const char* next =
      reinterpret_cast<const char*>(x + static_cast<uint64_t>(2 * P) * x_stride) + kPrefetchBytes;
  constexpr uint64_t kStep = 2 * P * sizeof(BlockQ4_K);
  for (int64_t i = 0; i < nb; ++i) {
#pragma GCC unroll 16
    for (uint64_t o = 0; o < kStep; o += 64) _mm_prefetch(next + i * kStep + o, _MM_HINT_T0);
    const BlockQ8_K& a = y[i];
    const __m512 yd = _mm512_set1_ps(a.d);
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) {
      const BlockQ4_K& b0 = xb[2 * p][i];
      const BlockQ4_K& b1 = xb[2 * p + 1][i];
      __m256i mins0, mins1;
      const __m256i sv0 = K4ScaleVector(b0.scales, &mins0);
      const __m512i sv =
          _mm512_inserti64x4(_mm512_castsi256_si512(sv0), K4ScaleVector(b1.scales, &mins1), 1);
      __m512i q[8];
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const __m512i packed = _mm512_inserti64x4(
            _mm512_castsi256_si512(
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b0.qs + 32 * j))),
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b1.qs + 32 * j)), 1);
        q[2 * j] = _mm512_and_si512(packed, low4);
        q[2 * j + 1] = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low4);
      }
      __m512i even = _mm512_setzero_si512(), odd = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (int g = 0; g < 8; g += 2) {
        const __m512i s0 = _mm512_permutexvar_epi32(
            _mm512_inserti64x4(_mm512_set1_epi32(g), _mm256_set1_epi32(g + 8), 1), sv);
        const __m512i s1 = _mm512_permutexvar_epi32(
            _mm512_inserti64x4(_mm512_set1_epi32(g + 1), _mm256_set1_epi32(g + 9), 1), sv);
        even =
            _mm512_dpwssd_epi32(even, _mm512_maddubs_epi16(q[g], Broadcast256(a.qs + 32 * g)), s0);
        odd = _mm512_dpwssd_epi32(
            odd, _mm512_maddubs_epi16(q[g + 1], Broadcast256(a.qs + 32 * g + 32)), s1);
      }
      const __m512 xd = Halves(Half(b0.d), Half(b1.d));
      const __m512 nxdmin = Halves(-Half(b0.dmin), -Half(b1.dmin));
      acc[p] = _mm512_fmadd_ps(_mm512_mul_ps(xd, yd),
                               _mm512_cvtepi32_ps(_mm512_add_epi32(even, odd)), acc[p]);
      const __m512i gm = _mm512_madd_epi16(
          Broadcast256(a.bsums), _mm512_inserti64x4(_mm512_castsi256_si512(mins0), mins1, 1));
      acc_m[p] = _mm512_fmadd_ps(
          _mm512_mul_ps(nxdmin, yd),
          _mm512_cvtepi32_ps(_mm512_add_epi32(gm, _mm512_srli_epi64(gm, 32))), acc_m[p]);
    }
  }
#pragma GCC unroll 2
  for (int p = 0; p < P; ++p) {
    alignas(64) float m[16];
    _mm512_store_ps(m, acc_m[p]);
    const __m256 lo = _mm512_castps512_ps256(acc[p]);
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[p]), 1));
    out[2 * p] = ReduceLanes(lo) + ((m[0] + m[4]) + (m[2] + m[6]));
    out[2 * p + 1] = ReduceLanes(hi) + ((m[8] + m[12]) + (m[10] + m[14]));
  }
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
          acc_m[p] = _mm512_fmadd_ps(
              _mm512_mul_ps(nxdmin, yd),
              _mm512_cvtepi32_ps(_mm512_add_epi32(gm, _mm512_srli_epi64(gm, 32))), acc_m[p]);
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
    K4Rows<BlockQ4_K, R>(nb, x, x_stride, x_rows, y, out, out_stride);
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
    K4Rows<BlockQ5_K, R>(nb, x, x_stride, x_rows, y, out, out_stride);
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
          const __m256i s =
              GroupSums(q, scale, a.qs,
                        _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 5)));
          acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(a.d * xd), _mm256_cvtepi32_ps(s), acc[r]);
        }
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) out[r * out_stride + xr] = ReduceLanes(acc[r]);
    }
  }
};

template <typename K, int R>
void KTileFixed(int64_t nb, const uint8_t* x, uint64_t x_stride, int64_t x_rows, const uint8_t* y,
                uint64_t y_stride, float* out, int64_t out_stride) {
  const BlockQ8_K* yr[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    yr[r] = reinterpret_cast<const BlockQ8_K*>(y + static_cast<uint64_t>(r) * y_stride);
  }
#ifdef JS_VEC_DOT_VNNI
  if constexpr (R == 1 && std::is_same_v<K, Q4_KTile>) {
    int64_t xr = 0;
    for (; xr + 4 <= x_rows; xr += 4) {
      Q4_KOneRowPairs<2>(nb, x + static_cast<uint64_t>(xr) * x_stride, x_stride, yr[0], out + xr);
    }
    if (xr + 2 <= x_rows) {
      Q4_KOneRowPairs<1>(nb, x + static_cast<uint64_t>(xr) * x_stride, x_stride, yr[0], out + xr);
    }
    if (x_rows % 2 == 0) return;
    const uint64_t last = static_cast<uint64_t>(x_rows - 1) * x_stride;
    K::template Run<1>(nb, x + last, x_stride, 1, yr, out + x_rows - 1, out_stride);
    return;
  }
#endif
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
  ForEachTile<kKTileRows>(rows, [&](auto r, int64_t t) {
    KTileFixed<K, decltype(r)::value>(nb, x, x_stride, x_rows,
                                      y + static_cast<uint64_t>(t) * y_stride, y_stride,
                                      out + t * out_stride, out_stride);
  });
}

template <typename K>
void KDotRows(int64_t n, const void* x, const void* y, uint64_t y_stride, int64_t rows, float* out,
              int64_t out_stride) {
  KDotTile<K>(n, x, 0, 1, y, y_stride, rows, out, out_stride);
}

template <typename K>
float KDot(int64_t n, const void* x, const void* y) {
  float out;
  KTileFixed<K, 1>(n / kQKK, static_cast<const uint8_t*>(x), 0, 1, static_cast<const uint8_t*>(y),
                   0, &out, 0);
  return out;
}
