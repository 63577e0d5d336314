#include "engine/onnx/onnx_executor.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>
#include <type_traits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/model/status_macros.h"
#include "engine/util/checked_math.h"
#include "engine/util/string_view_compat.h"

namespace jetserve {

using TP = onnx::TensorProto;
using Shape = std::vector<int64_t>;

OnnxExecutor::~OnnxExecutor() = default;

namespace {

absl::Status Invalid(std::string_view what) { return absl::InvalidArgumentError(Sv(what)); }
absl::Status Unsupported(std::string_view what) { return absl::UnimplementedError(Sv(what)); }

bool IsFloatType(int32_t t) { return t == TP::FLOAT || t == TP::DOUBLE; }

// Calls f(T{}) with T the C++ type of element type `dt`.
template <typename F>
absl::Status DispatchNumeric(int32_t dt, F&& f) {
  switch (dt) {
    case TP::FLOAT:
      return f(float{});
    case TP::DOUBLE:
      return f(double{});
    case TP::INT8:
      return f(int8_t{});
    case TP::UINT8:
      return f(uint8_t{});
    case TP::INT16:
      return f(int16_t{});
    case TP::UINT16:
      return f(uint16_t{});
    case TP::INT32:
      return f(int32_t{});
    case TP::UINT32:
      return f(uint32_t{});
    case TP::INT64:
      return f(int64_t{});
    case TP::UINT64:
      return f(uint64_t{});
    default:
      return Unsupported(absl::StrCat("element type ", OnnxTypeName(dt), " is not supported"));
  }
}

template <typename F>
absl::Status DispatchAll(int32_t dt, F&& f) {
  if (dt == TP::BOOL) return f(bool{});
  return DispatchNumeric(dt, std::forward<F>(f));
}

template <typename F>
absl::Status DispatchFloat(int32_t dt, F&& f) {
  if (dt == TP::FLOAT) return f(float{});
  if (dt == TP::DOUBLE) return f(double{});
  return Unsupported(
      absl::StrCat("element type ", OnnxTypeName(dt), " is not supported (float, double)"));
}

// Conversion with defined results where C++ leaves them undefined (NaN or out-of-range
// floats to integers saturate; NaN becomes 0).
template <typename To, typename From>
To ConvertTo(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From{};
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    if (std::isnan(v)) return To{};
    const long double x = static_cast<long double>(v);
    if (x <= static_cast<long double>(std::numeric_limits<To>::lowest()))
      return std::numeric_limits<To>::lowest();
    if (x >= static_cast<long double>(std::numeric_limits<To>::max()))
      return std::numeric_limits<To>::max();
    return static_cast<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

// Integer arithmetic that wraps (two's complement) instead of overflowing into UB.
template <typename T>
T WrapAdd(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
  } else {
    return static_cast<T>(a + b);
  }
}
template <typename T>
T WrapSub(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(a) - static_cast<U>(b)));
  } else {
    return static_cast<T>(a - b);
  }
}
template <typename T>
T WrapMul(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    using U = std::make_unsigned_t<T>;
    using W = std::conditional_t<(sizeof(U) < sizeof(unsigned)), unsigned, U>;
    return static_cast<T>(
        static_cast<U>(static_cast<W>(static_cast<U>(a)) * static_cast<W>(static_cast<U>(b))));
  } else {
    return static_cast<T>(a * b);
  }
}

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

// ---- run-time context --------------------------------------------------------------------

struct Ctx {
  const OnnxExecutorOptions* options;
  int64_t opset;
  ThreadPool* pool;
  std::vector<std::vector<uint8_t>>* free_list;

  // Shapes `v` and sizes its storage, taking a free buffer when one is large enough.
  absl::Status Alloc(OnnxValue* v, int32_t dtype, Shape shape) const {
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

  template <typename Fn>
  void ParallelFor(int64_t n, int64_t work_per_item, const Fn& fn) const {
    if (pool == nullptr || pool->num_threads() <= 1 || n < 2 || n * work_per_item < (1 << 16)) {
      fn(0, n, 0);
    } else {
      pool->ParallelFor(n, fn);
    }
  }
};

using In = std::vector<const OnnxValue*>;
using Out = std::vector<OnnxValue*>;
using KernelFn = absl::Status (*)(const onnx::NodeProto& node, const In& in, const Out& out,
                                  const Ctx& ctx);

// ---- shape helpers -------------------------------------------------------------------

absl::StatusOr<int> NormAxis(int64_t axis, int rank, std::string_view what = "axis") {
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

// Element strides of `s` seen through broadcasting to `out` (0 along broadcast dims).
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

// Calls fn(out_index, offsets) for every element of `out`, offsets[k] being the element
// offset into operand k (strides from BroadcastStrides).
template <size_t N, typename Fn>
void ForEachBroadcast(const Shape& out, const std::array<Shape, N>& strides, const Fn& fn) {
  const int64_t total = Prod(out, 0, out.size());
  if (total == 0) return;
  const size_t rank = out.size();
  std::array<int64_t, N> off{};
  if (rank == 0) {
    fn(int64_t{0}, off);
    return;
  }
  std::vector<int64_t> idx(rank, 0);
  const int64_t inner = out[rank - 1];
  std::array<int64_t, N> inner_stride;
  for (size_t k = 0; k < N; ++k) inner_stride[k] = strides[k][rank - 1];
  for (int64_t o = 0; o < total;) {
    std::array<int64_t, N> cur = off;
    for (int64_t j = 0; j < inner; ++j, ++o) {
      fn(o, cur);
      for (size_t k = 0; k < N; ++k) cur[k] += inner_stride[k];
    }
    // Advance the outer odometer.
    for (size_t d = rank - 1; d-- > 0;) {
      ++idx[d];
      for (size_t k = 0; k < N; ++k) off[k] += strides[k][d];
      if (idx[d] < out[d]) break;
      for (size_t k = 0; k < N; ++k) off[k] -= strides[k][d] * idx[d];
      idx[d] = 0;
    }
  }
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

// ---- elementwise ----------------------------------------------------------------------

enum class BinOp { kAdd, kSub, kMul, kDiv, kPow, kMax, kMin, kMod };

template <typename T>
absl::Status BinaryApply(BinOp op, const OnnxValue& a, const OnnxValue& b, OnnxValue* y,
                         const Ctx& ctx, bool fmod) {
  JS_ASSIGN_OR_RETURN(Shape shape, BroadcastShapes({&a.shape, &b.shape}));
  const Shape sa = BroadcastStrides(a.shape, shape), sb = BroadcastStrides(b.shape, shape);
  JS_RETURN_IF_ERROR(ctx.Alloc(y, a.dtype, shape));
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* py = y->mutable_data<T>();
  bool div_zero = false;
  auto run = [&](auto f) {
    ForEachBroadcast<2>(shape, {sa, sb}, [&](int64_t o, const std::array<int64_t, 2>& off) {
      py[o] = f(pa[off[0]], pb[off[1]]);
    });
  };
  switch (op) {
    case BinOp::kAdd:
      run([](T x, T z) { return WrapAdd(x, z); });
      break;
    case BinOp::kSub:
      run([](T x, T z) { return WrapSub(x, z); });
      break;
    case BinOp::kMul:
      run([](T x, T z) { return WrapMul(x, z); });
      break;
    case BinOp::kDiv:
      run([&](T x, T z) -> T {
        if constexpr (std::is_integral_v<T>) {
          if (z == 0) {
            div_zero = true;
            return 0;
          }
          if constexpr (std::is_signed_v<T>) {
            if (x == std::numeric_limits<T>::lowest() && z == -1) return x;  // wraps
          }
        }
        return static_cast<T>(x / z);
      });
      break;
    case BinOp::kMod:
      run([&](T x, T z) -> T {
        if constexpr (std::is_integral_v<T>) {
          if (z == 0) {
            div_zero = true;
            return 0;
          }
          if constexpr (std::is_signed_v<T>) {
            if (z == -1) return 0;
            T r = static_cast<T>(x % z);
            if (!fmod && r != 0 && ((r < 0) != (z < 0))) r = static_cast<T>(r + z);
            return r;
          } else {
            return static_cast<T>(x % z);
          }
        } else {
          T r = static_cast<T>(std::fmod(x, z));
          if (!fmod && r != 0 && ((r < 0) != (z < 0))) r = static_cast<T>(r + z);
          return r;
        }
      });
      break;
    case BinOp::kPow:
      run([](T x, T z) {
        return ConvertTo<T>(std::pow(static_cast<double>(x), static_cast<double>(z)));
      });
      break;
    case BinOp::kMax:
      run([](T x, T z) -> T {
        if constexpr (std::is_floating_point_v<T>) {
          if (std::isnan(x) || std::isnan(z)) return std::numeric_limits<T>::quiet_NaN();
        }
        return std::max(x, z);
      });
      break;
    case BinOp::kMin:
      run([](T x, T z) -> T {
        if constexpr (std::is_floating_point_v<T>) {
          if (std::isnan(x) || std::isnan(z)) return std::numeric_limits<T>::quiet_NaN();
        }
        return std::min(x, z);
      });
      break;
  }
  if (div_zero) return Invalid("integer division by zero");
  return absl::OkStatus();
}

template <BinOp op>
absl::Status KBinary(const onnx::NodeProto& node, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 2));
  const OnnxValue& a = *in[0];
  const OnnxValue& b = *in[1];
  if (op == BinOp::kPow && a.dtype != b.dtype) {
    // Pow: the exponent may have another numeric type; it is converted to the base's.
    OnnxValue e;
    JS_RETURN_IF_ERROR(ctx.Alloc(&e, a.dtype, b.shape));
    JS_RETURN_IF_ERROR(DispatchNumeric(b.dtype, [&](auto tb) {
      using B = decltype(tb);
      return DispatchNumeric(a.dtype, [&](auto ta) {
        using A = decltype(ta);
        for (int64_t i = 0; i < b.numel(); ++i)
          e.mutable_data<A>()[i] = ConvertTo<A>(b.data<B>()[i]);
        return absl::OkStatus();
      });
    }));
    return DispatchNumeric(
        a.dtype, [&](auto t) { return BinaryApply<decltype(t)>(op, a, e, out[0], ctx, false); });
  }
  JS_RETURN_IF_ERROR(SameType(a, b));
  const bool fmod = AttrInt(node, "fmod", 0) != 0;
  if (op == BinOp::kMod && !fmod && IsFloatType(a.dtype)) {
    return Invalid("Mod of floating-point inputs needs fmod=1");
  }
  return DispatchNumeric(
      a.dtype, [&](auto t) { return BinaryApply<decltype(t)>(op, a, b, out[0], ctx, fmod); });
}

// Max, Min, Sum, Mean over any number of inputs, with broadcasting.
template <BinOp op, bool mean = false>
absl::Status KVariadic(const onnx::NodeProto&, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 1));
  OnnxValue acc;
  JS_RETURN_IF_ERROR(ctx.Alloc(&acc, in[0]->dtype, in[0]->shape));
  if (!acc.storage.empty()) std::memcpy(acc.storage.data(), in[0]->bytes(), acc.storage.size());
  for (size_t i = 1; i < in.size(); ++i) {
    if (in[i] == nullptr) return Invalid(absl::StrCat("input ", i, " is empty"));
    JS_RETURN_IF_ERROR(SameType(acc, *in[i]));
    OnnxValue next;
    JS_RETURN_IF_ERROR(DispatchNumeric(acc.dtype, [&](auto t) {
      return BinaryApply<decltype(t)>(op, acc, *in[i], &next, ctx, false);
    }));
    acc = std::move(next);
  }
  if (mean) {
    JS_RETURN_IF_ERROR(DispatchFloat(acc.dtype, [&](auto t) {
      using T = decltype(t);
      for (int64_t i = 0; i < acc.numel(); ++i) {
        acc.mutable_data<T>()[i] /= static_cast<T>(in.size());
      }
      return absl::OkStatus();
    }));
  }
  *out[0] = std::move(acc);
  return absl::OkStatus();
}

