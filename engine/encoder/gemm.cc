#include "engine/encoder/gemm.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace jetserve::encoder {
namespace {

// Activation rows per block (a multiple of every MR) and reduction length per block: a
// block of x (kMc x kKc floats, 240 KiB) stays in L2 while every panel passes over it, and a
// panel's kKc x NR slice (up to 32 KiB) stays in L1 while the block's tiles use it.
constexpr int64_t kMc = 240;
constexpr int64_t kKc = 256;

// One tile: y[i][0..nc) for i < M (row stride ldy) from x rows (stride ldx) and a packed
// panel slice bp[k][0..NR) for k < kc. load_y: continue from y (a later k block); else start
// from init[0..nc) (bias) or zero.
using TileFn = void (*)(const float* x, int64_t ldx, const float* bp, int64_t kc, float* y,
                        int64_t ldy, int nc, const float* init, bool load_y);

// Portable kernel: the same fused chain per element, in plain loops.
template <int M>
void TilePortable(const float* x, int64_t ldx, const float* bp, int64_t kc, float* y, int64_t ldy,
                  int nc, const float* init, bool load_y) {
  constexpr int kNr = 16;
  float acc[M][kNr];
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < kNr; ++j) {
      acc[i][j] = j >= nc ? 0.0f : load_y ? y[i * ldy + j] : init != nullptr ? init[j] : 0.0f;
    }
  }
  for (int64_t k = 0; k < kc; ++k) {
    const float* b = bp + k * kNr;
    for (int i = 0; i < M; ++i) {
      const float a = x[i * ldx + k];
      for (int j = 0; j < kNr; ++j) acc[i][j] = std::fma(a, b[j], acc[i][j]);
    }
  }
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < nc; ++j) y[i * ldy + j] = acc[i][j];
  }
}

#if defined(__x86_64__)
// AVX-512F: NR = 32 (two registers), up to 8 rows: 16 accumulators.
template <int M>
__attribute__((target("avx512f"))) void TileAvx512(const float* x, int64_t ldx, const float* bp,
                                                   int64_t kc, float* y, int64_t ldy, int nc,
                                                   const float* init, bool load_y) {
  const __mmask16 m0 = nc >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << nc) - 1);
  const __mmask16 m1 = nc >= 32  ? __mmask16{0xFFFF}
                       : nc > 16 ? static_cast<__mmask16>((1u << (nc - 16)) - 1)
                                 : __mmask16{0};
  __m512 c0[M], c1[M];
  if (load_y) {
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
      c0[i] = _mm512_maskz_loadu_ps(m0, y + i * ldy);
      c1[i] = _mm512_maskz_loadu_ps(m1, y + i * ldy + 16);
    }
  } else {
    const __m512 b0 = init ? _mm512_maskz_loadu_ps(m0, init) : _mm512_setzero_ps();
    const __m512 b1 = init ? _mm512_maskz_loadu_ps(m1, init + 16) : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
      c0[i] = b0;
      c1[i] = b1;
    }
  }
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_loadu_ps(bp + k * 32);
    const __m512 b1 = _mm512_loadu_ps(bp + k * 32 + 16);
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
      const __m512 a = _mm512_set1_ps(x[i * ldx + k]);
      c0[i] = _mm512_fmadd_ps(a, b0, c0[i]);
      c1[i] = _mm512_fmadd_ps(a, b1, c1[i]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) {
    _mm512_mask_storeu_ps(y + i * ldy, m0, c0[i]);
    _mm512_mask_storeu_ps(y + i * ldy + 16, m1, c1[i]);
  }
}

// AVX2 + FMA: NR = 16 (two registers), up to 6 rows: 12 accumulators.
template <int M>
__attribute__((target("avx2,fma"))) void TileAvx2(const float* x, int64_t ldx, const float* bp,
                                                  int64_t kc, float* y, int64_t ldy, int nc,
                                                  const float* init, bool load_y) {
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nc), iota);
  const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nc - 8), iota);
  __m256 c0[M], c1[M];
  if (load_y) {
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
      c0[i] = _mm256_maskload_ps(y + i * ldy, m0);
      c1[i] = _mm256_maskload_ps(y + i * ldy + 8, m1);
    }
  } else {
    const __m256 b0 = init ? _mm256_maskload_ps(init, m0) : _mm256_setzero_ps();
    const __m256 b1 = init ? _mm256_maskload_ps(init + 8, m1) : _mm256_setzero_ps();
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
      c0[i] = b0;
      c1[i] = b1;
    }
  }
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(bp + k * 16);
    const __m256 b1 = _mm256_loadu_ps(bp + k * 16 + 8);
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
      const __m256 a = _mm256_broadcast_ss(x + i * ldx + k);
      c0[i] = _mm256_fmadd_ps(a, b0, c0[i]);
      c1[i] = _mm256_fmadd_ps(a, b1, c1[i]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) {
    _mm256_maskstore_ps(y + i * ldy, m0, c0[i]);
    _mm256_maskstore_ps(y + i * ldy + 8, m1, c1[i]);
  }
}
#endif  // __x86_64__

