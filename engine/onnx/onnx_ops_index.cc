// Kernels that select or join parts of tensors: Concat, Split, Slice, Gather, GatherElements,
// GatherND.
#include <algorithm>
#include <limits>
#include <optional>

#include "engine/onnx/onnx_ops.h"

namespace jetserve::onnx_ops {
namespace {

absl::Status KConcat(const onnx::NodeProto& node, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 1));
  const OnnxValue& x0 = *in[0];
  if (x0.rank() == 0) return Invalid("inputs must have rank >= 1");
  JS_ASSIGN_OR_RETURN(int axis, NormAxis(AttrInt(node, "axis", 0), x0.rank()));
  Shape s = x0.shape;
  s[static_cast<size_t>(axis)] = 0;
  for (const OnnxValue* v : in) {
    if (v == nullptr) return Invalid("an input is empty");
    JS_RETURN_IF_ERROR(SameType(x0, *v));
    bool ok = v->rank() == x0.rank();
    for (size_t i = 0; ok && i < s.size(); ++i) {
      ok = i == static_cast<size_t>(axis) || v->shape[i] == x0.shape[i];
    }
    if (!ok) {
      return Invalid(absl::StrCat("inputs ", ShapeStr(x0.shape), " and ", ShapeStr(v->shape),
                                  " differ outside axis ", axis));
    }
    s[static_cast<size_t>(axis)] += v->shape[static_cast<size_t>(axis)];
  }
  const int64_t outer = Prod(s, 0, static_cast<size_t>(axis));
  const int64_t esize = OnnxElementSize(x0.dtype);
  const int64_t row = Prod(s, static_cast<size_t>(axis), s.size()) * esize;
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], x0.dtype, s));
  uint8_t* py = out[0]->storage.data();
  int64_t at = 0;
  for (const OnnxValue* v : in) {
    const int64_t chunk = Prod(v->shape, static_cast<size_t>(axis), v->shape.size()) * esize;
    for (int64_t o = 0; o < outer && chunk > 0; ++o) {
      std::memcpy(py + o * row + at, v->bytes() + o * chunk, static_cast<size_t>(chunk));
    }
    at += chunk;
  }
  return absl::OkStatus();
}

absl::Status KSplit(const onnx::NodeProto& node, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 1));
  const OnnxValue& x = *in[0];
  if (x.rank() == 0) return Invalid("input must have rank >= 1");
  JS_ASSIGN_OR_RETURN(int axis, NormAxis(AttrInt(node, "axis", 0), x.rank()));
  const int64_t len = x.shape[static_cast<size_t>(axis)];
  Shape split;
  if (in.size() > 1 && in[1] != nullptr) {
    JS_ASSIGN_OR_RETURN(split, IntsOf(*in[1], "split"));
  } else if (!AttrInts(node, "split", &split)) {
    const int64_t n = static_cast<int64_t>(out.size());
    const int64_t chunk = (len + n - 1) / std::max<int64_t>(n, 1);
    for (int64_t i = 0; i < n; ++i) split.push_back(std::clamp<int64_t>(len - i * chunk, 0, chunk));
  }
  if (split.size() != out.size()) {
    return Invalid(absl::StrCat("split has ", split.size(), " parts for ", out.size(), " outputs"));
  }
  int64_t total = 0;
  for (int64_t v : split) {
    if (v < 0) return Invalid("split has a negative part");
    if (__builtin_add_overflow(total, v, &total)) return Invalid("split parts overflow");
  }
  if (total != len) {
    return Invalid(absl::StrCat("split parts sum to ", total, ", axis has ", len));
  }
  const int64_t outer = Prod(x.shape, 0, static_cast<size_t>(axis));
  const int64_t esize = OnnxElementSize(x.dtype);
  const int64_t inner = Prod(x.shape, static_cast<size_t>(axis) + 1, x.shape.size()) * esize;
  int64_t at = 0;
  for (size_t k = 0; k < out.size(); ++k) {
    Shape s = x.shape;
    s[static_cast<size_t>(axis)] = split[k];
    if (out[k] == nullptr) {
      at += split[k];
      continue;
    }
    JS_RETURN_IF_ERROR(ctx.Alloc(out[k], x.dtype, s));
    const int64_t chunk = split[k] * inner;
    for (int64_t o = 0; o < outer && chunk > 0; ++o) {
      std::memcpy(out[k]->storage.data() + o * chunk, x.bytes() + o * len * inner + at * inner,
                  static_cast<size_t>(chunk));
    }
    at += split[k];
  }
  return absl::OkStatus();
}

