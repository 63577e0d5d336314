// GGUF enums and the tensor-type table (block size and bytes per block for every ggml type),
// shared by the reader, the writer and the quantization code.
//
// Type ids and sizes follow the GGUF specification (ggml's `ggml_type`); a type the engine
// cannot compute with is still readable, its bytes are just opaque to it.
#ifndef JETSERVE_ENGINE_FORMAT_GGUF_TYPES_H_
#define JETSERVE_ENGINE_FORMAT_GGUF_TYPES_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace jetserve {

inline constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as little-endian uint32
inline constexpr uint32_t kGgufDefaultAlignment = 32;
inline constexpr int kGgufMaxDims = 4;

enum class GgufValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

// Name as in the spec ("UINT32", "STRING"...), or "invalid" for an unknown value.
std::string_view GgufValueTypeName(GgufValueType type);
bool IsValidGgufValueType(uint32_t raw);
// Size in bytes of a scalar of this type; 0 for STRING and ARRAY.
uint32_t GgufScalarSize(GgufValueType type);

enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ2_XXS = 16,
  kIQ2_XS = 17,
  kIQ3_XXS = 18,
  kIQ1_S = 19,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ2_S = 22,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kIQ1_M = 29,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
};

struct GgmlTypeTraits {
  std::string_view name;  // "Q4_K"
  uint32_t block_size;    // elements per block
  uint32_t type_size;     // bytes per block
};

// Traits of a known type id, or nullopt for an id that no ggml type has.
std::optional<GgmlTypeTraits> GetGgmlTypeTraits(uint32_t raw_type);
inline std::optional<GgmlTypeTraits> GetGgmlTypeTraits(GgmlType type) {
  return GetGgmlTypeTraits(static_cast<uint32_t>(type));
}
std::string_view GgmlTypeName(GgmlType type);
// Parses a type name such as "Q4_K" or "f16" (case-insensitive).
std::optional<GgmlType> ParseGgmlType(std::string_view name);

// Bytes taken by a tensor of the given type and dimensions (ne[0] innermost). Fails if
// ne[0] is not a multiple of the block size, a dimension is negative or the size overflows.
absl::StatusOr<uint64_t> GgmlTensorBytes(GgmlType type, absl::Span<const int64_t> dims);

}  // namespace jetserve

#endif  // JETSERVE_ENGINE_FORMAT_GGUF_TYPES_H_