struct KernelSet {
  int mr;
  int nr;
  TileFn tiles[9];  // tiles[m]: m rows, 1 <= m <= mr
};

const KernelSet& Kernels(GemmKernel k) {
  static const KernelSet portable = {
      4, 16, {nullptr, TilePortable<1>, TilePortable<2>, TilePortable<3>, TilePortable<4>}};
#if defined(__x86_64__)
  static const KernelSet avx2 = {
      6,
      16,
      {nullptr, TileAvx2<1>, TileAvx2<2>, TileAvx2<3>, TileAvx2<4>, TileAvx2<5>, TileAvx2<6>}};
  static const KernelSet avx512 = {
      8,
      32,
      {nullptr, TileAvx512<1>, TileAvx512<2>, TileAvx512<3>, TileAvx512<4>, TileAvx512<5>,
       TileAvx512<6>, TileAvx512<7>, TileAvx512<8>}};
  if (k == GemmKernel::kAvx512) return avx512;
  if (k == GemmKernel::kAvx2) return avx2;
#endif
  (void)k;
  return portable;
}

// The packed copy of W, per calling thread; grows, never shrinks.
std::vector<float>& PackBuffer() {
  thread_local std::vector<float> buf;
  return buf;
}

}  // namespace

bool GemmKernelSupported(GemmKernel k) {
  switch (k) {
    case GemmKernel::kPortable:
      return true;
#if defined(__x86_64__)
    case GemmKernel::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case GemmKernel::kAvx512:
      return __builtin_cpu_supports("avx512f");
#else
    default:
      return false;
#endif
  }
  return false;
}

GemmKernel BestGemmKernel() {
  static const GemmKernel best = GemmKernelSupported(GemmKernel::kAvx512) ? GemmKernel::kAvx512
                                 : GemmKernelSupported(GemmKernel::kAvx2) ? GemmKernel::kAvx2
                                                                          : GemmKernel::kPortable;
  return best;
}

void GemmF32(const float* w, int64_t rows, int64_t cols, int64_t ldw, const float* x, int64_t n,
             int64_t ldx, float* y, int64_t ldy, const float* bias, ThreadPool* pool,
             GemmKernel kernel) {
  if (rows <= 0 || n <= 0) return;
  if (cols <= 0) {
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t r = 0; r < rows; ++r) y[t * ldy + r] = bias != nullptr ? bias[r] : 0.0f;
    }
    return;
  }
  const KernelSet& ks = Kernels(kernel);
  const int64_t nr = ks.nr;
  const int64_t panels = (rows + nr - 1) / nr;
  std::vector<float>& buf = PackBuffer();
  const size_t need = static_cast<size_t>(panels * nr * cols);
  if (buf.size() < need) buf.resize(need);
  float* bp = buf.data();
  const int threads = pool != nullptr ? std::max(1, pool->num_threads()) : 1;

  // Pack: panel p holds W rows p*nr .. p*nr+nr-1 as [cols][nr], zeros past `rows`.
  auto pack = [&](int64_t begin, int64_t end, int) {
    for (int64_t p = begin; p < end; ++p) {
      float* dst = bp + p * cols * nr;
      for (int64_t lane = 0; lane < nr; ++lane) {
        const int64_t r = p * nr + lane;
        if (r < rows) {
          const float* src = w + r * ldw;
          for (int64_t k = 0; k < cols; ++k) dst[k * nr + lane] = src[k];
        } else {
          for (int64_t k = 0; k < cols; ++k) dst[k * nr + lane] = 0.0f;
        }
      }
    }
  };
  if (threads > 1 && panels > 1) {
    pool->ParallelFor(panels, pack);
  } else {
    pack(0, panels, 0);
  }

  // Jobs: blocks of activation rows x groups of panels (groups only when there are too few
  // row blocks to share out).
  const int64_t m_blocks = (n + kMc - 1) / kMc;
  const int64_t groups = std::clamp<int64_t>((2 * threads + m_blocks - 1) / m_blocks, 1, panels);
  const int64_t jobs = m_blocks * groups;
  const int mr = ks.mr;
  auto work = [&](int64_t begin, int64_t end, int) {
    for (int64_t job = begin; job < end; ++job) {
      const int64_t mb = job / groups, g = job % groups;
      const int64_t t0 = mb * kMc, t1 = std::min(n, t0 + kMc);
      const int64_t p0 = g * panels / groups, p1 = (g + 1) * panels / groups;
      for (int64_t k0 = 0; k0 < cols; k0 += kKc) {
        const int64_t kc = std::min(kKc, cols - k0);
        const bool load_y = k0 > 0;
        for (int64_t p = p0; p < p1; ++p) {
          const int nc = static_cast<int>(std::min(nr, rows - p * nr));
          const float* panel = bp + (p * cols + k0) * nr;
          const float* init = bias != nullptr ? bias + p * nr : nullptr;
          for (int64_t t = t0; t < t1; t += mr) {
            const int m = static_cast<int>(std::min<int64_t>(mr, t1 - t));
            ks.tiles[m](x + t * ldx + k0, ldx, panel, kc, y + t * ldy + p * nr, ldy, nc, init,
                        load_y);
          }
        }
      }
    }
  };
  if (threads > 1 && jobs > 1) {
    pool->ParallelFor(jobs, work);
  } else {
    work(0, jobs, 0);
  }
}

