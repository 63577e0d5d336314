#include "engine/format/gguf_types.h"

#include <array>
#include <cctype>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/util/checked_math.h"
#include "engine/util/string_view_compat.h"

namespace jetserve {
namespace {

struct TypeRow {
  uint32_t id;
  GgmlTypeTraits traits;
};

constexpr std::array<TypeRow, 31> kTypes = {{
    {0, {"F32", 1, 4}},         {1, {"F16", 1, 2}},         {2, {"Q4_0", 32, 18}},
    {3, {"Q4_1", 32, 20}},      {6, {"Q5_0", 32, 22}},      {7, {"Q5_1", 32, 24}},
    {8, {"Q8_0", 32, 34}},      {9, {"Q8_1", 32, 36}},      {10, {"Q2_K", 256, 84}},
    {11, {"Q3_K", 256, 110}},   {12, {"Q4_K", 256, 144}},   {13, {"Q5_K", 256, 176}},
    {14, {"Q6_K", 256, 210}},   {15, {"Q8_K", 256, 292}},   {16, {"IQ2_XXS", 256, 66}},
    {17, {"IQ2_XS", 256, 74}},  {18, {"IQ3_XXS", 256, 98}}, {19, {"IQ1_S", 256, 50}},
    {20, {"IQ4_NL", 32, 18}},   {21, {"IQ3_S", 256, 110}},  {22, {"IQ2_S", 256, 82}},
    {23, {"IQ4_XS", 256, 136}}, {24, {"I8", 1, 1}},         {25, {"I16", 1, 2}},
    {26, {"I32", 1, 4}},        {27, {"I64", 1, 8}},        {28, {"F64", 1, 8}},
    {29, {"IQ1_M", 256, 56}},   {30, {"BF16", 1, 2}},       {34, {"TQ1_0", 256, 54}},
    {35, {"TQ2_0", 256, 66}},
}};

}  // namespace

std::string_view GgufValueTypeName(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8:
      return "UINT8";
    case GgufValueType::kInt8:
      return "INT8";
    case GgufValueType::kUint16:
      return "UINT16";
    case GgufValueType::kInt16:
      return "INT16";
    case GgufValueType::kUint32:
      return "UINT32";
    case GgufValueType::kInt32:
      return "INT32";
    case GgufValueType::kFloat32:
      return "FLOAT32";
    case GgufValueType::kBool:
      return "BOOL";
    case GgufValueType::kString:
      return "STRING";
    case GgufValueType::kArray:
      return "ARRAY";
    case GgufValueType::kUint64:
      return "UINT64";
    case GgufValueType::kInt64:
      return "INT64";
    case GgufValueType::kFloat64:
      return "FLOAT64";
  }
  return "invalid";
}

bool IsValidGgufValueType(uint32_t raw) { return raw <= 12; }

uint32_t GgufScalarSize(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kBool:
      return 1;
    case GgufValueType::kUint16:
    case GgufValueType::kInt16:
      return 2;
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kFloat32:
      return 4;
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
    case GgufValueType::kFloat64:
      return 8;
    case GgufValueType::kString:
    case GgufValueType::kArray:
      return 0;
  }
  return 0;
}

std::optional<GgmlTypeTraits> GetGgmlTypeTraits(uint32_t raw_type) {
  for (const TypeRow& row : kTypes) {
    if (row.id == raw_type) return row.traits;
  }
  return std::nullopt;
}

std::string_view GgmlTypeName(GgmlType type) {
  std::optional<GgmlTypeTraits> t = GetGgmlTypeTraits(type);
  return t ? t->name : "invalid";
}

std::optional<GgmlType> ParseGgmlType(std::string_view name) {
  for (const TypeRow& row : kTypes) {
    if (row.traits.name.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i) {
      same = std::toupper(static_cast<unsigned char>(name[i])) == row.traits.name[i];
    }
    if (same) return static_cast<GgmlType>(row.id);
  }
  return std::nullopt;
}

absl::StatusOr<uint64_t> GgmlTensorBytes(GgmlType type, absl::Span<const int64_t> dims) {
  std::optional<GgmlTypeTraits> t = GetGgmlTypeTraits(type);
  if (!t) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid tensor type ", static_cast<uint32_t>(type)));
  }
  uint64_t elements = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("dimension ", i, " is negative (", dims[i], ")"));
    }
    if (!CheckedMul(elements, static_cast<uint64_t>(dims[i]), &elements) ||
        elements > static_cast<uint64_t>(INT64_MAX)) {
      return absl::InvalidArgumentError("element count overflows int64");
    }
  }
  const uint64_t ne0 = dims.empty() ? 1 : static_cast<uint64_t>(dims[0]);
  if (ne0 % t->block_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat("dimension 0 (", ne0,
                                                   ") is not a multiple of the ", Sv(t->name),
                                                   " block size ", t->block_size));
  }
  uint64_t bytes;
  if (!CheckedMul(elements / t->block_size, t->type_size, &bytes)) {
    return absl::InvalidArgumentError("tensor byte size overflows");
  }
  return bytes;
}

}  // namespace jetserve