absl::Status KSlice(const onnx::NodeProto& node, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 1));
  const OnnxValue& x = *in[0];
  const int r = x.rank();
  Shape starts, ends, axes, steps;
  if (ctx.opset < 10) {
    AttrInts(node, "starts", &starts);
    AttrInts(node, "ends", &ends);
    AttrInts(node, "axes", &axes);
  } else {
    JS_RETURN_IF_ERROR(NeedInputs(in, 3));
    JS_ASSIGN_OR_RETURN(starts, IntsOf(*in[1], "starts"));
    JS_ASSIGN_OR_RETURN(ends, IntsOf(*in[2], "ends"));
    if (in.size() > 3 && in[3] != nullptr) {
      JS_ASSIGN_OR_RETURN(axes, IntsOf(*in[3], "axes"));
    }
    if (in.size() > 4 && in[4] != nullptr) {
      JS_ASSIGN_OR_RETURN(steps, IntsOf(*in[4], "steps"));
    }
  }
  if (starts.size() != ends.size()) return Invalid("starts and ends differ in length");
  if (axes.empty()) {
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (axes.size() != starts.size() || steps.size() != starts.size()) {
    return Invalid("starts, ends, axes and steps differ in length");
  }
  Shape first(static_cast<size_t>(r), 0), step(static_cast<size_t>(r), 1), s = x.shape;
  std::vector<bool> seen(static_cast<size_t>(r), false);
  for (size_t k = 0; k < starts.size(); ++k) {
    JS_ASSIGN_OR_RETURN(int a, NormAxis(axes[k], r, "axes"));
    const size_t ax = static_cast<size_t>(a);
    if (seen[ax]) return Invalid(absl::StrCat("axis ", axes[k], " is repeated"));
    seen[ax] = true;
    const int64_t dim = x.shape[ax];
    const int64_t st = steps[k];
    if (st == 0) return Invalid("a step is 0");
    int64_t b = starts[k], e = ends[k];
    if (b < 0)
      b = std::max<int64_t>(b + dim, st > 0 ? 0 : -1);
    else
      b = st > 0 ? std::min(b, dim) : std::min(b, dim - 1);
    if (e < 0)
      e = std::max<int64_t>(e + dim, st > 0 ? 0 : -1);
    else
      e = st > 0 ? std::min(e, dim) : std::min(e, dim - 1);
    int64_t n = 0;
    if (st > 0 && e > b) n = 1 + (e - b - 1) / st;  // ceil, without overflow for any step
    if (st < 0 && b > e) n = 1 - (b - e - 1) / st;
    first[ax] = b;
    step[ax] = st;
    s[ax] = n;
  }
  Shape in_strides(static_cast<size_t>(r)), st(static_cast<size_t>(r));
  int64_t stride = 1, base = 0;
  for (size_t i = static_cast<size_t>(r); i-- > 0;) {
    in_strides[i] = stride;
    stride *= x.shape[i];
  }
  for (size_t i = 0; i < static_cast<size_t>(r); ++i) {
    st[i] = in_strides[i] * step[i];
    if (s[i] > 0) base += first[i] * in_strides[i];
  }
  std::vector<int64_t> src;
  src.reserve(static_cast<size_t>(std::max<int64_t>(Prod(s, 0, s.size()), 0)));
  ForEachBroadcast<1>(
      s, {st}, [&](int64_t, const std::array<int64_t, 1>& o) { src.push_back(base + o[0]); });
  return Gather1(x, s, out[0], ctx, [&](int64_t i) { return src[static_cast<size_t>(i)]; });
}

