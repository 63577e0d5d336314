// Dequantization of GGUF tensor types to float: one row at a time (the hot path's unit) or a
// whole tensor. Results are bit-exact with the `gguf` Python package's reference
// (gguf.quants.dequantize), which follows ggml's scalar code.
//
//   std::vector<float> row(n);
//   RETURN_IF_ERROR(quant::DequantizeRow(GgmlType::kQ4_K, src_bytes, row.data(), n));
#ifndef JETSERVE_ENGINE_QUANT_DEQUANTIZE_H_
#define JETSERVE_ENGINE_QUANT_DEQUANTIZE_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/format/gguf_types.h"

namespace jetserve::quant {

// n elements (a multiple of the type's block size) from the type's blocks at src.
using DequantizeRowFn = void (*)(const void* src, float* dst, int64_t n);

// The row function for a type, or nullptr if the engine cannot dequantize it.
DequantizeRowFn GetDequantizeRowFn(GgmlType type);

// Checked wrapper: fails for an unsupported type or n not a multiple of the block size.
absl::Status DequantizeRow(GgmlType type, const void* src, float* dst, int64_t n);

// Dequantizes raw tensor bytes holding `n` elements; checks the byte count.
absl::StatusOr<std::vector<float>> DequantizeBytes(GgmlType type, absl::Span<const uint8_t> bytes,
                                                   int64_t n);

}  // namespace jetserve::quant

#endif  // JETSERVE_ENGINE_QUANT_DEQUANTIZE_H_