enum class CmpOp { kEq, kLt, kLe, kGt, kGe };

template <CmpOp op>
absl::Status KCompare(const onnx::NodeProto&, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 2));
  const OnnxValue& a = *in[0];
  const OnnxValue& b = *in[1];
  JS_RETURN_IF_ERROR(SameType(a, b));
  JS_ASSIGN_OR_RETURN(Shape shape, BroadcastShapes({&a.shape, &b.shape}));
  const Shape sa = BroadcastStrides(a.shape, shape), sb = BroadcastStrides(b.shape, shape);
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], TP::BOOL, shape));
  bool* py = out[0]->mutable_data<bool>();
  return DispatchAll(a.dtype, [&](auto t) {
    using T = decltype(t);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    ForEachBroadcast<2>(shape, {sa, sb}, [&](int64_t o, const std::array<int64_t, 2>& off) {
      const T x = pa[off[0]], z = pb[off[1]];
      switch (op) {
        case CmpOp::kEq:
          py[o] = x == z;
          break;
        case CmpOp::kLt:
          py[o] = x < z;
          break;
        case CmpOp::kLe:
          py[o] = x <= z;
          break;
        case CmpOp::kGt:
          py[o] = x > z;
          break;
        case CmpOp::kGe:
          py[o] = x >= z;
          break;
      }
    });
    return absl::OkStatus();
  });
}

enum class LogicOp { kAnd, kOr, kXor };

template <LogicOp op>
absl::Status KLogic(const onnx::NodeProto&, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 2));
  const OnnxValue& a = *in[0];
  const OnnxValue& b = *in[1];
  if (a.dtype != TP::BOOL || b.dtype != TP::BOOL) return Invalid("inputs must be BOOL");
  JS_ASSIGN_OR_RETURN(Shape shape, BroadcastShapes({&a.shape, &b.shape}));
  const Shape sa = BroadcastStrides(a.shape, shape), sb = BroadcastStrides(b.shape, shape);
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], TP::BOOL, shape));
  bool* py = out[0]->mutable_data<bool>();
  const bool* pa = a.data<bool>();
  const bool* pb = b.data<bool>();
  ForEachBroadcast<2>(shape, {sa, sb}, [&](int64_t o, const std::array<int64_t, 2>& off) {
    const bool x = pa[off[0]], z = pb[off[1]];
    py[o] = op == LogicOp::kAnd ? (x && z) : op == LogicOp::kOr ? (x || z) : (x != z);
  });
  return absl::OkStatus();
}

absl::Status KWhere(const onnx::NodeProto&, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 3));
  const OnnxValue& c = *in[0];
  const OnnxValue& x = *in[1];
  const OnnxValue& y = *in[2];
  if (c.dtype != TP::BOOL) return Invalid("condition must be BOOL");
  JS_RETURN_IF_ERROR(SameType(x, y));
  JS_ASSIGN_OR_RETURN(Shape shape, BroadcastShapes({&c.shape, &x.shape, &y.shape}));
  const std::array<Shape, 3> st = {BroadcastStrides(c.shape, shape),
                                   BroadcastStrides(x.shape, shape),
                                   BroadcastStrides(y.shape, shape)};
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], x.dtype, shape));
  return DispatchAll(x.dtype, [&](auto t) {
    using T = decltype(t);
    const bool* pc = c.data<bool>();
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    T* po = out[0]->mutable_data<T>();
    ForEachBroadcast<3>(shape, st, [&](int64_t o, const std::array<int64_t, 3>& off) {
      po[o] = pc[off[0]] ? px[off[1]] : py[off[2]];
    });
    return absl::OkStatus();
  });
}

enum class UnOp {
  kSqrt,
  kErf,
  kTanh,
  kExp,
  kLog,
  kSigmoid,
  kReciprocal,
  kFloor,
  kCeil,
  kRound,
  kSin,
  kCos,
  kNeg,
  kAbs,
  kRelu,
  kSign,
  kGelu,
  kSoftplus,
  kLeakyRelu,
  kElu,
  kHardSigmoid
};