absl::Status KGather(const onnx::NodeProto& node, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 2));
  const OnnxValue& x = *in[0];
  if (x.rank() == 0) return Invalid("data must have rank >= 1");
  JS_ASSIGN_OR_RETURN(int axis, NormAxis(AttrInt(node, "axis", 0), x.rank()));
  JS_ASSIGN_OR_RETURN(std::vector<int64_t> idx, IntsOf(*in[1], "indices"));
  const int64_t dim = x.shape[static_cast<size_t>(axis)];
  for (int64_t& i : idx) {
    if (i < -dim || i >= dim) {
      return Invalid(
          absl::StrCat("index ", i, " is out of range for axis ", axis, " of size ", dim));
    }
    if (i < 0) i += dim;
  }
  Shape s(x.shape.begin(), x.shape.begin() + axis);
  s.insert(s.end(), in[1]->shape.begin(), in[1]->shape.end());
  s.insert(s.end(), x.shape.begin() + axis + 1, x.shape.end());
  const int64_t outer = Prod(x.shape, 0, static_cast<size_t>(axis));
  const int64_t esize = OnnxElementSize(x.dtype);
  const int64_t inner = Prod(x.shape, static_cast<size_t>(axis) + 1, x.shape.size()) * esize;
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], x.dtype, s));
  uint8_t* py = out[0]->storage.data();
  const int64_t ni = static_cast<int64_t>(idx.size());
  for (int64_t o = 0; o < outer && inner > 0; ++o) {
    for (int64_t j = 0; j < ni; ++j) {
      std::memcpy(py + (o * ni + j) * inner,
                  x.bytes() + (o * dim + idx[static_cast<size_t>(j)]) * inner,
                  static_cast<size_t>(inner));
    }
  }
  return absl::OkStatus();
}

absl::Status KGatherElements(const onnx::NodeProto& node, const In& in, const Out& out,
                             const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 2));
  const OnnxValue& x = *in[0];
  const OnnxValue& ind = *in[1];
  if (x.rank() == 0 || ind.rank() != x.rank())
    return Invalid("data and indices must have one rank >= 1");
  JS_ASSIGN_OR_RETURN(int axis, NormAxis(AttrInt(node, "axis", 0), x.rank()));
  JS_ASSIGN_OR_RETURN(std::vector<int64_t> idx, IntsOf(ind, "indices"));
  Shape xs(x.shape.size());
  int64_t stride = 1;
  for (size_t i = x.shape.size(); i-- > 0;) {
    xs[i] = stride;
    stride *= x.shape[i];
  }
  Shape st = xs;
  st[static_cast<size_t>(axis)] = 0;
  for (size_t i = 0; i < st.size(); ++i) {
    if (static_cast<int>(i) != axis && ind.shape[i] > x.shape[i])
      return Invalid("indices exceed data's shape");
  }
  const int64_t dim = x.shape[static_cast<size_t>(axis)];
  std::vector<int64_t> src;
  src.reserve(idx.size());
  bool bad = false;
  ForEachBroadcast<1>(ind.shape, {st}, [&](int64_t i, const std::array<int64_t, 1>& o) {
    int64_t k = idx[static_cast<size_t>(i)];
    if (k < -dim || k >= dim) bad = true;
    if (k < 0) k += dim;
    src.push_back(o[0] + std::clamp<int64_t>(k, 0, std::max<int64_t>(dim - 1, 0)) *
                             xs[static_cast<size_t>(axis)]);
  });
  if (bad) return Invalid("an index is out of range");
  return Gather1(x, ind.shape, out[0], ctx, [&](int64_t i) { return src[static_cast<size_t>(i)]; });
}

