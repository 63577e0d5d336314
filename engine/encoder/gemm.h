// Float matrix product for the encoder's linear layers: y[t][r] = sum_c W[r][c] * x[t][c] for
// all activation rows t and weight rows r, with W as [rows, cols] float rows (the layout
// encoder weights are stored in). Register-blocked 4 weight rows x 3 activation rows with
// 4-lane vector accumulators (GCC vector extensions: SSE on x86, NEON on ARM), so each
// weight row is read once per block of activations.
//
// Every output element is computed by the same sequence of operations (4 lane partial sums
// over c in steps of 4, a fixed horizontal sum, then the scalar tail) whichever block it falls
// in, so a row's result never depends on how many rows are computed with it.
#ifndef JETSERVE_ENGINE_ENCODER_GEMM_H_
#define JETSERVE_ENGINE_ENCODER_GEMM_H_

#include <cstdint>

#include "engine/util/thread_pool.h"

namespace jetserve::encoder {

// w: [rows, cols]; x: n rows of `cols` floats, stride ldx; y: n rows, stride ldy.
void GemmF32(const float* w, int64_t rows, int64_t cols, const float* x, int64_t n, int64_t ldx,
             float* y, int64_t ldy, ThreadPool* pool);

}  // namespace jetserve::encoder

#endif  // JETSERVE_ENGINE_ENCODER_GEMM_H_
