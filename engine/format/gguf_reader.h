// GGUF reader: maps a .gguf file and exposes its metadata and tensors without copying.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> f, GgufFile::Open("model.gguf"));
//   absl::StatusOr<std::string_view> arch = f->GetString("general.architecture");
//   absl::StatusOr<int64_t> ctx = f->GetInt("llama.context_length");   // any integer type
//   absl::StatusOr<absl::Span<const std::string_view>> toks =
//       f->GetStringArray("tokenizer.ggml.tokens");
//   absl::StatusOr<std::vector<float>> scores = f->GetFloatArray("tokenizer.ggml.scores");
//   const GgufTensorInfo* t = f->FindTensor("blk.0.attn_q.weight");  // t->data: zero-copy
//
// Every count, length, offset, dimension and alignment is validated against the file size
// with overflow-checked arithmetic before use; a malformed file gives an InvalidArgument
// status naming the field and offset, never a crash or a large allocation. Views returned
// (string_view, spans) point into the mapping and live as long as the GgufFile.
#ifndef JETSERVE_ENGINE_FORMAT_GGUF_READER_H_
#define JETSERVE_ENGINE_FORMAT_GGUF_READER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/format/gguf_types.h"
#include "engine/util/mapped_file.h"

namespace jetserve {

// One metadata value. Scalars are decoded; arrays keep a view of their raw little-endian
// elements (numeric) or a list of string views (strings).
class GgufValue {
 public:
  GgufValueType type() const { return type_; }
  // For arrays: the element type and count.
  GgufValueType array_type() const { return array_type_; }
  uint64_t array_size() const { return array_size_; }

  bool is_integer() const;  // one of the (u)int8..64 types
  bool is_float() const {
    return type_ == GgufValueType::kFloat32 || type_ == GgufValueType::kFloat64;
  }

  // Raw scalar storage: integers widened (unsigned in `u64`, signed in `i64`), floats in
  // `f64` (their raw bits in `u64`), bools in `u64`. Prefer GgufFile's typed getters, which check
  // the type.
  uint64_t u64() const { return u64_; }
  int64_t i64() const { return i64_; }
  double f64() const { return f64_; }
  std::string_view str() const { return str_; }
  // Numeric array elements, raw little-endian bytes (unaligned).
  absl::Span<const uint8_t> array_bytes() const { return array_bytes_; }
  absl::Span<const std::string_view> string_array() const { return strings_; }

  // Element i of a numeric array as int64 / double (i < array_size()).
  int64_t ArrayIntAt(uint64_t i) const;
  uint64_t ArrayUintAt(uint64_t i) const;
  double ArrayFloatAt(uint64_t i) const;

 private:
  friend class GgufParser;
  GgufValueType type_ = GgufValueType::kUint8;
  GgufValueType array_type_ = GgufValueType::kUint8;
  uint64_t array_size_ = 0;
  uint64_t u64_ = 0;
  int64_t i64_ = 0;
  double f64_ = 0;
  std::string_view str_;
  absl::Span<const uint8_t> array_bytes_;
  std::vector<std::string_view> strings_;
};

struct GgufKeyValue {
  std::string_view key;
  GgufValue value;
};

struct GgufTensorInfo {
  std::string_view name;
  GgmlType type;
  std::vector<int64_t> dims;  // ne[0] (innermost, contiguous) first; 1 to 4 entries
  uint64_t offset = 0;        // relative to the data section, as stored in the file
  uint64_t file_offset = 0;   // absolute offset in the file
  int64_t num_elements = 0;
  absl::Span<const uint8_t> data;  // zero-copy view of the tensor's bytes

  int64_t dim(int i) const { return i < static_cast<int>(dims.size()) ? dims[i] : 1; }
  // Rows when seen as a 2-D matrix [num_elements / ne0, ne0].
  int64_t num_rows() const { return dims.empty() || dims[0] == 0 ? 0 : num_elements / dims[0]; }
};

class GgufFile {
 public:
  // Maps and validates the file. Errors are prefixed with the path.
  static absl::StatusOr<std::unique_ptr<GgufFile>> Open(const std::string& path);
  // Parses a buffer the caller keeps alive for the life of the result (tests, in-memory).
  static absl::StatusOr<std::unique_ptr<GgufFile>> FromBuffer(absl::Span<const uint8_t> bytes);

  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // start of the tensor data section
  absl::Span<const uint8_t> bytes() const { return bytes_; }

  // All key/values in file order.
  absl::Span<const GgufKeyValue> metadata() const { return kvs_; }
  const GgufValue* Find(std::string_view key) const;
  bool Has(std::string_view key) const { return Find(key) != nullptr; }

  // Typed getters: NotFound when the key is absent, InvalidArgument when the stored type
  // does not fit (an integer getter accepts every integer type whose value fits).
  absl::StatusOr<std::string_view> GetString(std::string_view key) const;
  absl::StatusOr<int64_t> GetInt(std::string_view key) const;
  absl::StatusOr<uint64_t> GetUint(std::string_view key) const;
  absl::StatusOr<double> GetFloat(std::string_view key) const;  // FLOAT32/FLOAT64
  absl::StatusOr<bool> GetBool(std::string_view key) const;
  absl::StatusOr<absl::Span<const std::string_view>> GetStringArray(std::string_view key) const;
  // Copies of numeric arrays (the file's elements are not necessarily aligned).
  absl::StatusOr<std::vector<int64_t>> GetIntArray(std::string_view key) const;
  absl::StatusOr<std::vector<float>> GetFloatArray(std::string_view key) const;

  absl::Span<const GgufTensorInfo> tensors() const { return tensors_; }
  // Drops the resident pages inside range (tensor bytes copied elsewhere) when the file is
  // mapped (MappedFile::ReleasePages); nothing for FromBuffer files.
  void ReleasePages(absl::Span<const uint8_t> range) const {
    if (mapping_ != nullptr) mapping_->ReleasePages(range);
  }
  const GgufTensorInfo* FindTensor(std::string_view name) const;

 private:
  friend class GgufParser;
  GgufFile() = default;

  std::unique_ptr<MappedFile> mapping_;  // null for FromBuffer
  absl::Span<const uint8_t> bytes_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<GgufKeyValue> kvs_;
  absl::flat_hash_map<std::string_view, size_t> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  absl::flat_hash_map<std::string_view, size_t> tensor_index_;
};

}  // namespace jetserve

#endif  // JETSERVE_ENGINE_FORMAT_GGUF_READER_H_
