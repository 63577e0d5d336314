#include "engine/format/gguf_reader.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/util/checked_math.h"
#include "engine/util/string_view_compat.h"

namespace jetserve {

static_assert(std::endian::native == std::endian::little, "GGUF I/O assumes a little-endian host");

namespace {

// Smallest encodings, used to bound claimed counts by the bytes left before reserving.
constexpr uint64_t kMinKvBytes = 8 + 1 + 4 + 1;                  // key length, key, type, value
constexpr uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 8 + 4 + 8;  // name, n_dims, ne0, type, off
constexpr uint32_t kMaxAlignment = 1u << 20;

template <typename T>
T LoadLE(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

absl::Status Bad(absl::string_view what) { return absl::InvalidArgumentError(what); }

}  // namespace

bool GgufValue::is_integer() const {
  switch (type_) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kUint16:
    case GgufValueType::kInt16:
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
      return true;
    default:
      return false;
  }
}

namespace {

// Decodes a scalar of `type` at p (bounds already checked) into the three wide slots.
void DecodeScalar(GgufValueType type, const uint8_t* p, uint64_t* u, int64_t* i, double* f) {
  *u = 0;
  *i = 0;
  *f = 0;
  switch (type) {
    case GgufValueType::kUint8:
      *u = p[0];
      *i = static_cast<int64_t>(*u);
      break;
    case GgufValueType::kBool:
      *u = p[0];
      *i = p[0];
      break;
    case GgufValueType::kInt8:
      *i = static_cast<int8_t>(p[0]);
      *u = static_cast<uint64_t>(*i);
      break;
    case GgufValueType::kUint16:
      *u = LoadLE<uint16_t>(p);
      *i = static_cast<int64_t>(*u);
      break;
    case GgufValueType::kInt16:
      *i = LoadLE<int16_t>(p);
      *u = static_cast<uint64_t>(*i);
      break;
    case GgufValueType::kUint32:
      *u = LoadLE<uint32_t>(p);
      *i = static_cast<int64_t>(*u);
      break;
    case GgufValueType::kInt32:
      *i = LoadLE<int32_t>(p);
      *u = static_cast<uint64_t>(*i);
      break;
    case GgufValueType::kUint64:
      *u = LoadLE<uint64_t>(p);
      *i = static_cast<int64_t>(*u);
      break;
    case GgufValueType::kInt64:
      *i = LoadLE<int64_t>(p);
      *u = static_cast<uint64_t>(*i);
      break;
    case GgufValueType::kFloat32:
      *u = LoadLE<uint32_t>(p);
      *f = std::bit_cast<float>(static_cast<uint32_t>(*u));
      break;
    case GgufValueType::kFloat64:
      *u = LoadLE<uint64_t>(p);
      *f = std::bit_cast<double>(*u);
      break;
    case GgufValueType::kString:
    case GgufValueType::kArray:
      break;
  }
}

}  // namespace

int64_t GgufValue::ArrayIntAt(uint64_t i) const {
  uint64_t u;
  int64_t s;
  double f;
  DecodeScalar(array_type_, array_bytes_.data() + i * GgufScalarSize(array_type_), &u, &s, &f);
  return s;
}

uint64_t GgufValue::ArrayUintAt(uint64_t i) const {
  uint64_t u;
  int64_t s;
  double f;
  DecodeScalar(array_type_, array_bytes_.data() + i * GgufScalarSize(array_type_), &u, &s, &f);
  return u;
}

double GgufValue::ArrayFloatAt(uint64_t i) const {
  uint64_t u;
  int64_t s;
  double f;
  DecodeScalar(array_type_, array_bytes_.data() + i * GgufScalarSize(array_type_), &u, &s, &f);
  return f;
}

// Walks the header with a bounds-checked cursor and fills a GgufFile.
class GgufParser {
 public:
  GgufParser(absl::Span<const uint8_t> bytes, GgufFile* out) : bytes_(bytes), out_(out) {}

