#include "engine/onnx/onnx_model.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/util/checked_math.h"
#include "engine/util/half.h"
#include "engine/util/string_view_compat.h"
#include "google/protobuf/io/coded_stream.h"

namespace jetserve {
namespace {

using TP = onnx::TensorProto;

absl::Status Invalid(std::string_view what) { return absl::InvalidArgumentError(Sv(what)); }

std::string TensorLabel(const onnx::TensorProto& t) {
  return absl::StrCat("initializer '", t.name(), "'");
}

// Real path of an existing path, or an error.
absl::StatusOr<std::string> RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot resolve '", path, "': ", strerror(errno)));
  }
  return std::string(buf);
}

}  // namespace

int OnnxElementSize(int32_t data_type) {
  switch (data_type) {
    case TP::FLOAT:
    case TP::INT32:
    case TP::UINT32:
      return 4;
    case TP::DOUBLE:
    case TP::INT64:
    case TP::UINT64:
      return 8;
    case TP::FLOAT16:
    case TP::BFLOAT16:
    case TP::INT16:
    case TP::UINT16:
      return 2;
    case TP::INT8:
    case TP::UINT8:
    case TP::BOOL:
      return 1;
    default:
      return 0;
  }
}

std::string OnnxTypeName(int32_t data_type) {
  if (TP::DataType_IsValid(data_type))
    return TP::DataType_Name(static_cast<TP::DataType>(data_type));
  return absl::StrCat("type ", data_type);
}

absl::StatusOr<std::vector<float>> ToFloats(const OnnxTensor& t) {
  std::vector<float> out(static_cast<size_t>(t.num_elements));
  const uint8_t* p = t.bytes.data();
  switch (t.data_type) {
    case TP::FLOAT:
      if (!out.empty()) std::memcpy(out.data(), p, out.size() * 4);
      return out;
    case TP::FLOAT16:
    case TP::BFLOAT16:
      for (size_t i = 0; i < out.size(); ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = t.data_type == TP::FLOAT16 ? F16ToF32(h) : BF16ToF32(h);
      }
      return out;
    case TP::DOUBLE:
      for (size_t i = 0; i < out.size(); ++i) {
        double d;
        std::memcpy(&d, p + 8 * i, 8);
        out[i] = static_cast<float>(d);
      }
      return out;
    default:
      return Invalid(absl::StrCat("tensor '", t.name, "' has type ", OnnxTypeName(t.data_type),
                                  ", expected a float type"));
  }
}

