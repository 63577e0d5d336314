// Kernels that change a tensor's shape or layout, not its elements: Identity, Shape, Size,
// Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Expand, Tile.
#include <algorithm>
#include <optional>

#include "engine/onnx/onnx_ops.h"
#include "engine/util/checked_math.h"

namespace jetserve::onnx_ops {
namespace {

absl::Status KIdentity(const onnx::NodeProto&, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 1));
  return CopyAs(*in[0], in[0]->shape, out[0], ctx);
}

absl::Status KShape(const onnx::NodeProto& node, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 1));
  const int64_t r = in[0]->rank();
  auto clamp = [&](int64_t v) {
    if (v < 0) v += r;
    return std::clamp<int64_t>(v, 0, r);
  };
  const int64_t start = clamp(AttrInt(node, "start", 0));
  const int64_t end = clamp(AttrInt(node, "end", r));
  const int64_t n = std::max<int64_t>(0, end - start);
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], TP::INT64, {n}));
  for (int64_t i = 0; i < n; ++i) {
    out[0]->mutable_data<int64_t>()[i] = in[0]->shape[static_cast<size_t>(start + i)];
  }
  return absl::OkStatus();
}

absl::Status KSize(const onnx::NodeProto&, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 1));
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], TP::INT64, {}));
  out[0]->mutable_data<int64_t>()[0] = in[0]->numel();
  return absl::OkStatus();
}

absl::Status KReshape(const onnx::NodeProto& node, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 2));
  const OnnxValue& x = *in[0];
  JS_ASSIGN_OR_RETURN(Shape want, IntsOf(*in[1], "shape"));
  const bool allowzero = AttrInt(node, "allowzero", 0) != 0;
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < want.size(); ++i) {
    int64_t& d = want[i];
    if (d == 0 && !allowzero) {
      if (i >= x.shape.size()) {
        return Invalid(absl::StrCat("shape ", ShapeStr(want), ": a 0 at index ", i,
                                    " copies a dimension the input ", ShapeStr(x.shape), " lacks"));
      }
      d = x.shape[i];
    }
    if (d == -1) {
      if (infer >= 0) return Invalid(absl::StrCat("shape ", ShapeStr(want), " has two -1"));
      infer = static_cast<int>(i);
      continue;
    }
    if (d < 0) return Invalid(absl::StrCat("shape ", ShapeStr(want), " has a negative dimension"));
    if (!CheckedMulSigned(known, d, &known)) return Invalid("shape overflows");
  }
  if (infer >= 0) {
    if (known == 0 || x.numel() % known != 0) {
      return Invalid(absl::StrCat("cannot reshape ", ShapeStr(x.shape), " to ", ShapeStr(want)));
    }
    want[static_cast<size_t>(infer)] = x.numel() / known;
  } else if (known != x.numel()) {
    return Invalid(absl::StrCat("cannot reshape ", ShapeStr(x.shape), " (", x.numel(),
                                " elements) to ", ShapeStr(want)));
  }
  return CopyAs(x, std::move(want), out[0], ctx);
}

absl::Status KFlatten(const onnx::NodeProto& node, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 1));
  const OnnxValue& x = *in[0];
  int64_t axis = AttrInt(node, "axis", 1);
  if (axis < 0) axis += x.rank();
  if (axis < 0 || axis > x.rank()) return Invalid(absl::StrCat("axis ", axis, " is out of range"));
  const size_t a = static_cast<size_t>(axis);
  return CopyAs(x, {Prod(x.shape, 0, a), Prod(x.shape, a, x.shape.size())}, out[0], ctx);
}

absl::StatusOr<Shape> AxesOf(const onnx::NodeProto& node, const In& in, bool* given) {
  Shape axes;
  *given = false;
  if (in.size() > 1 && in[1] != nullptr) {
    JS_ASSIGN_OR_RETURN(axes, IntsOf(*in[1], "axes"));
    *given = true;
  } else if (AttrInts(node, "axes", &axes)) {
    *given = true;
  }
  return axes;
}

absl::Status KSqueeze(const onnx::NodeProto& node, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 1));
  const OnnxValue& x = *in[0];
  bool given;
  JS_ASSIGN_OR_RETURN(Shape axes, AxesOf(node, in, &given));
  std::vector<bool> drop(x.shape.size(), false);
  if (!given) {
    for (size_t i = 0; i < x.shape.size(); ++i) drop[i] = x.shape[i] == 1;
  }
  for (int64_t a : axes) {
    JS_ASSIGN_OR_RETURN(int ax, NormAxis(a, x.rank(), "axes"));
    if (x.shape[static_cast<size_t>(ax)] != 1) {
      return Invalid(absl::StrCat("cannot squeeze axis ", a, " of ", ShapeStr(x.shape)));
    }
    drop[static_cast<size_t>(ax)] = true;
  }
  Shape s;
  for (size_t i = 0; i < x.shape.size(); ++i) {
    if (!drop[i]) s.push_back(x.shape[i]);
  }
  return CopyAs(x, std::move(s), out[0], ctx);
}

