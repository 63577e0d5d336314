// The decoder's scalar building blocks: norms, RoPE, activations, softmax, and the
// matrix product of a (possibly quantized) weight matrix with a block of activation rows.
// Each output element has a fixed reduction order, independent of how many rows are
// processed together or which thread computes it, so batching never changes results.
// Numerics follow ggml's CPU ops (double accumulation in norms, RoPE angles by repeated
// multiplication) to stay close to llama.cpp.
#ifndef JETSERVE_ENGINE_MODEL_OPS_H_
#define JETSERVE_ENGINE_MODEL_OPS_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "engine/model/weights.h"
#include "engine/util/thread_pool.h"

namespace jetserve::model {

// out = x / rms(x) * w  (w may be empty: no weight). In place allowed.
void RmsNorm(const float* x, const float* w, int64_t n, float eps, float* out);
// out = (x - mean) / sqrt(var + eps) * w + b  (b may be empty).
void LayerNorm(const float* x, const float* w, const float* b, int64_t n, float eps, float* out);

struct RopeParams {
  int64_t dims;  // rotated dimensions (<= head size, even)
  float freq_base;
  float freq_scale;           // linear scaling: angle *= freq_scale
  const float* freq_factors;  // [dims/2] divisors or nullptr
  bool neox;                  // rotate (x[i], x[i+dims/2]) instead of (x[2i], x[2i+1])
};
// Rotates one head vector in place at position pos.
void Rope(float* x, int64_t pos, const RopeParams& p);
// Rope in two steps, for the many heads of one position: the position's cosines and sines
// (cos_sin[2i], cos_sin[2i + 1] for i < dims / 2), then one head rotated by them. The pair
// gives Rope's bits.
void RopeAngles(int64_t pos, const RopeParams& p, float* cos_sin);
void RopeRotate(float* x, const float* cos_sin, const RopeParams& p);

// e^x as ggml's CPU backend computes it in its vector ops (ggml_v_expf, AVX-512 form: a
// degree-5 polynomial on a range-reduced argument, scaled by 2^n): within 1.5 ulp of expf,
// used where llama.cpp uses it (softmax, SiLU) so that our results match its to the bit.
float ExpGgml(float x);
// x / (1 + e^-x) with ExpGgml, as ggml's vector SiLU.
float Silu(float x);
float GeluExact(float x);  // tanh approximation
float Gelu(float x);       // GeluExact through ggml's fp16 table (what llama.cpp computes)

// In-place softmax over n values.
void Softmax(float* x, int64_t n);

// Attention's reductions in the order llama.cpp's CPU path (AVX-512 build, KV cache padded
// to a multiple of 256 cells, masked cells zero) computes them.
// 16 lanes combined as _mm512_reduce_add_ps combines them.
float ReduceLanes16(const float (&v)[16]);
// 64 lanes (four vectors of 16) combined as ggml_vec_dot_f32 combines its accumulators.
float ReduceLanes64(const float (&v)[64]);
// ggml_vec_dot_f32: element i of each 64-element step fused into lane i % 64, the lanes
// reduced (ReduceLanes64), elements past the last full step added in double.
float DotF32Ggml(const float* a, const float* b, int64_t n);
// Softmax of the scores x[0..n) of cells first..first+n-1: ExpGgml, lanes of 16 cells summed
// per 16-cell chunk in float and across chunks in double, then scaled by float(1 / sum).
void AttentionSoftmax(float* x, int64_t n, int64_t first);

// x[i] = Silu(x[i]) * g[i] for i < n (the gated feed-forward's product).
void SiluMul(float* x, const float* g, int64_t n);

// Consecutive cache cells of one head whose keys (values) lie k_stride (v_stride) floats
// apart: one KV block's share of a sequence.
struct KvRun {
  const float* k;
  const float* v;
  int64_t n;
};

// One query head attending over its cells, the runs in cell order:
//   scores[i] = dot(key_i, q) * scale, softmax (AttentionSoftmax, cells numbered from
//   `first`), out = the values weighted by the scores, as llama.cpp sums them (cell
//   first + i in lane (first + i) % 64, ReduceLanes64).
struct AttendArgs {
  const float* q;
  int64_t head_dim;
  float scale;
  absl::Span<const KvRun> runs;
  int64_t k_stride, v_stride;
  int64_t dv;     // value dimensions
  int64_t first;  // number of the first cell
  // Scratch the caller provides (n = cells in all runs): scores[n], lanes[64 * dv],
  // value_rows[n].
  float* scores;
  float* lanes;
  const float** value_rows;
  float* out;  // [dv]
};

// The attention kernels in one table: the portable functions above, or a SIMD build of the
// same steps (x86 AVX2+FMA) that gives the same bits, chosen for the CPU at run time.
struct AttentionKernels {
  const char* name;
  float (*dot)(const float* a, const float* b, int64_t n);  // DotF32Ggml
  void (*softmax)(float* x, int64_t n, int64_t first);      // AttentionSoftmax
  // lanes[lane * dim + i] = fma(v[i], s, lanes[lane * dim + i]) for i < dim.
  void (*accumulate)(float* lanes, int64_t lane, const float* v, float s, int64_t dim);
  // out[i] = ReduceLanes64 of lanes[l * dim + i] over l < 64.
  void (*reduce)(const float* lanes, int64_t dim, float* out);
  void (*silu_mul)(float* x, const float* g, int64_t n);  // SiluMul
  // The whole of one head's attention, fused (AttendWith's bits, fewer passes over memory).
  void (*attend)(const AttendArgs& args);
};
// One head's attention composed of k's dot, softmax, accumulate and reduce steps: the
// definition every build's `attend` reproduces bit for bit.
void AttendWith(const AttentionKernels& k, const AttendArgs& args);
const AttentionKernels& GetAttentionKernels();
// Every build this CPU runs, the portable one first (tests compare them).
std::vector<const AttentionKernels*> SupportedAttentionKernels();

// Bytes of scratch MatMul needs for n activation rows of w.cols inputs.
uint64_t MatMulScratchBytes(const MatrixView& w, int64_t n);
// y[t * ldy + r] = sum_c W[r][c] * x[t * ldx + c] for t < n, r < w.rows. The activation
// rows are converted once to the weight type's dot type in `scratch` (at least
// MatMulScratchBytes), then each weight row is read once for all n rows.
void MatMul(const MatrixView& w, const float* x, int64_t n, int64_t ldx, float* y, int64_t ldy,
            uint8_t* scratch, ThreadPool* pool);

// One matrix of a MatMuls call: y[t * ldy + r] = sum_c W[r][c] * x[t * ldx + c].
struct MatMulOutput {
  const MatrixView* w;
  float* y;
  int64_t ldy;
};
// Several matrices of the same input width applied to the same activation rows (the q, k, v
// or gate, up projections): the rows converted once and one parallel pass over all the
// matrices' rows when they share a dot type, else one MatMul each. Same results as MatMul.
void MatMuls(absl::Span<const MatMulOutput> outs, const float* x, int64_t n, int64_t ldx,
             uint8_t* scratch, ThreadPool* pool);

// Dequantizes row r of a matrix into out[w.cols] (embedding lookup).
void GetRow(const MatrixView& w, int64_t r, float* out);

}  // namespace jetserve::model

#endif  // JETSERVE_ENGINE_MODEL_OPS_H_
