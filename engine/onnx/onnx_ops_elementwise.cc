// Elementwise kernels: broadcasting arithmetic (Add ... Mod, Pow, variadic Max/Min/Sum/Mean),
// comparisons, logic, Where, unary math and activations, IsNaN/IsInf, Clip, Cast.
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/onnx/onnx_ops.h"

namespace jetserve::onnx_ops {
namespace {

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

// ---- shape inference ---------------------------------------------------------------------

// Output 0's elements from its operands' known elements, for small outputs where each
// operand's elements line up with the output's (as many, or one broadcast).
template <typename Fn>
void CombineValues(const SymIn& args, SymValue* y, const Fn& fn) {
  const OnnxDim n = y->shape.numel();
  if (!n.is_const() || n.value() > kMaxSymElements) return;
  for (const SymValue* a : args) {
    if (a == nullptr || !a->has_value) return;
    const size_t c = a->value.size();
    if (c != 1 && c != static_cast<size_t>(n.value())) return;
  }
  y->has_value = true;
  y->value.clear();
  std::vector<OnnxDim> xs(args.size());
  for (size_t i = 0; i < static_cast<size_t>(n.value()); ++i) {
    for (size_t k = 0; k < args.size(); ++k) {
      xs[k] = args[k]->value[args[k]->value.size() == 1 ? 0 : i];
    }
    y->value.push_back(fn(xs));
  }
  if (y->dtype != TP::INT64) {
    // Narrower integers wrap where the symbolic product would not: keep only what fits.
    for (OnnxDim& d : y->value) {
      if (!d.is_const() || d.value() < std::numeric_limits<int32_t>::lowest() ||
          d.value() > std::numeric_limits<int32_t>::max()) {
        d = OnnxDim();
      }
    }
  }
}

// Broadcasting operators: output 0 has the broadcast shape of all inputs and input
// kTypeFrom's element type (-1: BOOL).
template <int kTypeFrom>
absl::Status InferBroadcastShape(const SymIn& in, SymOut* out) {
  std::vector<const OnnxShape*> shapes;
  for (const SymValue* v : in) {
    if (v == nullptr) return absl::OkStatus();
    shapes.push_back(&v->shape);
  }
  if (shapes.empty() || in.size() <= static_cast<size_t>(std::max(kTypeFrom, 0))) {
    return absl::OkStatus();
  }
  SymValue& y = (*out)[0];
  JS_ASSIGN_OR_RETURN(y.shape, BroadcastSym(shapes));
  y.dtype = kTypeFrom < 0 ? TP::BOOL : in[static_cast<size_t>(kTypeFrom)]->dtype;
  return absl::OkStatus();
}

template <BinOp op>
absl::Status InferBinary(const onnx::NodeProto&, const SymIn& in, SymOut* out, const InferCtx&) {
  JS_RETURN_IF_ERROR(InferBroadcastShape<0>(in, out));
  SymValue& y = (*out)[0];
  if (in.size() != 2 || (y.dtype != TP::INT64 && y.dtype != TP::INT32)) return absl::OkStatus();
  CombineValues(in, &y, [](const std::vector<OnnxDim>& x) {
    switch (op) {
      case BinOp::kAdd:
        return x[0] + x[1];
      case BinOp::kSub:
        return x[0] + x[1] * OnnxDim::Const(-1);
      case BinOp::kMul:
        return x[0] * x[1];
      case BinOp::kDiv:
        return x[0].DivExact(x[1]);  // exact, so truncation agrees
      default:
        return OnnxDim();
    }
  });
  return absl::OkStatus();
}

absl::Status InferVariadic(const onnx::NodeProto&, const SymIn& in, SymOut* out, const InferCtx&) {
  return InferBroadcastShape<0>(in, out);
}

template <CmpOp op>
absl::Status InferCompare(const onnx::NodeProto&, const SymIn& in, SymOut* out, const InferCtx&) {
  JS_RETURN_IF_ERROR(InferBroadcastShape<-1>(in, out));
  if (in.size() != 2) return absl::OkStatus();
  CombineValues(in, &(*out)[0], [](const std::vector<OnnxDim>& x) {
    const OnnxDim &a = x[0], &b = x[1];
    if (a.is_const() && b.is_const()) {
      const int64_t u = a.value(), v = b.value();
      switch (op) {
        case CmpOp::kEq:
          return OnnxDim::Const(u == v);
        case CmpOp::kLt:
          return OnnxDim::Const(u < v);
        case CmpOp::kLe:
          return OnnxDim::Const(u <= v);
        case CmpOp::kGt:
          return OnnxDim::Const(u > v);
        case CmpOp::kGe:
          return OnnxDim::Const(u >= v);
      }
    }
    if (op == CmpOp::kEq) {
      if (a.SameAs(b)) return OnnxDim::Const(1);
      // E.g. a dimension is never -1: Equal(shape, -1) is false (torch's Expand pattern).
      if (a.DiffersFrom(b)) return OnnxDim::Const(0);
    }
    return OnnxDim();
  });
  return absl::OkStatus();
}

template <LogicOp op>
absl::Status InferLogic(const onnx::NodeProto&, const SymIn& in, SymOut* out, const InferCtx&) {
  JS_RETURN_IF_ERROR(InferBroadcastShape<-1>(in, out));
  if (in.size() != 2) return absl::OkStatus();
  CombineValues(in, &(*out)[0], [](const std::vector<OnnxDim>& x) {
    if (!x[0].is_const() || !x[1].is_const()) return OnnxDim();
    const bool a = x[0].value() != 0, b = x[1].value() != 0;
    return OnnxDim::Const(op == LogicOp::kAnd ? (a && b) : op == LogicOp::kOr ? (a || b) : a != b);
  });
  return absl::OkStatus();
}

absl::Status InferNot(const onnx::NodeProto&, const SymIn& in, SymOut* out, const InferCtx&) {
  if (in.empty() || in[0] == nullptr) return absl::OkStatus();
  SymValue& y = (*out)[0];
  y.dtype = TP::BOOL;
  y.shape = in[0]->shape;
  CombineValues(in, &y, [](const std::vector<OnnxDim>& x) {
    return x[0].is_const() ? OnnxDim::Const(x[0].value() == 0) : OnnxDim();
  });
  return absl::OkStatus();
}

absl::Status InferWhere(const onnx::NodeProto&, const SymIn& in, SymOut* out, const InferCtx&) {
  JS_RETURN_IF_ERROR(InferBroadcastShape<1>(in, out));
  if (in.size() != 3) return absl::OkStatus();
  CombineValues(in, &(*out)[0], [](const std::vector<OnnxDim>& x) {
    if (!x[0].is_const()) return OnnxDim();
    return x[0].value() != 0 ? x[1] : x[2];
  });
  return absl::OkStatus();
}

template <int32_t kDtype>
absl::Status InferUnaryTo(const onnx::NodeProto&, const SymIn& in, SymOut* out, const InferCtx&) {
  if (in.empty() || in[0] == nullptr) return absl::OkStatus();
  (*out)[0].dtype = kDtype;
  (*out)[0].shape = in[0]->shape;
  return absl::OkStatus();
}

// Cast keeps the shape; integer elements it keeps where the conversion is exact.
void CastSym(const SymValue& x, int32_t to, SymValue* y) {
  y->dtype = to;
  y->shape = x.shape;
  if (!x.has_value || (to != TP::INT64 && to != TP::INT32 && to != TP::BOOL)) return;
  y->has_value = true;
  for (const OnnxDim& d : x.value) {
    if (to == TP::INT64) {
      y->value.push_back(d);  // from INT64, INT32 or BOOL: exact
    } else if (!d.is_const()) {
      y->value.push_back(OnnxDim());
    } else if (to == TP::BOOL) {
      y->value.push_back(OnnxDim::Const(d.value() != 0));
    } else {
      y->value.push_back(OnnxDim::Const(ConvertTo<int32_t>(d.value())));
    }
  }
}

absl::Status InferCast(const onnx::NodeProto& node, const SymIn& in, SymOut* out, const InferCtx&) {
  if (in.empty() || in[0] == nullptr) return absl::OkStatus();
  CastSym(*in[0], static_cast<int32_t>(AttrInt(node, "to", 0)), &(*out)[0]);
  return absl::OkStatus();
}

absl::Status InferCastLike(const onnx::NodeProto&, const SymIn& in, SymOut* out, const InferCtx&) {
  if (in.size() < 2 || in[0] == nullptr || in[1] == nullptr) return absl::OkStatus();
  CastSym(*in[0], in[1]->dtype, &(*out)[0]);
  return absl::OkStatus();
}

constexpr KernelEntry kKernels[] = {
    {"Abs", KUnary<UnOp::kAbs>, InferSame},
    {"Add", KBinary<BinOp::kAdd>, InferBinary<BinOp::kAdd>},
    {"And", KLogic<LogicOp::kAnd>, InferLogic<LogicOp::kAnd>},
    {"Cast", KCast, InferCast},
    {"CastLike", KCastLike, InferCastLike},
    {"Ceil", KUnary<UnOp::kCeil>, InferSame},
    {"Clip", KClip, InferSame},
    {"Cos", KUnary<UnOp::kCos>, InferSame},
    {"Div", KBinary<BinOp::kDiv>, InferBinary<BinOp::kDiv>},
    {"Elu", KUnary<UnOp::kElu>, InferSame},
    {"Equal", KCompare<CmpOp::kEq>, InferCompare<CmpOp::kEq>},
    {"Erf", KUnary<UnOp::kErf>, InferSame},
    {"Exp", KUnary<UnOp::kExp>, InferSame},
    {"Floor", KUnary<UnOp::kFloor>, InferSame},
    {"Gelu", KUnary<UnOp::kGelu>, InferSame},
    {"Greater", KCompare<CmpOp::kGt>, InferCompare<CmpOp::kGt>},
    {"GreaterOrEqual", KCompare<CmpOp::kGe>, InferCompare<CmpOp::kGe>},
    {"HardSigmoid", KUnary<UnOp::kHardSigmoid>, InferSame},
    {"IsInf", KIsInf, InferUnaryTo<TP::BOOL>},
    {"IsNaN", KIsNaN, InferUnaryTo<TP::BOOL>},
    {"LeakyRelu", KUnary<UnOp::kLeakyRelu>, InferSame},
    {"Less", KCompare<CmpOp::kLt>, InferCompare<CmpOp::kLt>},
    {"LessOrEqual", KCompare<CmpOp::kLe>, InferCompare<CmpOp::kLe>},
    {"Log", KUnary<UnOp::kLog>, InferSame},
    {"Max", KVariadic<BinOp::kMax>, InferVariadic},
    {"Mean", KVariadic<BinOp::kAdd, true>, InferVariadic},
    {"Min", KVariadic<BinOp::kMin>, InferVariadic},
    {"Mod", KBinary<BinOp::kMod>, InferBinary<BinOp::kMod>},
    {"Mul", KBinary<BinOp::kMul>, InferBinary<BinOp::kMul>},
    {"Neg", KUnary<UnOp::kNeg>, InferSame},
    {"Not", KNot, InferNot},
    {"Or", KLogic<LogicOp::kOr>, InferLogic<LogicOp::kOr>},
    {"Pow", KBinary<BinOp::kPow>, InferBinary<BinOp::kPow>},
    {"Reciprocal", KUnary<UnOp::kReciprocal>, InferSame},
    {"Relu", KUnary<UnOp::kRelu>, InferSame},
    {"Round", KUnary<UnOp::kRound>, InferSame},
    {"Sigmoid", KUnary<UnOp::kSigmoid>, InferSame},
    {"Sign", KUnary<UnOp::kSign>, InferSame},
    {"Sin", KUnary<UnOp::kSin>, InferSame},
    {"Softplus", KUnary<UnOp::kSoftplus>, InferSame},
    {"Sqrt", KUnary<UnOp::kSqrt>, InferSame},
    {"Sub", KBinary<BinOp::kSub>, InferBinary<BinOp::kSub>},
    {"Sum", KVariadic<BinOp::kAdd>, InferVariadic},
    {"Tanh", KUnary<UnOp::kTanh>, InferSame},
    {"Where", KWhere, InferWhere},
    {"Xor", KLogic<LogicOp::kXor>, InferLogic<LogicOp::kXor>},
};

}  // namespace

absl::Span<const KernelEntry> ElementwiseKernels() { return kKernels; }

}  // namespace jetserve::onnx_ops
