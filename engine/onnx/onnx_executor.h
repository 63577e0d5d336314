// The generic ONNX executor on the CPU: runs any graph built from the operators in
// OnnxExecutor::SupportedOperators() (those torch.onnx.export, opsets 14-20, and HF Optimum
// put into transformer encoders, plus the int8 operators), for graphs the native encoder does
// not recognize and as a second, independent oracle for the native path.
//
// The plan is static and made once at load:
//   - the graph is checked by OnnxModel (inputs defined, no cycles) and its nodes taken in
//     topological order; an operator outside the supported set (or outside the default
//     domain) is refused here, naming node and operator;
//   - every node whose inputs are all constants (initializers, Constant nodes and their
//     consequences, e.g. the Shape-free parts of attention-mask arithmetic) is run once
//     and replaced by its result (constant folding);
//   - graph inputs keep their declared element types and dimensions; symbolic dimensions
//     (`batch`, `sequence`) must take one value across all inputs of a call;
//   - shape inference (onnx_shape.h) gives every value's shape in terms of those symbols
//     (an unnamed dimension of unknown size is a symbol too) where it can prove it, e.g.
//     [batch, 12, sequence, sequence] for attention scores; a node whose constant dims
//     contradict each other (MatMul's inner dims, a Reshape's element count, a broadcast) is
//     refused here, naming node and operator;
//   - each intermediate value's last reader is found, so its buffer returns to a free list
//     right after that node and is reused by later outputs (buffer reuse).
// Per call, the inputs bind the symbols (rank, constant dims and one value per symbol are
// checked first), and every output size the plan knows is checked against
// OnnxExecutorOptions before any node runs; the rest are checked as each node allocates.
// Absurd shapes are InvalidArgument, not an allocation failure. Every error names node and
// operator.
//
//   JS_ASSIGN_OR_RETURN(std::unique_ptr<OnnxModel> m, OnnxModel::Load("model.onnx"));
//   JS_ASSIGN_OR_RETURN(std::unique_ptr<OnnxExecutor> x, OnnxExecutor::Create(*m));
//   std::vector<OnnxValue> in = {OnnxValue::Int64({1, 5}, ids), OnnxValue::Int64({1, 5}, mask)};
//   std::vector<OnnxValue> out;
//   JS_RETURN_IF_ERROR(x->Run(in, &out, &pool));   // in graph-input order, out in graph-output
//   order
//   x->ShapeString(x->output_shape(0));            // "[batch, sequence, 384]"
//
// The OnnxModel must outlive the executor (initializers are read in place). Run is const and
// may be called from several threads at once.
#ifndef JETSERVE_ENGINE_ONNX_ONNX_EXECUTOR_H_
#define JETSERVE_ENGINE_ONNX_ONNX_EXECUTOR_H_

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/onnx/onnx_model.h"
#include "engine/onnx/onnx_shape.h"
#include "engine/util/thread_pool.h"

namespace jetserve {

// A dense tensor: element type (onnx::TensorProto::DataType), shape, little-endian elements.
// Owns its bytes, or views bytes owned elsewhere (initializers) when `view` is set.
struct OnnxValue {
  int32_t dtype = 0;
  std::vector<int64_t> shape;
  std::vector<uint8_t> storage;
  const uint8_t* view = nullptr;

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  int rank() const { return static_cast<int>(shape.size()); }
  const uint8_t* bytes() const { return view != nullptr ? view : storage.data(); }
  template <typename T>
  const T* data() const {
    return reinterpret_cast<const T*>(bytes());
  }
  template <typename T>
  T* mutable_data() {
    return reinterpret_cast<T*>(storage.data());
  }

  static OnnxValue Float(std::vector<int64_t> shape, absl::Span<const float> v);
  static OnnxValue Int64(std::vector<int64_t> shape, absl::Span<const int64_t> v);
};

// A TensorProto with its data inline (raw_data or typed fields) as a value; InvalidArgument
// for a size mismatch, Unimplemented for an element type the executor does not compute with.
absl::StatusOr<OnnxValue> OnnxValueFromProto(const onnx::TensorProto& t);

struct OnnxExecutorOptions {
  int64_t max_elements = int64_t{1} << 31;  // per tensor
  int max_rank = 16;
  bool fold_constants = true;
  // Checks each node's outputs against the inferred shapes and element types as it runs
  // (InternalError on a difference, which is a bug in inference): for tests.
  bool verify_shapes = false;
};

namespace onnx_ops {
struct SymValue;
struct SymAssumption;
}  // namespace onnx_ops

class OnnxExecutor {
 public:
  // A graph input or output as declared: element type and dims (-1 where symbolic or absent,
  // with the symbol's name in dim_names).
  struct ValueInfo {
    std::string name;
    int32_t dtype = 0;
    bool has_shape = false;
    std::vector<int64_t> dims;
    std::vector<std::string> dim_names;
  };