  absl::Status Parse() {
    uint32_t magic;
    if (!ReadU32(&magic)) return Truncated("magic", 4);
    if (magic != kGgufMagic) {
      return Bad(absl::StrCat("bad magic 0x", absl::Hex(magic, absl::kZeroPad8),
                              " at offset 0 (expected \"GGUF\")"));
    }
    uint32_t version;
    if (!ReadU32(&version)) return Truncated("version", 4);
    if (version != 2 && version != 3) {
      if (version == 1) return Bad("unsupported GGUF version 1 (32-bit counts); need 2 or 3");
      if ((version & 0xffff) == 0) {
        return Bad(
            absl::StrCat("unsupported GGUF version ", version, " at offset 4 (big-endian file?)"));
      }
      return Bad(absl::StrCat("unsupported GGUF version ", version, " at offset 4"));
    }
    out_->version_ = version;
    uint64_t tensor_count;
    uint64_t kv_count;
    if (!ReadU64(&tensor_count)) return Truncated("tensor_count", 8);
    if (!ReadU64(&kv_count)) return Truncated("metadata_kv_count", 8);
    if (kv_count > Remaining() / kMinKvBytes) {
      return Bad(absl::StrCat("metadata_kv_count ", kv_count, " at offset 16 exceeds what the ",
                              Remaining(), " remaining bytes can hold"));
    }
    for (uint64_t i = 0; i < kv_count; ++i) {
      if (absl::Status s = ParseKv(i); !s.ok()) return s;
    }
    if (absl::Status s = ReadAlignment(); !s.ok()) return s;
    if (tensor_count > Remaining() / kMinTensorInfoBytes) {
      return Bad(absl::StrCat("tensor_count ", tensor_count, " at offset 8 exceeds what the ",
                              Remaining(), " remaining bytes can hold"));
    }
    for (uint64_t i = 0; i < tensor_count; ++i) {
      if (absl::Status s = ParseTensorInfo(i); !s.ok()) return s;
    }
    return PlaceTensors();
  }

 private:
  uint64_t Remaining() const { return bytes_.size() - pos_; }

  bool ReadU32(uint32_t* v) {
    if (Remaining() < 4) return false;
    *v = LoadLE<uint32_t>(bytes_.data() + pos_);
    pos_ += 4;
    return true;
  }
  bool ReadU64(uint64_t* v) {
    if (Remaining() < 8) return false;
    *v = LoadLE<uint64_t>(bytes_.data() + pos_);
    pos_ += 8;
    return true;
  }

  absl::Status Truncated(absl::string_view field, uint64_t need) const {
    return Bad(absl::StrCat("file truncated: ", field, " at offset ", pos_, " needs ", need,
                            " bytes, ", Remaining(), " left"));
  }

  // Reads a length-prefixed string; `what` names it in errors.
  absl::Status ReadString(absl::string_view what, std::string_view* out) {
    const uint64_t at = pos_;
    uint64_t len;
    if (!ReadU64(&len)) return Truncated(absl::StrCat(what, " length"), 8);
    if (len > Remaining()) {
      return Bad(absl::StrCat(what, ": string length ", len, " at offset ", at, " exceeds the ",
                              Remaining(), " remaining bytes"));
    }
    *out = std::string_view(reinterpret_cast<const char*>(bytes_.data() + pos_), len);
    pos_ += len;
    return absl::OkStatus();
  }

  absl::Status ReadValueType(absl::string_view what, GgufValueType* type) {
    const uint64_t at = pos_;
    uint32_t raw;
    if (!ReadU32(&raw)) return Truncated(absl::StrCat(what, " type"), 4);
    if (!IsValidGgufValueType(raw)) {
      return Bad(absl::StrCat(what, ": invalid value type ", raw, " at offset ", at));
    }
    *type = static_cast<GgufValueType>(raw);
    return absl::OkStatus();
  }

  absl::Status ParseKv(uint64_t index) {
    const std::string kv_name = absl::StrCat("kv ", index);
    GgufKeyValue kv;
    if (absl::Status s = ReadString(absl::StrCat(kv_name, " key"), &kv.key); !s.ok()) return s;
    const std::string what = absl::StrCat(kv_name, " '", Sv(kv.key), "'");
    if (kv.key.empty()) return Bad(absl::StrCat(kv_name, ": empty key at offset ", pos_));
    if (out_->kv_index_.contains(kv.key)) return Bad(absl::StrCat(what, ": duplicate key"));
    GgufValueType type;
    if (absl::Status s = ReadValueType(what, &type); !s.ok()) return s;
    GgufValue& v = kv.value;
    v.type_ = type;
    if (type == GgufValueType::kString) {
      if (absl::Status s = ReadString(what, &v.str_); !s.ok()) return s;
    } else if (type == GgufValueType::kArray) {
      if (absl::Status s = ParseArray(what, &v); !s.ok()) return s;
    } else {
      const uint32_t size = GgufScalarSize(type);
      if (Remaining() < size) return Truncated(what, size);
      DecodeScalar(type, bytes_.data() + pos_, &v.u64_, &v.i64_, &v.f64_);
      if (type == GgufValueType::kBool && v.u64_ > 1) {
        return Bad(absl::StrCat(what, ": invalid BOOL value ", v.u64_, " at offset ", pos_));
      }
      pos_ += size;
    }
    out_->kv_index_.emplace(kv.key, out_->kvs_.size());
    out_->kvs_.push_back(std::move(kv));
    return absl::OkStatus();
  }

