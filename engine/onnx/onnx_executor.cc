#include "engine/onnx/onnx_executor.h"

// The executor's core: the registry of kernels, the plan made at load (slots, constant
// folding, lifetimes) and the per-call run. The kernels are in onnx_ops_*.cc.
#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/model/status_macros.h"
#include "engine/onnx/onnx_ops.h"
#include "engine/util/checked_math.h"
#include "engine/util/string_view_compat.h"

namespace jetserve {

using onnx_ops::Ctx;
using onnx_ops::In;
using onnx_ops::InferCtx;
using onnx_ops::Invalid;
using onnx_ops::KernelEntry;
using onnx_ops::Out;
using onnx_ops::ShapeStr;
using onnx_ops::SymIn;
using onnx_ops::SymOfConstant;
using onnx_ops::SymOut;
using onnx_ops::SymValue;
using onnx_ops::TP;
using onnx_ops::Unsupported;

OnnxExecutor::~OnnxExecutor() = default;

namespace {

// All operators, from the families' tables; built once, read-only after.
const std::vector<KernelEntry>& Registry() {
  static const std::vector<KernelEntry>* const kAll = [] {
    auto* all = new std::vector<KernelEntry>();
    for (absl::Span<const KernelEntry> family :
         {onnx_ops::ElementwiseKernels(), onnx_ops::MatMulKernels(), onnx_ops::ReduceKernels(),
          onnx_ops::LayoutKernels(), onnx_ops::IndexKernels(), onnx_ops::MiscKernels()}) {
      all->insert(all->end(), family.begin(), family.end());
    }
    return all;
  }();
  return *kAll;
}

int KernelIndex(const std::string& op) {
  const std::vector<KernelEntry>& all = Registry();
  for (size_t i = 0; i < all.size(); ++i) {
    if (op == all[i].op) return static_cast<int>(i);
  }
  return -1;
}

bool IsDefaultDomain(const std::string& d) { return d.empty() || d == "ai.onnx"; }

}  // namespace

OnnxValue OnnxValue::Float(std::vector<int64_t> shape, absl::Span<const float> v) {
  OnnxValue r;
  r.dtype = TP::FLOAT;
  r.shape = std::move(shape);
  r.storage.resize(v.size() * sizeof(float));
  if (!v.empty()) std::memcpy(r.storage.data(), v.data(), r.storage.size());
  return r;
}

OnnxValue OnnxValue::Int64(std::vector<int64_t> shape, absl::Span<const int64_t> v) {
  OnnxValue r;
  r.dtype = TP::INT64;
  r.shape = std::move(shape);
  r.storage.resize(v.size() * sizeof(int64_t));
  if (!v.empty()) std::memcpy(r.storage.data(), v.data(), r.storage.size());
  return r;
}

namespace {

bool Computable(int32_t dt) {
  switch (dt) {
    case TP::FLOAT:
    case TP::DOUBLE:
    case TP::INT8:
    case TP::UINT8:
    case TP::INT16:
    case TP::UINT16:
    case TP::INT32:
    case TP::UINT32:
    case TP::INT64:
    case TP::UINT64:
    case TP::BOOL:
      return true;
    default:
      return false;
  }
}

// Bool elements must be 0 or 1 (any other byte is not a valid C++ bool).
absl::Status CheckBools(const OnnxValue& v, std::string_view what) {
  if (v.dtype != TP::BOOL) return absl::OkStatus();
  const uint8_t* p = v.bytes();
  for (int64_t i = 0; i < v.numel(); ++i) {
    if (p[i] > 1) return Invalid(absl::StrCat(Sv(what), ": BOOL element ", i, " is ", int{p[i]}));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<OnnxValue> OnnxValueFromProto(const onnx::TensorProto& t) {
  const std::string label = absl::StrCat("tensor '", t.name(), "'");
  if (!Computable(t.data_type())) {
    return Unsupported(absl::StrCat(label, " has element type ", OnnxTypeName(t.data_type()),
                                    ", which the executor does not compute with"));
  }
  if (t.data_location() == TP::EXTERNAL) {
    return Unsupported(absl::StrCat(label, ": external data outside an initializer"));
  }
  OnnxValue v;
  v.dtype = t.data_type();
  int64_t count = 1;
  for (int64_t d : t.dims()) {
    if (d < 0 || !CheckedMulSigned(count, d, &count) || count > (int64_t{1} << 34)) {
      return Invalid(absl::StrCat(label, " has an invalid shape"));
    }
    v.shape.push_back(d);
  }
  const size_t esize = static_cast<size_t>(OnnxElementSize(v.dtype));
  const size_t want = static_cast<size_t>(count) * esize;
  if (t.has_raw_data()) {
    if (t.raw_data().size() != want) {
      return Invalid(absl::StrCat(label, ": raw_data holds ", t.raw_data().size(),
                                  " bytes, its shape needs ", want));
    }
    v.storage.assign(t.raw_data().begin(), t.raw_data().end());
  } else {
    v.storage.resize(want);
    auto check = [&](int have) -> absl::Status {
      if (have != count) {
        return Invalid(absl::StrCat(label, " holds ", have, " elements, its shape needs ", count));
      }
      return absl::OkStatus();
    };
    uint8_t* p = v.storage.data();
    switch (v.dtype) {
      case TP::FLOAT:
        JS_RETURN_IF_ERROR(check(t.float_data_size()));
        if (count > 0) std::memcpy(p, t.float_data().data(), want);
        break;
      case TP::DOUBLE:
        JS_RETURN_IF_ERROR(check(t.double_data_size()));
        if (count > 0) std::memcpy(p, t.double_data().data(), want);
        break;
      case TP::INT64:
        JS_RETURN_IF_ERROR(check(t.int64_data_size()));
        if (count > 0) std::memcpy(p, t.int64_data().data(), want);
        break;
      case TP::UINT32:
      case TP::UINT64:
        JS_RETURN_IF_ERROR(check(t.uint64_data_size()));
        for (int64_t i = 0; i < count; ++i) {
          const uint64_t x = t.uint64_data(static_cast<int>(i));
          std::memcpy(p + static_cast<size_t>(i) * esize, &x, esize);
        }
        break;
      default:
        JS_RETURN_IF_ERROR(check(t.int32_data_size()));
        for (int64_t i = 0; i < count; ++i) {
          const int32_t x = t.int32_data(static_cast<int>(i));
          std::memcpy(p + static_cast<size_t>(i) * esize, &x, esize);
        }
        break;
    }
  }
  JS_RETURN_IF_ERROR(CheckBools(v, label));
  return v;
}

std::vector<std::string> OnnxExecutor::SupportedOperators() {
  std::vector<std::string> ops;
  for (const KernelEntry& k : Registry()) ops.push_back(k.op);
  std::sort(ops.begin(), ops.end());
  return ops;
}

bool OnnxExecutor::Supports(const std::string& op_type) { return KernelIndex(op_type) >= 0; }

int OnnxExecutor::InputIndex(const std::string& name) const {
  for (size_t i = 0; i < inputs_.size(); ++i) {
    if (inputs_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

int OnnxExecutor::OutputIndex(const std::string& name) const {
  for (size_t i = 0; i < outputs_.size(); ++i) {
    if (outputs_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

absl::StatusOr<std::unique_ptr<OnnxExecutor>> OnnxExecutor::Create(
    const OnnxModel& model, const OnnxExecutorOptions& options) {
  std::unique_ptr<OnnxExecutor> x(new OnnxExecutor());
  x->model_ = &model;
  x->options_ = options;
  x->opset_ = model.opset();
  JS_RETURN_IF_ERROR(x->Plan(model));
  return x;
}

namespace {

OnnxExecutor::ValueInfo ReadValueInfo(const onnx::ValueInfoProto& v) {
  OnnxExecutor::ValueInfo info;
  info.name = v.name();
  if (v.type().has_tensor_type()) {
    const onnx::TypeProto::Tensor& t = v.type().tensor_type();
    info.dtype = t.elem_type();
    if (t.has_shape()) {
      info.has_shape = true;
      for (const onnx::TensorShapeProto::Dimension& d : t.shape().dim()) {
        info.dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
        info.dim_names.push_back(d.has_dim_param() ? d.dim_param() : std::string());
      }
    }
  }
  return info;
}

}  // namespace

const OnnxShape& OnnxExecutor::output_shape(int i) const {
  return slot_shapes_[static_cast<size_t>(output_slots_[static_cast<size_t>(i)])];
}

absl::Status OnnxExecutor::Plan(const OnnxModel& model) {
  const onnx::GraphProto& g = model.graph();
  absl::flat_hash_map<std::string, int> slot_of;
  std::vector<SymValue> sym;  // what shape inference knows, per slot
  auto new_slot = [&](const std::string& name) {
    const int s = num_slots_++;
    slot_of[name] = s;
    constants_.emplace_back();
    sym.emplace_back();
    return s;
  };
  // Initializers are constants, viewed in place when aligned for their element type.
  for (const OnnxTensor& t : model.initializers()) {
    if (!Computable(t.data_type)) {
      return Unsupported(absl::StrCat("initializer '", t.name, "' has element type ",
                                      OnnxTypeName(t.data_type),
                                      ", which the executor does not compute with"));
    }
    auto v = std::make_unique<OnnxValue>();
    v->dtype = t.data_type;
    v->shape = t.dims;
    const size_t esize = static_cast<size_t>(OnnxElementSize(t.data_type));
    if (t.bytes.empty() || reinterpret_cast<uintptr_t>(t.bytes.data()) % esize == 0) {
      v->view = t.bytes.data();
      if (v->view == nullptr) v->storage.resize(0);
    } else {
      v->storage.assign(t.bytes.begin(), t.bytes.end());
    }
    if (v->view == nullptr && t.bytes.empty()) v->view = nullptr;
    JS_RETURN_IF_ERROR(CheckBools(*v, absl::StrCat("initializer '", t.name, "'")));
    const int s = new_slot(t.name);
    sym[static_cast<size_t>(s)] = SymOfConstant(*v);
    constants_[static_cast<size_t>(s)] = std::move(v);
  }
  for (const onnx::ValueInfoProto& in : g.input()) {
    if (slot_of.contains(in.name())) continue;  // an initializer listed as an input
    ValueInfo info = ReadValueInfo(in);
    if (!in.type().has_tensor_type()) {
      return Unsupported(absl::StrCat("graph input '", in.name(), "' is not a tensor"));
    }
    if (!Computable(info.dtype)) {
      return Unsupported(absl::StrCat("graph input '", in.name(), "' has element type ",
                                      OnnxTypeName(info.dtype),
                                      ", which the executor does not compute with"));
    }
    // Symbols: one per dim_param name, and one per unnamed dimension of unknown size.
    const int s = new_slot(in.name());
    SymValue& v = sym[static_cast<size_t>(s)];
    v.dtype = info.dtype;
    std::vector<int> ids;
    for (size_t d = 0; d < info.dims.size(); ++d) {
      std::string name = info.dim_names[d];
      if (name.empty() && info.dims[d] < 0) name = absl::StrCat(info.name, "[", d, "]");
      int id = -1;
      if (!name.empty()) {
        id = static_cast<int>(std::find(symbols_.begin(), symbols_.end(), name) - symbols_.begin());
        if (id == static_cast<int>(symbols_.size())) symbols_.push_back(name);
      }
      ids.push_back(id);
      v.shape.dims.push_back(info.dims[d] >= 0 ? OnnxDim::Const(info.dims[d])
                                               : OnnxDim::Symbol(id));
    }
    v.shape.has_rank = info.has_shape;
    input_symbols_.push_back(std::move(ids));
    inputs_.push_back(std::move(info));
    input_slots_.push_back(s);
  }
  // Nodes in topological order; nodes with only constant inputs are run now.
  const Ctx fold_ctx{&options_, opset_, nullptr, nullptr};
  for (int n : model.topo_order()) {
    const onnx::NodeProto& p = g.node(n);
    const std::string label = model.NodeLabel(n);
    if (!IsDefaultDomain(p.domain())) {
      return Unsupported(absl::StrCat(label, ": operator ", p.domain(), ".", p.op_type(),
                                      " is not supported (only the default ONNX domain)"));
    }
    Node node;
    node.index = n;
    node.proto = &p;
    node.kernel = KernelIndex(p.op_type());
    if (node.kernel < 0) {
      return Unsupported(absl::StrCat(label, ": operator ", p.op_type(),
                                      " is not supported by the ONNX executor"));
    }
    for (const onnx::AttributeProto& a : p.attribute()) {
      if (a.has_g() || a.graphs_size() > 0) {
        return Unsupported(absl::StrCat(label, ": attribute '", a.name(), "' holds a subgraph"));
      }
    }
    bool all_const = true;
    for (const std::string& in : p.input()) {
      if (in.empty()) {
        node.in.push_back(-1);
        continue;
      }
      auto it = slot_of.find(in);
      if (it == slot_of.end()) {
        return Invalid(absl::StrCat(label, ": input '", in, "' is not defined"));
      }
      node.in.push_back(it->second);
      if (constants_[static_cast<size_t>(it->second)] == nullptr) all_const = false;
    }
    for (const std::string& out : p.output()) {
      node.out.push_back(out.empty() ? -1 : new_slot(out));
    }
    if (all_const && options_.fold_constants) {
      In in;
      for (int s : node.in)
        in.push_back(s < 0 ? nullptr : constants_[static_cast<size_t>(s)].get());
      std::vector<std::unique_ptr<OnnxValue>> results(node.out.size());
      Out out;
      for (size_t k = 0; k < node.out.size(); ++k) {
        results[k] = std::make_unique<OnnxValue>();
        out.push_back(node.out[k] < 0 && k > 0 ? nullptr : results[k].get());
      }
      absl::Status s = Registry()[static_cast<size_t>(node.kernel)].fn(p, in, out, fold_ctx);
      if (!s.ok()) return absl::Status(s.code(), absl::StrCat(label, ": ", s.message()));
      for (size_t k = 0; k < node.out.size(); ++k) {
        if (node.out[k] < 0) continue;
        if (results[k]->dtype == 0) {
          return absl::InternalError(absl::StrCat(label, ": output ", k, " was not produced"));
        }
        sym[static_cast<size_t>(node.out[k])] = SymOfConstant(*results[k]);
        constants_[static_cast<size_t>(node.out[k])] = std::move(results[k]);
      }
      ++folded_;
      continue;
    }
    JS_RETURN_IF_ERROR(InferNode(node, label, &sym));
    plan_.push_back(std::move(node));
  }
  slot_shapes_.resize(sym.size());
  slot_dtypes_.resize(sym.size());
  for (size_t s = 0; s < sym.size(); ++s) {
    slot_shapes_[s] = std::move(sym[s].shape);
    slot_dtypes_[s] = sym[s].dtype;
  }
  // The sizes each call can check before running: outputs of symbolic, fully known shape.
  for (const Node& node : plan_) {
    for (int s : node.out) {
      if (s < 0) continue;
      const OnnxShape& shape = slot_shapes_[static_cast<size_t>(s)];
      const OnnxDim n = shape.numel();
      if (shape.fully_known() && !n.is_const()) size_checks_.push_back({node.index, s, n});
    }
  }
  for (const onnx::ValueInfoProto& out : g.output()) {
    auto it = slot_of.find(out.name());
    if (it == slot_of.end()) {
      return Invalid(absl::StrCat("graph output '", out.name(), "' is not defined"));
    }
    outputs_.push_back(ReadValueInfo(out));
    output_slots_.push_back(it->second);
  }
  // Lifetimes: each computed value is released after its last reader.
  std::vector<int> last(static_cast<size_t>(num_slots_), -1);
  for (size_t i = 0; i < plan_.size(); ++i) {
    for (int s : plan_[i].in) {
      if (s >= 0) last[static_cast<size_t>(s)] = static_cast<int>(i);
    }
    for (int s : plan_[i].out) {
      if (s >= 0 && last[static_cast<size_t>(s)] < static_cast<int>(i)) {
        last[static_cast<size_t>(s)] = static_cast<int>(i);  // unread outputs die at once
      }
    }
  }
  for (int s : output_slots_) last[static_cast<size_t>(s)] = -1;
  for (int s : input_slots_) last[static_cast<size_t>(s)] = -1;  // caller's buffers
  release_after_.assign(plan_.size(), {});
  for (int s = 0; s < num_slots_; ++s) {
    if (last[static_cast<size_t>(s)] >= 0 && constants_[static_cast<size_t>(s)] == nullptr) {
      release_after_[static_cast<size_t>(last[static_cast<size_t>(s)])].push_back(s);
    }
  }
  return absl::OkStatus();
}

absl::Status OnnxExecutor::InferNode(const Node& node, const std::string& label,
                                     std::vector<SymValue>* sym) {
  SymIn in;
  for (int s : node.in) in.push_back(s < 0 ? nullptr : &(*sym)[static_cast<size_t>(s)]);
  SymOut out(node.out.size());
  if (const onnx_ops::InferFn infer = Registry()[static_cast<size_t>(node.kernel)].infer;
      infer != nullptr) {
    const absl::Status st = infer(*node.proto, in, &out, InferCtx{opset_, symbols_, &assumptions_});
    if (!st.ok()) {
      return absl::Status(st.code(),
                          absl::StrCat(label, ": ", st.message(),
                                       " (shapes inferred at load: ", DescribeInputs(in), ")"));
    }
  }
  for (size_t k = 0; k < node.out.size(); ++k) {
    if (node.out[k] < 0) continue;
    SymValue& v = out[k];
    // Every output is checked against the limits when allocated; one of constant size that
    // breaks them would fail every call, so the graph is refused now.
    const OnnxDim n = v.shape.numel();
    if (v.shape.has_rank && static_cast<int>(v.shape.dims.size()) > options_.max_rank) {
      return Invalid(absl::StrCat(label, ": output rank ", v.shape.dims.size(),
                                  " is over the limit of ", options_.max_rank));
    }
    if (n.is_const() && n.value() > options_.max_elements) {
      return Invalid(absl::StrCat(label, ": output shape ", v.shape.ToString(symbols_),
                                  " has more than ", options_.max_elements, " elements"));
    }
    (*sym)[static_cast<size_t>(node.out[k])] = std::move(v);
  }
  return absl::OkStatus();
}

std::string OnnxExecutor::DescribeInputs(const std::vector<const SymValue*>& in) const {
  std::vector<std::string> parts;
  for (const SymValue* v : in) parts.push_back(v == nullptr ? "-" : v->shape.ToString(symbols_));
  return absl::StrJoin(parts, ", ");
}

absl::StatusOr<std::vector<int64_t>> OnnxExecutor::BindSymbols(
    absl::Span<const std::vector<int64_t>> shapes) const {
  if (shapes.size() != inputs_.size()) {
    return Invalid(
        absl::StrCat("the graph takes ", inputs_.size(), " inputs, ", shapes.size(), " given"));
  }
  std::vector<int64_t> values(symbols_.size(), -1);
  std::vector<size_t> bound_by(symbols_.size(), 0);
  for (size_t i = 0; i < shapes.size(); ++i) {
    const ValueInfo& info = inputs_[i];
    const std::vector<int64_t>& shape = shapes[i];
    const std::string label = absl::StrCat("input '", info.name, "'");
    for (int64_t d : shape) {
      if (d < 0) return Invalid(absl::StrCat(label, ": bad shape"));
    }
    if (!info.has_shape) continue;
    if (shape.size() != info.dims.size()) {
      return Invalid(absl::StrCat(label, " has rank ", shape.size(), ", the graph declares ",
                                  info.dims.size()));
    }
    for (size_t d = 0; d < shape.size(); ++d) {
      if (info.dims[d] >= 0 && info.dims[d] != shape[d]) {
        return Invalid(absl::StrCat(label, " has shape ", ShapeStr(shape), ", dimension ", d,
                                    " must be ", info.dims[d]));
      }
      const int id = input_symbols_[i][d];
      if (id < 0) continue;
      int64_t& v = values[static_cast<size_t>(id)];
      if (v < 0) {
        v = shape[d];
        bound_by[static_cast<size_t>(id)] = i;
      } else if (v != shape[d]) {
        return Invalid(absl::StrCat(label, ": dimension '", symbols_[static_cast<size_t>(id)],
                                    "' is ", shape[d], " here and ", v, " in input '",
                                    inputs_[bound_by[static_cast<size_t>(id)]].name, "'"));
      }
    }
  }
  return values;
}

std::vector<std::string> OnnxExecutor::assumptions() const {
  std::vector<std::string> r;
  for (const onnx_ops::SymAssumption& a : assumptions_) {
    r.push_back(absl::StrCat(a.expr.ToString(symbols_), " <= ", a.bound));
  }
  return r;
}

bool OnnxExecutor::InferenceHolds(absl::Span<const int64_t> values) const {
  for (int64_t v : values) {
    if (v < 1) return false;
  }
  for (const onnx_ops::SymAssumption& a : assumptions_) {
    const std::optional<int64_t> v = a.expr.Eval(values);
    if (!v.has_value() || *v > a.bound) return false;
  }
  return true;
}

absl::Status OnnxExecutor::CheckBoundShapes(absl::Span<const int64_t> values) const {
  for (const SizeCheck& c : size_checks_) {
    const std::optional<int64_t> n = c.numel.Eval(values);
    if (n.has_value() && *n <= options_.max_elements) continue;
    const OnnxShape& shape = slot_shapes_[static_cast<size_t>(c.slot)];
    std::vector<int64_t> dims;
    for (const OnnxDim& d : shape.dims) dims.push_back(d.Eval(values).value_or(-1));
    return Invalid(absl::StrCat(model_->NodeLabel(c.node), ": output shape ",
                                shape.ToString(symbols_), " = ", ShapeStr(dims), " has more than ",
                                options_.max_elements, " elements (refused before running)"));
  }
  return absl::OkStatus();
}

absl::Status OnnxExecutor::VerifyShape(const Node& node, size_t k, const OnnxValue& v,
                                       absl::Span<const int64_t> values) const {
  const size_t s = static_cast<size_t>(node.out[k]);
  const OnnxShape& want = slot_shapes_[s];
  bool ok = slot_dtypes_[s] == 0 || slot_dtypes_[s] == v.dtype;
  if (want.has_rank) {
    ok = ok && want.dims.size() == v.shape.size();
    for (size_t d = 0; ok && d < want.dims.size(); ++d) {
      const std::optional<int64_t> e = want.dims[d].Eval(values);
      ok = !want.dims[d].known() || (e.has_value() && *e == v.shape[d]);
    }
  }
  if (ok) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(model_->NodeLabel(node.index), ": output ", k, " is ",
                                          OnnxTypeName(v.dtype), " ", ShapeStr(v.shape),
                                          ", shape inference said ", OnnxTypeName(slot_dtypes_[s]),
                                          " ", want.ToString(symbols_)));
}

absl::Status OnnxExecutor::Run(std::vector<OnnxValue> inputs, std::vector<OnnxValue>* outputs,
                               ThreadPool* pool) const {
  if (inputs.size() != inputs_.size()) {
    return Invalid(
        absl::StrCat("the graph takes ", inputs_.size(), " inputs, ", inputs.size(), " given"));
  }
  std::vector<std::vector<int64_t>> shapes;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ValueInfo& info = inputs_[i];
    const OnnxValue& v = inputs[i];
    const std::string label = absl::StrCat("input '", info.name, "'");
    if (v.dtype != info.dtype) {
      return Invalid(absl::StrCat(label, " has element type ", OnnxTypeName(v.dtype),
                                  ", the graph declares ", OnnxTypeName(info.dtype)));
    }
    int64_t n = 1;
    for (int64_t d : v.shape) {
      if (d < 0 || !CheckedMulSigned(n, d, &n)) return Invalid(absl::StrCat(label, ": bad shape"));
    }
    if (v.view == nullptr &&
        v.storage.size() !=
            static_cast<size_t>(n) * static_cast<size_t>(OnnxElementSize(v.dtype))) {
      return Invalid(
          absl::StrCat(label, ": ", v.storage.size(), " bytes for shape ", ShapeStr(v.shape)));
    }
    JS_RETURN_IF_ERROR(CheckBools(v, label));
    shapes.push_back(v.shape);
  }
  // The symbols' values, and every output size the plan knows checked before any node runs.
  JS_ASSIGN_OR_RETURN(const std::vector<int64_t> values, BindSymbols(shapes));
  const bool holds = InferenceHolds(values);
  if (holds) JS_RETURN_IF_ERROR(CheckBoundShapes(values));
  const bool verify = options_.verify_shapes && holds;
  std::vector<OnnxValue> vals(static_cast<size_t>(num_slots_));
  std::vector<const OnnxValue*> ptr(static_cast<size_t>(num_slots_), nullptr);
  for (int s = 0; s < num_slots_; ++s)
    ptr[static_cast<size_t>(s)] = constants_[static_cast<size_t>(s)].get();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const size_t s = static_cast<size_t>(input_slots_[i]);
    vals[s] = std::move(inputs[i]);
    ptr[s] = &vals[s];
  }
  std::vector<std::vector<uint8_t>> free_list;
  const Ctx ctx{&options_, opset_, pool, &free_list};
  OnnxValue scratch;
  In in;
  Out out;
  for (size_t step = 0; step < plan_.size(); ++step) {
    const Node& node = plan_[step];
    in.clear();
    out.clear();
    for (int s : node.in) in.push_back(s < 0 ? nullptr : ptr[static_cast<size_t>(s)]);
    for (size_t k = 0; k < node.out.size(); ++k) {
      const int s = node.out[k];
      out.push_back(s < 0 ? (k == 0 ? &scratch : nullptr) : &vals[static_cast<size_t>(s)]);
    }
    absl::Status st = Registry()[static_cast<size_t>(node.kernel)].fn(*node.proto, in, out, ctx);
    if (!st.ok()) {
      return absl::Status(st.code(),
                          absl::StrCat(model_->NodeLabel(node.index), ": ", st.message()));
    }
    for (size_t k = 0; k < node.out.size(); ++k) {
      const int s = node.out[k];
      if (s < 0) continue;
      if (vals[static_cast<size_t>(s)].dtype == 0) {
        return absl::InternalError(
            absl::StrCat(model_->NodeLabel(node.index), ": output ", k, " was not produced"));
      }
      ptr[static_cast<size_t>(s)] = &vals[static_cast<size_t>(s)];
      if (verify) JS_RETURN_IF_ERROR(VerifyShape(node, k, vals[static_cast<size_t>(s)], values));
    }
    for (int s : release_after_[step]) {
      OnnxValue& v = vals[static_cast<size_t>(s)];
      if (v.storage.capacity() > 0) free_list.push_back(std::move(v.storage));
      v = OnnxValue();
    }
  }
  outputs->clear();
  outputs->reserve(output_slots_.size());
  for (int s : output_slots_) {
    const OnnxValue* v = ptr[static_cast<size_t>(s)];
    if (v == &vals[static_cast<size_t>(s)]) {
      outputs->push_back(std::move(vals[static_cast<size_t>(s)]));
      ptr[static_cast<size_t>(s)] = nullptr;
      continue;
    }
    if (v == nullptr) return absl::InternalError("a graph output was not computed");
    OnnxValue copy;
    copy.dtype = v->dtype;
    copy.shape = v->shape;
    const size_t bytes =
        static_cast<size_t>(v->numel()) * static_cast<size_t>(OnnxElementSize(v->dtype));
    copy.storage.assign(v->bytes(), v->bytes() + bytes);
    outputs->push_back(std::move(copy));
  }
  return absl::OkStatus();
}

}  // namespace jetserve