template <UnOp op>
absl::Status KUnary(const onnx::NodeProto& node, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 1));
  const OnnxValue& x = *in[0];
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], x.dtype, x.shape));
  constexpr bool kIntOk =
      op == UnOp::kNeg || op == UnOp::kAbs || op == UnOp::kRelu || op == UnOp::kSign;
  const int64_t n = x.numel();
  auto body = [&](auto t) -> absl::Status {
    using T = decltype(t);
    const T* px = x.data<T>();
    T* py = out[0]->mutable_data<T>();
    if constexpr (std::is_floating_point_v<T>) {
      const bool tanh_gelu = op == UnOp::kGelu && AttrString(node, "approximate", "none") == "tanh";
      const T alpha = static_cast<T>(AttrFloat(node, "alpha",
                                               op == UnOp::kLeakyRelu ? 0.01f
                                               : op == UnOp::kElu     ? 1.0f
                                                                      : 0.2f));
      const T beta = static_cast<T>(AttrFloat(node, "beta", 0.5f));
      for (int64_t i = 0; i < n; ++i) {
        const T v = px[i];
        T r;
        switch (op) {
          case UnOp::kSqrt:
            r = std::sqrt(v);
            break;
          case UnOp::kErf:
            r = std::erf(v);
            break;
          case UnOp::kTanh:
            r = std::tanh(v);
            break;
          case UnOp::kExp:
            r = std::exp(v);
            break;
          case UnOp::kLog:
            r = std::log(v);
            break;
          case UnOp::kSigmoid:
            r = v >= 0 ? T(1) / (T(1) + std::exp(-v)) : std::exp(v) / (T(1) + std::exp(v));
            break;
          case UnOp::kReciprocal:
            r = T(1) / v;
            break;
          case UnOp::kFloor:
            r = std::floor(v);
            break;
          case UnOp::kCeil:
            r = std::ceil(v);
            break;
          case UnOp::kRound:
            r = std::nearbyint(v);
            break;
          case UnOp::kSin:
            r = std::sin(v);
            break;
          case UnOp::kCos:
            r = std::cos(v);
            break;
          case UnOp::kNeg:
            r = -v;
            break;
          case UnOp::kAbs:
            r = std::fabs(v);
            break;
          case UnOp::kRelu:
            r = v > 0 ? v : T(0);
            break;
          case UnOp::kSign:
            r = v > 0 ? T(1) : v < 0 ? T(-1) : T(0);
            break;
          case UnOp::kGelu:
            if (tanh_gelu) {
              const T k = static_cast<T>(0.7978845608028654);
              r = T(0.5) * v * (T(1) + std::tanh(k * (v + T(0.044715) * v * v * v)));
            } else {
              r = T(0.5) * v * (T(1) + std::erf(v * static_cast<T>(0.7071067811865476)));
            }
            break;
          case UnOp::kSoftplus:
            r = v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v));
            break;
          case UnOp::kLeakyRelu:
            r = v >= 0 ? v : alpha * v;
            break;
          case UnOp::kElu:
            r = v >= 0 ? v : alpha * (std::exp(v) - T(1));
            break;
          case UnOp::kHardSigmoid:
            r = std::max(T(0), std::min(T(1), alpha * v + beta));
            break;
        }
        py[i] = r;
      }
      return absl::OkStatus();
    } else {
      if constexpr (kIntOk) {
        for (int64_t i = 0; i < n; ++i) {
          const T v = px[i];
          if constexpr (std::is_signed_v<T>) {
            switch (op) {
              case UnOp::kNeg:
                py[i] = WrapSub(T(0), v);
                break;
              case UnOp::kAbs:
                py[i] = v < 0 ? WrapSub(T(0), v) : v;
                break;
              case UnOp::kRelu:
                py[i] = v > 0 ? v : T(0);
                break;
              default:
                py[i] = static_cast<T>(v > 0 ? 1 : v < 0 ? -1 : 0);
                break;
            }
          } else {
            switch (op) {
              case UnOp::kNeg:
                py[i] = static_cast<T>(T(0) - v);
                break;
              case UnOp::kSign:
                py[i] = static_cast<T>(v > 0 ? 1 : 0);
                break;
              default:
                py[i] = v;
                break;
            }
          }
        }
        return absl::OkStatus();
      }
      return Unsupported(absl::StrCat("element type ", OnnxTypeName(x.dtype),
                                      " is not supported (float, double)"));
    }
  };
  return DispatchNumeric(x.dtype, body);
}

absl::Status KNot(const onnx::NodeProto&, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 1));
  if (in[0]->dtype != TP::BOOL) return Invalid("input must be BOOL");
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], TP::BOOL, in[0]->shape));
  for (int64_t i = 0; i < in[0]->numel(); ++i) {
    out[0]->mutable_data<bool>()[i] = !in[0]->data<bool>()[i];
  }
  return absl::OkStatus();
}

absl::Status KIsNaN(const onnx::NodeProto&, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 1));
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], TP::BOOL, in[0]->shape));
  return DispatchFloat(in[0]->dtype, [&](auto t) {
    using T = decltype(t);
    for (int64_t i = 0; i < in[0]->numel(); ++i) {
      out[0]->mutable_data<bool>()[i] = std::isnan(in[0]->data<T>()[i]);
    }
    return absl::OkStatus();
  });
}

absl::Status KIsInf(const onnx::NodeProto& node, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 1));
  const bool neg = AttrInt(node, "detect_negative", 1) != 0;
  const bool pos = AttrInt(node, "detect_positive", 1) != 0;
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], TP::BOOL, in[0]->shape));
  return DispatchFloat(in[0]->dtype, [&](auto t) {
    using T = decltype(t);
    for (int64_t i = 0; i < in[0]->numel(); ++i) {
      const T v = in[0]->data<T>()[i];
      out[0]->mutable_data<bool>()[i] = std::isinf(v) && ((v > 0 && pos) || (v < 0 && neg));
    }
    return absl::OkStatus();
  });
}

absl::Status KClip(const onnx::NodeProto& node, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 1));
  const OnnxValue& x = *in[0];
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], x.dtype, x.shape));
  return DispatchNumeric(x.dtype, [&](auto t) -> absl::Status {
    using T = decltype(t);
    T lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
    if (ctx.opset < 11) {
      // ConvertTo saturates: the default ±FLT_MAX has no integer value.
      lo = ConvertTo<T>(AttrFloat(node, "min", -std::numeric_limits<float>::max()));
      hi = ConvertTo<T>(AttrFloat(node, "max", std::numeric_limits<float>::max()));
    }
    if (in.size() > 1 && in[1] != nullptr) {
      JS_RETURN_IF_ERROR(SameType(x, *in[1]));
      if (in[1]->numel() != 1) return Invalid("min must be a scalar");
      lo = in[1]->data<T>()[0];
    }
    if (in.size() > 2 && in[2] != nullptr) {
      JS_RETURN_IF_ERROR(SameType(x, *in[2]));
      if (in[2]->numel() != 1) return Invalid("max must be a scalar");
      hi = in[2]->data<T>()[0];
    }
    for (int64_t i = 0; i < x.numel(); ++i) {
      T v = x.data<T>()[i];
      if (v < lo) v = lo;
      if (v > hi) v = hi;
      out[0]->mutable_data<T>()[i] = v;
    }
    return absl::OkStatus();
  });
}

absl::Status CastValue(const OnnxValue& x, int32_t to, OnnxValue* y, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(ctx.Alloc(y, to, x.shape));
  return DispatchAll(x.dtype, [&](auto tf) {
    using F = decltype(tf);
    return DispatchAll(to, [&](auto tt) {
      using T = decltype(tt);
      const F* px = x.data<F>();
      T* py = y->mutable_data<T>();
      for (int64_t i = 0; i < x.numel(); ++i) py[i] = ConvertTo<T>(px[i]);
      return absl::OkStatus();
    });
  });
}

absl::Status KCast(const onnx::NodeProto& node, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 1));
  return CastValue(*in[0], static_cast<int32_t>(AttrInt(node, "to", 0)), out[0], ctx);
}

absl::Status KCastLike(const onnx::NodeProto&, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 2));
  return CastValue(*in[0], in[1]->dtype, out[0], ctx);
}

// ---- matrix products ----------------------------------------------------------------------

// c[m, n] = sum_k a[m, k] b[k, n] for float: rows of c in blocks of 4 so each row of b is
// read once per block; the inner loop over n is contiguous (vectorized by the compiler).
void MatMulF32(const float* a, const float* b, float* c, int64_t m, int64_t k, int64_t n,
               const Ctx& ctx) {
  ctx.ParallelFor((m + 3) / 4, 4 * k * n, [&](int64_t begin, int64_t end, int) {
    for (int64_t blk = begin; blk < end; ++blk) {
      const int64_t i0 = blk * 4;
      const int64_t rows = std::min<int64_t>(4, m - i0);
      float* c0 = c + i0 * n;
      std::fill(c0, c0 + rows * n, 0.0f);
      if (rows == 4) {
        float* c1 = c0 + n;
        float* c2 = c1 + n;
        float* c3 = c2 + n;
        const float* a0 = a + i0 * k;
        for (int64_t p = 0; p < k; ++p) {
          const float x0 = a0[p], x1 = a0[k + p], x2 = a0[2 * k + p], x3 = a0[3 * k + p];
          const float* bp = b + p * n;
          for (int64_t j = 0; j < n; ++j) {
            const float v = bp[j];
            c0[j] += x0 * v;
            c1[j] += x1 * v;
            c2[j] += x2 * v;
            c3[j] += x3 * v;
          }
        }
      } else {
        for (int64_t r = 0; r < rows; ++r) {
          float* cr = c0 + r * n;
          const float* ar = a + (i0 + r) * k;
          for (int64_t p = 0; p < k; ++p) {
            const float x = ar[p];
            const float* bp = b + p * n;
            for (int64_t j = 0; j < n; ++j) cr[j] += x * bp[j];
          }
        }
      }
    }
  });
}

