// Float matrix product for the encoder's linear layers and attention: y[t][r] = bias[r] +
// sum_c W[r][c] * x[t][c] for all activation rows t and weight rows r, with W as [rows, cols]
// float rows (the layout encoder weights are stored in).
//
// Cache-blocked and packed: W is copied per call into panels of NR output columns, k-major
// (NR = 32 on AVX-512, 16 on AVX2 and the portable code); a micro-kernel keeps an MR x NR
// tile of y in registers while it streams a panel and broadcasts MR activation rows; the
// activations are walked in blocks of kMc rows x kKc columns that stay in L2 while a panel's
// kKc x NR slice stays in L1. The vector width is chosen at run time (AVX-512F, AVX2+FMA,
// portable std::fma).
//
// Every output element is the same chain of fused multiply-adds: acc = bias[r] (or 0), then
// acc = fma(x[t][c], W[r][c], acc) for c = 0, 1, ... in order, whichever tile, thread or
// instruction set computes it. So a row's result never depends on the rows computed with it
// or the machine's vector width (gemm_test checks bit equality across the kernels).
#ifndef JETSERVE_ENGINE_ENCODER_GEMM_H_
#define JETSERVE_ENGINE_ENCODER_GEMM_H_

#include <cstdint>
#include <vector>

#include "engine/util/thread_pool.h"

namespace jetserve::encoder {

enum class GemmKernel { kPortable, kAvx2, kAvx512 };

// The kernel GemmF32 uses on this machine.
GemmKernel BestGemmKernel();
// Whether `k` can run on this machine.
bool GemmKernelSupported(GemmKernel k);

// w: [rows, cols] with row stride ldw; x: n rows of `cols` floats, stride ldx; y: n rows,
// stride ldy; bias: rows floats or null. Threads over `pool` (null: the calling thread).
void GemmF32(const float* w, int64_t rows, int64_t cols, int64_t ldw, const float* x, int64_t n,
             int64_t ldx, float* y, int64_t ldy, const float* bias, ThreadPool* pool,
             GemmKernel kernel = BestGemmKernel());

// The common case: ldw == cols, no bias.
inline void GemmF32(const float* w, int64_t rows, int64_t cols, const float* x, int64_t n,
                    int64_t ldx, float* y, int64_t ldy, ThreadPool* pool) {
  GemmF32(w, rows, cols, cols, x, n, ldx, y, ldy, nullptr, pool);
}

// Elementwise kernels of the encoder, vectorized with the same run-time choice.
// x[i] = 0.5 x (1 + erf(x / sqrt 2)) (erf to within 2e-7 absolute).
void GeluErfInPlace(float* x, int64_t n);
// Row softmax: x[i] = exp(x[i] * scale - max) / sum (exp within 2 ulp over the range used).
void ScaledSoftmaxInPlace(float* x, int64_t n, float scale);
// x = LayerNorm(x + add) with weight w and bias b (add may be null); float sums in vector
// lanes (mean and variance to within a few float ulps).
void AddLayerNormInPlace(float* x, const float* add, const float* w, const float* b, int64_t n,
                         float eps);

}  // namespace jetserve::encoder

#endif  // JETSERVE_ENGINE_ENCODER_GEMM_H_