  absl::Status ParseArray(const std::string& what, GgufValue* v) {
    if (absl::Status s = ReadValueType(absl::StrCat(what, " array element"), &v->array_type_);
        !s.ok()) {
      return s;
    }
    const uint64_t at = pos_;
    uint64_t count;
    if (!ReadU64(&count)) return Truncated(absl::StrCat(what, " array length"), 8);
    v->array_size_ = count;
    if (v->array_type_ == GgufValueType::kArray) {
      return Bad(absl::StrCat(what, ": nested arrays are not supported (offset ", at, ")"));
    }
    if (v->array_type_ == GgufValueType::kString) {
      if (count > Remaining() / 8) {
        return Bad(absl::StrCat(what, ": array of ", count, " strings at offset ", at,
                                " exceeds the ", Remaining(), " remaining bytes"));
      }
      v->strings_.resize(count);
      for (uint64_t i = 0; i < count; ++i) {
        if (absl::Status s = ReadString(absl::StrCat(what, "[", i, "]"), &v->strings_[i]);
            !s.ok()) {
          return s;
        }
      }
      return absl::OkStatus();
    }
    const uint32_t elem = GgufScalarSize(v->array_type_);
    uint64_t total;
    if (!CheckedMul(count, elem, &total) || total > Remaining()) {
      return Bad(absl::StrCat(what, ": array of ", count, " ",
                              Sv(GgufValueTypeName(v->array_type_)), " at offset ", at,
                              " exceeds the ", Remaining(), " remaining bytes"));
    }
    v->array_bytes_ = bytes_.subspan(pos_, total);
    if (v->array_type_ == GgufValueType::kBool) {
      for (uint64_t i = 0; i < count; ++i) {
        if (v->array_bytes_[i] > 1) {
          return Bad(absl::StrCat(what, "[", i, "]: invalid BOOL value ",
                                  static_cast<int>(v->array_bytes_[i])));
        }
      }
    }
    pos_ += total;
    return absl::OkStatus();
  }

  absl::Status ReadAlignment() {
    const GgufValue* a = out_->Find("general.alignment");
    if (a == nullptr) return absl::OkStatus();
    if (a->type() != GgufValueType::kUint32) {
      return Bad(absl::StrCat("general.alignment has type ", Sv(GgufValueTypeName(a->type())),
                              ", expected UINT32"));
    }
    if (!IsPowerOfTwo(a->u64()) || a->u64() > kMaxAlignment) {
      return Bad(absl::StrCat("general.alignment ", a->u64(),
                              " is not a power of two between 1 and ", kMaxAlignment));
    }
    out_->alignment_ = static_cast<uint32_t>(a->u64());
    return absl::OkStatus();
  }