// ---- Elementwise kernels -------------------------------------------------------------------

namespace {

// exp(x) for x <= 0 (softmax after the max is subtracted): 2^n e^r with r in [-ln2/2, ln2/2]
// and e^r by its degree-6 Taylor polynomial (relative error < 2e-7); 0 below -87.
template <typename V, typename VI>
[[gnu::always_inline]] inline void ExpNonPositive(V* px) {
  // (Vectors by pointer: a vector argument or return would make -Wpsabi warn.)
  V x = *px;
  const VI small = x < -87.0f;
  x = small ? V{} - 87.0f : x;
  const V magic = V{} + 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const V t = x * 1.44269504088896341f + magic;
  const V nf = t - magic;
  const V r = (x - nf * 0.693145751953125f) - nf * 1.42860682030941723212e-6f;
  V p = V{} + (1.0f / 720);
  p = p * r + (1.0f / 120);
  p = p * r + (1.0f / 24);
  p = p * r + (1.0f / 6);
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const VI ni = __builtin_convertvector(nf, VI);
  const VI bits = (ni + 127) << 23;
  V scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  const V e = p * scale;
  *px = small ? V{} : e;
}

// 0.5 x (1 + erf(x / sqrt 2)) with erfc by Abramowitz & Stegun 7.1.26 (absolute error of
// erfc < 1.5e-7): h = erfc(|x| / sqrt 2) / 2, gelu = x (1 - h) for x >= 0, x h below.
template <typename V, typename VI>
[[gnu::always_inline]] inline void Gelu(V* px) {
  const V x = *px;
  const V z = (x < 0.0f ? -x : x) * 0.70710678118654752f;
  const V t = 1.0f / (1.0f + 0.3275911f * z);
  V poly = V{} + 1.061405429f;
  poly = poly * t - 1.453152027f;
  poly = poly * t + 1.421413741f;
  poly = poly * t - 0.284496736f;
  poly = poly * t + 0.254829592f;
  poly = poly * t;
  V e = -z * z;
  ExpNonPositive<V, VI>(&e);
  const V h = 0.5f * poly * e;
  *px = x < 0.0f ? x * h : x * (1.0f - h);
}

template <typename V, typename VI>
[[gnu::always_inline]] inline void GeluLoop(float* x, int64_t n) {
  constexpr int64_t kW = sizeof(V) / sizeof(float);
  int64_t i = 0;
  for (; i + kW <= n; i += kW) {
    V v;
    std::memcpy(&v, x + i, sizeof(v));
    Gelu<V, VI>(&v);
    std::memcpy(x + i, &v, sizeof(v));
  }
  if (i < n) {
    V v{};
    std::memcpy(&v, x + i, (n - i) * sizeof(float));
    Gelu<V, VI>(&v);
    std::memcpy(x + i, &v, (n - i) * sizeof(float));
  }
}

template <typename V, typename VI>
[[gnu::always_inline]] inline void SoftmaxLoop(float* x, int64_t n, float scale) {
  constexpr int64_t kW = sizeof(V) / sizeof(float);
  float mx = x[0];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, x[i]);
  V sum{};
  int64_t i = 0;
  for (; i + kW <= n; i += kW) {
    V v;
    std::memcpy(&v, x + i, sizeof(v));
    v = (v - mx) * scale;
    ExpNonPositive<V, VI>(&v);
    sum += v;
    std::memcpy(x + i, &v, sizeof(v));
  }
  if (i < n) {
    V v = V{} - 1e30f;  // exp of the padding lanes is 0
    std::memcpy(&v, x + i, (n - i) * sizeof(float));
    v = (v - mx) * scale;
    ExpNonPositive<V, VI>(&v);
    sum += v;
    std::memcpy(x + i, &v, (n - i) * sizeof(float));
  }
  float total = 0;
  for (int64_t l = 0; l < kW; ++l) total += sum[l];
  const float inv = 1.0f / total;
  for (int64_t j = 0; j < n; ++j) x[j] *= inv;
}

