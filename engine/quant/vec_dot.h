// Fused dequantize-dot kernels: the dot product of one quantized weight row with one
// activation row, without materialising the dequantized row. The hot path's matrix-vector
// products are built from these.
//
// Each weight type names the type its activations are quantized to (`vec_dot_type`, as in
// ggml): Q8_0 for Q4_0/Q5_0/Q8_0, Q8_1 for Q4_1/Q5_1, Q8_K for the k-quants, F32 for the
// float types. The quantizers and the float summation order are ggml's x86 CPU kernels'
// (see vec_dot_kernels.h), so results match llama.cpp's and do not depend on the CPU.
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

#include "engine/format/gguf_types.h"
#include "engine/quant/dequantize.h"
#include "engine/quant/quantize.h"

namespace jetserve::quant {

// Dot of n elements of a weight row x (its type's blocks) and an activation row y (blocks of
// the vec_dot_type).
using VecDotFn = float (*)(int64_t n, const void* x, const void* y);
// Dot of a weight row with a float activation row (no activation quantization).
using VecDotF32Fn = float (*)(int64_t n, const void* x, const float* y);

struct TypeKernels {
  GgmlType type;
  GgmlType vec_dot_type;
  DequantizeRowFn to_float;
  QuantizeRowFn from_float;           // nullptr if the engine cannot quantize to `type`
  QuantizeRowFn quantize_activation;  // float -> vec_dot_type
  VecDotFn vec_dot;
  VecDotF32Fn vec_dot_f32;
};

// Kernels of a weight type, or nullptr if the engine cannot compute with it. The fastest
// variant this CPU runs; every variant gives the same bits.
const TypeKernels* GetTypeKernels(GgmlType type);
// The portable build of the same kernels (tests compare the variants against it).
const TypeKernels* GetBaselineTypeKernels(GgmlType type);

}  // namespace jetserve::quant

#endif  // JETSERVE_ENGINE_QUANT_VEC_DOT_H_
