// x86 activation quantizers (Q8_0, Q8_1, Q8_K). Part of vec_dot_x86_kernels.h, which
// includes it inside the variant namespace after the shared helpers.

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