  absl::Status ParseTensorInfo(uint64_t index) {
    GgufTensorInfo t;
    const std::string tname = absl::StrCat("tensor ", index);
    if (absl::Status s = ReadString(absl::StrCat(tname, " name"), &t.name); !s.ok()) return s;
    const std::string what = absl::StrCat("tensor '", Sv(t.name), "'");
    if (t.name.empty()) return Bad(absl::StrCat(tname, ": empty name"));
    if (out_->tensor_index_.contains(t.name)) return Bad(absl::StrCat(what, ": duplicate name"));
    uint32_t n_dims;
    if (!ReadU32(&n_dims)) return Truncated(absl::StrCat(what, " n_dims"), 4);
    if (n_dims == 0 || n_dims > kGgufMaxDims) {
      return Bad(absl::StrCat(what, ": n_dims ", n_dims, " at offset ", pos_ - 4,
                              " is not between 1 and ", kGgufMaxDims));
    }
    t.dims.resize(n_dims);
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t ne;
      if (!ReadU64(&ne)) return Truncated(absl::StrCat(what, " ne[", d, "]"), 8);
      if (ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Bad(absl::StrCat(what, ": ne[", d, "] = ", ne, " at offset ", pos_ - 8,
                                " is negative as int64"));
      }
      t.dims[d] = static_cast<int64_t>(ne);
    }
    const uint64_t type_at = pos_;
    uint32_t raw_type;
    if (!ReadU32(&raw_type)) return Truncated(absl::StrCat(what, " type"), 4);
    if (!GetGgmlTypeTraits(raw_type)) {
      return Bad(absl::StrCat(what, ": invalid tensor type ", raw_type, " at offset ", type_at));
    }
    t.type = static_cast<GgmlType>(raw_type);
    if (!ReadU64(&t.offset)) return Truncated(absl::StrCat(what, " offset"), 8);
    absl::StatusOr<uint64_t> nbytes = GgmlTensorBytes(t.type, t.dims);
    if (!nbytes.ok()) return Bad(absl::StrCat(what, ": ", nbytes.status().message()));
    int64_t elements = 1;
    for (int64_t ne : t.dims) elements *= ne;  // checked by GgmlTensorBytes
    t.num_elements = elements;
    // Provisional span holding only the size; PlaceTensors points it into the file.
    sizes_.push_back(*nbytes);
    out_->tensor_index_.emplace(t.name, out_->tensors_.size());
    out_->tensors_.push_back(std::move(t));
    return absl::OkStatus();
  }

  absl::Status PlaceTensors() {
    uint64_t data_start;
    if (!CheckedAlignUp(pos_, out_->alignment_, &data_start)) {
      return Bad("data section offset overflows");
    }
    auto& tensors = out_->tensors_;
    if (tensors.empty()) {
      out_->data_offset_ = std::min<uint64_t>(data_start, bytes_.size());
      return absl::OkStatus();
    }
    if (data_start > bytes_.size()) {
      return Bad(absl::StrCat("file truncated: data section at offset ", data_start, " (alignment ",
                              out_->alignment_, ") is past the file size ", bytes_.size()));
    }
    out_->data_offset_ = data_start;
    const uint64_t data_size = bytes_.size() - data_start;
    std::vector<size_t> order(tensors.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    for (size_t i = 0; i < tensors.size(); ++i) {
      GgufTensorInfo& t = tensors[i];
      if (t.offset % out_->alignment_ != 0) {
        return Bad(absl::StrCat("tensor '", Sv(t.name), "': offset ", t.offset,
                                " is not a multiple of the alignment ", out_->alignment_));
      }
      uint64_t end;
      if (!CheckedAdd(t.offset, sizes_[i], &end) || end > data_size) {
        return Bad(absl::StrCat("tensor '", Sv(t.name), "': offset ", t.offset, " + size ",
                                sizes_[i], " exceeds the data section size ", data_size,
                                " (file size ", bytes_.size(), ")"));
      }
      t.file_offset = data_start + t.offset;
      t.data = bytes_.subspan(t.file_offset, sizes_[i]);
    }
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return tensors[a].offset < tensors[b].offset; });
    for (size_t k = 1; k < order.size(); ++k) {
      const GgufTensorInfo& prev = tensors[order[k - 1]];
      const GgufTensorInfo& cur = tensors[order[k]];
      if (prev.data.empty() || cur.data.empty()) continue;
      if (prev.offset + prev.data.size() > cur.offset) {
        return Bad(absl::StrCat("tensor '", Sv(cur.name), "' (offset ", cur.offset,
                                ") overlaps tensor '", Sv(prev.name), "' (offset ", prev.offset,
                                ", size ", prev.data.size(), ")"));
      }
    }
    return absl::OkStatus();
  }

  absl::Span<const uint8_t> bytes_;
  GgufFile* out_;
  uint64_t pos_ = 0;
  std::vector<uint64_t> sizes_;
};

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::FromBuffer(absl::Span<const uint8_t> bytes) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->bytes_ = bytes;
  GgufParser parser(bytes, file.get());
  if (absl::Status s = parser.Parse(); !s.ok()) return s;
  return file;
}

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  absl::StatusOr<std::unique_ptr<MappedFile>> mapped = MappedFile::Open(path);
  if (!mapped.ok()) return mapped.status();
  absl::StatusOr<std::unique_ptr<GgufFile>> file = FromBuffer((*mapped)->bytes());
  if (!file.ok()) {
    return absl::Status(file.status().code(), absl::StrCat(path, ": ", file.status().message()));
  }
  (*file)->mapping_ = std::move(*mapped);
  return file;
}