absl::Status KUnsqueeze(const onnx::NodeProto& node, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 1));
  const OnnxValue& x = *in[0];
  bool given;
  JS_ASSIGN_OR_RETURN(Shape axes, AxesOf(node, in, &given));
  if (!given) return Invalid("axes are required");
  const int r = x.rank() + static_cast<int>(axes.size());
  if (r > ctx.options->max_rank) return Invalid(absl::StrCat("rank ", r, " is over the limit"));
  std::vector<bool> ins(static_cast<size_t>(r), false);
  for (int64_t a : axes) {
    JS_ASSIGN_OR_RETURN(int ax, NormAxis(a, r, "axes"));
    if (ins[static_cast<size_t>(ax)]) return Invalid(absl::StrCat("axis ", a, " is repeated"));
    ins[static_cast<size_t>(ax)] = true;
  }
  Shape s;
  size_t j = 0;
  for (int i = 0; i < r; ++i) s.push_back(ins[static_cast<size_t>(i)] ? 1 : x.shape[j++]);
  return CopyAs(x, std::move(s), out[0], ctx);
}

absl::Status KTranspose(const onnx::NodeProto& node, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 1));
  const OnnxValue& x = *in[0];
  const size_t r = x.shape.size();
  Shape perm;
  if (!AttrInts(node, "perm", &perm)) {
    for (size_t i = 0; i < r; ++i) perm.push_back(static_cast<int64_t>(r - 1 - i));
  }
  if (perm.size() != r)
    return Invalid(absl::StrCat("perm has ", perm.size(), " axes, input rank ", r));
  std::vector<bool> seen(r, false);
  Shape s(r), in_strides(r), st(r);
  int64_t stride = 1;
  for (size_t i = r; i-- > 0;) {
    in_strides[i] = stride;
    stride *= x.shape[i];
  }
  for (size_t i = 0; i < r; ++i) {
    if (perm[i] < 0 || perm[i] >= static_cast<int64_t>(r) || seen[static_cast<size_t>(perm[i])]) {
      return Invalid(absl::StrCat("perm ", ShapeStr(perm), " is not a permutation"));
    }
    seen[static_cast<size_t>(perm[i])] = true;
    s[i] = x.shape[static_cast<size_t>(perm[i])];
    st[i] = in_strides[static_cast<size_t>(perm[i])];
  }
  std::vector<int64_t> src;
  src.reserve(static_cast<size_t>(x.numel()));
  ForEachBroadcast<1>(s, {st},
                      [&](int64_t, const std::array<int64_t, 1>& o) { src.push_back(o[0]); });
  return Gather1(x, s, out[0], ctx, [&](int64_t i) { return src[static_cast<size_t>(i)]; });
}

absl::Status KExpand(const onnx::NodeProto&, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 2));
  const OnnxValue& x = *in[0];
  JS_ASSIGN_OR_RETURN(Shape want, IntsOf(*in[1], "shape"));
  if (static_cast<int>(want.size()) > ctx.options->max_rank)
    return Invalid("shape rank is over the limit");
  for (int64_t d : want) {
    if (d < 0) return Invalid(absl::StrCat("shape ", ShapeStr(want), " is negative"));
  }
  JS_ASSIGN_OR_RETURN(Shape s, BroadcastShapes({&x.shape, &want}));
  const Shape st = BroadcastStrides(x.shape, s);
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], x.dtype, s));  // checks the size before indexing
  std::vector<int64_t> src;
  src.reserve(static_cast<size_t>(out[0]->numel()));
  ForEachBroadcast<1>(s, {st},
                      [&](int64_t, const std::array<int64_t, 1>& o) { src.push_back(o[0]); });
  return Gather1(x, s, out[0], ctx, [&](int64_t i) { return src[static_cast<size_t>(i)]; });
}