absl::Status KGatherND(const onnx::NodeProto& node, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 2));
  const OnnxValue& x = *in[0];
  const OnnxValue& ind = *in[1];
  const int64_t b = AttrInt(node, "batch_dims", 0);
  if (ind.rank() < 1 || b < 0 || b >= std::min(x.rank(), ind.rank())) {
    return Invalid("indices rank or batch_dims out of range");
  }
  const int64_t m = ind.shape.back();
  if (m < 1 || b + m > x.rank()) return Invalid("indices' last dimension is out of range");
  for (int64_t i = 0; i < b; ++i) {
    if (x.shape[static_cast<size_t>(i)] != ind.shape[static_cast<size_t>(i)]) {
      return Invalid("batch dimensions of data and indices differ");
    }
  }
  JS_ASSIGN_OR_RETURN(std::vector<int64_t> idx, IntsOf(ind, "indices"));
  Shape s(ind.shape.begin(), ind.shape.end() - 1);
  s.insert(s.end(), x.shape.begin() + b + m, x.shape.end());
  const int64_t esize = OnnxElementSize(x.dtype);
  const int64_t slice = Prod(x.shape, static_cast<size_t>(b + m), x.shape.size()) * esize;
  const int64_t batches = Prod(x.shape, 0, static_cast<size_t>(b));
  const int64_t per_batch_data = Prod(x.shape, static_cast<size_t>(b), x.shape.size()) * esize;
  const int64_t tuples = Prod(ind.shape, static_cast<size_t>(b), ind.shape.size() - 1);
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], x.dtype, s));
  uint8_t* py = out[0]->storage.data();
  for (int64_t bi = 0; bi < batches; ++bi) {
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t off = 0;
      for (int64_t j = 0; j < m; ++j) {
        const int64_t dim = x.shape[static_cast<size_t>(b + j)];
        int64_t k = idx[static_cast<size_t>((bi * tuples + t) * m + j)];
        if (k < -dim || k >= dim) return Invalid(absl::StrCat("index ", k, " is out of range"));
        if (k < 0) k += dim;
        off = off * dim + k;
      }
      if (slice > 0) {
        std::memcpy(py + (bi * tuples + t) * slice, x.bytes() + bi * per_batch_data + off * slice,
                    static_cast<size_t>(slice));
      }
    }
  }
  return absl::OkStatus();
}

// ---- shape inference ---------------------------------------------------------------------

absl::Status InferConcat(const onnx::NodeProto& node, const SymIn& in, SymOut* out,
                         const InferCtx& ctx) {
  if (in.empty()) return absl::OkStatus();
  for (const SymValue* v : in) {
    if (v == nullptr || !v->shape.has_rank) return absl::OkStatus();
  }
  SymValue& y = (*out)[0];
  y.dtype = in[0]->dtype;
  const size_t r = in[0]->shape.dims.size();
  const std::optional<int> axis = SymAxis(AttrInt(node, "axis", 0), static_cast<int>(r));
  if (!axis.has_value()) return absl::OkStatus();
  const size_t ax = static_cast<size_t>(*axis);
  y.shape = OnnxShape::Of(std::vector<OnnxDim>(r));
  y.shape.dims[ax] = OnnxDim::Const(0);
  for (const SymValue* v : in) {
    const std::vector<OnnxDim>& d = v->shape.dims;
    if (d.size() != r) {
      return Invalid(absl::StrCat("inputs of ranks ", r, " and ", d.size(), " do not concatenate"));
    }
    for (size_t i = 0; i < r; ++i) {
      OnnxDim& o = y.shape.dims[i];
      if (i == ax) {
        o = o + d[i];
      } else if (o.is_const() && d[i].is_const() && o.value() != d[i].value()) {
        return Invalid(absl::StrCat("inputs ", in[0]->shape.ToString(ctx.names), " and ",
                                    v->shape.ToString(ctx.names), " differ outside axis ", ax));
      } else if (!o.is_const() && d[i].known()) {
        o = d[i];  // all equal whenever the node runs: any known one, a constant by preference
      }
    }
  }
  if (r == 1) {
    y.has_value = true;
    for (const SymValue* v : in) {
      if (!v->has_value) {
        y.has_value = false;
        y.value.clear();
        break;
      }
      y.value.insert(y.value.end(), v->value.begin(), v->value.end());
    }
  }
  return absl::OkStatus();
}

