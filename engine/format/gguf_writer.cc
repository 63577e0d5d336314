#include "engine/format/gguf_writer.h"

#include <bit>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/util/checked_math.h"
#include "engine/util/string_view_compat.h"

namespace jetserve {

static_assert(std::endian::native == std::endian::little, "GGUF I/O assumes a little-endian host");
namespace {

template <typename T>
void AppendLE(std::vector<uint8_t>* out, T v) {
  const size_t at = out->size();
  out->resize(at + sizeof(T));
  std::memcpy(out->data() + at, &v, sizeof(T));
}

void AppendString(std::vector<uint8_t>* out, std::string_view s) {
  AppendLE<uint64_t>(out, s.size());
  out->insert(out->end(), s.begin(), s.end());
}

template <typename T>
std::vector<uint8_t> Scalar(T v) {
  std::vector<uint8_t> p;
  AppendLE(&p, v);
  return p;
}

template <typename T>
std::vector<uint8_t> NumericArray(GgufValueType elem, absl::Span<const T> v) {
  std::vector<uint8_t> p;
  AppendLE<uint32_t>(&p, static_cast<uint32_t>(elem));
  AppendLE<uint64_t>(&p, v.size());
  for (T x : v) AppendLE(&p, x);
  return p;
}

}  // namespace

GgufWriter::GgufWriter(uint32_t alignment)
    : alignment_(IsPowerOfTwo(alignment) ? alignment : kGgufDefaultAlignment) {
  if (alignment_ != kGgufDefaultAlignment) SetUint32("general.alignment", alignment_);
}

void GgufWriter::Put(std::string_view key, GgufValueType type, std::vector<uint8_t> payload) {
  auto it = kv_index_.find(Sv(key));
  if (it != kv_index_.end()) {
    kvs_[it->second].type = type;
    kvs_[it->second].payload = std::move(payload);
    return;
  }
  kv_index_.emplace(std::string(key), kvs_.size());
  kvs_.push_back({std::string(key), type, std::move(payload)});
}

bool GgufWriter::Remove(std::string_view key) {
  auto it = kv_index_.find(Sv(key));
  if (it == kv_index_.end()) return false;
  kvs_.erase(kvs_.begin() + static_cast<ptrdiff_t>(it->second));
  kv_index_.clear();
  for (size_t i = 0; i < kvs_.size(); ++i) kv_index_.emplace(kvs_[i].key, i);
  return true;
}

void GgufWriter::SetUint8(std::string_view k, uint8_t v) {
  Put(k, GgufValueType::kUint8, Scalar(v));
}
void GgufWriter::SetInt8(std::string_view k, int8_t v) { Put(k, GgufValueType::kInt8, Scalar(v)); }
void GgufWriter::SetUint16(std::string_view k, uint16_t v) {
  Put(k, GgufValueType::kUint16, Scalar(v));
}
void GgufWriter::SetInt16(std::string_view k, int16_t v) {
  Put(k, GgufValueType::kInt16, Scalar(v));
}
void GgufWriter::SetUint32(std::string_view k, uint32_t v) {
  Put(k, GgufValueType::kUint32, Scalar(v));
}
void GgufWriter::SetInt32(std::string_view k, int32_t v) {
  Put(k, GgufValueType::kInt32, Scalar(v));
}
void GgufWriter::SetUint64(std::string_view k, uint64_t v) {
  Put(k, GgufValueType::kUint64, Scalar(v));
}
void GgufWriter::SetInt64(std::string_view k, int64_t v) {
  Put(k, GgufValueType::kInt64, Scalar(v));
}
void GgufWriter::SetFloat32(std::string_view k, float v) {
  Put(k, GgufValueType::kFloat32, Scalar(std::bit_cast<uint32_t>(v)));
}
void GgufWriter::SetFloat64(std::string_view k, double v) {
  Put(k, GgufValueType::kFloat64, Scalar(std::bit_cast<uint64_t>(v)));
}
void GgufWriter::SetBool(std::string_view k, bool v) {
  Put(k, GgufValueType::kBool, Scalar<uint8_t>(v ? 1 : 0));
}
void GgufWriter::SetString(std::string_view k, std::string_view v) {
  std::vector<uint8_t> p;
  AppendString(&p, v);
  Put(k, GgufValueType::kString, std::move(p));
}
void GgufWriter::SetStringArray(std::string_view k, absl::Span<const std::string_view> v) {
  std::vector<uint8_t> p;
  AppendLE<uint32_t>(&p, static_cast<uint32_t>(GgufValueType::kString));
  AppendLE<uint64_t>(&p, v.size());
  for (std::string_view s : v) AppendString(&p, s);
  Put(k, GgufValueType::kArray, std::move(p));
}
void GgufWriter::SetStringArray(std::string_view k, absl::Span<const std::string> v) {
  std::vector<std::string_view> views(v.begin(), v.end());
  SetStringArray(k, absl::MakeConstSpan(views));
}
void GgufWriter::SetInt32Array(std::string_view k, absl::Span<const int32_t> v) {
  Put(k, GgufValueType::kArray, NumericArray(GgufValueType::kInt32, v));
}
void GgufWriter::SetUint32Array(std::string_view k, absl::Span<const uint32_t> v) {
  Put(k, GgufValueType::kArray, NumericArray(GgufValueType::kUint32, v));
}
void GgufWriter::SetInt64Array(std::string_view k, absl::Span<const int64_t> v) {
  Put(k, GgufValueType::kArray, NumericArray(GgufValueType::kInt64, v));
}
void GgufWriter::SetFloat32Array(std::string_view k, absl::Span<const float> v) {
  std::vector<uint32_t> bits(v.size());
  for (size_t i = 0; i < v.size(); ++i) bits[i] = std::bit_cast<uint32_t>(v[i]);
  Put(k, GgufValueType::kArray,
      NumericArray(GgufValueType::kFloat32, absl::Span<const uint32_t>(bits)));
}

void GgufWriter::SetValue(std::string_view k, const GgufValue& v) {
  std::vector<uint8_t> p;
  switch (v.type()) {
    case GgufValueType::kString:
      AppendString(&p, v.str());
      break;
    case GgufValueType::kArray:
      AppendLE<uint32_t>(&p, static_cast<uint32_t>(v.array_type()));
      AppendLE<uint64_t>(&p, v.array_size());
      if (v.array_type() == GgufValueType::kString) {
        for (std::string_view s : v.string_array()) AppendString(&p, s);
      } else {
        p.insert(p.end(), v.array_bytes().begin(), v.array_bytes().end());
      }
      break;
    default: {
      const uint32_t size = GgufScalarSize(v.type());
      const uint64_t raw = v.u64();  // floats: their raw bits
      for (uint32_t i = 0; i < size; ++i) p.push_back(static_cast<uint8_t>(raw >> (8 * i)));
    }
  }
  Put(k, v.type(), std::move(p));
}

absl::Status GgufWriter::AddTensor(std::string_view name, GgmlType type,
                                   absl::Span<const int64_t> dims, absl::Span<const uint8_t> data) {
  if (name.empty()) return absl::InvalidArgumentError("tensor name is empty");
  if (tensor_index_.contains(Sv(name))) {
    return absl::AlreadyExistsError(absl::StrCat("tensor '", Sv(name), "' added twice"));
  }
  if (dims.empty() || dims.size() > kGgufMaxDims) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", Sv(name), "': ", dims.size(), " dimensions, need 1 to 4"));
  }
  absl::StatusOr<uint64_t> bytes = GgmlTensorBytes(type, dims);
  if (!bytes.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", Sv(name), "': ", bytes.status().message()));
  }
  if (*bytes != data.size()) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", Sv(name), "': ", data.size(),
                                                   " bytes given, ", Sv(GgmlTypeName(type)),
                                                   " shape needs ", *bytes));
  }
  Tensor t;
  t.name = std::string(name);
  t.type = type;
  t.dims.assign(dims.begin(), dims.end());
  t.data = data;
  if (!CheckedAlignUp(data_size_, alignment_, &t.offset)) {
    return absl::ResourceExhaustedError("data section too large");
  }
  data_size_ = t.offset + data.size();
  tensor_index_.emplace(t.name, tensors_.size());
  tensors_.push_back(std::move(t));
  return absl::OkStatus();
}

