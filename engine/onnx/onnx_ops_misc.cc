// Kernels that make tensors (Constant, ConstantOfShape, Range) and the rest: Dropout
// (inference only: identity), Trilu.
#include <algorithm>
#include <cmath>

#include "engine/onnx/onnx_ops.h"

namespace jetserve::onnx_ops {
namespace {

absl::Status KConstantOfShape(const onnx::NodeProto& node, const In& in, const Out& out,
                              const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 1));
  JS_ASSIGN_OR_RETURN(Shape s, IntsOf(*in[0], "shape"));
  OnnxValue value = OnnxValue::Float({1}, std::vector<float>{0.0f});
  if (const onnx::AttributeProto* a = FindAttr(node, "value"); a != nullptr) {
    JS_ASSIGN_OR_RETURN(value, OnnxValueFromProto(a->t()));
    if (value.numel() != 1) return Invalid("value must hold one element");
  }
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], value.dtype, s));
  const size_t es = static_cast<size_t>(OnnxElementSize(value.dtype));
  for (int64_t i = 0; i < out[0]->numel(); ++i) {
    std::memcpy(out[0]->storage.data() + static_cast<size_t>(i) * es, value.bytes(), es);
  }
  return absl::OkStatus();
}

absl::Status KRange(const onnx::NodeProto&, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 3));
  JS_RETURN_IF_ERROR(SameType(*in[0], *in[1]));
  JS_RETURN_IF_ERROR(SameType(*in[0], *in[2]));
  const int32_t dt = in[0]->dtype;
  return DispatchNumeric(dt, [&](auto t) -> absl::Status {
    using T = decltype(t);
    for (int k = 0; k < 3; ++k) {
      if (in[static_cast<size_t>(k)]->numel() != 1)
        return Invalid("start, limit and delta must be scalars");
    }
    const T start = in[0]->data<T>()[0], limit = in[1]->data<T>()[0], delta = in[2]->data<T>()[0];
    if (delta == 0) return Invalid("delta is 0");
    const double n = std::ceil((static_cast<double>(limit) - static_cast<double>(start)) /
                               static_cast<double>(delta));
    if (!(n < static_cast<double>(ctx.options->max_elements))) {
      return Invalid(absl::StrCat("range has more than ", ctx.options->max_elements, " elements"));
    }
    const int64_t count = n > 0 ? static_cast<int64_t>(n) : 0;
    JS_RETURN_IF_ERROR(ctx.Alloc(out[0], dt, {count}));
    T v = start;
    for (int64_t i = 0; i < count; ++i) {
      out[0]->mutable_data<T>()[i] = v;
      v = WrapAdd(v, delta);
    }
    return absl::OkStatus();
  });
}

absl::Status KConstant(const onnx::NodeProto& node, const In&, const Out& out, const Ctx& ctx) {
  if (node.attribute_size() != 1) return Invalid("needs exactly one value attribute");
  const onnx::AttributeProto& a = node.attribute(0);
  if (a.name() == "value") {
    JS_ASSIGN_OR_RETURN(OnnxValue v, OnnxValueFromProto(a.t()));
    return CopyAs(v, v.shape, out[0], ctx);
  }
  if (a.name() == "value_float") {
    const float f = a.f();
    return CopyAs(OnnxValue::Float({}, {&f, 1}), {}, out[0], ctx);
  }
  if (a.name() == "value_floats") {
    std::vector<float> v(a.floats().begin(), a.floats().end());
    return CopyAs(OnnxValue::Float({static_cast<int64_t>(v.size())}, v),
                  {static_cast<int64_t>(v.size())}, out[0], ctx);
  }
  if (a.name() == "value_int") {
    const int64_t i = a.i();
    return CopyAs(OnnxValue::Int64({}, {&i, 1}), {}, out[0], ctx);
  }
  if (a.name() == "value_ints") {
    std::vector<int64_t> v(a.ints().begin(), a.ints().end());
    return CopyAs(OnnxValue::Int64({static_cast<int64_t>(v.size())}, v),
                  {static_cast<int64_t>(v.size())}, out[0], ctx);
  }
  return Unsupported(absl::StrCat("Constant attribute '", a.name(), "'"));
}