template <typename T, typename Acc = T>
void MatMulGeneric(const T* a, const T* b, T* c, int64_t m, int64_t k, int64_t n) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      Acc s = 0;
      for (int64_t p = 0; p < k; ++p) {
        s = WrapAdd(s, WrapMul(static_cast<Acc>(a[i * k + p]), static_cast<Acc>(b[p * n + j])));
      }
      c[i * n + j] = static_cast<T>(s);
    }
  }
}

// The batch-broadcast frame of MatMul and MatMulInteger: calls fn(a_off, b_off, c_off) per
// matrix of the output, offsets in elements.
struct MatMulFrame {
  Shape out;
  int64_t m = 0, k = 0, n = 0;
  std::vector<std::array<int64_t, 3>> offsets;
};

absl::StatusOr<MatMulFrame> MakeMatMulFrame(const Shape& as, const Shape& bs) {
  if (as.empty() || bs.empty()) return Invalid("MatMul inputs must have rank >= 1");
  Shape a = as, b = bs;
  const bool a1 = a.size() == 1, b1 = b.size() == 1;
  if (a1) a.insert(a.begin(), 1);
  if (b1) b.push_back(1);
  MatMulFrame f;
  f.m = a[a.size() - 2];
  f.k = a[a.size() - 1];
  f.n = b[b.size() - 1];
  if (b[b.size() - 2] != f.k) {
    return Invalid(absl::StrCat("MatMul shapes ", ShapeStr(as), " and ", ShapeStr(bs),
                                " do not match (inner dimensions differ)"));
  }
  const Shape ab(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
  JS_ASSIGN_OR_RETURN(Shape batch, BroadcastShapes({&ab, &bb}));
  const Shape sa = BroadcastStrides(ab, batch), sb = BroadcastStrides(bb, batch);
  const int64_t nb = Prod(batch, 0, batch.size());
  f.offsets.reserve(static_cast<size_t>(nb));
  ForEachBroadcast<2>(batch, {sa, sb}, [&](int64_t o, const std::array<int64_t, 2>& off) {
    f.offsets.push_back({off[0] * f.m * f.k, off[1] * f.k * f.n, o * f.m * f.n});
  });
  if (batch.empty() && nb == 1 && f.offsets.empty()) f.offsets.push_back({0, 0, 0});
  f.out = batch;
  if (!a1) f.out.push_back(f.m);
  if (!b1) f.out.push_back(f.n);
  return f;
}

absl::Status KMatMul(const onnx::NodeProto&, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 2));
  const OnnxValue& a = *in[0];
  const OnnxValue& b = *in[1];
  JS_RETURN_IF_ERROR(SameType(a, b));
  JS_ASSIGN_OR_RETURN(MatMulFrame f, MakeMatMulFrame(a.shape, b.shape));
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], a.dtype, f.out));
  return DispatchNumeric(a.dtype, [&](auto t) {
    using T = decltype(t);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* pc = out[0]->mutable_data<T>();
    for (const auto& o : f.offsets) {
      if constexpr (std::is_same_v<T, float>) {
        MatMulF32(pa + o[0], pb + o[1], pc + o[2], f.m, f.k, f.n, ctx);
      } else {
        MatMulGeneric<T>(pa + o[0], pb + o[1], pc + o[2], f.m, f.k, f.n);
      }
    }
    return absl::OkStatus();
  });
}

absl::Status KGemm(const onnx::NodeProto& node, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 2));
  const OnnxValue& a = *in[0];
  const OnnxValue& b = *in[1];
  JS_RETURN_IF_ERROR(SameType(a, b));
  if (a.rank() != 2 || b.rank() != 2) return Invalid("Gemm inputs A and B must be matrices");
  const bool ta = AttrInt(node, "transA", 0) != 0, tb = AttrInt(node, "transB", 0) != 0;
  const int64_t m = ta ? a.shape[1] : a.shape[0], k = ta ? a.shape[0] : a.shape[1];
  const int64_t kb = tb ? b.shape[1] : b.shape[0], n = tb ? b.shape[0] : b.shape[1];
  if (k != kb) {
    return Invalid(absl::StrCat("Gemm shapes ", ShapeStr(a.shape), " and ", ShapeStr(b.shape),
                                " do not match"));
  }
  const OnnxValue* c = in.size() > 2 ? in[2] : nullptr;
  const Shape ys = {m, n};
  Shape cs;
  if (c != nullptr) {
    JS_RETURN_IF_ERROR(SameType(a, *c));
    JS_ASSIGN_OR_RETURN(Shape bc, BroadcastShapes({&c->shape, &ys}));
    if (bc != ys)
      return Invalid(absl::StrCat("Gemm C of shape ", ShapeStr(c->shape), " does not broadcast to ",
                                  ShapeStr(ys)));
    cs = BroadcastStrides(c->shape, ys);
  }
  const double alpha = AttrFloat(node, "alpha", 1.0f), beta = AttrFloat(node, "beta", 1.0f);
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], a.dtype, ys));
  return DispatchNumeric(a.dtype, [&](auto t) {
    using T = decltype(t);
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* py = out[0]->mutable_data<T>();
    ctx.ParallelFor(m, k * n, [&](int64_t begin, int64_t end, int) {
      for (int64_t i = begin; i < end; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          Acc s = 0;
          for (int64_t p = 0; p < k; ++p) {
            const T x = ta ? pa[p * m + i] : pa[i * k + p];
            const T w = tb ? pb[j * k + p] : pb[p * n + j];
            s = WrapAdd(s, WrapMul(static_cast<Acc>(x), static_cast<Acc>(w)));
          }
          double v = alpha * static_cast<double>(s);
          if (c != nullptr) v += beta * static_cast<double>(c->data<T>()[i * cs[0] + j * cs[1]]);
          py[i * n + j] = ConvertTo<T>(v);
        }
      }
    });
    return absl::OkStatus();
  });
}

absl::Status KMatMulInteger(const onnx::NodeProto&, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 2));
  const OnnxValue& a = *in[0];
  const OnnxValue& b = *in[1];
  for (const OnnxValue* v : {&a, &b}) {
    if (v->dtype != TP::INT8 && v->dtype != TP::UINT8)
      return Invalid("inputs must be INT8 or UINT8");
  }
  JS_ASSIGN_OR_RETURN(MatMulFrame f, MakeMatMulFrame(a.shape, b.shape));
  // Zero points: scalar, or per row of A ([M]) / per column of B ([N]).
  auto zero_points = [&](size_t i, const OnnxValue& x, int64_t len,
                         std::vector<int32_t>* zp) -> absl::Status {
    zp->assign(static_cast<size_t>(len), 0);
    if (in.size() <= i || in[i] == nullptr) return absl::OkStatus();
    const OnnxValue& z = *in[i];
    if (z.dtype != x.dtype) return Invalid("a zero point's type differs from its input's");
    if (z.numel() != 1 && z.numel() != len) {
      return Invalid(absl::StrCat("zero point of shape ", ShapeStr(z.shape),
                                  " is neither a scalar nor of length ", len));
    }
    for (int64_t j = 0; j < len; ++j) {
      const int64_t s = z.numel() == 1 ? 0 : j;
      (*zp)[static_cast<size_t>(j)] =
          z.dtype == TP::INT8 ? z.data<int8_t>()[s] : z.data<uint8_t>()[s];
    }
    return absl::OkStatus();
  };
  std::vector<int32_t> za, zb;
  JS_RETURN_IF_ERROR(zero_points(2, a, f.m, &za));
  JS_RETURN_IF_ERROR(zero_points(3, b, f.n, &zb));
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], TP::INT32, f.out));
  auto get = [](const OnnxValue& v, int64_t i) -> int32_t {
    return v.dtype == TP::INT8 ? v.data<int8_t>()[i] : v.data<uint8_t>()[i];
  };
  int32_t* pc = out[0]->mutable_data<int32_t>();
  for (const auto& o : f.offsets) {
    ctx.ParallelFor(f.m, f.k * f.n, [&](int64_t begin, int64_t end, int) {
      std::vector<int64_t> row(static_cast<size_t>(f.n));
      for (int64_t i = begin; i < end; ++i) {
        std::fill(row.begin(), row.end(), 0);
        for (int64_t p = 0; p < f.k; ++p) {
          const int64_t x = get(a, o[0] + i * f.k + p) - za[static_cast<size_t>(i)];
          for (int64_t j = 0; j < f.n; ++j) {
            row[static_cast<size_t>(j)] +=
                x * (get(b, o[1] + p * f.n + j) - zb[static_cast<size_t>(j)]);
          }
        }
        for (int64_t j = 0; j < f.n; ++j) {
          pc[o[2] + i * f.n + j] = static_cast<int32_t>(row[static_cast<size_t>(j)]);
        }
      }
    });
  }
  return absl::OkStatus();
}

