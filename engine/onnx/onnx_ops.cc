// The helpers the kernels share (onnx_ops.h): attributes, Ctx::Alloc, shapes, broadcasting.
#include "engine/onnx/onnx_ops.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_join.h"
#include "engine/util/checked_math.h"

namespace jetserve::onnx_ops {

std::string ShapeStr(const Shape& s) { return absl::StrCat("[", absl::StrJoin(s, ","), "]"); }

// ---- attributes ------------------------------------------------------------------------

const onnx::AttributeProto* FindAttr(const onnx::NodeProto& n, std::string_view name) {
  for (const onnx::AttributeProto& a : n.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}
int64_t AttrInt(const onnx::NodeProto& n, std::string_view name, int64_t def) {
  const onnx::AttributeProto* a = FindAttr(n, name);
  return a != nullptr ? a->i() : def;
}
float AttrFloat(const onnx::NodeProto& n, std::string_view name, float def) {
  const onnx::AttributeProto* a = FindAttr(n, name);
  return a != nullptr ? a->f() : def;
}
std::string AttrString(const onnx::NodeProto& n, std::string_view name, std::string def) {
  const onnx::AttributeProto* a = FindAttr(n, name);
  return a != nullptr ? a->s() : def;
}
bool AttrInts(const onnx::NodeProto& n, std::string_view name, Shape* out) {
  const onnx::AttributeProto* a = FindAttr(n, name);
  if (a == nullptr) return false;
  out->assign(a->ints().begin(), a->ints().end());
  return true;
}

absl::Status Ctx::Alloc(OnnxValue* v, int32_t dtype, Shape shape) const {
  if (static_cast<int>(shape.size()) > options->max_rank) {
    return Invalid(
        absl::StrCat("output rank ", shape.size(), " is over the limit of ", options->max_rank));
  }
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return Invalid(absl::StrCat("output shape ", ShapeStr(shape), " is negative"));
    if (!CheckedMulSigned(n, d, &n) || n > options->max_elements) {
      return Invalid(absl::StrCat("output shape ", ShapeStr(shape), " has more than ",
                                  options->max_elements, " elements"));
    }
  }
  const int esize = OnnxElementSize(dtype);
  if (esize == 0) return Unsupported(absl::StrCat("element type ", OnnxTypeName(dtype)));
  const size_t bytes = static_cast<size_t>(n) * static_cast<size_t>(esize);
  v->dtype = dtype;
  v->shape = std::move(shape);
  v->view = nullptr;
  if (v->storage.capacity() < bytes && free_list != nullptr) {
    // Best fit among the free buffers.
    size_t best = free_list->size();
    for (size_t i = 0; i < free_list->size(); ++i) {
      const size_t cap = (*free_list)[i].capacity();
      if (cap >= bytes && (best == free_list->size() || cap < (*free_list)[best].capacity())) {
        best = i;
      }
    }
    if (best != free_list->size()) {
      std::swap(v->storage, (*free_list)[best]);
      if ((*free_list)[best].capacity() == 0) {
        (*free_list)[best] = std::move(free_list->back());
        free_list->pop_back();
      }
    }
  }
  v->storage.resize(bytes);
  return absl::OkStatus();
}

absl::StatusOr<int> NormAxis(int64_t axis, int rank, std::string_view what) {
  if (axis < -rank || axis >= std::max(rank, 1)) {
    if (!(rank == 0 && (axis == 0 || axis == -1))) {
      return Invalid(absl::StrCat(Sv(what), " ", axis, " is out of range for rank ", rank));
    }
  }
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

int64_t Prod(const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < s.size(); ++i) p *= s[i];
  return p;
}

absl::StatusOr<Shape> BroadcastShapes(const std::vector<const Shape*>& shapes) {
  size_t rank = 0;
  for (const Shape* s : shapes) rank = std::max(rank, s->size());
  Shape out(rank, 1);
  for (const Shape* s : shapes) {
    const size_t off = rank - s->size();
    for (size_t i = 0; i < s->size(); ++i) {
      const int64_t d = (*s)[i];
      int64_t& o = out[off + i];
      if (d == o || d == 1) continue;
      if (o == 1) {
        o = d;
        continue;
      }
      std::vector<std::string> all;
      for (const Shape* t : shapes) all.push_back(ShapeStr(*t));
      return Invalid(absl::StrCat("shapes ", absl::StrJoin(all, " and "), " do not broadcast"));
    }
  }
  return out;
}

Shape BroadcastStrides(const Shape& s, const Shape& out) {
  Shape st(out.size(), 0);
  int64_t stride = 1;
  for (size_t i = s.size(); i-- > 0;) {
    const size_t o = out.size() - s.size() + i;
    st[o] = s[i] == 1 ? 0 : stride;
    stride *= s[i];
  }
  return st;
}

absl::StatusOr<std::vector<int64_t>> IntsOf(const OnnxValue& v, std::string_view what) {
  std::vector<int64_t> out(static_cast<size_t>(v.numel()));
  if (v.dtype == TP::INT64) {
    if (!out.empty()) std::memcpy(out.data(), v.bytes(), out.size() * 8);
  } else if (v.dtype == TP::INT32) {
    for (size_t i = 0; i < out.size(); ++i) out[i] = v.data<int32_t>()[i];
  } else {
    return Invalid(absl::StrCat(Sv(what), " has element type ", OnnxTypeName(v.dtype),
                                ", expected INT64 or INT32"));
  }
  return out;
}

absl::StatusOr<double> ScalarOf(const OnnxValue& v, std::string_view what) {
  if (v.numel() != 1) {
    return Invalid(absl::StrCat(Sv(what), " must hold one element, has shape ", ShapeStr(v.shape)));
  }
  double r = 0;
  absl::Status s = DispatchAll(v.dtype, [&](auto tag) {
    using T = decltype(tag);
    r = static_cast<double>(v.data<T>()[0]);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return r;
}

absl::Status NeedInputs(const In& in, size_t min) {
  if (in.size() < min) {
    return Invalid(absl::StrCat("needs ", min, " inputs, has ", in.size()));
  }
  for (size_t i = 0; i < min; ++i) {
    if (in[i] == nullptr) return Invalid(absl::StrCat("input ", i, " is required"));
  }
  return absl::OkStatus();
}

absl::Status SameType(const OnnxValue& a, const OnnxValue& b) {
  if (a.dtype != b.dtype) {
    return Invalid(absl::StrCat("inputs have element types ", OnnxTypeName(a.dtype), " and ",
                                OnnxTypeName(b.dtype)));
  }
  return absl::OkStatus();
}

absl::Status CopyAs(const OnnxValue& x, Shape shape, OnnxValue* y, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(ctx.Alloc(y, x.dtype, std::move(shape)));
  if (!y->storage.empty()) std::memcpy(y->storage.data(), x.bytes(), y->storage.size());
  return absl::OkStatus();
}

SymValue SymOfConstant(const OnnxValue& v) {
  SymValue s;
  s.dtype = v.dtype;
  s.shape = OnnxShape::Concrete(v.shape);
  const int64_t n = v.numel();
  if (n <= kMaxSymElements &&
      (v.dtype == TP::INT64 || v.dtype == TP::INT32 || v.dtype == TP::BOOL)) {
    s.has_value = true;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t x = v.dtype == TP::INT64   ? v.data<int64_t>()[i]
                        : v.dtype == TP::INT32 ? v.data<int32_t>()[i]
                                               : int64_t{v.data<bool>()[i]};
      s.value.push_back(OnnxDim::Const(x));
    }
  }
  return s;
}

std::optional<std::vector<int64_t>> ConstInts(const SymValue* v) {
  if (v == nullptr || !v->has_value) return std::nullopt;
  std::vector<int64_t> r;
  for (const OnnxDim& d : v->value) {
    if (!d.is_const()) return std::nullopt;
    r.push_back(d.value());
  }
  return r;
}

absl::StatusOr<OnnxShape> BroadcastSym(const std::vector<const OnnxShape*>& shapes) {
  size_t rank = 0;
  for (const OnnxShape* s : shapes) {
    if (!s->has_rank) return OnnxShape::Unknown();
    rank = std::max(rank, s->dims.size());
  }
  std::vector<OnnxDim> out(rank, OnnxDim::Const(1));
  for (const OnnxShape* s : shapes) {
    const size_t off = rank - s->dims.size();
    for (size_t i = 0; i < s->dims.size(); ++i) {
      const OnnxDim& d = s->dims[i];
      OnnxDim& o = out[off + i];
      if (d.is_const() && d.value() == 1) continue;
      if ((o.is_const() && o.value() == 1) || d.SameAs(o)) {
        o = d;
      } else if (o.is_const() && d.is_const()) {
        return Invalid(absl::StrCat("dimensions ", o.value(), " and ", d.value(), " (axis ",
                                    off + i, ") do not broadcast"));
      } else if (d.is_const()) {
        o = d;  // the other is d or 1 whenever the node runs
      } else if (!o.is_const()) {
        o = OnnxDim();
      }
    }
  }
  return OnnxShape::Of(std::move(out));
}

absl::Status InferSame(const onnx::NodeProto&, const SymIn& in, SymOut* out, const InferCtx&) {
  if (const SymValue* x = SymArg(in, 0); x != nullptr) {
    (*out)[0].dtype = x->dtype;
    (*out)[0].shape = x->shape;
  }
  return absl::OkStatus();
}

std::optional<int> SymAxis(int64_t axis, int rank) {
  if (axis < -rank || axis >= rank) return std::nullopt;
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

}  // namespace jetserve::onnx_ops