absl::Status KDropout(const onnx::NodeProto&, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 1));
  if (in.size() > 2 && in[2] != nullptr) {
    JS_ASSIGN_OR_RETURN(double training, ScalarOf(*in[2], "training_mode"));
    if (training != 0) return Unsupported("training_mode=true (inference only)");
  }
  JS_RETURN_IF_ERROR(CopyAs(*in[0], in[0]->shape, out[0], ctx));
  if (out.size() > 1 && out[1] != nullptr) {
    JS_RETURN_IF_ERROR(ctx.Alloc(out[1], TP::BOOL, in[0]->shape));
    std::fill(out[1]->storage.begin(), out[1]->storage.end(), uint8_t{1});
  }
  return absl::OkStatus();
}

absl::Status KTrilu(const onnx::NodeProto& node, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 1));
  const OnnxValue& x = *in[0];
  if (x.rank() < 2) return Invalid("input must have rank >= 2");
  int64_t k = 0;
  if (in.size() > 1 && in[1] != nullptr) {
    JS_ASSIGN_OR_RETURN(double kd, ScalarOf(*in[1], "k"));
    if (!(std::fabs(kd) < 9.0e15)) return Invalid("k is out of range");
    k = static_cast<int64_t>(kd);
  }
  const bool upper = AttrInt(node, "upper", 1) != 0;
  JS_RETURN_IF_ERROR(CopyAs(x, x.shape, out[0], ctx));
  const int64_t rows = x.shape[x.shape.size() - 2], cols = x.shape.back();
  const size_t es = static_cast<size_t>(OnnxElementSize(x.dtype));
  const int64_t mats = rows * cols == 0 ? 0 : x.numel() / (rows * cols);
  for (int64_t m = 0; m < mats; ++m) {
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) {
        const bool keep = upper ? (j - i >= k) : (j - i <= k);
        if (!keep)
          std::memset(
              out[0]->storage.data() + ((m * rows + i) * cols + j) * static_cast<int64_t>(es), 0,
              es);
      }
    }
  }
  return absl::OkStatus();
}

// ---- shape inference ---------------------------------------------------------------------

// (Constants are folded at load; this is for plans made with fold_constants off.)
absl::Status InferConstant(const onnx::NodeProto& node, const SymIn&, SymOut* out,
                           const InferCtx&) {
  if (node.attribute_size() != 1) return absl::OkStatus();
  const onnx::AttributeProto& a = node.attribute(0);
  SymValue& y = (*out)[0];
  if (a.name() == "value") {
    const std::vector<int64_t> dims(a.t().dims().begin(), a.t().dims().end());
    for (int64_t d : dims) {
      if (d < 0) return absl::OkStatus();
    }
    y.dtype = a.t().data_type();
    y.shape = OnnxShape::Concrete(dims);
    const OnnxDim n = y.shape.numel();
    if (n.is_const() && n.value() <= kMaxSymElements) {
      if (absl::StatusOr<OnnxValue> v = OnnxValueFromProto(a.t()); v.ok()) y = SymOfConstant(*v);
    }
  } else if (a.name() == "value_float" || a.name() == "value_int") {
    y.dtype = a.name() == "value_float" ? TP::FLOAT : TP::INT64;
    y.shape = OnnxShape::Of({});
    if (y.dtype == TP::INT64) y.value = {OnnxDim::Const(a.i())};
    y.has_value = y.dtype == TP::INT64;
  } else if (a.name() == "value_floats") {
    y.dtype = TP::FLOAT;
    y.shape = OnnxShape::Concrete({a.floats_size()});
  } else if (a.name() == "value_ints") {
    y.dtype = TP::INT64;
    y.shape = OnnxShape::Concrete({a.ints_size()});
    if (a.ints_size() <= kMaxSymElements) {
      y.has_value = true;
      for (int64_t i : a.ints()) y.value.push_back(OnnxDim::Const(i));
    }
  }
  return absl::OkStatus();
}