// Per-axis parameters (scale / zero point) of the quantization operators.
absl::Status QuantParamIndex(const OnnxValue& x, const OnnxValue& scale, int64_t axis_attr,
                             int64_t* axis_len, int64_t* inner) {
  if (scale.numel() == 1 && scale.rank() <= 1) {
    *axis_len = 1;
    *inner = 0;
    return absl::OkStatus();
  }
  if (scale.rank() != 1)
    return Invalid("scale must be a scalar or 1-D (blocked quantization is not supported)");
  JS_ASSIGN_OR_RETURN(int axis, NormAxis(axis_attr, x.rank()));
  if (x.shape[static_cast<size_t>(axis)] != scale.shape[0]) {
    return Invalid(absl::StrCat("scale has ", scale.shape[0], " elements, axis ", axis, " of ",
                                ShapeStr(x.shape), " has ", x.shape[static_cast<size_t>(axis)]));
  }
  *axis_len = scale.shape[0];
  *inner = Prod(x.shape, static_cast<size_t>(axis) + 1, x.shape.size());
  return absl::OkStatus();
}

absl::Status KDequantizeLinear(const onnx::NodeProto& node, const In& in, const Out& out,
                               const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 2));
  const OnnxValue& x = *in[0];
  const OnnxValue& scale = *in[1];
  if (AttrInt(node, "block_size", 0) != 0) return Unsupported("blocked quantization (block_size)");
  const OnnxValue* zp = in.size() > 2 ? in[2] : nullptr;
  if (zp != nullptr) {
    JS_RETURN_IF_ERROR(SameType(x, *zp));
    if (zp->numel() != scale.numel()) return Invalid("zero point and scale differ in size");
  }
  int64_t len = 1, inner = 0;
  JS_RETURN_IF_ERROR(QuantParamIndex(x, scale, AttrInt(node, "axis", 1), &len, &inner));
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], scale.dtype, x.shape));
  return DispatchFloat(scale.dtype, [&](auto ts) {
    using S = decltype(ts);
    return DispatchNumeric(x.dtype, [&](auto tx) -> absl::Status {
      using X = decltype(tx);
      if constexpr (std::is_floating_point_v<X>) {
        return Invalid("input must be an integer type");
      } else {
        for (int64_t i = 0; i < x.numel(); ++i) {
          const int64_t q = inner == 0 ? 0 : (i / inner) % len;
          const double z = zp != nullptr ? static_cast<double>(zp->data<X>()[q]) : 0.0;
          out[0]->mutable_data<S>()[i] = static_cast<S>((static_cast<double>(x.data<X>()[i]) - z) *
                                                        static_cast<double>(scale.data<S>()[q]));
        }
        return absl::OkStatus();
      }
    });
  });
}

template <typename Q>
Q SaturateRound(double v) {
  if (std::isnan(v)) return Q{};  // NaN has no integer value (converting it is undefined)
  v = std::nearbyint(v);          // half to even (default rounding mode)
  v = std::max(v, static_cast<double>(std::numeric_limits<Q>::lowest()));
  v = std::min(v, static_cast<double>(std::numeric_limits<Q>::max()));
  return static_cast<Q>(v);
}

absl::Status KQuantizeLinear(const onnx::NodeProto& node, const In& in, const Out& out,
                             const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 2));
  const OnnxValue& x = *in[0];
  const OnnxValue& scale = *in[1];
  if (AttrInt(node, "block_size", 0) != 0) return Unsupported("blocked quantization (block_size)");
  const OnnxValue* zp = in.size() > 2 ? in[2] : nullptr;
  int32_t qt = static_cast<int32_t>(AttrInt(node, "output_dtype", 0));
  if (zp != nullptr) {
    if (qt != 0 && qt != zp->dtype) return Invalid("output_dtype differs from the zero point's");
    qt = zp->dtype;
    if (zp->numel() != scale.numel()) return Invalid("zero point and scale differ in size");
  }
  if (qt == 0) qt = TP::UINT8;
  if (qt != TP::UINT8 && qt != TP::INT8 && qt != TP::UINT16 && qt != TP::INT16) {
    return Unsupported(absl::StrCat("quantized type ", OnnxTypeName(qt)));
  }
  int64_t len = 1, inner = 0;
  JS_RETURN_IF_ERROR(QuantParamIndex(x, scale, AttrInt(node, "axis", 1), &len, &inner));
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], qt, x.shape));
  return DispatchNumeric(x.dtype, [&](auto tx) {
    using X = decltype(tx);
    return DispatchNumeric(scale.dtype, [&](auto ts) {
      using S = decltype(ts);
      return DispatchNumeric(qt, [&](auto tq) -> absl::Status {
        using Q = decltype(tq);
        if constexpr (std::is_floating_point_v<Q>) {
          return Invalid("quantized type must be an integer");
        } else {
          for (int64_t i = 0; i < x.numel(); ++i) {
            const int64_t q = inner == 0 ? 0 : (i / inner) % len;
            const double z = zp != nullptr ? static_cast<double>(zp->data<Q>()[q]) : 0.0;
            const double v =
                std::nearbyint(static_cast<double>(static_cast<float>(x.data<X>()[i]) /
                                                   static_cast<float>(scale.data<S>()[q]))) +
                z;
            out[0]->mutable_data<Q>()[i] = SaturateRound<Q>(v);
          }
          return absl::OkStatus();
        }
      });
    });
  });
}

absl::Status KDynamicQuantizeLinear(const onnx::NodeProto&, const In& in, const Out& out,
                                    const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 1));
  const OnnxValue& x = *in[0];
  if (x.dtype != TP::FLOAT) return Invalid("input must be FLOAT");
  const float* px = x.data<float>();
  float lo = 0, hi = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    lo = std::min(lo, px[i]);
    hi = std::max(hi, px[i]);
  }
  const float scale = (hi - lo) / 255.0f;
  uint8_t zp = 0;
  if (scale > 0) zp = SaturateRound<uint8_t>(std::nearbyint(0.0f - lo / scale));
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], TP::UINT8, x.shape));
  for (int64_t i = 0; i < x.numel(); ++i) {
    out[0]->mutable_data<uint8_t>()[i] =
        scale > 0 ? SaturateRound<uint8_t>(std::nearbyint(px[i] / scale) + zp) : 0;
  }
  if (out.size() > 1 && out[1] != nullptr) {
    JS_RETURN_IF_ERROR(ctx.Alloc(out[1], TP::FLOAT, {}));
    out[1]->mutable_data<float>()[0] = scale;
  }
  if (out.size() > 2 && out[2] != nullptr) {
    JS_RETURN_IF_ERROR(ctx.Alloc(out[2], TP::UINT8, {}));
    out[2]->mutable_data<uint8_t>()[0] = zp;
  }
  return absl::OkStatus();
}

// ---- normalizations and reductions -------------------------------------------------------

