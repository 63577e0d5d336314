// Fused dequantize-dot kernels: the dot product of one quantized weight row with one
// activation row, without materialising the dequantized row. The hot path's matrix-vector
// products are built from these.
//
// Each weight type names the type its activations are quantized to (`vec_dot_type`, as in
// ggml): Q8_0 for Q4_0/Q5_0/Q8_0, Q8_1 for Q4_1/Q5_1, Q8_K for the k-quants, F32 for the
// float types. The quantizers and the float summation order are ggml's x86 CPU kernels'
// (see vec_dot_kernels.h), so results match llama.cpp's and do not depend on the CPU.
// The exception: a type whose kernel variant has a packed tile (packed_tile; Q4_0 with
// AVX-512 VNNI) is packed at load and summed in the packed order (packed.h) instead, on that
// CPU, for every batch.
// The caller quantizes the activation row once with `quantize_activation` and reuses it for
// every weight row:
//
//   const TypeKernels& k = *GetTypeKernels(GgmlType::kQ4_K);
//   std::vector<uint8_t> yq(RowBytes(k.vec_dot_type, n));
//   k.quantize_activation(y, yq.data(), n);
//   for (row...) out[row] = k.vec_dot(n, w_row_ptr, yq.data());
//
#ifndef JETSERVE_ENGINE_QUANT_VEC_DOT_H_
#define JETSERVE_ENGINE_QUANT_VEC_DOT_H_

#include <cstdint>
#include <span>

#include "engine/format/gguf_types.h"
#include "engine/quant/dequantize.h"
#include "engine/quant/packed.h"
#include "engine/quant/quantize.h"

namespace jetserve::quant {

// Dot of n elements of a weight row x (its type's blocks) and an activation row y (blocks of
// the vec_dot_type).
using VecDotFn = float (*)(int64_t n, const void* x, const void* y);
// Dot of a weight row with a float activation row (no activation quantization).
using VecDotF32Fn = float (*)(int64_t n, const void* x, const float* y);
// Dots of one weight row x with `rows` activation rows (row t at y + t * y_stride bytes):
// out[t * out_stride] is the value vec_dot gives for row t alone, to the bit, so results do
// not depend on which rows are batched together. Reads each weight block once for several
// rows (the batched matrix product's inner kernel).
using VecDotRowsFn = void (*)(int64_t n, const void* x, const void* y, uint64_t y_stride,
                              int64_t rows, float* out, int64_t out_stride);
// A tile of the matrix product: weight rows r < x_rows (row r at x + r * x_stride bytes)
// against activation rows t < rows; out[t * out_stride + r] has vec_dot's bits for (r, t).
// Per-row activation scales are converted once per tile, not once per weight row.
using VecDotTileFn = void (*)(int64_t n, const void* x, uint64_t x_stride, int64_t x_rows,
                              const void* y, uint64_t y_stride, int64_t rows, float* out,
                              int64_t out_stride);
// A tile over packed weights (packed.h): groups g < x_groups of kPackRows rows (group g at
// x + g * PackedGroupBytes(type, n)) against activation rows t < rows (row t's blocks at
// y + t * y_stride, its PreparePackedActivation table at table + t * (n / 32));
// out[t * out_stride + g * kPackRows + l] is weight row g * kPackRows + l's product, in the
// packed summation order.
// (VecDotPackedFn is declared in packed.h.)

struct TypeKernels {
  GgmlType type;
  GgmlType vec_dot_type;
  DequantizeRowFn to_float;
  QuantizeRowFn from_float;           // nullptr if the engine cannot quantize to `type`
  QuantizeRowFn quantize_activation;  // float -> vec_dot_type
  VecDotFn vec_dot;
  VecDotF32Fn vec_dot_f32;
  VecDotRowsFn vec_dot_rows;
  VecDotTileFn vec_dot_tile;
  VecDotPackedFn packed_tile;  // nullptr: this variant has no packed kernel for the type
};

// One compiled variant of the kernels (an instruction-set level) that this CPU runs.
struct KernelVariant {
  const char* name;  // "baseline", "x86-avx2", "x86-avx512vnni"
  const TypeKernels* (*get)(GgmlType type);
};

// Kernels of a weight type, or nullptr if the engine cannot compute with it. The fastest
// variant this CPU runs; every variant gives the same bits.
const TypeKernels* GetTypeKernels(GgmlType type);
// The portable build of the same kernels (tests compare the variants against it).
const TypeKernels* GetBaselineTypeKernels(GgmlType type);
// Every variant this CPU can run, the baseline first (tests compare them all with it).
std::span<const KernelVariant> SupportedKernelVariants();

}  // namespace jetserve::quant

#endif  // JETSERVE_ENGINE_QUANT_VEC_DOT_H_