absl::Status InferSplit(const onnx::NodeProto& node, const SymIn& in, SymOut* out,
                        const InferCtx&) {
  const SymValue* x = SymArg(in, 0);
  if (x == nullptr) return absl::OkStatus();
  for (SymValue& y : *out) y.dtype = x->dtype;
  if (!x->shape.has_rank) return absl::OkStatus();
  const std::optional<int> axis =
      SymAxis(AttrInt(node, "axis", 0), static_cast<int>(x->shape.dims.size()));
  if (!axis.has_value()) return absl::OkStatus();
  const size_t ax = static_cast<size_t>(*axis);
  const OnnxDim& len = x->shape.dims[ax];
  std::optional<Shape> split;
  if (const SymValue* s = SymArg(in, 1); s != nullptr) {
    split = ConstInts(s);
  } else if (Shape a; AttrInts(node, "split", &a)) {
    split = a;
  } else if (len.is_const()) {
    const int64_t n = static_cast<int64_t>(out->size());
    const int64_t chunk = (len.value() + n - 1) / std::max<int64_t>(n, 1);
    split.emplace();
    for (int64_t i = 0; i < n; ++i) {
      split->push_back(std::clamp<int64_t>(len.value() - i * chunk, 0, chunk));
    }
  }
  if (split.has_value() && split->size() == out->size()) {
    int64_t total = 0;
    for (int64_t v : *split) {
      if (v < 0) return absl::OkStatus();
      if (__builtin_add_overflow(total, v, &total)) return absl::OkStatus();
    }
    if (len.is_const() && total != len.value()) {
      return Invalid(absl::StrCat("split parts sum to ", total, ", axis has ", len.value()));
    }
  } else {
    split.reset();
  }
  for (size_t k = 0; k < out->size(); ++k) {
    (*out)[k].shape = x->shape;
    (*out)[k].shape.dims[ax] = split.has_value() ? OnnxDim::Const((*split)[k]) : OnnxDim();
  }
  return absl::OkStatus();
}

// A Slice position (start or end, step 1) clamped into [0, dim] as the kernel does:
// negative counts from the end; unknown where the order of position and dim is not provable,
// except for a symbolic end past a constant dim: min(seq, 512) is taken as seq, assuming
// seq <= 512 (torch's position_ids[:, :seq] of a 512-long buffer, whose result is then
// added to [batch, seq, hidden] and so fails for longer sequences anyway).
OnnxDim ClampToDim(const OnnxDim& p, const OnnxDim& dim, const InferCtx* assume = nullptr) {
  if (!p.known() || !dim.known()) return {};
  if (p.is_const() && p.value() >= std::numeric_limits<int64_t>::max() / 2) return dim;
  if (p.is_const() && p.value() < 0) {
    if (p.value() <= std::numeric_limits<int64_t>::min() / 2) return OnnxDim::Const(0);
    const OnnxDim q = dim + p;  // max(p + dim, 0)
    return q.nonnegative()                         ? q
           : (OnnxDim::Const(0) - q).nonnegative() ? OnnxDim::Const(0)
                                                   : OnnxDim();
  }
  if (!p.nonnegative()) return {};
  if ((dim - p).nonnegative()) return p;  // min(p, dim)
  if ((p - dim).nonnegative()) return dim;
  if (assume != nullptr && dim.is_const() && !p.is_const()) {
    std::vector<SymAssumption>& all = *assume->assumptions;
    if (std::none_of(all.begin(), all.end(), [&](const SymAssumption& a) {
          return a.expr.SameAs(p) && a.bound == dim.value();
        })) {
      all.push_back({p, dim.value()});
    }
    return p;
  }
  return {};
}