template <bool kLog>
absl::Status KSoftmax(const onnx::NodeProto& node, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 1));
  const OnnxValue& x = *in[0];
  const bool legacy = ctx.opset < 13;  // before 13: over the flattened trailing dims
  JS_ASSIGN_OR_RETURN(int axis, NormAxis(AttrInt(node, "axis", legacy ? 1 : -1), x.rank()));
  const int64_t outer = Prod(x.shape, 0, static_cast<size_t>(axis));
  const int64_t len = legacy ? Prod(x.shape, static_cast<size_t>(axis), x.shape.size())
                             : (x.rank() == 0 ? 1 : x.shape[static_cast<size_t>(axis)]);
  const int64_t inner = legacy ? 1 : Prod(x.shape, static_cast<size_t>(axis) + 1, x.shape.size());
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], x.dtype, x.shape));
  return DispatchFloat(x.dtype, [&](auto t) {
    using T = decltype(t);
    const T* px = x.data<T>();
    T* py = out[0]->mutable_data<T>();
    ctx.ParallelFor(outer, len * inner * 8, [&](int64_t begin, int64_t end, int) {
      for (int64_t o = begin; o < end; ++o) {
        for (int64_t in_i = 0; in_i < inner; ++in_i) {
          const T* xr = px + o * len * inner + in_i;
          T* yr = py + o * len * inner + in_i;
          T mx = -std::numeric_limits<T>::infinity();
          for (int64_t j = 0; j < len; ++j) mx = std::max(mx, xr[j * inner]);
          double sum = 0;
          for (int64_t j = 0; j < len; ++j) {
            const T e = std::exp(xr[j * inner] - mx);
            if (!kLog) yr[j * inner] = e;
            sum += e;
          }
          if (kLog) {
            const T ls = static_cast<T>(std::log(sum));
            for (int64_t j = 0; j < len; ++j) yr[j * inner] = xr[j * inner] - mx - ls;
          } else {
            const T inv = static_cast<T>(1.0 / sum);
            for (int64_t j = 0; j < len; ++j) yr[j * inner] *= inv;
          }
        }
      }
    });
    return absl::OkStatus();
  });
}

// Offsets of a parameter broadcast over a normalized shape (LayerNormalization's Scale/B).
absl::StatusOr<std::vector<int64_t>> ParamOffsets(const OnnxValue& p, const Shape& norm,
                                                  std::string_view what) {
  JS_ASSIGN_OR_RETURN(Shape b, BroadcastShapes({&p.shape, &norm}));
  if (b != norm) {
    return Invalid(absl::StrCat(Sv(what), " of shape ", ShapeStr(p.shape),
                                " does not broadcast to the normalized shape ", ShapeStr(norm)));
  }
  std::vector<int64_t> offs;
  offs.reserve(static_cast<size_t>(Prod(norm, 0, norm.size())));
  ForEachBroadcast<1>(norm, {BroadcastStrides(p.shape, norm)},
                      [&](int64_t, const std::array<int64_t, 1>& o) { offs.push_back(o[0]); });
  return offs;
}

absl::Status KLayerNorm(const onnx::NodeProto& node, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 2));
  const OnnxValue& x = *in[0];
  const OnnxValue& scale = *in[1];
  const OnnxValue* bias = in.size() > 2 ? in[2] : nullptr;
  JS_RETURN_IF_ERROR(SameType(x, scale));
  if (bias != nullptr) {
    JS_RETURN_IF_ERROR(SameType(x, *bias));
  }
  if (x.rank() == 0) return Invalid("input must have rank >= 1");
  JS_ASSIGN_OR_RETURN(int axis, NormAxis(AttrInt(node, "axis", -1), x.rank()));
  const double eps = AttrFloat(node, "epsilon", 1e-5f);
  const Shape norm(x.shape.begin() + axis, x.shape.end());
  const int64_t rows = Prod(x.shape, 0, static_cast<size_t>(axis));
  const int64_t cols = Prod(norm, 0, norm.size());
  JS_ASSIGN_OR_RETURN(std::vector<int64_t> so, ParamOffsets(scale, norm, "Scale"));
  std::vector<int64_t> bo;
  if (bias != nullptr) {
    JS_ASSIGN_OR_RETURN(bo, ParamOffsets(*bias, norm, "B"));
  }
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], x.dtype, x.shape));
  Shape stat_shape = x.shape;
  for (size_t i = static_cast<size_t>(axis); i < stat_shape.size(); ++i) stat_shape[i] = 1;
  const int32_t stat_type =
      static_cast<int32_t>(AttrInt(node, "stash_type", TP::FLOAT)) == TP::DOUBLE ? TP::DOUBLE
                                                                                 : TP::FLOAT;
  OnnxValue* mean_out = out.size() > 1 ? out[1] : nullptr;
  OnnxValue* inv_out = out.size() > 2 ? out[2] : nullptr;
  if (mean_out != nullptr) JS_RETURN_IF_ERROR(ctx.Alloc(mean_out, stat_type, stat_shape));
  if (inv_out != nullptr) JS_RETURN_IF_ERROR(ctx.Alloc(inv_out, stat_type, stat_shape));
  return DispatchFloat(x.dtype, [&](auto t) {
    using T = decltype(t);
    const T* px = x.data<T>();
    const T* ps = scale.data<T>();
    const T* pb = bias != nullptr ? bias->data<T>() : nullptr;
    T* py = out[0]->mutable_data<T>();
    ctx.ParallelFor(rows, cols * 6, [&](int64_t begin, int64_t end, int) {
      for (int64_t r = begin; r < end; ++r) {
        const T* xr = px + r * cols;
        T* yr = py + r * cols;
        double mean = 0;
        for (int64_t j = 0; j < cols; ++j) mean += xr[j];
        mean /= static_cast<double>(std::max<int64_t>(cols, 1));
        double var = 0;
        for (int64_t j = 0; j < cols; ++j) var += (xr[j] - mean) * (xr[j] - mean);
        var /= static_cast<double>(std::max<int64_t>(cols, 1));
        const double inv = 1.0 / std::sqrt(var + eps);
        for (int64_t j = 0; j < cols; ++j) {
          double v = (xr[j] - mean) * inv * static_cast<double>(ps[so[static_cast<size_t>(j)]]);
          if (pb != nullptr) v += pb[bo[static_cast<size_t>(j)]];
          yr[j] = static_cast<T>(v);
        }
        auto put = [&](OnnxValue* v, double value) {
          if (v == nullptr) return;
          if (v->dtype == TP::DOUBLE) {
            v->mutable_data<double>()[r] = value;
          } else {
            v->mutable_data<float>()[r] = static_cast<float>(value);
          }
        };
        put(mean_out, mean);
        put(inv_out, inv);
      }
    });
    return absl::OkStatus();
  });
}

enum class RedOp { kSum, kMean, kMax, kMin, kProd, kSumSquare, kL1, kL2, kLogSum, kLogSumExp };

