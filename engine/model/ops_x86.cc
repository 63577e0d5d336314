// The attention kernels of ops.cc built with AVX2+FMA (chosen at run time by
// GetAttentionKernels). Same steps, same bits: every float lane is one of the portable
// code's lanes (fused multiply-adds stay fused, products and sums stay separate), and
// reductions combine the lanes in the portable order. ops_test compares them bit for bit.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "engine/model/ops.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

namespace jetserve::model::x86_avx2 {
namespace {

// ExpGgml on eight lanes; lanes whose result is not a normal float scaled from the
// polynomial (|n| > 125, infinities, NaN) take the portable function.
inline __m256 Exp8(__m256 x) {
  const __m256 r = _mm256_set1_ps(0x1.8p23f);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
  const __m256 n = _mm256_sub_ps(z, r);
  const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                    _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
  const __m256 u = _mm256_mul_ps(b, b);
  const __m256 j = _mm256_fmadd_ps(
      _mm256_fmadd_ps(
          _mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
          _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
      u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f)));
  const __m256 in_range = _mm256_and_ps(_mm256_cmp_ps(n, _mm256_set1_ps(-125.f), _CMP_GE_OQ),
                                        _mm256_cmp_ps(n, _mm256_set1_ps(127.f), _CMP_LE_OQ));
  if (_mm256_movemask_ps(in_range) == 0xff) {
    // j is in [0.7, 1.5] and j * 2^n a normal float: add n to the exponent (exact).
    return _mm256_castsi256_ps(
        _mm256_add_epi32(_mm256_castps_si256(j), _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23)));
  }
  alignas(32) float v[8];
  _mm256_store_ps(v, x);
  for (float& e : v) e = ExpGgml(e);
  return _mm256_load_ps(v);
}

float Dot(const float* a, const float* b, int64_t n) {
  __m256 acc[8];
  for (__m256& v : acc) v = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      acc[j] =
          _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8 * j), _mm256_loadu_ps(b + i + 8 * j), acc[j]);
    }
  }
  // ReduceLanes64: lanes 0..7 and 8..15 of the 16 partial sums, then ReduceLanes16.
  const __m256 lo = _mm256_add_ps(_mm256_add_ps(acc[0], acc[4]), _mm256_add_ps(acc[2], acc[6]));
  const __m256 hi = _mm256_add_ps(_mm256_add_ps(acc[1], acc[5]), _mm256_add_ps(acc[3], acc[7]));
  const __m256 t8 = _mm256_add_ps(hi, lo);
  const __m128 t4 = _mm_add_ps(_mm256_extractf128_ps(t8, 1), _mm256_castps256_ps128(t8));
  alignas(16) float t[4];
  _mm_store_ps(t, t4);
  double sum = (t[0] + t[2]) + (t[1] + t[3]);
  for (; i < n; ++i) sum += static_cast<double>(a[i] * b[i]);
  return static_cast<float>(sum);
}

void Softmax(float* x, int64_t n, int64_t first) {
  __m256 mv = _mm256_set1_ps(-INFINITY);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) mv = _mm256_max_ps(_mm256_loadu_ps(x + i), mv);
  alignas(32) float m8[8];
  _mm256_store_ps(m8, mv);
  float mx = -INFINITY;
  for (const float m : m8) mx = std::max(mx, m);
  for (; i < n; ++i) mx = std::max(mx, x[i]);
  const __m256 mxv = _mm256_set1_ps(mx);
  for (i = 0; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(x + i, Exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), mxv)));
  }
  for (; i < n; ++i) x[i] = ExpGgml(x[i] - mx);
  double sum = 0;
  for (int64_t chunk = first / 16; chunk * 16 < first + n; ++chunk) {
    float lanes[16] = {};
    const int64_t begin = std::max(first, chunk * 16);
    const int64_t end = std::min(first + n, chunk * 16 + 16);
    for (int64_t c = begin; c < end; ++c) lanes[c % 16] = x[c - first];
    sum += static_cast<double>(ReduceLanes16(lanes));
  }
  const auto inv = static_cast<float>(1.0 / sum);
  const __m256 iv = _mm256_set1_ps(inv);
  for (i = 0; i + 8 <= n; i += 8)
    _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), iv));
  for (; i < n; ++i) x[i] *= inv;
}

void Accumulate(float* lanes, int64_t lane, const float* v, float s, int64_t dim) {
  float* l = lanes + lane * dim;
  const __m256 sv = _mm256_set1_ps(s);
  int64_t i = 0;
  for (; i + 8 <= dim; i += 8) {
    _mm256_storeu_ps(l + i, _mm256_fmadd_ps(_mm256_loadu_ps(v + i), sv, _mm256_loadu_ps(l + i)));
  }
  for (; i < dim; ++i) l[i] = std::fma(v[i], s, l[i]);
}

void Reduce(const float* lanes, int64_t dim, float* out) {
  int64_t i = 0;
  for (; i + 8 <= dim; i += 8) {
    auto lane = [&](int l) { return _mm256_loadu_ps(lanes + l * dim + i); };
    __m256 s[16];
#pragma GCC unroll 16
    for (int l = 0; l < 16; ++l) {
      s[l] = _mm256_add_ps(_mm256_add_ps(lane(l), lane(32 + l)),
                           _mm256_add_ps(lane(16 + l), lane(48 + l)));
    }
    __m256 t8[8];
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) t8[k] = _mm256_add_ps(s[8 + k], s[k]);
    __m256 t4[4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) t4[k] = _mm256_add_ps(t8[4 + k], t8[k]);
    _mm256_storeu_ps(out + i,
                     _mm256_add_ps(_mm256_add_ps(t4[0], t4[2]), _mm256_add_ps(t4[1], t4[3])));
  }
  for (; i < dim; ++i) {
    float v[64];
    for (int l = 0; l < 64; ++l) v[l] = lanes[l * dim + i];
    out[i] = ReduceLanes64(v);
  }
}

void SiluMulAvx2(float* x, const float* g, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 e = Exp8(_mm256_sub_ps(_mm256_setzero_ps(), v));
    _mm256_storeu_ps(
        x + i, _mm256_mul_ps(_mm256_div_ps(v, _mm256_add_ps(one, e)), _mm256_loadu_ps(g + i)));
  }
  for (; i < n; ++i) x[i] = Silu(x[i]) * g[i];
}

}  // namespace

extern const AttentionKernels kAttention;
const AttentionKernels kAttention = {"x86-avx2-fma", Dot, Softmax, Accumulate, Reduce, SiluMulAvx2};

}  // namespace jetserve::model::x86_avx2

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