template <typename V>
[[gnu::always_inline]] inline void AddLayerNormLoop(float* x, const float* add, const float* w,
                                                    const float* b, int64_t n, float eps) {
  constexpr int64_t kW = sizeof(V) / sizeof(float);
  const int64_t vec_end = n - n % kW;
  V acc{};
  for (int64_t i = 0; i < vec_end; i += kW) {
    V v;
    std::memcpy(&v, x + i, sizeof(v));
    if (add != nullptr) {
      V a;
      std::memcpy(&a, add + i, sizeof(a));
      v += a;
      std::memcpy(x + i, &v, sizeof(v));
    }
    acc += v;
  }
  float sum = 0;
  for (int64_t l = 0; l < kW; ++l) sum += acc[l];
  for (int64_t i = vec_end; i < n; ++i) {
    if (add != nullptr) x[i] += add[i];
    sum += x[i];
  }
  const float mean = sum / static_cast<float>(n);
  acc = V{};
  for (int64_t i = 0; i < vec_end; i += kW) {
    V v;
    std::memcpy(&v, x + i, sizeof(v));
    v -= mean;
    acc += v * v;
  }
  float var = 0;
  for (int64_t l = 0; l < kW; ++l) var += acc[l];
  for (int64_t i = vec_end; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  const float scale = 1.0f / std::sqrt(var / static_cast<float>(n) + eps);
  for (int64_t i = 0; i < vec_end; i += kW) {
    V v, vw, vb;
    std::memcpy(&v, x + i, sizeof(v));
    std::memcpy(&vw, w + i, sizeof(vw));
    std::memcpy(&vb, b + i, sizeof(vb));
    v = (v - mean) * scale * vw + vb;
    std::memcpy(x + i, &v, sizeof(v));
  }
  for (int64_t i = vec_end; i < n; ++i) x[i] = (x[i] - mean) * scale * w[i] + b[i];
}

typedef float V4 __attribute__((vector_size(16)));
typedef int32_t VI4 __attribute__((vector_size(16)));
#if defined(__x86_64__)
typedef float V8 __attribute__((vector_size(32)));
typedef int32_t VI8 __attribute__((vector_size(32)));
typedef float V16 __attribute__((vector_size(64)));
typedef int32_t VI16 __attribute__((vector_size(64)));

__attribute__((target("avx512f"))) void GeluAvx512(float* x, int64_t n) {
  GeluLoop<V16, VI16>(x, n);
}
__attribute__((target("avx2,fma"))) void GeluAvx2(float* x, int64_t n) { GeluLoop<V8, VI8>(x, n); }
__attribute__((target("avx512f"))) void AddLayerNormAvx512(float* x, const float* add,
                                                           const float* w, const float* b,
                                                           int64_t n, float eps) {
  AddLayerNormLoop<V16>(x, add, w, b, n, eps);
}
__attribute__((target("avx2,fma"))) void AddLayerNormAvx2(float* x, const float* add,
                                                          const float* w, const float* b, int64_t n,
                                                          float eps) {
  AddLayerNormLoop<V8>(x, add, w, b, n, eps);
}
__attribute__((target("avx512f"))) void SoftmaxAvx512(float* x, int64_t n, float s) {
  SoftmaxLoop<V16, VI16>(x, n, s);
}
__attribute__((target("avx2,fma"))) void SoftmaxAvx2(float* x, int64_t n, float s) {
  SoftmaxLoop<V8, VI8>(x, n, s);
}
#endif

}  // namespace

void GeluErfInPlace(float* x, int64_t n) {
#if defined(__x86_64__)
  if (BestGemmKernel() == GemmKernel::kAvx512) return GeluAvx512(x, n);
  if (BestGemmKernel() == GemmKernel::kAvx2) return GeluAvx2(x, n);
#endif
  GeluLoop<V4, VI4>(x, n);
}

void ScaledSoftmaxInPlace(float* x, int64_t n, float scale) {
  if (n <= 0) return;
#if defined(__x86_64__)
  if (BestGemmKernel() == GemmKernel::kAvx512) return SoftmaxAvx512(x, n, scale);
  if (BestGemmKernel() == GemmKernel::kAvx2) return SoftmaxAvx2(x, n, scale);
#endif
  SoftmaxLoop<V4, VI4>(x, n, scale);
}

void AddLayerNormInPlace(float* x, const float* add, const float* w, const float* b, int64_t n,
                         float eps) {
  if (n <= 0) return;
#if defined(__x86_64__)
  if (BestGemmKernel() == GemmKernel::kAvx512) return AddLayerNormAvx512(x, add, w, b, n, eps);
  if (BestGemmKernel() == GemmKernel::kAvx2) return AddLayerNormAvx2(x, add, w, b, n, eps);
#endif
  AddLayerNormLoop<V4>(x, add, w, b, n, eps);
}

}  // namespace jetserve::encoder
