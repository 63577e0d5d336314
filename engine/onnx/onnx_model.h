// ONNX model files: parses a ModelProto with libonnx-dev's generated protobuf classes under
// size and nesting limits, checks the graph (every input defined, no cycles, unique outputs)
// and resolves every initializer — inline, typed-field or external data — into a typed view.
// External data is read only from regular files inside the model's folder: absolute paths,
// `..` components, symlinks resolving outside the folder and files with more than one hard
// link are refused. Errors are InvalidArgument naming the file, node (index, name, operator)
// or tensor; no input file can crash the loader.
//
//   JS_ASSIGN_OR_RETURN(std::unique_ptr<OnnxModel> m, OnnxModel::Load("dir/model.onnx"));
//   const OnnxTensor* w = m->FindInitializer("embeddings.word_embeddings.weight");
//   for (int n : m->topo_order()) { const onnx::NodeProto& node = m->graph().node(n); ... }
#ifndef JETSERVE_ENGINE_ONNX_ONNX_MODEL_H_
#define JETSERVE_ENGINE_ONNX_ONNX_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/util/mapped_file.h"
#include "onnx/onnx_pb.h"

namespace jetserve {

struct OnnxLoadOptions {
  uint64_t max_file_bytes = (uint64_t{1} << 31) - 1;  // protobuf's own ceiling
  int max_nesting = 32;                               // protobuf message recursion
  int64_t max_nodes = 1 << 20;
  int max_rank = 8;
  int64_t max_tensor_elements = int64_t{1} << 32;
};

// An initializer's elements, little-endian, tightly packed. `bytes` points into the parsed
// model, an external-data mapping, or storage owned by the OnnxModel (typed fields); it may
// be unaligned: read through memcpy or ToFloats.
struct OnnxTensor {
  std::string name;
  int32_t data_type = 0;  // onnx::TensorProto::DataType
  std::vector<int64_t> dims;
  int64_t num_elements = 0;
  absl::Span<const uint8_t> bytes;

  int64_t dim(int i) const { return i < static_cast<int>(dims.size()) ? dims[i] : 1; }
  int rank() const { return static_cast<int>(dims.size()); }
};

// Bytes per element of a data type the loader reads, 0 for others (strings, complex, …).
int OnnxElementSize(int32_t data_type);
// Name of a TensorProto data type ("FLOAT", "INT64", …).
std::string OnnxTypeName(int32_t data_type);
// The elements as floats (FLOAT, FLOAT16, BFLOAT16, DOUBLE); InvalidArgument otherwise.
absl::StatusOr<std::vector<float>> ToFloats(const OnnxTensor& t);
// The elements as int64 (INT64, INT32, INT8, UINT8); InvalidArgument otherwise.
absl::StatusOr<std::vector<int64_t>> ToInts(const OnnxTensor& t);

class OnnxModel {
 public:
  // Reads and checks `path`; external data is looked up beside it.
  static absl::StatusOr<std::unique_ptr<OnnxModel>> Load(const std::string& path,
                                                         const OnnxLoadOptions& options = {});
  // Parses serialized bytes; external data is looked up in `dir`.
  static absl::StatusOr<std::unique_ptr<OnnxModel>> FromBytes(absl::Span<const uint8_t> bytes,
                                                              const std::string& dir,
                                                              const OnnxLoadOptions& options = {});

  OnnxModel(const OnnxModel&) = delete;
  OnnxModel& operator=(const OnnxModel&) = delete;

  const onnx::ModelProto& proto() const { return proto_; }
  const onnx::GraphProto& graph() const { return proto_.graph(); }
  // Opset of the default ("" / "ai.onnx") domain; 0 if not imported.
  int64_t opset() const { return opset_; }
  const std::string& dir() const { return dir_; }

  absl::Span<const OnnxTensor> initializers() const { return initializers_; }
  const OnnxTensor* FindInitializer(std::string_view name) const;
  // Node indices (into graph().node()) in an order where producers precede consumers.
  absl::Span<const int> topo_order() const { return topo_; }
  // The node producing `value`, or -1 (graph input, initializer, unknown).
  int Producer(std::string_view value) const;
  // Nodes reading `value` (empty span if none).
  absl::Span<const int> Consumers(std::string_view value) const;
  // "node 12 'Add_3' (Add)" for error messages.
  std::string NodeLabel(int node) const;

 private:
  OnnxModel() = default;
  absl::Status Parse(absl::Span<const uint8_t> bytes, const OnnxLoadOptions& options);
  absl::Status CheckGraph(const OnnxLoadOptions& options);
  absl::Status ResolveInitializer(const onnx::TensorProto& t, const OnnxLoadOptions& options,
                                  OnnxTensor* out);
  absl::StatusOr<absl::Span<const uint8_t>> ExternalBytes(const onnx::TensorProto& t,
                                                          uint64_t want);

  std::string dir_;
  onnx::ModelProto proto_;
  int64_t opset_ = 0;
  std::vector<OnnxTensor> initializers_;
  absl::flat_hash_map<std::string, size_t> initializer_index_;
  std::vector<int> topo_;
  absl::flat_hash_map<std::string, int> producer_;
  absl::flat_hash_map<std::string, std::vector<int>> consumers_;
  std::vector<std::vector<uint8_t>> owned_;                                 // typed-field tensors
  absl::flat_hash_map<std::string, std::unique_ptr<MappedFile>> external_;  // by real path
};

}  // namespace jetserve

#endif  // JETSERVE_ENGINE_ONNX_ONNX_MODEL_H_
