// GGUF writer (version 3, little-endian): metadata key/values plus tensors, laid out with the
// file's alignment. Used by tests, the quantize and gen-model tools.
//
//   GgufWriter w;
//   w.SetString("general.architecture", "llama");
//   w.SetUint32("llama.block_count", 2);
//   RETURN_IF_ERROR(w.AddTensor("token_embd.weight", GgmlType::kF32, {64, 100}, bytes));
//   RETURN_IF_ERROR(w.WriteFile("out.gguf"));
//
// Tensor data passed as a span is borrowed (the caller keeps it alive until WriteFile);
// passed as a vector it is owned. Setting a key twice replaces the value in place.
#ifndef JETSERVE_ENGINE_FORMAT_GGUF_WRITER_H_
#define JETSERVE_ENGINE_FORMAT_GGUF_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/format/gguf_reader.h"
#include "engine/format/gguf_types.h"

namespace jetserve {

class GgufWriter {
 public:
  // alignment: a power of two; other than 32 it is stored as general.alignment.
  explicit GgufWriter(uint32_t alignment = kGgufDefaultAlignment);

  void SetUint8(std::string_view key, uint8_t v);
  void SetInt8(std::string_view key, int8_t v);
  void SetUint16(std::string_view key, uint16_t v);
  void SetInt16(std::string_view key, int16_t v);
  void SetUint32(std::string_view key, uint32_t v);
  void SetInt32(std::string_view key, int32_t v);
  void SetUint64(std::string_view key, uint64_t v);
  void SetInt64(std::string_view key, int64_t v);
  void SetFloat32(std::string_view key, float v);
  void SetFloat64(std::string_view key, double v);
  void SetBool(std::string_view key, bool v);
  void SetString(std::string_view key, std::string_view v);
  void SetStringArray(std::string_view key, absl::Span<const std::string_view> v);
  void SetStringArray(std::string_view key, absl::Span<const std::string> v);
  void SetInt32Array(std::string_view key, absl::Span<const int32_t> v);
  void SetUint32Array(std::string_view key, absl::Span<const uint32_t> v);
  void SetInt64Array(std::string_view key, absl::Span<const int64_t> v);
  void SetFloat32Array(std::string_view key, absl::Span<const float> v);
  // Copies a value read by GgufFile (any type, arrays included) unchanged.
  void SetValue(std::string_view key, const GgufValue& v);
  bool Remove(std::string_view key);

  // Adds a tensor. dims: ne[0] first, 1 to 4 of them; data must be exactly the tensor's
  // byte size for its type. Fails on a duplicate name or a size mismatch.
  absl::Status AddTensor(std::string_view name, GgmlType type, absl::Span<const int64_t> dims,
                         absl::Span<const uint8_t> data);
  absl::Status AddTensor(std::string_view name, GgmlType type, absl::Span<const int64_t> dims,
                         std::vector<uint8_t> owned_data);

  // The whole file in memory.
  std::vector<uint8_t> Serialize() const;
  // Streams the file to disk.
  absl::Status WriteFile(const std::string& path) const;

 private:
  struct Kv {
    std::string key;
    GgufValueType type;
    std::vector<uint8_t> payload;  // encoded value, without the type tag
  };
  struct Tensor {
    std::string name;
    GgmlType type;
    std::vector<int64_t> dims;
    std::vector<uint8_t> owned;
    absl::Span<const uint8_t> data;
    uint64_t offset = 0;
  };

  void Put(std::string_view key, GgufValueType type, std::vector<uint8_t> payload);
  std::vector<uint8_t> Header() const;  // everything before the data section, padded

  uint32_t alignment_;
  std::vector<Kv> kvs_;
  absl::flat_hash_map<std::string, size_t> kv_index_;
  std::vector<Tensor> tensors_;
  absl::flat_hash_map<std::string, size_t> tensor_index_;
  uint64_t data_size_ = 0;
};

}  // namespace jetserve

#endif  // JETSERVE_ENGINE_FORMAT_GGUF_WRITER_H_