absl::Status InferSlice(const onnx::NodeProto& node, const SymIn& in, SymOut* out,
                        const InferCtx& ctx) {
  const SymValue* x = SymArg(in, 0);
  if (x == nullptr) return absl::OkStatus();
  SymValue& y = (*out)[0];
  y.dtype = x->dtype;
  if (!x->shape.has_rank) return absl::OkStatus();
  const int r = static_cast<int>(x->shape.dims.size());
  Shape starts, axes, steps;
  std::vector<OnnxDim> ends;
  if (ctx.opset < 10) {
    Shape e;
    AttrInts(node, "starts", &starts);
    AttrInts(node, "ends", &e);
    AttrInts(node, "axes", &axes);
    for (int64_t v : e) ends.push_back(OnnxDim::Const(v));
  } else {
    std::optional<Shape> s = ConstInts(SymArg(in, 1));
    const SymValue* e = SymArg(in, 2);
    if (!s.has_value() || e == nullptr || !e->has_value) return absl::OkStatus();
    starts = *s;
    ends = e->value;
    for (size_t k : {size_t{3}, size_t{4}}) {
      if (SymArg(in, k) == nullptr) continue;
      std::optional<Shape> v = ConstInts(SymArg(in, k));
      if (!v.has_value()) return absl::OkStatus();
      (k == 3 ? axes : steps) = *v;
    }
  }
  if (axes.empty()) {
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size()) {
    return absl::OkStatus();  // fails at run time
  }
  y.shape = x->shape;
  std::vector<bool> seen(static_cast<size_t>(r), false);
  int64_t first = 0, step = 1;  // of a 1-D x, for its elements
  for (size_t k = 0; k < starts.size(); ++k) {
    const std::optional<int> a = SymAxis(axes[k], r);
    if (!a.has_value() || seen[static_cast<size_t>(*a)] || steps[k] == 0) {
      y.shape = OnnxShape::Unknown();
      return absl::OkStatus();
    }
    seen[static_cast<size_t>(*a)] = true;
    OnnxDim& dim = y.shape.dims[static_cast<size_t>(*a)];
    const int64_t st = steps[k];
    int64_t b = starts[k];
    if (dim.is_const() && ends[k].is_const()) {  // as the kernel computes it
      const int64_t n = dim.value();
      int64_t e = ends[k].value();
      b = b < 0 ? std::max<int64_t>(b + n, st > 0 ? 0 : -1)
                : (st > 0 ? std::min(b, n) : std::min(b, n - 1));
      e = e < 0 ? std::max<int64_t>(e + n, st > 0 ? 0 : -1)
                : (st > 0 ? std::min(e, n) : std::min(e, n - 1));
      int64_t c = 0;
      if (st > 0 && e > b) c = 1 + (e - b - 1) / st;
      if (st < 0 && b > e) c = 1 - (b - e - 1) / st;
      dim = OnnxDim::Const(c);
      first = b;
      step = st;
    } else if (st == 1) {
      // Symbolic: each end clamped into [0, dim] as the kernel does, where the order of the
      // two is provable (every symbol >= 1); the count is end - start when not negative.
      const OnnxDim b2 = ClampToDim(OnnxDim::Const(b), dim), e2 = ClampToDim(ends[k], dim, &ctx);
      const OnnxDim n = e2 - b2;
      dim = n.nonnegative() ? n : (b2 - e2).nonnegative() ? OnnxDim::Const(0) : OnnxDim();
      if (b2.is_const()) {
        first = b2.value();
        step = 1;
      } else {
        first = -1;  // elements unknown
      }
    } else {
      dim = OnnxDim();
    }
  }
  if (r == 1 && x->has_value && y.shape.dims[0].is_const() && first >= 0) {
    y.has_value = true;
    for (int64_t i = 0; i < y.shape.dims[0].value(); ++i) {
      y.value.push_back(x->value[static_cast<size_t>(first + i * step)]);
    }
  }
  return absl::OkStatus();
}

