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

// ReduceLanes64 of eight value dimensions at once; lane(l) gives lane l's eight values.
template <typename Lane>
inline __m256 ReduceLanes64x8(const Lane& lane) {
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
  return _mm256_add_ps(_mm256_add_ps(t4[0], t4[2]), _mm256_add_ps(t4[1], t4[3]));
}

void Reduce(const float* lanes, int64_t dim, float* out) {
  int64_t i = 0;
  for (; i + 8 <= dim; i += 8) {
    _mm256_storeu_ps(out + i,
                     ReduceLanes64x8([&](int l) { return _mm256_loadu_ps(lanes + l * dim + i); }));
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

// Dot's multiply-adds over the whole 64-element steps of a and b, reduced to its four
// partial sums t[0..3].
inline __m128 DotSteps(const float* a, const float* b, int64_t steps) {
  __m256 acc[8];
  for (__m256& v : acc) v = _mm256_setzero_ps();
  for (int64_t s = 0; s < steps; ++s, a += 64, b += 64) {
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      acc[j] = _mm256_fmadd_ps(_mm256_loadu_ps(a + 8 * j), _mm256_loadu_ps(b + 8 * j), acc[j]);
    }
  }
  const __m256 lo = _mm256_add_ps(_mm256_add_ps(acc[0], acc[4]), _mm256_add_ps(acc[2], acc[6]));
  const __m256 hi = _mm256_add_ps(_mm256_add_ps(acc[1], acc[5]), _mm256_add_ps(acc[3], acc[7]));
  const __m256 t8 = _mm256_add_ps(hi, lo);
  return _mm_add_ps(_mm256_extractf128_ps(t8, 1), _mm256_castps256_ps128(t8));
}

// Dot's tail: elements past the last whole step added in double to the steps' sum.
inline float DotTail(float steps_sum, const float* a, const float* b, int64_t from, int64_t n) {
  double sum = steps_sum;
  for (int64_t i = from; i < n; ++i) sum += static_cast<double>(a[i] * b[i]);
  return static_cast<float>(sum);
}

// scores[j] = Dot(k + j * stride, q, d) * scale for j < 4: the four cells' partial sums
// transposed so that their last additions ((t0 + t2) + (t1 + t3)) and the scaling run once.
inline void Dot4(const float* k, int64_t stride, const float* q, int64_t d, float scale,
                 float* scores) {
  const int64_t steps = d / 64;
  __m128 t0 = DotSteps(k, q, steps), t1 = DotSteps(k + stride, q, steps);
  __m128 t2 = DotSteps(k + 2 * stride, q, steps), t3 = DotSteps(k + 3 * stride, q, steps);
  _MM_TRANSPOSE4_PS(t0, t1, t2, t3);
  __m128 sum = _mm_add_ps(_mm_add_ps(t0, t2), _mm_add_ps(t1, t3));
  if (steps * 64 != d) {
    alignas(16) float s[4];
    _mm_store_ps(s, sum);
    for (int j = 0; j < 4; ++j) s[j] = DotTail(s[j], k + j * stride, q, steps * 64, d);
    sum = _mm_load_ps(s);
  }
  _mm_storeu_ps(scores, _mm_mul_ps(sum, _mm_set1_ps(scale)));
}

// Dot4 for 64-element heads with q held in registers (one step: each accumulator is one
// fused product from zero), so that each key element is loaded once and q not at all.
inline __m128 DotStep64(const float* k, const __m256 (&q)[8]) {
  const __m256 z = _mm256_setzero_ps();
  auto p = [&](int j) { return _mm256_fmadd_ps(_mm256_loadu_ps(k + 8 * j), q[j], z); };
  const __m256 lo = _mm256_add_ps(_mm256_add_ps(p(0), p(4)), _mm256_add_ps(p(2), p(6)));
  const __m256 hi = _mm256_add_ps(_mm256_add_ps(p(1), p(5)), _mm256_add_ps(p(3), p(7)));
  const __m256 t8 = _mm256_add_ps(hi, lo);
  return _mm_add_ps(_mm256_extractf128_ps(t8, 1), _mm256_castps256_ps128(t8));
}

inline void Dot4Head64(const float* k, int64_t stride, const __m256 (&q)[8], __m128 scale,
                       float* scores) {
  __m128 t0 = DotStep64(k, q), t1 = DotStep64(k + stride, q);
  __m128 t2 = DotStep64(k + 2 * stride, q), t3 = DotStep64(k + 3 * stride, q);
  _MM_TRANSPOSE4_PS(t0, t1, t2, t3);
  _mm_storeu_ps(scores, _mm_mul_ps(_mm_add_ps(_mm_add_ps(t0, t2), _mm_add_ps(t1, t3)), scale));
}

inline float Dot1(const float* k, const float* q, int64_t d, float scale) {
  const int64_t steps = d / 64;
  alignas(16) float t[4];
  _mm_store_ps(t, DotSteps(k, q, steps));
  return DotTail((t[0] + t[2]) + (t[1] + t[3]), k, q, steps * 64, d) * scale;
}

// Up to this many cells (one per lane) the weighted values go straight from the value rows
// into the lane reduction, eight dimensions at a time; past it each lane is summed in
// registers and stored, then the lanes reduced (attention_bench: best on both sides).
constexpr int64_t kRegisterLaneCells = 64;

void Attend(const AttendArgs& a) {
  const int64_t d = a.head_dim, dv = a.dv;
  int64_t n = 0;
  __m256 q64[8];
  if (d == 64) {
    for (int j = 0; j < 8; ++j) q64[j] = _mm256_loadu_ps(a.q + 8 * j);
  }
  const __m128 scale4 = _mm_set1_ps(a.scale);
  for (const KvRun& run : a.runs) {
    int64_t j = 0;
    if (d == 64) {
      for (; j + 4 <= run.n; j += 4) {
        Dot4Head64(run.k + j * a.k_stride, a.k_stride, q64, scale4, a.scores + n + j);
      }
    }
    for (; j + 4 <= run.n; j += 4) {
      Dot4(run.k + j * a.k_stride, a.k_stride, a.q, d, a.scale, a.scores + n + j);
    }
    for (; j < run.n; ++j) a.scores[n + j] = Dot1(run.k + j * a.k_stride, a.q, d, a.scale);
    n += run.n;
  }
  Softmax(a.scores, n, a.first);
  const __m256 zero = _mm256_setzero_ps();
  // Lane L sums cells L - first (mod 64), then every 64th, in cell order from zero.
  int64_t i = 0;
  for (const KvRun& run : a.runs) {
    for (int64_t j = 0; j < run.n; ++j, ++i) a.value_rows[i] = run.v + j * a.v_stride;
  }
  const int64_t shift = a.first % 64;
  if (n > kRegisterLaneCells || dv % 8 != 0) {
    // The lanes in memory, 64 value dimensions at a time: each lane summed in eight
    // registers and stored once, then Reduce.
    const int64_t dv8 = dv / 8 * 8;
    int64_t e0 = 0;
    for (; e0 + 64 <= dv8; e0 += 64) {
      for (int64_t l = 0; l < 64; ++l) {
        __m256 acc[8];
        for (__m256& v : acc) v = zero;
        for (int64_t c = (l - shift + 64) % 64; c < n; c += 64) {
          const float* v = a.value_rows[c] + e0;
          const __m256 sv = _mm256_set1_ps(a.scores[c]);
#pragma GCC unroll 8
          for (int k = 0; k < 8; ++k) {
            acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps(v + 8 * k), sv, acc[k]);
          }
        }
        float* out = a.lanes + l * dv + e0;
#pragma GCC unroll 8
        for (int k = 0; k < 8; ++k) _mm256_storeu_ps(out + 8 * k, acc[k]);
      }
    }
    for (; e0 < dv8; e0 += 8) {
      for (int64_t l = 0; l < 64; ++l) {
        __m256 acc = zero;
        for (int64_t c = (l - shift + 64) % 64; c < n; c += 64) {
          acc = _mm256_fmadd_ps(_mm256_loadu_ps(a.value_rows[c] + e0), _mm256_set1_ps(a.scores[c]),
                                acc);
        }
        _mm256_storeu_ps(a.lanes + l * dv + e0, acc);
      }
    }
    for (int64_t l = 0; l < 64; ++l) {
      float* lane = a.lanes + l * dv;
      for (int64_t e = dv8; e < dv; ++e) {
        float acc = 0.f;
        for (int64_t c = (l - shift + 64) % 64; c < n; c += 64) {
          acc = std::fma(a.value_rows[c][e], a.scores[c], acc);
        }
        lane[e] = acc;
      }
    }
    Reduce(a.lanes, dv, a.out);
    return;
  }
  // At most one cell per lane: eight value dimensions at a time, each lane's product goes
  // straight into the reduction tree of Reduce.
  for (int64_t e = 0; e < dv; e += 8) {
    auto lane = [&](int64_t l) {
      __m256 acc = zero;
      for (int64_t c = (l - shift + 64) % 64; c < n; c += 64) {
        acc =
            _mm256_fmadd_ps(_mm256_loadu_ps(a.value_rows[c] + e), _mm256_set1_ps(a.scores[c]), acc);
      }
      return acc;
    };
    _mm256_storeu_ps(a.out + e, ReduceLanes64x8(lane));
  }
}

}  // namespace

extern const AttentionKernels kAttention;
const AttentionKernels kAttention = {"x86-avx2-fma", Dot,         Softmax, Accumulate,
                                     Reduce,         SiluMulAvx2, Attend};

}  // namespace jetserve::model::x86_avx2

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
