// Kernels that change a tensor's shape or layout, not its elements: Identity, Shape, Size,
// Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Expand, Tile.
#include <algorithm>

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

constexpr KernelEntry kKernels[] = {
    {"Expand", KExpand},       {"Flatten", KFlatten}, {"Identity", KIdentity},
    {"Reshape", KReshape},     {"Shape", KShape},     {"Size", KSize},
    {"Squeeze", KSqueeze},     {"Tile", KTile},       {"Transpose", KTranspose},
    {"Unsqueeze", KUnsqueeze},
};

}  // namespace

absl::Span<const KernelEntry> LayoutKernels() { return kKernels; }

}  // namespace jetserve::onnx_ops