// Axes of a reduction: the `axes` input (ReduceSum from opset 13, the others from 18) or
// attribute; empty means all axes unless noop_with_empty_axes.
template <RedOp op>
absl::Status KReduce(const onnx::NodeProto& node, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 1));
  const OnnxValue& x = *in[0];
  Shape axes;
  bool have_axes = false;
  if (in.size() > 1 && in[1] != nullptr) {
    JS_ASSIGN_OR_RETURN(axes, IntsOf(*in[1], "axes"));
    have_axes = true;
  } else {
    have_axes = AttrInts(node, "axes", &axes);
  }
  const bool keep = AttrInt(node, "keepdims", 1) != 0;
  const bool noop = AttrInt(node, "noop_with_empty_axes", 0) != 0;
  std::vector<bool> reduce(x.shape.size(), false);
  if (axes.empty()) {
    if (noop && have_axes) {
      std::fill(reduce.begin(), reduce.end(), false);
    } else if (noop && !have_axes) {
      // noop with no axes at all: identity.
    } else {
      std::fill(reduce.begin(), reduce.end(), true);
    }
  }
  for (int64_t a : axes) {
    JS_ASSIGN_OR_RETURN(int ax, NormAxis(a, x.rank(), "axes"));
    reduce[static_cast<size_t>(ax)] = true;
  }
  Shape kept_shape, out_shape;
  for (size_t i = 0; i < x.shape.size(); ++i) {
    kept_shape.push_back(reduce[i] ? 1 : x.shape[i]);
    if (!reduce[i] || keep) out_shape.push_back(reduce[i] ? 1 : x.shape[i]);
  }
  const int32_t dt = x.dtype;
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], dt, out_shape));
  const int64_t count_out = Prod(kept_shape, 0, kept_shape.size());
  const int64_t count_in = x.numel();
  const int64_t per = count_out == 0 ? 0 : count_in / std::max<int64_t>(count_out, 1);
  // Output offset of each input element: strides of the kept shape, 0 on reduced axes.
  Shape st(x.shape.size(), 0);
  {
    int64_t s = 1;
    for (size_t i = x.shape.size(); i-- > 0;) {
      st[i] = reduce[i] ? 0 : s;
      s *= kept_shape[i];
    }
  }
  return DispatchNumeric(dt, [&](auto t) {
    using T = decltype(t);
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double,
                                   std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>;
    std::vector<double> acc(static_cast<size_t>(count_out));
    double init = 0;
    if (op == RedOp::kMax) init = -std::numeric_limits<double>::infinity();
    if (op == RedOp::kMin) init = std::numeric_limits<double>::infinity();
    if (op == RedOp::kProd) init = 1;
    std::fill(acc.begin(), acc.end(), init);
    std::vector<Acc> iacc;  // exact integer sums
    const bool int_sum =
        std::is_integral_v<T> && (op == RedOp::kSum || op == RedOp::kMean || op == RedOp::kProd ||
                                  op == RedOp::kSumSquare || op == RedOp::kL1);
    if (int_sum) iacc.assign(static_cast<size_t>(count_out), op == RedOp::kProd ? Acc(1) : Acc(0));
    double lse_max_dummy = 0;
    (void)lse_max_dummy;
    std::vector<double> mx;
    if (op == RedOp::kLogSumExp) {
      mx.assign(static_cast<size_t>(count_out), -std::numeric_limits<double>::infinity());
      ForEachBroadcast<1>(x.shape, {st}, [&](int64_t i, const std::array<int64_t, 1>& o) {
        mx[static_cast<size_t>(o[0])] =
            std::max(mx[static_cast<size_t>(o[0])], static_cast<double>(x.data<T>()[i]));
      });
    }
    const T* px = x.data<T>();
    ForEachBroadcast<1>(x.shape, {st}, [&](int64_t i, const std::array<int64_t, 1>& o) {
      const size_t k = static_cast<size_t>(o[0]);
      const double v = static_cast<double>(px[i]);
      if (int_sum) {
        const Acc w = static_cast<Acc>(px[i]);
        switch (op) {
          case RedOp::kProd:
            iacc[k] = WrapMul(iacc[k], w);
            break;
          case RedOp::kSumSquare:
            iacc[k] = WrapAdd(iacc[k], WrapMul(w, w));
            break;
          case RedOp::kL1:
            iacc[k] = WrapAdd(iacc[k], px[i] < 0 ? WrapSub(Acc(0), w) : w);
            break;
          default:
            iacc[k] = WrapAdd(iacc[k], w);
            break;
        }
        return;
      }
      double& a = acc[k];
      switch (op) {
        case RedOp::kSum:
        case RedOp::kMean:
        case RedOp::kLogSum:
          a += v;
          break;
        case RedOp::kMax:
          a = std::isnan(v) || std::isnan(a) ? std::nan("") : std::max(a, v);
          break;
        case RedOp::kMin:
          a = std::isnan(v) || std::isnan(a) ? std::nan("") : std::min(a, v);
          break;
        case RedOp::kProd:
          a *= v;
          break;
        case RedOp::kSumSquare:
        case RedOp::kL2:
          a += v * v;
          break;
        case RedOp::kL1:
          a += std::fabs(v);
          break;
        case RedOp::kLogSumExp:
          a = (a == -std::numeric_limits<double>::infinity() ? 0 : a) + std::exp(v - mx[k]);
          break;
      }
    });
    T* py = out[0]->mutable_data<T>();
    for (int64_t k = 0; k < count_out; ++k) {
      const size_t kk = static_cast<size_t>(k);
      if (int_sum) {
        Acc v = iacc[kk];
        if (op == RedOp::kMean && per > 0) v = static_cast<Acc>(v / static_cast<Acc>(per));
        py[k] = static_cast<T>(v);
        continue;
      }
      double v = acc[kk];
      switch (op) {
        case RedOp::kMean:
          v = per > 0 ? v / static_cast<double>(per) : std::nan("");
          break;
        case RedOp::kL2:
          v = std::sqrt(v);
          break;
        case RedOp::kLogSum:
          v = std::log(v);
          break;
        case RedOp::kLogSumExp:
          v = per > 0 ? mx[kk] + std::log(v) : -std::numeric_limits<double>::infinity();
          break;
        default:
          break;
      }
      if constexpr (std::is_integral_v<T>) {
        if (std::isinf(v)) {
          py[k] = v > 0 ? std::numeric_limits<T>::max() : std::numeric_limits<T>::lowest();
          continue;
        }
      }
      py[k] = ConvertTo<T>(v);
    }
    return absl::OkStatus();
  });
}

template <bool kMax>
absl::Status KArgReduce(const onnx::NodeProto& node, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 1));
  const OnnxValue& x = *in[0];
  JS_ASSIGN_OR_RETURN(int axis, NormAxis(AttrInt(node, "axis", 0), x.rank()));
  const bool keep = AttrInt(node, "keepdims", 1) != 0;
  const bool last = AttrInt(node, "select_last_index", 0) != 0;
  if (x.rank() == 0) return Invalid("input must have rank >= 1");
  const int64_t outer = Prod(x.shape, 0, static_cast<size_t>(axis));
  const int64_t len = x.shape[static_cast<size_t>(axis)];
  const int64_t inner = Prod(x.shape, static_cast<size_t>(axis) + 1, x.shape.size());
  if (len == 0) return Invalid("cannot reduce an empty axis");
  Shape os = x.shape;
  if (keep) {
    os[static_cast<size_t>(axis)] = 1;
  } else {
    os.erase(os.begin() + axis);
  }
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], TP::INT64, os));
  return DispatchNumeric(x.dtype, [&](auto t) {
    using T = decltype(t);
    const T* px = x.data<T>();
    int64_t* py = out[0]->mutable_data<int64_t>();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        int64_t best = 0;
        T bv = px[o * len * inner + i];
        for (int64_t j = 1; j < len; ++j) {
          const T v = px[(o * len + j) * inner + i];
          if (kMax ? (v > bv || (last && v == bv)) : (v < bv || (last && v == bv))) {
            bv = v;
            best = j;
          }
        }
        py[o * inner + i] = best;
      }
    }
    return absl::OkStatus();
  });
}

absl::Status KCumSum(const onnx::NodeProto& node, const In& in, const Out& out, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(NeedInputs(in, 2));
  const OnnxValue& x = *in[0];
  JS_ASSIGN_OR_RETURN(double axis_d, ScalarOf(*in[1], "axis"));
  if (!(std::fabs(axis_d) < 1e9)) return Invalid("axis is out of range");
  JS_ASSIGN_OR_RETURN(int axis, NormAxis(static_cast<int64_t>(axis_d), x.rank()));
  if (x.rank() == 0) return Invalid("input must have rank >= 1");
  const bool exclusive = AttrInt(node, "exclusive", 0) != 0;
  const bool reverse = AttrInt(node, "reverse", 0) != 0;
  const int64_t outer = Prod(x.shape, 0, static_cast<size_t>(axis));
  const int64_t len = x.shape[static_cast<size_t>(axis)];
  const int64_t inner = Prod(x.shape, static_cast<size_t>(axis) + 1, x.shape.size());
  JS_RETURN_IF_ERROR(ctx.Alloc(out[0], x.dtype, x.shape));
  return DispatchNumeric(x.dtype, [&](auto t) {
    using T = decltype(t);
    const T* px = x.data<T>();
    T* py = out[0]->mutable_data<T>();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        T s = 0;
        for (int64_t jj = 0; jj < len; ++jj) {
          const int64_t j = reverse ? len - 1 - jj : jj;
          const int64_t at = (o * len + j) * inner + i;
          if (exclusive) {
            py[at] = s;
            s = WrapAdd(s, px[at]);
          } else {
            s = WrapAdd(s, px[at]);
            py[at] = s;
          }
        }
      }
    }
    return absl::OkStatus();
  });
}

// ---- shapes and data movement ----------------------------------------------------------

absl::Status CopyAs(const OnnxValue& x, Shape shape, OnnxValue* y, const Ctx& ctx) {
  JS_RETURN_IF_ERROR(ctx.Alloc(y, x.dtype, std::move(shape)));
  if (!y->storage.empty()) std::memcpy(y->storage.data(), x.bytes(), y->storage.size());
  return absl::OkStatus();
}

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
    total += v;
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