absl::Status KTile(const onnx::NodeProto&, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 2));
  const OnnxValue& x = *in[0];
  JS_ASSIGN_OR_RETURN(Shape rep, IntsOf(*in[1], "repeats"));
  if (static_cast<int>(rep.size()) != x.rank())
    return Invalid("repeats must have one entry per axis");
  Shape s = x.shape;
  for (size_t i = 0; i < s.size(); ++i) {
    if (rep[i] < 0) return Invalid("repeats must be >= 0");
    if (!CheckedMulSigned(s[i], rep[i], &s[i])) return Invalid("output shape overflows");
  }
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], x.dtype, s));
  Shape xs(s.size());
  int64_t stride = 1;
  for (size_t i = s.size(); i-- > 0;) {
    xs[i] = stride;
    stride *= x.shape[i];
  }
  const int64_t n = out[0]->numel();
  std::vector<int64_t> src(static_cast<size_t>(n));
  std::vector<int64_t> idx(s.size(), 0);
  for (int64_t o = 0; o < n; ++o) {
    int64_t off = 0;
    for (size_t d = 0; d < s.size(); ++d) off += (idx[d] % x.shape[d]) * xs[d];
    src[static_cast<size_t>(o)] = off;
    for (size_t d = s.size(); d-- > 0;) {
      if (++idx[d] < s[d]) break;
      idx[d] = 0;
    }
  }
  return Gather1(x, s, out[0], ctx, [&](int64_t i) { return src[static_cast<size_t>(i)]; });
}

// ---- shape inference ---------------------------------------------------------------------

absl::Status InferIdentity(const onnx::NodeProto&, const SymIn& in, SymOut* out, const InferCtx&) {
  if (const SymValue* x = SymArg(in, 0); x != nullptr) (*out)[0] = *x;
  return absl::OkStatus();
}

absl::Status InferShape(const onnx::NodeProto& node, const SymIn& in, SymOut* out,
                        const InferCtx&) {
  const SymValue* x = SymArg(in, 0);
  SymValue& y = (*out)[0];
  y.dtype = TP::INT64;
  y.shape = OnnxShape::Of({OnnxDim()});
  if (x == nullptr || !x->shape.has_rank) return absl::OkStatus();
  const int64_t r = static_cast<int64_t>(x->shape.dims.size());
  auto clamp = [&](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + r : v, 0, r); };
  const int64_t start = clamp(AttrInt(node, "start", 0)), end = clamp(AttrInt(node, "end", r));
  const int64_t n = std::max<int64_t>(0, end - start);
  y.shape = OnnxShape::Of({OnnxDim::Const(n)});
  y.has_value = true;
  for (int64_t i = 0; i < n; ++i) y.value.push_back(x->shape.dims[static_cast<size_t>(start + i)]);
  return absl::OkStatus();
}

absl::Status InferSize(const onnx::NodeProto&, const SymIn& in, SymOut* out, const InferCtx&) {
  SymValue& y = (*out)[0];
  y.dtype = TP::INT64;
  y.shape = OnnxShape::Of({});
  if (const SymValue* x = SymArg(in, 0); x != nullptr) {
    y.has_value = true;
    y.value = {x->shape.numel()};
  }
  return absl::OkStatus();
}

// The elements of a 1-D shape operand (Reshape, Expand, Tile, ConstantOfShape): its length
// when known, each element known or not.
std::optional<std::vector<OnnxDim>> ShapeOperand(const SymValue* t) {
  if (t == nullptr || !t->shape.has_rank || t->shape.dims.size() != 1 ||
      !t->shape.dims[0].is_const() || t->shape.dims[0].value() > kMaxSymElements) {
    return std::nullopt;
  }
  if (t->has_value) return t->value;
  return std::vector<OnnxDim>(static_cast<size_t>(t->shape.dims[0].value()));
}