absl::Status InferGather(const onnx::NodeProto& node, const SymIn& in, SymOut* out,
                         const InferCtx&) {
  const SymValue* x = SymArg(in, 0);
  const SymValue* ind = SymArg(in, 1);
  if (x == nullptr || ind == nullptr) return absl::OkStatus();
  SymValue& y = (*out)[0];
  y.dtype = x->dtype;
  if (!x->shape.has_rank || !ind->shape.has_rank) return absl::OkStatus();
  const std::vector<OnnxDim>& d = x->shape.dims;
  const std::optional<int> axis = SymAxis(AttrInt(node, "axis", 0), static_cast<int>(d.size()));
  if (!axis.has_value()) return absl::OkStatus();
  std::vector<OnnxDim> s(d.begin(), d.begin() + *axis);
  s.insert(s.end(), ind->shape.dims.begin(), ind->shape.dims.end());
  s.insert(s.end(), d.begin() + *axis + 1, d.end());
  y.shape = OnnxShape::Of(std::move(s));
  // Picking from a known 1-D value (Gather(Shape(x), i)).
  const std::optional<Shape> idx = ConstInts(ind);
  if (d.size() == 1 && x->has_value && idx.has_value()) {
    const int64_t n = static_cast<int64_t>(x->value.size());
    std::vector<OnnxDim> v;
    for (int64_t i : *idx) {
      if (i < -n || i >= n) return absl::OkStatus();  // fails at run time
      v.push_back(x->value[static_cast<size_t>(i < 0 ? i + n : i)]);
    }
    y.has_value = true;
    y.value = std::move(v);
  }
  return absl::OkStatus();
}

absl::Status InferGatherElements(const onnx::NodeProto&, const SymIn& in, SymOut* out,
                                 const InferCtx&) {
  const SymValue* x = SymArg(in, 0);
  const SymValue* ind = SymArg(in, 1);
  if (x == nullptr || ind == nullptr) return absl::OkStatus();
  (*out)[0].dtype = x->dtype;
  (*out)[0].shape = ind->shape;
  return absl::OkStatus();
}

absl::Status InferGatherND(const onnx::NodeProto& node, const SymIn& in, SymOut* out,
                           const InferCtx&) {
  const SymValue* x = SymArg(in, 0);
  const SymValue* ind = SymArg(in, 1);
  if (x == nullptr || ind == nullptr) return absl::OkStatus();
  SymValue& y = (*out)[0];
  y.dtype = x->dtype;
  const std::vector<OnnxDim>&xd = x->shape.dims, &id = ind->shape.dims;
  const int64_t b = AttrInt(node, "batch_dims", 0);
  if (!x->shape.has_rank || !ind->shape.has_rank || id.empty() || !id.back().is_const()) {
    return absl::OkStatus();
  }
  const int64_t m = id.back().value();
  if (b < 0 || m < 1 || b + m > static_cast<int64_t>(xd.size())) return absl::OkStatus();
  std::vector<OnnxDim> s(id.begin(), id.end() - 1);
  s.insert(s.end(), xd.begin() + b + m, xd.end());
  y.shape = OnnxShape::Of(std::move(s));
  return absl::OkStatus();
}

constexpr KernelEntry kKernels[] = {
    {"Concat", KConcat, InferConcat},
    {"Gather", KGather, InferGather},
    {"GatherElements", KGatherElements, InferGatherElements},
    {"GatherND", KGatherND, InferGatherND},
    {"Slice", KSlice, InferSlice},
    {"Split", KSplit, InferSplit},
};

}  // namespace

absl::Span<const KernelEntry> IndexKernels() { return kKernels; }

}  // namespace jetserve::onnx_ops
