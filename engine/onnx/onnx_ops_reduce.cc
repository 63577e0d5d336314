// Normalizations and reductions: Softmax/LogSoftmax, LayerNormalization, the Reduce* family,
// ArgMax/ArgMin, CumSum.
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/onnx/onnx_ops.h"

namespace jetserve::onnx_ops {
namespace {

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

// ---- shape inference ---------------------------------------------------------------------

absl::Status InferLayerNorm(const onnx::NodeProto& node, const SymIn& in, SymOut* out,
                            const InferCtx&) {
  const SymValue* x = SymArg(in, 0);
  if (x == nullptr) return absl::OkStatus();
  (*out)[0].dtype = x->dtype;
  (*out)[0].shape = x->shape;
  if (!x->shape.has_rank) return absl::OkStatus();
  const std::optional<int> axis =
      SymAxis(AttrInt(node, "axis", -1), static_cast<int>(x->shape.dims.size()));
  if (!axis.has_value()) return absl::OkStatus();
  SymValue stat;
  stat.dtype = AttrInt(node, "stash_type", TP::FLOAT) == TP::DOUBLE ? TP::DOUBLE : TP::FLOAT;
  stat.shape = x->shape;
  for (size_t i = static_cast<size_t>(*axis); i < stat.shape.dims.size(); ++i) {
    stat.shape.dims[i] = OnnxDim::Const(1);
  }
  for (size_t k = 1; k < out->size() && k < 3; ++k) (*out)[k] = stat;
  return absl::OkStatus();
}

absl::Status InferReduce(const onnx::NodeProto& node, const SymIn& in, SymOut* out,
                         const InferCtx&) {
  const SymValue* x = SymArg(in, 0);
  if (x == nullptr) return absl::OkStatus();
  SymValue& y = (*out)[0];
  y.dtype = x->dtype;
  if (!x->shape.has_rank) return absl::OkStatus();
  const int rank = static_cast<int>(x->shape.dims.size());
  const bool keep = AttrInt(node, "keepdims", 1) != 0;
  const bool noop = AttrInt(node, "noop_with_empty_axes", 0) != 0;
  Shape axes;
  if (const SymValue* a = SymArg(in, 1); a != nullptr) {
    std::optional<std::vector<int64_t>> v = ConstInts(a);
    if (!v.has_value()) {
      // Axes known only per call: with keepdims the rank stays.
      if (keep) y.shape = OnnxShape::Of(std::vector<OnnxDim>(static_cast<size_t>(rank)));
      return absl::OkStatus();
    }
    axes = *v;
  } else {
    AttrInts(node, "axes", &axes);
  }
  // No axes: all of them, or none with noop_with_empty_axes.
  std::vector<bool> reduce(static_cast<size_t>(rank), axes.empty() && !noop);
  for (int64_t a : axes) {
    const std::optional<int> ax = SymAxis(a, rank);
    if (!ax.has_value()) return absl::OkStatus();  // fails at run time
    reduce[static_cast<size_t>(*ax)] = true;
  }
  y.shape = OnnxShape::Of({});
  for (size_t i = 0; i < reduce.size(); ++i) {
    if (!reduce[i]) {
      y.shape.dims.push_back(x->shape.dims[i]);
    } else if (keep) {
      y.shape.dims.push_back(OnnxDim::Const(1));
    }
  }
  return absl::OkStatus();
}

absl::Status InferArgReduce(const onnx::NodeProto& node, const SymIn& in, SymOut* out,
                            const InferCtx&) {
  const SymValue* x = SymArg(in, 0);
  if (x == nullptr) return absl::OkStatus();
  SymValue& y = (*out)[0];
  y.dtype = TP::INT64;
  if (!x->shape.has_rank) return absl::OkStatus();
  const std::optional<int> axis =
      SymAxis(AttrInt(node, "axis", 0), static_cast<int>(x->shape.dims.size()));
  if (!axis.has_value()) return absl::OkStatus();
  y.shape = x->shape;
  if (AttrInt(node, "keepdims", 1) != 0) {
    y.shape.dims[static_cast<size_t>(*axis)] = OnnxDim::Const(1);
  } else {
    y.shape.dims.erase(y.shape.dims.begin() + *axis);
  }
  return absl::OkStatus();
}

constexpr KernelEntry kKernels[] = {
    {"ArgMax", KArgReduce<true>, InferArgReduce},
    {"ArgMin", KArgReduce<false>, InferArgReduce},
    {"CumSum", KCumSum, InferSame},
    {"LayerNormalization", KLayerNorm, InferLayerNorm},
    {"LogSoftmax", KSoftmax<true>, InferSame},
    {"ReduceL1", KReduce<RedOp::kL1>, InferReduce},
    {"ReduceL2", KReduce<RedOp::kL2>, InferReduce},
    {"ReduceLogSum", KReduce<RedOp::kLogSum>, InferReduce},
    {"ReduceLogSumExp", KReduce<RedOp::kLogSumExp>, InferReduce},
    {"ReduceMax", KReduce<RedOp::kMax>, InferReduce},
    {"ReduceMean", KReduce<RedOp::kMean>, InferReduce},
    {"ReduceMin", KReduce<RedOp::kMin>, InferReduce},
    {"ReduceProd", KReduce<RedOp::kProd>, InferReduce},
    {"ReduceSum", KReduce<RedOp::kSum>, InferReduce},
    {"ReduceSumSquare", KReduce<RedOp::kSumSquare>, InferReduce},
    {"Softmax", KSoftmax<false>, InferSame},
};

}  // namespace

absl::Span<const KernelEntry> ReduceKernels() { return kKernels; }

}  // namespace jetserve::onnx_ops