absl::StatusOr<std::vector<int64_t>> ToInts(const OnnxTensor& t) {
  std::vector<int64_t> out(static_cast<size_t>(t.num_elements));
  const uint8_t* p = t.bytes.data();
  for (size_t i = 0; i < out.size(); ++i) {
    switch (t.data_type) {
      case TP::INT64:
        std::memcpy(&out[i], p + 8 * i, 8);
        break;
      case TP::INT32: {
        int32_t v;
        std::memcpy(&v, p + 4 * i, 4);
        out[i] = v;
        break;
      }
      case TP::INT8:
        out[i] = static_cast<int8_t>(p[i]);
        break;
      case TP::UINT8:
        out[i] = p[i];
        break;
      default:
        return Invalid(absl::StrCat("tensor '", t.name, "' has type ", OnnxTypeName(t.data_type),
                                    ", expected an integer type"));
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<OnnxModel>> OnnxModel::Load(const std::string& path,
                                                           const OnnxLoadOptions& options) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat(path, ": ", strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) return Invalid(absl::StrCat(path, ": not a regular file"));
  if (static_cast<uint64_t>(st.st_size) > options.max_file_bytes) {
    return Invalid(
        absl::StrCat(path, ": ", st.st_size, " bytes, over the limit of ", options.max_file_bytes));
  }
  absl::StatusOr<std::unique_ptr<MappedFile>> file = MappedFile::Open(path);
  if (!file.ok()) return file.status();
  const std::string dir = std::filesystem::path(path).parent_path().string();
  absl::StatusOr<std::unique_ptr<OnnxModel>> m = FromBytes((*file)->bytes(), dir, options);
  if (!m.ok()) {
    return absl::Status(m.status().code(), absl::StrCat(path, ": ", m.status().message()));
  }
  return m;
}

absl::StatusOr<std::unique_ptr<OnnxModel>> OnnxModel::FromBytes(absl::Span<const uint8_t> bytes,
                                                                const std::string& dir,
                                                                const OnnxLoadOptions& options) {
  std::unique_ptr<OnnxModel> m(new OnnxModel());
  absl::StatusOr<std::string> real_dir = RealPath(dir.empty() ? "." : dir);
  if (!real_dir.ok()) return real_dir.status();
  m->dir_ = *real_dir;
  if (absl::Status s = m->Parse(bytes, options); !s.ok()) return s;
  if (absl::Status s = m->CheckGraph(options); !s.ok()) return s;
  return m;
}

absl::Status OnnxModel::Parse(absl::Span<const uint8_t> bytes, const OnnxLoadOptions& options) {
  if (bytes.size() > options.max_file_bytes || bytes.size() > static_cast<uint64_t>(INT_MAX)) {
    return Invalid(
        absl::StrCat(bytes.size(), " bytes, over the limit of ", options.max_file_bytes));
  }
  google::protobuf::io::CodedInputStream in(bytes.data(), static_cast<int>(bytes.size()));
  in.SetRecursionLimit(options.max_nesting);
  in.SetTotalBytesLimit(static_cast<int>(bytes.size()));
  if (!proto_.ParseFromCodedStream(&in) || !in.ConsumedEntireMessage()) {
    return Invalid(
        absl::StrCat("not a valid ONNX ModelProto (truncated, corrupt, or nested "
                     "deeper than ",
                     options.max_nesting, " levels)"));
  }
  if (!proto_.has_graph()) return Invalid("model has no graph");
  for (const onnx::OperatorSetIdProto& o : proto_.opset_import()) {
    if (o.domain().empty() || o.domain() == "ai.onnx") opset_ = o.version();
  }
  return absl::OkStatus();
}

absl::Status OnnxModel::CheckGraph(const OnnxLoadOptions& options) {
  const onnx::GraphProto& g = proto_.graph();
  if (g.node_size() > options.max_nodes) {
    return Invalid(
        absl::StrCat("graph has ", g.node_size(), " nodes, over the limit of ", options.max_nodes));
  }
  // Initializers.
  initializers_.resize(g.initializer_size());
  for (int i = 0; i < g.initializer_size(); ++i) {
    const onnx::TensorProto& t = g.initializer(i);
    if (t.name().empty()) return Invalid(absl::StrCat("initializer ", i, " has no name"));
    if (!initializer_index_.emplace(t.name(), i).second) {
      return Invalid(absl::StrCat(TensorLabel(t), " is defined twice"));
    }
    if (absl::Status s = ResolveInitializer(t, options, &initializers_[i]); !s.ok()) return s;
  }
  // Values defined before any node runs.
  absl::flat_hash_map<std::string, bool> defined;
  for (const onnx::ValueInfoProto& v : g.input()) defined[v.name()] = true;
  for (const OnnxTensor& t : initializers_) defined[t.name] = true;
  for (int n = 0; n < g.node_size(); ++n) {
    const onnx::NodeProto& node = g.node(n);
    if (node.op_type().empty()) return Invalid(absl::StrCat(NodeLabel(n), " has no operator"));
    for (const std::string& out : node.output()) {
      if (out.empty()) continue;
      if (defined.contains(out) || !producer_.emplace(out, n).second) {
        return Invalid(absl::StrCat(NodeLabel(n), ": output '", out,
                                    "' is already defined elsewhere in the graph"));
      }
    }
  }
  // Inputs must exist; Kahn's algorithm orders the nodes and finds cycles.
  std::vector<int> pending(g.node_size(), 0);
  for (int n = 0; n < g.node_size(); ++n) {
    const onnx::NodeProto& node = g.node(n);
    for (const std::string& in : node.input()) {
      if (in.empty()) continue;  // an omitted optional input
      consumers_[in].push_back(n);
      if (defined.contains(in)) continue;
      if (!producer_.contains(in)) {
        return Invalid(absl::StrCat(NodeLabel(n), ": input '", in,
                                    "' is not a graph input, an initializer or any node's output"));
      }
      ++pending[n];
    }
  }
  std::deque<int> ready;
  for (int n = 0; n < g.node_size(); ++n) {
    if (pending[n] == 0) ready.push_back(n);
  }
  topo_.reserve(g.node_size());
  while (!ready.empty()) {
    const int n = ready.front();
    ready.pop_front();
    topo_.push_back(n);
    for (const std::string& out : g.node(n).output()) {
      if (out.empty()) continue;
      auto it = consumers_.find(out);
      if (it == consumers_.end()) continue;
      for (int c : it->second) {
        if (--pending[c] == 0) ready.push_back(c);
      }
    }
  }
  if (static_cast<int>(topo_.size()) != g.node_size()) {
    for (int n = 0; n < g.node_size(); ++n) {
      if (pending[n] > 0) {
        return Invalid(absl::StrCat("graph has a cycle through ", NodeLabel(n)));
      }
    }
  }
  for (const onnx::ValueInfoProto& v : g.output()) {
    if (!defined.contains(v.name()) && !producer_.contains(v.name())) {
      return Invalid(absl::StrCat("graph output '", v.name(), "' is not produced by any node"));
    }
  }
  return absl::OkStatus();
}

absl::Status OnnxModel::ResolveInitializer(const onnx::TensorProto& t,
                                           const OnnxLoadOptions& options, OnnxTensor* out) {
  out->name = t.name();
  out->data_type = t.data_type();
  const int esize = OnnxElementSize(t.data_type());
  if (esize == 0) {
    return Invalid(
        absl::StrCat(TensorLabel(t), " has unsupported data type ", OnnxTypeName(t.data_type())));
  }
  if (t.dims_size() > options.max_rank) {
    return Invalid(absl::StrCat(TensorLabel(t), " has rank ", t.dims_size(), ", over the limit of ",
                                options.max_rank));
  }
  int64_t count = 1;
  for (int64_t d : t.dims()) {
    if (d < 0) return Invalid(absl::StrCat(TensorLabel(t), " has negative dimension ", d));
    if (!CheckedMulSigned(count, d, &count) || count > options.max_tensor_elements) {
      return Invalid(absl::StrCat(TensorLabel(t), " has more than ", options.max_tensor_elements,
                                  " elements"));
    }
    out->dims.push_back(d);
  }
  out->num_elements = count;
  const uint64_t want = static_cast<uint64_t>(count) * static_cast<uint64_t>(esize);
  if (t.data_location() == TP::EXTERNAL) {
    absl::StatusOr<absl::Span<const uint8_t>> b = ExternalBytes(t, want);
    if (!b.ok()) return b.status();
    out->bytes = *b;
    return absl::OkStatus();
  }
  if (t.has_raw_data()) {
    if (t.raw_data().size() != want) {
      return Invalid(absl::StrCat(TensorLabel(t), ": raw_data holds ", t.raw_data().size(),
                                  " bytes, its shape needs ", want));
    }
    out->bytes = {reinterpret_cast<const uint8_t*>(t.raw_data().data()), t.raw_data().size()};
    return absl::OkStatus();
  }
  // Typed fields: copied into packed little-endian storage.
  std::vector<uint8_t> packed(want);
  auto check = [&](int have) -> absl::Status {
    if (static_cast<uint64_t>(have) != static_cast<uint64_t>(count)) {
      return Invalid(
          absl::StrCat(TensorLabel(t), " holds ", have, " elements, its shape needs ", count));
    }
    return absl::OkStatus();
  };
  switch (t.data_type()) {
    case TP::FLOAT:
      if (absl::Status s = check(t.float_data_size()); !s.ok()) return s;
      if (count > 0) std::memcpy(packed.data(), t.float_data().data(), want);
      break;
    case TP::DOUBLE:
      if (absl::Status s = check(t.double_data_size()); !s.ok()) return s;
      if (count > 0) std::memcpy(packed.data(), t.double_data().data(), want);
      break;
    case TP::INT64:
      if (absl::Status s = check(t.int64_data_size()); !s.ok()) return s;
      if (count > 0) std::memcpy(packed.data(), t.int64_data().data(), want);
      break;
    case TP::UINT32:
    case TP::UINT64:
      if (absl::Status s = check(t.uint64_data_size()); !s.ok()) return s;
      for (int64_t i = 0; i < count; ++i) {
        const uint64_t v = t.uint64_data(static_cast<int>(i));
        std::memcpy(packed.data() + i * esize, &v, esize);  // little-endian low bytes
      }
      break;
    default:  // INT32, INT16, INT8, UINT16, UINT8, BOOL, FLOAT16, BFLOAT16 live in int32_data
      if (absl::Status s = check(t.int32_data_size()); !s.ok()) return s;
      for (int64_t i = 0; i < count; ++i) {
        const int32_t v = t.int32_data(static_cast<int>(i));
        std::memcpy(packed.data() + i * esize, &v, esize);
      }
      break;
  }
  owned_.push_back(std::move(packed));
  out->bytes = {owned_.back().data(), owned_.back().size()};
  return absl::OkStatus();
}

absl::StatusOr<absl::Span<const uint8_t>> OnnxModel::ExternalBytes(const onnx::TensorProto& t,
                                                                   uint64_t want) {
  std::string location;
  uint64_t offset = 0;
  bool has_length = false;
  uint64_t length = 0;
  for (const onnx::StringStringEntryProto& e : t.external_data()) {
    if (e.key() == "location") {
      location = e.value();
    } else if (e.key() == "offset" || e.key() == "length") {
      uint64_t v = 0;
      if (e.value().empty() || e.value().size() > 19 ||
          e.value().find_first_not_of("0123456789") != std::string::npos) {
        return Invalid(absl::StrCat(TensorLabel(t), ": external data ", e.key(), " '", e.value(),
                                    "' is not a number"));
      }
      v = std::strtoull(e.value().c_str(), nullptr, 10);
      if (e.key() == "offset") {
        offset = v;
      } else {
        has_length = true;
        length = v;
      }
    }
  }
  const std::string label = absl::StrCat(TensorLabel(t), ": external data '", location, "'");
  if (location.empty())
    return Invalid(absl::StrCat(TensorLabel(t), ": external data has no location"));
  if (location[0] == '/' || location.find('\\') != std::string::npos ||
      location.find('\0') != std::string::npos) {
    return absl::PermissionDeniedError(
        absl::StrCat(label, " is not a plain relative path inside the model's folder"));
  }
  for (absl::string_view part : absl::StrSplit(location, '/')) {
    if (part == "..") {
      return absl::PermissionDeniedError(absl::StrCat(label, " leaves the model's folder ('..')"));
    }
  }
  absl::StatusOr<std::string> real = RealPath(absl::StrCat(dir_, "/", location));
  if (!real.ok()) return Invalid(absl::StrCat(label, ": ", real.status().message()));
  if (real->size() <= dir_.size() + 1 || real->compare(0, dir_.size(), dir_) != 0 ||
      ((*real)[dir_.size()] != '/' && dir_ != "/")) {
    return absl::PermissionDeniedError(
        absl::StrCat(label, " resolves to '", *real, "', outside the model's folder"));
  }
  struct stat st;
  if (stat(real->c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Invalid(absl::StrCat(label, " is not a regular file"));
  }
  if (st.st_nlink > 1) {
    return absl::PermissionDeniedError(absl::StrCat(
        label, " has ", st.st_nlink, " hard links; only files with a single link are read"));
  }
  if (has_length && length != want) {
    return Invalid(
        absl::StrCat(label, ": length ", length, " does not match its shape's ", want, " bytes"));
  }
  auto it = external_.find(*real);
  if (it == external_.end()) {
    absl::StatusOr<std::unique_ptr<MappedFile>> f = MappedFile::Open(*real);
    if (!f.ok()) return Invalid(absl::StrCat(label, ": ", f.status().message()));
    it = external_.emplace(*real, std::move(*f)).first;
  }
  const MappedFile& f = *it->second;
  uint64_t end;
  if (!CheckedAdd(offset, want, &end) || end > f.size()) {
    return Invalid(absl::StrCat(label, ": bytes [", offset, ", ", offset, "+", want,
                                ") lie past its end (", f.size(), " bytes)"));
  }
  return absl::Span<const uint8_t>(f.data() + offset, want);
}

const OnnxTensor* OnnxModel::FindInitializer(std::string_view name) const {
  auto it = initializer_index_.find(std::string(name));
  return it == initializer_index_.end() ? nullptr : &initializers_[it->second];
}

int OnnxModel::Producer(std::string_view value) const {
  auto it = producer_.find(std::string(value));
  return it == producer_.end() ? -1 : it->second;
}

absl::Span<const int> OnnxModel::Consumers(std::string_view value) const {
  auto it = consumers_.find(std::string(value));
  if (it == consumers_.end()) return {};
  return it->second;
}

std::string OnnxModel::NodeLabel(int node) const {
  if (node < 0 || node >= graph().node_size()) return absl::StrCat("node ", node);
  const onnx::NodeProto& n = graph().node(node);
  return absl::StrCat("node ", node, " '", n.name(), "' (", n.op_type(), ")");
}

}  // namespace jetserve
