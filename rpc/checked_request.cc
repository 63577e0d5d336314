#include "rpc/checked_request.h"

#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/utf8.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace jetserve::rpc {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::FileDescriptor;
using ::google::protobuf::internal::WireFormatLite;
using ::google::protobuf::io::CodedInputStream;

// protobuf's own default recursion limit.
constexpr int kMaxDepth = 100;

absl::Status Invalid(const std::string& path, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(path.empty() ? "request" : path, ": ", message));
}

std::string FieldPath(const std::string& parent, const FieldDescriptor& field,
                      std::optional<int> index) {
  std::string path = parent.empty() ? field.name() : absl::StrCat(parent, ".", field.name());
  if (index.has_value()) absl::StrAppend(&path, "[", *index, "]");
  return path;
}

// Whether `bytes` are a well-formed packed run of `field`'s scalar type.
bool WellFormedPacked(absl::string_view bytes, const FieldDescriptor& field) {
  switch (
      WireFormatLite::WireTypeForFieldType(static_cast<WireFormatLite::FieldType>(field.type()))) {
    case WireFormatLite::WIRETYPE_FIXED32:
      return bytes.size() % 4 == 0;
    case WireFormatLite::WIRETYPE_FIXED64:
      return bytes.size() % 8 == 0;
    case WireFormatLite::WIRETYPE_VARINT: {
      CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                          static_cast<int>(bytes.size()));
      uint64_t ignored;
      while (in.CurrentPosition() < static_cast<int>(bytes.size())) {
        if (!in.ReadVarint64(&ignored)) return false;
      }
      return true;
    }
    default:
      return true;
  }
}

// The first problem in `bytes`, a `type` message at `path` (empty: the request itself);
// nullopt when none is found.
std::optional<absl::Status> Walk(absl::string_view bytes, const Descriptor& type,
                                 const std::string& path, int depth) {
  if (depth > kMaxDepth) {
    return Invalid(path, absl::StrCat("messages nested more than ", kMaxDepth, " deep"));
  }
  const bool proto3 = type.file()->syntax() == FileDescriptor::SYNTAX_PROTO3;
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  in.SetRecursionLimit(kMaxDepth);  // groups, skipped by SkipField
  std::map<int, int> occurrences;   // of repeated fields, for indices
  const int size = static_cast<int>(bytes.size());
  while (in.CurrentPosition() < size) {
    const int at = in.CurrentPosition();
    const uint32_t tag = in.ReadTag();
    const int number = static_cast<int>(WireFormatLite::GetTagFieldNumber(tag));
    if (number == 0) {
      return Invalid(path, absl::StrCat("malformed field tag at byte ", at));
    }
    const auto wire_type = WireFormatLite::GetTagWireType(tag);
    const FieldDescriptor* field = type.FindFieldByNumber(number);
    std::optional<int> index;
    if (field != nullptr && field->is_repeated()) index = occurrences[number]++;
    switch (wire_type) {
      case WireFormatLite::WIRETYPE_LENGTH_DELIMITED: {
        uint32_t length;
        const int start = in.CurrentPosition();
        if (!in.ReadVarint32(&length) || length > static_cast<uint32_t>(size - start) ||
            in.CurrentPosition() + static_cast<int64_t>(length) > size) {
          const std::string name =
              field != nullptr ? field->name() : absl::StrCat("field ", number);
          return Invalid(
              path, absl::StrCat(name, " (at byte ", at, ") runs past the end of the message"));
        }
        const absl::string_view value = bytes.substr(in.CurrentPosition(), length);
        in.Skip(static_cast<int>(length));
        if (field == nullptr) break;  // unknown fields are kept as they are
        if (field->type() == FieldDescriptor::TYPE_STRING && proto3) {
          const size_t bad = FirstInvalidUtf8({value.data(), value.size()});
          if (bad != std::string_view::npos) {
            return Invalid(FieldPath(path, *field, index),
                           absl::StrCat("not valid UTF-8 (byte ", bad, " of the string; ",
                                        "string fields carry UTF-8 text)"));
          }
        } else if (field->type() == FieldDescriptor::TYPE_MESSAGE) {
          std::optional<absl::Status> inner =
              Walk(value, *field->message_type(), FieldPath(path, *field, index), depth + 1);
          if (inner.has_value()) return inner;
        } else if (field->is_packable() && !WellFormedPacked(value, *field)) {
          return Invalid(FieldPath(path, *field, std::nullopt), "malformed packed values");
        }
        break;
      }
      case WireFormatLite::WIRETYPE_VARINT:
      case WireFormatLite::WIRETYPE_FIXED64:
      case WireFormatLite::WIRETYPE_FIXED32:
      case WireFormatLite::WIRETYPE_START_GROUP:
        if (!WireFormatLite::SkipField(&in, tag)) {
          return Invalid(path, absl::StrCat("field ", number, " (at byte ", at,
                                            ") is malformed or runs past the end"));
        }
        break;
      case WireFormatLite::WIRETYPE_END_GROUP:
        return Invalid(path, absl::StrCat("unexpected end-group tag at byte ", at));
      default:
        return Invalid(
            path, absl::StrCat("invalid wire type ", static_cast<int>(wire_type), " at byte ", at));
    }
  }
  return std::nullopt;
}

}  // namespace

absl::Status DescribeParseFailure(absl::string_view bytes, const Descriptor& type) {
  std::optional<absl::Status> problem = Walk(bytes, type, "", 0);
  if (problem.has_value()) return *problem;
  return absl::InvalidArgumentError(
      absl::StrCat("request: not a valid ", type.full_name(), " message"));
}

int MethodIndex(absl::string_view service, absl::string_view method) {
  const google::protobuf::ServiceDescriptor* s =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(std::string(service));
  const google::protobuf::MethodDescriptor* m =
      s == nullptr ? nullptr : s->FindMethodByName(std::string(method));
  if (m == nullptr) {
    JETSERVE_LOG(kError, "unknown_method")
        .Add("service", std::string(service))
        .Add("method", std::string(method));
    std::abort();
  }
  return m->index();
}

}  // namespace jetserve::rpc
