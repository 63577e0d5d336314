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

// C activation rows against one packed Q4_0 group (sixteen weight rows, one per 32-bit lane).
// Per block: the four 64-byte chunks give eight vectors of nibbles (chunk j's low nibbles are
// elements 4j..4j+3 of each row, its high ones 16+4j..), each taken by one vpdpbusd against
// the activation's four matching bytes; the unsigned nibbles' offset enters as the start
// value -8 * sum(a). Two chains of four, added. Then one conversion, scale product and fused
// multiply-add for the sixteen rows. Results in lanes, stored as sixteen consecutive outputs.
template <int C>
void PackedQ4_0Rows(int64_t nb, const PackedQ4_0* xg, const uint8_t* y, uint64_t y_stride,
                    const PackedActivation* table, int64_t table_stride, float* out,
                    int64_t out_stride) {
  __m512 acc[C];
  const BlockQ8_0* a[C];
  const PackedActivation* p[C];
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) {
    acc[c] = _mm512_setzero_ps();
    a[c] = reinterpret_cast<const BlockQ8_0*>(y + static_cast<uint64_t>(c) * y_stride);
    p[c] = table + c * table_stride;
  }
  const __m512i nibble = _mm512_set1_epi8(0x0f);
  for (int64_t i = 0; i < nb; ++i) {
    const PackedQ4_0& b = xg[i];
    const char* ahead = reinterpret_cast<const char*>(&b) + kPrefetchBytes;
#pragma GCC unroll 5
    for (uint64_t o = 0; o < sizeof(PackedQ4_0); o += 64) _mm_prefetch(ahead + o, _MM_HINT_T0);
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.d)));
    __m512i u[8];
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const __m512i q = _mm512_loadu_si512(b.qs[j]);
      u[j] = _mm512_and_si512(q, nibble);
      u[4 + j] = _mm512_and_si512(_mm512_srli_epi16(q, 4), nibble);
    }
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      const int8_t* aq = a[c][i].qs;
      __m512i s0 = _mm512_set1_epi32(-8 * p[c][i].sum);
      __m512i s1 = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        s0 = _mm512_dpbusd_epi32(s0, u[j], Broadcast4(aq + 4 * j));
        s1 = _mm512_dpbusd_epi32(s1, u[4 + j], Broadcast4(aq + 16 + 4 * j));
      }
      acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)),
                               _mm512_mul_ps(dw, _mm512_set1_ps(p[c][i].d)), acc[c]);
    }
  }
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) _mm512_storeu_ps(out + c * out_stride, acc[c]);
}

// Activation rows per pass over the groups: eight accumulators, eight nibble vectors and the
// scales within the 32 vector registers.
inline constexpr int kPackedColumns = 8;

void PackedQ4_0Tile(int64_t n, const void* x, int64_t x_groups, const void* y, uint64_t y_stride,
                    const PackedActivation* table, int64_t rows, float* out, int64_t out_stride) {
  const int64_t nb = n / kQK;
  const auto* xp = static_cast<const PackedQ4_0*>(x);
  const auto* yb = static_cast<const uint8_t*>(y);
  ForEachTile<kPackedColumns>(rows, [&](auto c, int64_t t) {
    for (int64_t g = 0; g < x_groups; ++g) {
      PackedQ4_0Rows<decltype(c)::value>(nb, xp + g * nb, yb + static_cast<uint64_t>(t) * y_stride,
                                         y_stride, table + t * nb, nb,
                                         out + t * out_stride + g * kPackRows, out_stride);
    }
  });
}
inline constexpr VecDotPackedFn kPackedQ4_0 = PackedQ4_0Tile;
#else
inline constexpr VecDotPackedFn kPackedQ4_0 = nullptr;
#endif
