// Quantization of float rows to GGUF tensor types.
//
// Legacy types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) reproduce ggml's reference quantizers to the
// bit (as mirrored by the `gguf` Python package). The k-quants (Q2_K..Q6_K) use our own
// least-squares scale search, with RMSE no worse than llama.cpp's reference quantizer
// (tests/oracles/gguf/kquant_rmse_reference.py measures it). Q8_K is the activation type of
// the k-quant dot products.
//
//   std::vector<uint8_t> out(RowBytes(GgmlType::kQ4_K, n));
//   RETURN_IF_ERROR(quant::QuantizeRow(GgmlType::kQ4_K, x, out.data(), n));
#ifndef JETSERVE_ENGINE_QUANT_QUANTIZE_H_
#define JETSERVE_ENGINE_QUANT_QUANTIZE_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/format/gguf_types.h"

namespace jetserve::quant {

// n elements (a multiple of the block size) into the type's blocks at dst.
using QuantizeRowFn = void (*)(const float* src, void* dst, int64_t n);

// The row quantizer of a type, or nullptr if the engine cannot quantize to it.
QuantizeRowFn GetQuantizeRowFn(GgmlType type);

// Bytes of a row of n elements (n a multiple of the block size), 0 for an unknown type.
uint64_t RowBytes(GgmlType type, int64_t n);

absl::Status QuantizeRow(GgmlType type, const float* src, void* dst, int64_t n);
// Quantizes a whole tensor's floats (n a multiple of the block size).
absl::StatusOr<std::vector<uint8_t>> QuantizeFloats(GgmlType type, absl::Span<const float> src);

// Quantizes a matrix of rows of n_per_row elements, splitting the rows over `threads`
// threads (<= 0: the hardware's thread count). For tools (quantize, gen-model).
absl::StatusOr<std::vector<uint8_t>> QuantizeMatrix(GgmlType type, absl::Span<const float> src,
                                                    int64_t n_per_row, int threads);

// The activation quantizer of a dot type (F32: a copy; Q8_0, Q8_1, Q8_K), or nullptr.
// These are ggml's x86 CPU quantizers to the bit, so that our matrix products see the same
// 8-bit activations as llama.cpp's: Q8_0/Q8_1 take d = amax / 127, multiply by 127 / amax
// and round half to even (Q8_1 also stores s = d * sum(q) with d unrounded); Q8_K maps the
// element of largest magnitude to -127 (iscale = -127 / max, d = 1 / iscale).
QuantizeRowFn GetActivationQuantizer(GgmlType dot_type);

// Per-type row quantizers, also used by the kernel table. QuantizeRowQ8_0 is the file
// quantizer (ggml's reference: round half away from zero, 1 / d); Q8_K has only one.
void QuantizeRowQ8_0(const float* src, void* dst, int64_t n);
void QuantizeActivationQ8_0(const float* src, void* dst, int64_t n);
void QuantizeActivationQ8_1(const float* src, void* dst, int64_t n);
void QuantizeRowQ8_K(const float* src, void* dst, int64_t n);
void QuantizeRowQ2_K(const float* src, void* dst, int64_t n);
void QuantizeRowQ3_K(const float* src, void* dst, int64_t n);
void QuantizeRowQ4_K(const float* src, void* dst, int64_t n);
void QuantizeRowQ5_K(const float* src, void* dst, int64_t n);
void QuantizeRowQ6_K(const float* src, void* dst, int64_t n);

}  // namespace jetserve::quant

#endif  // JETSERVE_ENGINE_QUANT_QUANTIZE_H_