absl::Status GgufWriter::AddTensor(std::string_view name, GgmlType type,
                                   absl::Span<const int64_t> dims,
                                   std::vector<uint8_t> owned_data) {
  absl::Status s = AddTensor(name, type, dims, absl::Span<const uint8_t>(owned_data));
  if (!s.ok()) return s;
  Tensor& t = tensors_.back();
  t.owned = std::move(owned_data);  // the vector's buffer does not move
  t.data = t.owned;
  return absl::OkStatus();
}

std::vector<uint8_t> GgufWriter::Header() const {
  std::vector<uint8_t> h;
  AppendLE<uint32_t>(&h, kGgufMagic);
  AppendLE<uint32_t>(&h, 3);
  AppendLE<uint64_t>(&h, tensors_.size());
  AppendLE<uint64_t>(&h, kvs_.size());
  for (const Kv& kv : kvs_) {
    AppendString(&h, kv.key);
    AppendLE<uint32_t>(&h, static_cast<uint32_t>(kv.type));
    h.insert(h.end(), kv.payload.begin(), kv.payload.end());
  }
  for (const Tensor& t : tensors_) {
    AppendString(&h, t.name);
    AppendLE<uint32_t>(&h, static_cast<uint32_t>(t.dims.size()));
    for (int64_t d : t.dims) AppendLE<uint64_t>(&h, static_cast<uint64_t>(d));
    AppendLE<uint32_t>(&h, static_cast<uint32_t>(t.type));
    AppendLE<uint64_t>(&h, t.offset);
  }
  h.resize((h.size() + alignment_ - 1) / alignment_ * alignment_, 0);
  return h;
}

std::vector<uint8_t> GgufWriter::Serialize() const {
  std::vector<uint8_t> out = Header();
  const size_t base = out.size();
  out.resize(base + data_size_, 0);
  for (const Tensor& t : tensors_) {
    if (!t.data.empty()) std::memcpy(out.data() + base + t.offset, t.data.data(), t.data.size());
  }
  return out;
}

absl::Status GgufWriter::WriteFile(const std::string& path) const {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    return absl::PermissionDeniedError(absl::StrCat("cannot create '", path, "'"));
  }
  std::vector<uint8_t> header = Header();
  bool ok = std::fwrite(header.data(), 1, header.size(), f) == header.size();
  uint64_t written = 0;
  static const uint8_t kZeros[64] = {};
  for (const Tensor& t : tensors_) {
    while (ok && written < t.offset) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(sizeof(kZeros), t.offset - written));
      ok = std::fwrite(kZeros, 1, n, f) == n;
      written += n;
    }
    if (ok && !t.data.empty())
      ok = std::fwrite(t.data.data(), 1, t.data.size(), f) == t.data.size();
    written += t.data.size();
  }
  if (std::fclose(f) != 0) ok = false;
  if (!ok) return absl::InternalError(absl::StrCat("write to '", path, "' failed"));
  return absl::OkStatus();
}

}  // namespace jetserve
