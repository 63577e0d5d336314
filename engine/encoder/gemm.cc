#include "engine/encoder/gemm.h"

#include <algorithm>
#include <cstring>

namespace jetserve::encoder {
namespace {

typedef float V4 __attribute__((vector_size(16)));

inline V4 Load(const float* p) {
  V4 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

inline float Sum(V4 v) { return (v[0] + v[2]) + (v[1] + v[3]); }  // fixed order

// RB weight rows x TB activation rows. Same per-element operation sequence for every RB, TB.
template <int RB, int TB>
void Block(const float* w, int64_t cols, const float* x, int64_t ldx, float* y, int64_t ldy,
           int64_t r0, int64_t t0) {
  V4 acc[RB][TB];
#pragma GCC unroll 4
  for (int i = 0; i < RB; ++i) {
#pragma GCC unroll 4
    for (int j = 0; j < TB; ++j) acc[i][j] = V4{};
  }
  const int64_t vec_end = cols - cols % 4;
  for (int64_t c = 0; c < vec_end; c += 4) {
    V4 wv[RB];
#pragma GCC unroll 4
    for (int i = 0; i < RB; ++i) wv[i] = Load(w + (r0 + i) * cols + c);
#pragma GCC unroll 4
    for (int j = 0; j < TB; ++j) {
      const V4 xv = Load(x + (t0 + j) * ldx + c);
#pragma GCC unroll 4
      for (int i = 0; i < RB; ++i) acc[i][j] += wv[i] * xv;
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < RB; ++i) {
    const float* wr = w + (r0 + i) * cols;
#pragma GCC unroll 4
    for (int j = 0; j < TB; ++j) {
      const float* xr = x + (t0 + j) * ldx;
      float s = Sum(acc[i][j]);
      for (int64_t c = vec_end; c < cols; ++c) s += wr[c] * xr[c];
      y[(t0 + j) * ldy + r0 + i] = s;
    }
  }
}

template <int RB>
void RowBlock(const float* w, int64_t cols, const float* x, int64_t n, int64_t ldx, float* y,
              int64_t ldy, int64_t r0) {
  int64_t t = 0;
  for (; t + 3 <= n; t += 3) Block<RB, 3>(w, cols, x, ldx, y, ldy, r0, t);
  for (; t < n; ++t) Block<RB, 1>(w, cols, x, ldx, y, ldy, r0, t);
}

}  // namespace

void GemmF32(const float* w, int64_t rows, int64_t cols, const float* x, int64_t n, int64_t ldx,
             float* y, int64_t ldy, ThreadPool* pool) {
  // Work items: blocks of 4 weight rows; activations in chunks that stay in cache.
  constexpr int64_t kTokenChunk = 64;
  const int64_t row_blocks = (rows + 3) / 4;
  const int64_t chunks = (n + kTokenChunk - 1) / kTokenChunk;
  pool->ParallelFor(row_blocks, [&](int64_t begin, int64_t end, int) {
    for (int64_t ch = 0; ch < chunks; ++ch) {
      const int64_t t0 = ch * kTokenChunk;
      const int64_t tn = std::min(kTokenChunk, n - t0);
      const float* xc = x + t0 * ldx;
      float* yc = y + t0 * ldy;
      for (int64_t b = begin; b < end; ++b) {
        const int64_t r0 = b * 4;
        if (r0 + 4 <= rows) {
          RowBlock<4>(w, cols, xc, tn, ldx, yc, ldy, r0);
        } else {
          for (int64_t r = r0; r < rows; ++r) RowBlock<1>(w, cols, xc, tn, ldx, yc, ldy, r);
        }
      }
    }
  });
}

}  // namespace jetserve::encoder
