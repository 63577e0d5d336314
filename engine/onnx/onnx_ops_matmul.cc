// Matrix products (MatMul with batch broadcasting, Gemm) and the int8 operators
// (MatMulInteger, DequantizeLinear, QuantizeLinear, DynamicQuantizeLinear).
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/onnx/onnx_ops.h"

namespace jetserve::onnx_ops {
namespace {

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

// ---- shape inference ---------------------------------------------------------------------

// MatMul's output: batch dims broadcast, [.., M, K] x [.., K, N] -> [.., M, N] (a 1-D
// operand loses its dim); Invalid when both Ks are constants that differ.
absl::Status InferMatMulTo(const SymIn& in, int32_t dtype, SymOut* out) {
  if (in.size() < 2 || in[0] == nullptr || in[1] == nullptr) return absl::OkStatus();
  const OnnxShape &as = in[0]->shape, &bs = in[1]->shape;
  SymValue& y = (*out)[0];
  y.dtype = dtype;
  if (!as.has_rank || !bs.has_rank || as.dims.empty() || bs.dims.empty()) return absl::OkStatus();
  std::vector<OnnxDim> a = as.dims, b = bs.dims;
  const bool a1 = a.size() == 1, b1 = b.size() == 1;
  if (a1) a.insert(a.begin(), OnnxDim::Const(1));
  if (b1) b.push_back(OnnxDim::Const(1));
  const OnnxDim &ka = a[a.size() - 1], &kb = b[b.size() - 2];
  if (ka.is_const() && kb.is_const() && ka.value() != kb.value()) {
    return Invalid(
        absl::StrCat("MatMul inner dimensions differ: ", ka.value(), " and ", kb.value()));
  }
  const OnnxShape ab = OnnxShape::Of({a.begin(), a.end() - 2});
  const OnnxShape bb = OnnxShape::Of({b.begin(), b.end() - 2});
  JS_ASSIGN_OR_RETURN(y.shape, BroadcastSym({&ab, &bb}));
  if (!a1) y.shape.dims.push_back(a[a.size() - 2]);
  if (!b1) y.shape.dims.push_back(b[b.size() - 1]);
  return absl::OkStatus();
}

absl::Status InferMatMul(const onnx::NodeProto&, const SymIn& in, SymOut* out, const InferCtx&) {
  return InferMatMulTo(in, in.empty() || in[0] == nullptr ? 0 : in[0]->dtype, out);
}

absl::Status InferMatMulInteger(const onnx::NodeProto&, const SymIn& in, SymOut* out,
                                const InferCtx&) {
  return InferMatMulTo(in, TP::INT32, out);
}

absl::Status InferGemm(const onnx::NodeProto& node, const SymIn& in, SymOut* out, const InferCtx&) {
  if (in.size() < 2 || in[0] == nullptr || in[1] == nullptr) return absl::OkStatus();
  const OnnxShape &as = in[0]->shape, &bs = in[1]->shape;
  SymValue& y = (*out)[0];
  y.dtype = in[0]->dtype;
  if (!as.has_rank || !bs.has_rank) return absl::OkStatus();
  if (as.dims.size() != 2 || bs.dims.size() != 2) {
    return Invalid(absl::StrCat("Gemm inputs A and B must be matrices, have ranks ", as.dims.size(),
                                " and ", bs.dims.size()));
  }
  const bool ta = AttrInt(node, "transA", 0) != 0, tb = AttrInt(node, "transB", 0) != 0;
  const OnnxDim &m = as.dims[ta ? 1 : 0], &k = as.dims[ta ? 0 : 1];
  const OnnxDim &kb = bs.dims[tb ? 1 : 0], &n = bs.dims[tb ? 0 : 1];
  if (k.is_const() && kb.is_const() && k.value() != kb.value()) {
    return Invalid(absl::StrCat("Gemm inner dimensions differ: ", k.value(), " and ", kb.value()));
  }
  y.shape = OnnxShape::Of({m, n});
  return absl::OkStatus();
}

absl::Status InferDequantizeLinear(const onnx::NodeProto&, const SymIn& in, SymOut* out,
                                   const InferCtx&) {
  if (in.size() < 2 || in[0] == nullptr || in[1] == nullptr) return absl::OkStatus();
  (*out)[0].dtype = in[1]->dtype;
  (*out)[0].shape = in[0]->shape;
  return absl::OkStatus();
}

absl::Status InferQuantizeLinear(const onnx::NodeProto& node, const SymIn& in, SymOut* out,
                                 const InferCtx&) {
  if (in.empty() || in[0] == nullptr) return absl::OkStatus();
  const SymValue* zp = SymArg(in, 2);
  int32_t qt = static_cast<int32_t>(AttrInt(node, "output_dtype", 0));
  if (zp != nullptr) qt = zp->dtype;
  (*out)[0].dtype = qt == 0 ? static_cast<int32_t>(TP::UINT8) : qt;
  (*out)[0].shape = in[0]->shape;
  return absl::OkStatus();
}

absl::Status InferDynamicQuantizeLinear(const onnx::NodeProto&, const SymIn& in, SymOut* out,
                                        const InferCtx&) {
  if (in.empty() || in[0] == nullptr) return absl::OkStatus();
  (*out)[0].dtype = TP::UINT8;
  (*out)[0].shape = in[0]->shape;
  if (out->size() > 1) (*out)[1] = {TP::FLOAT, OnnxShape::Of({}), false, {}};
  if (out->size() > 2) (*out)[2] = {TP::UINT8, OnnxShape::Of({}), false, {}};
  return absl::OkStatus();
}

constexpr KernelEntry kKernels[] = {
    {"DequantizeLinear", KDequantizeLinear, InferDequantizeLinear},
    {"DynamicQuantizeLinear", KDynamicQuantizeLinear, InferDynamicQuantizeLinear},
    {"Gemm", KGemm, InferGemm},
    {"MatMul", KMatMul, InferMatMul},
    {"MatMulInteger", KMatMulInteger, InferMatMulInteger},
    {"QuantizeLinear", KQuantizeLinear, InferQuantizeLinear},
};

}  // namespace

absl::Span<const KernelEntry> MatMulKernels() { return kKernels; }

}  // namespace jetserve::onnx_ops
