// DumpModel: a canonical text form of a GGUF file for comparing readers (ours vs gguf's).
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/format/gguf_reader.h"
#include "engine/tools/model_tools.h"

namespace jetserve::tools {
namespace {

std::string Hex(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 2);
  static const char kDigits[] = "0123456789abcdef";
  for (unsigned char c : s) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out.empty() ? "-" : out;
}

std::string FormatScalar(GgufValueType type, uint64_t u, int64_t i, double f) {
  switch (type) {
    case GgufValueType::kBool:
      return u ? "true" : "false";
    case GgufValueType::kFloat32:
      return absl::StrFormat("%.9g", f);
    case GgufValueType::kFloat64:
      return absl::StrFormat("%.17g", f);
    case GgufValueType::kUint8:
    case GgufValueType::kUint16:
    case GgufValueType::kUint32:
    case GgufValueType::kUint64:
      return absl::StrCat(u);
    default:
      return absl::StrCat(i);
  }
}

// Position-weighted sum of the little-endian 64-bit words (zero padded), plus the length:
// cheap in numpy, and sensitive to any changed or moved byte.
uint64_t Checksum(absl::Span<const uint8_t> bytes) {
  uint64_t h = bytes.size();
  for (size_t w = 0; w * 8 < bytes.size(); ++w) {
    uint64_t word = 0;
    std::memcpy(&word, bytes.data() + w * 8, std::min<size_t>(8, bytes.size() - w * 8));
    h += word * (2 * static_cast<uint64_t>(w) + 1);
  }
  return h;
}

}  // namespace

absl::Status DumpModel(const std::string& path, std::ostream& out) {
  absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::Open(path);
  if (!file.ok()) return file.status();
  const GgufFile& f = **file;
  out << "version " << f.version() << "\n";
  out << "alignment " << f.alignment() << "\n";
  for (const GgufKeyValue& kv : f.metadata()) {
    const GgufValue& v = kv.value;
    out << "kv " << kv.key << " ";
    if (v.type() == GgufValueType::kString) {
      out << "STRING " << Hex(v.str()) << "\n";
    } else if (v.type() == GgufValueType::kArray) {
      out << "ARRAY[" << GgufValueTypeName(v.array_type()) << "] n=" << v.array_size();
      for (uint64_t i = 0; i < v.array_size(); ++i) {
        if (v.array_type() == GgufValueType::kString) {
          out << " " << Hex(v.string_array()[i]);
        } else {
          out << " "
              << FormatScalar(v.array_type(), v.ArrayUintAt(i), v.ArrayIntAt(i), v.ArrayFloatAt(i));
        }
      }
      out << "\n";
    } else {
      out << GgufValueTypeName(v.type()) << " " << FormatScalar(v.type(), v.u64(), v.i64(), v.f64())
          << "\n";
    }
  }
  for (const GgufTensorInfo& t : f.tensors()) {
    out << "tensor " << t.name << " " << GgmlTypeName(t.type) << " ";
    for (size_t i = 0; i < t.dims.size(); ++i) out << (i ? "," : "") << t.dims[i];
    out << " offset=" << t.file_offset << " bytes=" << t.data.size()
        << absl::StrFormat(" sum=%016x", Checksum(t.data)) << "\n";
  }
  return absl::OkStatus();
}

}  // namespace jetserve::tools