absl::Status InferReshape(const onnx::NodeProto& node, const SymIn& in, SymOut* out,
                          const InferCtx& ctx) {
  const SymValue* x = SymArg(in, 0);
  if (x == nullptr) return absl::OkStatus();
  SymValue& y = (*out)[0];
  y.dtype = x->dtype;
  std::optional<std::vector<OnnxDim>> want = ShapeOperand(SymArg(in, 1));
  if (!want.has_value()) return absl::OkStatus();
  const bool allowzero = AttrInt(node, "allowzero", 0) != 0;
  const OnnxShape& xs = x->shape;
  int infer = -1;
  for (size_t i = 0; i < want->size(); ++i) {
    OnnxDim& d = (*want)[i];
    if (!d.is_const()) {
      // A symbolic product with a positive coefficient is >= 1: neither 0 nor -1.
      if (!d.positive()) d = OnnxDim();
      continue;
    }
    if (d.value() == 0 && !allowzero) {
      d = xs.has_rank && i < xs.dims.size() ? xs.dims[i] : OnnxDim();
    } else if (d.value() == -1) {
      if (infer >= 0) return absl::OkStatus();  // two -1: fails at run time
      infer = static_cast<int>(i);
    } else if (d.value() < 0) {
      return absl::OkStatus();  // fails at run time
    }
  }
  OnnxDim known = OnnxDim::Const(1);
  for (size_t i = 0; i < want->size(); ++i) {
    if (static_cast<int>(i) != infer) known = known * (*want)[i];
  }
  const OnnxDim n = xs.numel();
  if (infer >= 0) {
    if (n.is_const() && known.is_const() &&
        (known.value() == 0 || n.value() % known.value() != 0)) {
      return Invalid(
          absl::StrCat("cannot reshape ", n.value(), " elements to a multiple of ", known.value()));
    }
    (*want)[static_cast<size_t>(infer)] = n.DivExact(known);
  } else if (n.DiffersFrom(known)) {
    return Invalid(absl::StrCat(
        "cannot reshape ", xs.ToString(ctx.names), " (", n.ToString(ctx.names), " elements) to ",
        OnnxShape::Of(*want).ToString(ctx.names), " (", known.ToString(ctx.names), " elements)"));
  }
  y.shape = OnnxShape::Of(std::move(*want));
  if (x->has_value && y.shape.numel().is_const()) {
    y.has_value = true;
    y.value = x->value;
  }
  return absl::OkStatus();
}

absl::Status InferFlatten(const onnx::NodeProto& node, const SymIn& in, SymOut* out,
                          const InferCtx&) {
  const SymValue* x = SymArg(in, 0);
  if (x == nullptr) return absl::OkStatus();
  SymValue& y = (*out)[0];
  y.dtype = x->dtype;
  if (!x->shape.has_rank) {
    y.shape = OnnxShape::Of({OnnxDim(), OnnxDim()});
    return absl::OkStatus();
  }
  const int64_t r = static_cast<int64_t>(x->shape.dims.size());
  int64_t axis = AttrInt(node, "axis", 1);
  if (axis < 0) axis += r;
  if (axis < 0 || axis > r) return absl::OkStatus();
  const std::vector<OnnxDim>& d = x->shape.dims;
  y.shape = OnnxShape::Of({OnnxShape::Of({d.begin(), d.begin() + axis}).numel(),
                           OnnxShape::Of({d.begin() + axis, d.end()}).numel()});
  return absl::OkStatus();
}

// Squeeze's and Unsqueeze's axes: the input (from opset 13) or the attribute; nullopt when
// given but not known at load.
std::optional<Shape> SymAxesOf(const onnx::NodeProto& node, const SymIn& in, bool* given) {
  *given = false;
  if (const SymValue* a = SymArg(in, 1); a != nullptr) {
    *given = true;
    return ConstInts(a);
  }
  Shape axes;
  *given = AttrInts(node, "axes", &axes);
  return axes;
}

absl::Status InferSqueeze(const onnx::NodeProto& node, const SymIn& in, SymOut* out,
                          const InferCtx& ctx) {
  const SymValue* x = SymArg(in, 0);
  if (x == nullptr) return absl::OkStatus();
  SymValue& y = (*out)[0];
  y.dtype = x->dtype;
  bool given;
  const std::optional<Shape> axes = SymAxesOf(node, in, &given);
  if (!x->shape.has_rank || !axes.has_value()) return absl::OkStatus();
  const std::vector<OnnxDim>& d = x->shape.dims;
  std::vector<bool> drop(d.size(), false);
  for (size_t i = 0; i < d.size() && !given; ++i) {
    if (!d[i].is_const()) return absl::OkStatus();  // may or may not be 1
    drop[i] = d[i].value() == 1;
  }
  for (int64_t a : *axes) {
    const std::optional<int> ax = SymAxis(a, static_cast<int>(d.size()));
    if (!ax.has_value()) return absl::OkStatus();
    const OnnxDim& k = d[static_cast<size_t>(*ax)];
    if (k.is_const() && k.value() != 1) {
      return Invalid(absl::StrCat("cannot squeeze axis ", a, " of ", x->shape.ToString(ctx.names)));
    }
    drop[static_cast<size_t>(*ax)] = true;
  }
  y.shape = OnnxShape::Of({});
  for (size_t i = 0; i < d.size(); ++i) {
    if (!drop[i]) y.shape.dims.push_back(d[i]);
  }
  y.has_value = x->has_value;
  y.value = x->value;
  return absl::OkStatus();
}