// Copies elements of `x` into y by a per-output-element source offset.
template <typename Fn>
absl::Status Gather1(const OnnxValue& x, Shape shape, OnnxValue* y, const Ctx& ctx,
                     const Fn& source) {
  JS_RETURN_IF_ERROR(ctx.Alloc(y, x.dtype, std::move(shape)));
  const int esize = OnnxElementSize(x.dtype);
  const int64_t n = y->numel();
  const uint8_t* px = x.bytes();
  uint8_t* py = y->storage.data();
  auto run = [&](auto tag) {
    using E = decltype(tag);
    for (int64_t i = 0; i < n; ++i) {
      std::memcpy(py + i * sizeof(E), px + source(i) * static_cast<int64_t>(sizeof(E)), sizeof(E));
    }
  };
  switch (esize) {
    case 1:
      run(uint8_t{});
      break;
    case 2:
      run(uint16_t{});
      break;
    case 4:
      run(uint32_t{});
      break;
    default:
      run(uint64_t{});
      break;
  }
  return absl::OkStatus();
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
    if (st > 0 && e > b) n = (e - b + st - 1) / st;
    if (st < 0 && b > e) n = (b - e + (-st) - 1) / (-st);
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

// ---- the kernel table ------------------------------------------------------------------

struct KernelEntry {
  const char* op;
  KernelFn fn;
};

constexpr KernelEntry kKernels[] = {
    {"Abs", KUnary<UnOp::kAbs>},
    {"Add", KBinary<BinOp::kAdd>},
    {"And", KLogic<LogicOp::kAnd>},
    {"ArgMax", KArgReduce<true>},
    {"ArgMin", KArgReduce<false>},
    {"Cast", KCast},
    {"CastLike", KCastLike},
    {"Ceil", KUnary<UnOp::kCeil>},
    {"Clip", KClip},
    {"Concat", KConcat},
    {"Constant", KConstant},
    {"ConstantOfShape", KConstantOfShape},
    {"Cos", KUnary<UnOp::kCos>},
    {"CumSum", KCumSum},
    {"DequantizeLinear", KDequantizeLinear},
    {"Div", KBinary<BinOp::kDiv>},
    {"Dropout", KDropout},
    {"DynamicQuantizeLinear", KDynamicQuantizeLinear},
    {"Elu", KUnary<UnOp::kElu>},
    {"Equal", KCompare<CmpOp::kEq>},
    {"Erf", KUnary<UnOp::kErf>},
    {"Exp", KUnary<UnOp::kExp>},
    {"Expand", KExpand},
    {"Flatten", KFlatten},
    {"Floor", KUnary<UnOp::kFloor>},
    {"Gather", KGather},
    {"GatherElements", KGatherElements},
    {"GatherND", KGatherND},
    {"Gelu", KUnary<UnOp::kGelu>},
    {"Gemm", KGemm},
    {"Greater", KCompare<CmpOp::kGt>},
    {"GreaterOrEqual", KCompare<CmpOp::kGe>},
    {"HardSigmoid", KUnary<UnOp::kHardSigmoid>},
    {"Identity", KIdentity},
    {"IsInf", KIsInf},
    {"IsNaN", KIsNaN},
    {"LayerNormalization", KLayerNorm},
    {"LeakyRelu", KUnary<UnOp::kLeakyRelu>},
    {"Less", KCompare<CmpOp::kLt>},
    {"LessOrEqual", KCompare<CmpOp::kLe>},
    {"Log", KUnary<UnOp::kLog>},
    {"LogSoftmax", KSoftmax<true>},
    {"MatMul", KMatMul},
    {"MatMulInteger", KMatMulInteger},
    {"Max", KVariadic<BinOp::kMax>},
    {"Mean", KVariadic<BinOp::kAdd, true>},
    {"Min", KVariadic<BinOp::kMin>},
    {"Mod", KBinary<BinOp::kMod>},
    {"Mul", KBinary<BinOp::kMul>},
    {"Neg", KUnary<UnOp::kNeg>},
    {"Not", KNot},
    {"Or", KLogic<LogicOp::kOr>},
    {"Pow", KBinary<BinOp::kPow>},
    {"QuantizeLinear", KQuantizeLinear},
    {"Range", KRange},
    {"Reciprocal", KUnary<UnOp::kReciprocal>},
    {"ReduceL1", KReduce<RedOp::kL1>},
    {"ReduceL2", KReduce<RedOp::kL2>},
    {"ReduceLogSum", KReduce<RedOp::kLogSum>},
    {"ReduceLogSumExp", KReduce<RedOp::kLogSumExp>},
    {"ReduceMax", KReduce<RedOp::kMax>},
    {"ReduceMean", KReduce<RedOp::kMean>},
    {"ReduceMin", KReduce<RedOp::kMin>},
    {"ReduceProd", KReduce<RedOp::kProd>},
    {"ReduceSum", KReduce<RedOp::kSum>},
    {"ReduceSumSquare", KReduce<RedOp::kSumSquare>},
    {"Relu", KUnary<UnOp::kRelu>},
    {"Reshape", KReshape},
    {"Round", KUnary<UnOp::kRound>},
    {"Shape", KShape},
    {"Sigmoid", KUnary<UnOp::kSigmoid>},
    {"Sign", KUnary<UnOp::kSign>},
    {"Sin", KUnary<UnOp::kSin>},
    {"Size", KSize},
    {"Slice", KSlice},
    {"Softmax", KSoftmax<false>},
    {"Softplus", KUnary<UnOp::kSoftplus>},
    {"Split", KSplit},
    {"Sqrt", KUnary<UnOp::kSqrt>},
    {"Squeeze", KSqueeze},
    {"Sub", KBinary<BinOp::kSub>},
    {"Sum", KVariadic<BinOp::kAdd>},
    {"Tanh", KUnary<UnOp::kTanh>},
    {"Tile", KTile},
    {"Transpose", KTranspose},
    {"Trilu", KTrilu},
    {"Unsqueeze", KUnsqueeze},
    {"Where", KWhere},
    {"Xor", KLogic<LogicOp::kXor>},
};

int KernelIndex(const std::string& op) {
  for (size_t i = 0; i < std::size(kKernels); ++i) {
    if (op == kKernels[i].op) return static_cast<int>(i);
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
  for (const KernelEntry& k : kKernels) ops.push_back(k.op);
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

absl::Status OnnxExecutor::Plan(const OnnxModel& model) {
  const onnx::GraphProto& g = model.graph();
  absl::flat_hash_map<std::string, int> slot_of;
  auto new_slot = [&](const std::string& name) {
    const int s = num_slots_++;
    slot_of[name] = s;
    constants_.emplace_back();
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
    inputs_.push_back(std::move(info));
    input_slots_.push_back(new_slot(in.name()));
  }
  // Nodes in topological order; nodes with only constant inputs are run now.
  std::vector<std::vector<uint8_t>> no_free;
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
      absl::Status s = kKernels[static_cast<size_t>(node.kernel)].fn(p, in, out, fold_ctx);
      if (!s.ok()) return absl::Status(s.code(), absl::StrCat(label, ": ", s.message()));
      for (size_t k = 0; k < node.out.size(); ++k) {
        if (node.out[k] < 0) continue;
        if (results[k]->dtype == 0) {
          return absl::InternalError(absl::StrCat(label, ": output ", k, " was not produced"));
        }
        constants_[static_cast<size_t>(node.out[k])] = std::move(results[k]);
      }
      ++folded_;
      continue;
    }
    plan_.push_back(std::move(node));
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

absl::Status OnnxExecutor::Run(std::vector<OnnxValue> inputs, std::vector<OnnxValue>* outputs,
                               ThreadPool* pool) const {
  if (inputs.size() != inputs_.size()) {
    return Invalid(
        absl::StrCat("the graph takes ", inputs_.size(), " inputs, ", inputs.size(), " given"));
  }
  absl::flat_hash_map<std::string, int64_t> symbols;
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
    if (info.has_shape) {
      if (v.shape.size() != info.dims.size()) {
        return Invalid(absl::StrCat(label, " has rank ", v.shape.size(), ", the graph declares ",
                                    info.dims.size()));
      }
      for (size_t d = 0; d < v.shape.size(); ++d) {
        if (info.dims[d] >= 0 && info.dims[d] != v.shape[d]) {
          return Invalid(absl::StrCat(label, " has shape ", ShapeStr(v.shape), ", dimension ", d,
                                      " must be ", info.dims[d]));
        }
        if (!info.dim_names[d].empty()) {
          auto [it, fresh] = symbols.emplace(info.dim_names[d], v.shape[d]);
          if (!fresh && it->second != v.shape[d]) {
            return Invalid(absl::StrCat(label, ": dimension '", info.dim_names[d], "' is ",
                                        v.shape[d], " here and ", it->second,
                                        " in an earlier input"));
          }
        }
      }
    }
    JS_RETURN_IF_ERROR(CheckBools(v, label));
  }
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
    absl::Status st = kKernels[static_cast<size_t>(node.kernel)].fn(*node.proto, in, out, ctx);
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