absl::Status InferConstantOfShape(const onnx::NodeProto& node, const SymIn& in, SymOut* out,
                                  const InferCtx&) {
  SymValue& y = (*out)[0];
  y.dtype = TP::FLOAT;
  if (const onnx::AttributeProto* a = FindAttr(node, "value"); a != nullptr) {
    y.dtype = a->t().data_type();
  }
  const SymValue* s = SymArg(in, 0);
  if (s == nullptr || !s->shape.has_rank || s->shape.dims.size() != 1) return absl::OkStatus();
  if (!s->has_value) {
    if (s->shape.dims[0].is_const() && s->shape.dims[0].value() <= kMaxSymElements) {
      y.shape = OnnxShape::Of(std::vector<OnnxDim>(static_cast<size_t>(s->shape.dims[0].value())));
    }
    return absl::OkStatus();
  }
  for (const OnnxDim& d : s->value) {
    if (d.is_const() && d.value() < 0) return absl::OkStatus();  // fails at run time
  }
  y.shape = OnnxShape::Of(s->value);
  // The elements of a small integer fill (shape arithmetic: ConstantOfShape(Shape(t)) * -1).
  const OnnxDim n = y.shape.numel();
  if (const onnx::AttributeProto* a = FindAttr(node, "value");
      a != nullptr && n.is_const() && n.value() <= kMaxSymElements) {
    absl::StatusOr<OnnxValue> v = OnnxValueFromProto(a->t());
    if (v.ok() && v->numel() == 1) {
      const SymValue fill = SymOfConstant(*v);
      if (fill.has_value) {
        y.has_value = true;
        y.value.assign(static_cast<size_t>(n.value()), fill.value[0]);
      }
    }
  }
  return absl::OkStatus();
}

absl::Status InferRange(const onnx::NodeProto&, const SymIn& in, SymOut* out, const InferCtx&) {
  if (in.size() < 3 || in[0] == nullptr || in[1] == nullptr || in[2] == nullptr) {
    return absl::OkStatus();
  }
  SymValue& y = (*out)[0];
  y.dtype = in[0]->dtype;
  y.shape = OnnxShape::Of({OnnxDim()});
  if (!in[0]->has_value || !in[1]->has_value || !in[2]->has_value || in[0]->value.size() != 1 ||
      in[1]->value.size() != 1 || in[2]->value.size() != 1) {
    return absl::OkStatus();
  }
  const OnnxDim &start = in[0]->value[0], &limit = in[1]->value[0], &delta = in[2]->value[0];
  // max(0, ceil((limit - start) / delta)) where provable: torch's arange over a dimension,
  // Range(0, seq, 1), and RoBERTa's positions, Range(2, seq + 2, 1).
  if (!delta.is_const() || delta.value() <= 0) return absl::OkStatus();
  const OnnxDim n = (limit - start).DivExact(delta);
  if (n.nonnegative()) y.shape.dims[0] = n;
  return absl::OkStatus();
}

absl::Status InferDropout(const onnx::NodeProto& node, const SymIn& in, SymOut* out,
                          const InferCtx& ctx) {
  JS_RETURN_IF_ERROR(InferSame(node, in, out, ctx));
  if (out->size() > 1) {
    (*out)[1].shape = (*out)[0].shape;
    (*out)[1].dtype = TP::BOOL;
  }
  return absl::OkStatus();
}

constexpr KernelEntry kKernels[] = {
    {"Constant", KConstant, InferConstant},
    {"ConstantOfShape", KConstantOfShape, InferConstantOfShape},
    {"Dropout", KDropout, InferDropout},
    {"Range", KRange, InferRange},
    {"Trilu", KTrilu, InferSame},
};

}  // namespace

absl::Span<const KernelEntry> MiscKernels() { return kKernels; }

}  // namespace jetserve::onnx_ops