absl::Status InferUnsqueeze(const onnx::NodeProto& node, const SymIn& in, SymOut* out,
                            const InferCtx&) {
  const SymValue* x = SymArg(in, 0);
  if (x == nullptr) return absl::OkStatus();
  SymValue& y = (*out)[0];
  y.dtype = x->dtype;
  bool given;
  const std::optional<Shape> axes = SymAxesOf(node, in, &given);
  if (!x->shape.has_rank || !axes.has_value() || !given) return absl::OkStatus();
  const int r = static_cast<int>(x->shape.dims.size() + axes->size());
  std::vector<bool> ins(static_cast<size_t>(r), false);
  for (int64_t a : *axes) {
    const std::optional<int> ax = SymAxis(a, r);
    if (!ax.has_value() || ins[static_cast<size_t>(*ax)]) return absl::OkStatus();
    ins[static_cast<size_t>(*ax)] = true;
  }
  y.shape = OnnxShape::Of({});
  size_t j = 0;
  for (int i = 0; i < r; ++i) {
    y.shape.dims.push_back(ins[static_cast<size_t>(i)] ? OnnxDim::Const(1) : x->shape.dims[j++]);
  }
  y.has_value = x->has_value;
  y.value = x->value;
  return absl::OkStatus();
}

absl::Status InferTranspose(const onnx::NodeProto& node, const SymIn& in, SymOut* out,
                            const InferCtx&) {
  const SymValue* x = SymArg(in, 0);
  if (x == nullptr) return absl::OkStatus();
  SymValue& y = (*out)[0];
  y.dtype = x->dtype;
  if (!x->shape.has_rank) return absl::OkStatus();
  const size_t r = x->shape.dims.size();
  Shape perm;
  if (!AttrInts(node, "perm", &perm)) {
    for (size_t i = 0; i < r; ++i) perm.push_back(static_cast<int64_t>(r - 1 - i));
  }
  if (perm.size() != r) return absl::OkStatus();
  std::vector<bool> seen(r, false);
  y.shape = OnnxShape::Of({});
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(r) || seen[static_cast<size_t>(p)]) {
      y.shape = OnnxShape::Unknown();
      return absl::OkStatus();
    }
    seen[static_cast<size_t>(p)] = true;
    y.shape.dims.push_back(x->shape.dims[static_cast<size_t>(p)]);
  }
  return absl::OkStatus();
}

absl::Status InferExpand(const onnx::NodeProto&, const SymIn& in, SymOut* out, const InferCtx&) {
  const SymValue* x = SymArg(in, 0);
  if (x == nullptr) return absl::OkStatus();
  SymValue& y = (*out)[0];
  y.dtype = x->dtype;
  std::optional<std::vector<OnnxDim>> want = ShapeOperand(SymArg(in, 1));
  if (!want.has_value()) return absl::OkStatus();
  for (OnnxDim& d : *want) {
    if (d.is_const() && d.value() < 0) return absl::OkStatus();  // fails at run time
  }
  const OnnxShape ws = OnnxShape::Of(std::move(*want));
  JS_ASSIGN_OR_RETURN(y.shape, BroadcastSym({&x->shape, &ws}));
  return absl::OkStatus();
}

absl::Status InferTile(const onnx::NodeProto&, const SymIn& in, SymOut* out, const InferCtx&) {
  const SymValue* x = SymArg(in, 0);
  if (x == nullptr) return absl::OkStatus();
  SymValue& y = (*out)[0];
  y.dtype = x->dtype;
  std::optional<std::vector<OnnxDim>> rep = ShapeOperand(SymArg(in, 1));
  if (!x->shape.has_rank || !rep.has_value() || rep->size() != x->shape.dims.size()) {
    return absl::OkStatus();
  }
  y.shape = x->shape;
  for (size_t i = 0; i < rep->size(); ++i) {
    y.shape.dims[i] = (*rep)[i].nonnegative() ? y.shape.dims[i] * (*rep)[i] : OnnxDim();
  }
  return absl::OkStatus();
}

constexpr KernelEntry kKernels[] = {
    {"Expand", KExpand, InferExpand},
    {"Flatten", KFlatten, InferFlatten},
    {"Identity", KIdentity, InferIdentity},
    {"Reshape", KReshape, InferReshape},
    {"Shape", KShape, InferShape},
    {"Size", KSize, InferSize},
    {"Squeeze", KSqueeze, InferSqueeze},
    {"Tile", KTile, InferTile},
    {"Transpose", KTranspose, InferTranspose},
    {"Unsqueeze", KUnsqueeze, InferUnsqueeze},
};

}  // namespace

absl::Span<const KernelEntry> LayoutKernels() { return kKernels; }

}  // namespace jetserve::onnx_ops