const GgufValue* GgufFile::Find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kvs_[it->second].value;
}

const GgufTensorInfo* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {

absl::Status Missing(std::string_view key) {
  return absl::NotFoundError(absl::StrCat("metadata key '", Sv(key), "' not found"));
}

absl::Status WrongType(std::string_view key, const GgufValue& v, absl::string_view want) {
  std::string have(Sv(GgufValueTypeName(v.type())));
  if (v.type() == GgufValueType::kArray) {
    absl::StrAppend(&have, " of ", Sv(GgufValueTypeName(v.array_type())));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("metadata key '", Sv(key), "' has type ", have, ", expected ", want));
}

bool IsIntegerType(GgufValueType t) {
  return t == GgufValueType::kUint8 || t == GgufValueType::kInt8 || t == GgufValueType::kUint16 ||
         t == GgufValueType::kInt16 || t == GgufValueType::kUint32 || t == GgufValueType::kInt32 ||
         t == GgufValueType::kUint64 || t == GgufValueType::kInt64;
}

}  // namespace

absl::StatusOr<std::string_view> GgufFile::GetString(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(key);
  if (v->type() != GgufValueType::kString) return WrongType(key, *v, "STRING");
  return v->str();
}

absl::StatusOr<int64_t> GgufFile::GetInt(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(key);
  if (!v->is_integer()) return WrongType(key, *v, "an integer");
  if (v->type() == GgufValueType::kUint64 &&
      v->u64() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return absl::OutOfRangeError(
        absl::StrCat("metadata key '", Sv(key), "' value ", v->u64(), " does not fit int64"));
  }
  return v->i64();
}

absl::StatusOr<uint64_t> GgufFile::GetUint(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(key);
  if (!v->is_integer()) return WrongType(key, *v, "an integer");
  const bool is_signed = v->type() == GgufValueType::kInt8 || v->type() == GgufValueType::kInt16 ||
                         v->type() == GgufValueType::kInt32 || v->type() == GgufValueType::kInt64;
  if (is_signed && v->i64() < 0) {
    return absl::OutOfRangeError(
        absl::StrCat("metadata key '", Sv(key), "' value ", v->i64(), " is negative"));
  }
  return v->u64();
}

absl::StatusOr<double> GgufFile::GetFloat(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(key);
  if (!v->is_float()) return WrongType(key, *v, "FLOAT32 or FLOAT64");
  return v->f64();
}

absl::StatusOr<bool> GgufFile::GetBool(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(key);
  if (v->type() != GgufValueType::kBool) return WrongType(key, *v, "BOOL");
  return v->u64() != 0;
}

absl::StatusOr<absl::Span<const std::string_view>> GgufFile::GetStringArray(
    std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(key);
  if (v->type() != GgufValueType::kArray || v->array_type() != GgufValueType::kString) {
    return WrongType(key, *v, "ARRAY of STRING");
  }
  return v->string_array();
}

absl::StatusOr<std::vector<int64_t>> GgufFile::GetIntArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(key);
  if (v->type() != GgufValueType::kArray || !IsIntegerType(v->array_type())) {
    return WrongType(key, *v, "ARRAY of an integer type");
  }
  std::vector<int64_t> out(v->array_size());
  for (uint64_t i = 0; i < out.size(); ++i) out[i] = v->ArrayIntAt(i);
  return out;
}

absl::StatusOr<std::vector<float>> GgufFile::GetFloatArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(key);
  if (v->type() != GgufValueType::kArray ||
      (v->array_type() != GgufValueType::kFloat32 && v->array_type() != GgufValueType::kFloat64)) {
    return WrongType(key, *v, "ARRAY of FLOAT32 or FLOAT64");
  }
  std::vector<float> out(v->array_size());
  for (uint64_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(v->ArrayFloatAt(i));
  return out;
}

}  // namespace jetserve