  static absl::StatusOr<std::unique_ptr<OnnxExecutor>> Create(
      const OnnxModel& model, const OnnxExecutorOptions& options = {});
  // The operators of the default domain the executor runs, sorted.
  static std::vector<std::string> SupportedOperators();
  static bool Supports(const std::string& op_type);

  // Graph inputs to be fed (initializers that are also listed as inputs are not), in order.
  const std::vector<ValueInfo>& inputs() const { return inputs_; }
  const std::vector<ValueInfo>& outputs() const { return outputs_; }
  // Index of an input or output by name, -1 if none.
  int InputIndex(const std::string& name) const;
  int OutputIndex(const std::string& name) const;
  // Nodes left to run per call after constant folding.
  int num_planned_nodes() const { return static_cast<int>(plan_.size()); }
  int num_folded_nodes() const { return folded_; }

  // Static shapes. Symbol i is symbols()[i]: a dim_param of the graph inputs, or
  // "input[axis]" for an unnamed dimension of unknown size. Inferred shapes hold for calls in
  // which every symbol is >= 1 and the assumptions() hold (InferenceHolds); other calls run
  // unchecked by them (an empty batch; a sequence past a position table, which then fails).
  const std::vector<std::string>& symbols() const { return symbols_; }
  // What inference assumed, e.g. "sequence <= 512".
  std::vector<std::string> assumptions() const;
  bool InferenceHolds(absl::Span<const int64_t> symbol_values) const;
  const OnnxShape& output_shape(int i) const;
  std::string ShapeString(const OnnxShape& s) const { return s.ToString(symbols_); }
  // The symbols' values for a call with inputs of these shapes (in inputs() order);
  // InvalidArgument for a rank or constant dim other than declared, or a symbol with two
  // values.
  absl::StatusOr<std::vector<int64_t>> BindSymbols(
      absl::Span<const std::vector<int64_t>> shapes) const;

  // Runs the graph. `inputs` follow inputs(); `outputs` receives one value per outputs().
  absl::Status Run(std::vector<OnnxValue> inputs, std::vector<OnnxValue>* outputs,
                   ThreadPool* pool = nullptr) const;

  // One planned node: its graph index, value slots (-1: an omitted optional one), kernel.
  struct Node {
    int index = 0;
    const onnx::NodeProto* proto = nullptr;
    std::vector<int> in, out;
    int kernel = -1;
  };

 private:
  OnnxExecutor() = default;
  absl::Status Plan(const OnnxModel& model);
  // Shape inference for one planned node: from (*sym)[its inputs] to (*sym)[its outputs].
  absl::Status InferNode(const Node& node, const std::string& label,
                         std::vector<onnx_ops::SymValue>* sym);
  std::string DescribeInputs(const std::vector<const onnx_ops::SymValue*>& in) const;
  absl::Status CheckBoundShapes(absl::Span<const int64_t> values) const;
  absl::Status VerifyShape(const Node& node, size_t k, const OnnxValue& v,
                           absl::Span<const int64_t> values) const;

  const OnnxModel* model_ = nullptr;
  OnnxExecutorOptions options_;
  int64_t opset_ = 0;
  std::vector<ValueInfo> inputs_, outputs_;
  std::vector<int> input_slots_, output_slots_;
  int num_slots_ = 0;
  std::vector<std::unique_ptr<OnnxValue>> constants_;  // by slot; null if computed per call
  std::vector<Node> plan_;
  std::vector<std::vector<int>> release_after_;  // per plan step: slots whose last reader it is
  int folded_ = 0;
  std::vector<std::string> symbols_;
  std::vector<std::vector<int>> input_symbols_;  // per input and dim: symbol id, or -1
  std::vector<OnnxShape> slot_shapes_;           // inferred, by slot
  std::vector<int32_t> slot_dtypes_;             // inferred (0: unknown), by slot
  struct SizeCheck {
    int node;  // graph index
    int slot;
    OnnxDim numel;
  };
  std::vector<SizeCheck> size_checks_;
  std::vector<onnx_ops::SymAssumption> assumptions_;

 public:
  ~OnnxExecutor();
};

}  // namespace jetserve

#endif  // JETSERVE_ENGINE_ONNX_ONNX_EXECUTOR_H_
