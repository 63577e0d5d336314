// Internal to the ONNX executor: the operator-kernel registry and the helpers the kernels
// share. Not a public interface (only engine/onnx/*.cc include it).
//
// A kernel computes one node: it reads its inputs (nullptr for an omitted optional one),
// checks them (every error is InvalidArgument or Unimplemented, with a message the planner
// prefixes with the node's label), shapes its outputs with Ctx::Alloc (which enforces
// OnnxExecutorOptions' limits before allocating) and fills them. Beside each kernel is its
// shape inference (InferFn): what the outputs' element types and symbolic shapes are, given
// what is known of the inputs at load. Kernels are grouped by operator family, one file
// each, and each family lists its kernels in a table:
//   onnx_ops_elementwise.cc  arithmetic, comparison, logic, unary math, Clip, Cast
//   onnx_ops_matmul.cc       MatMul, Gemm, MatMulInteger, (De)QuantizeLinear
//   onnx_ops_reduce.cc       Softmax, LayerNormalization, Reduce*, ArgMax/ArgMin, CumSum
//   onnx_ops_layout.cc       Identity, Shape, Size, Reshape, Flatten, (Un)Squeeze,
//                            Transpose, Expand, Tile
//   onnx_ops_index.cc        Concat, Split, Slice, Gather, GatherElements, GatherND
//   onnx_ops_misc.cc         Constant, ConstantOfShape, Range, Dropout, Trilu
// The executor (onnx_executor.cc) joins the tables into one registry.
#ifndef JETSERVE_ENGINE_ONNX_ONNX_OPS_H_
#define JETSERVE_ENGINE_ONNX_ONNX_OPS_H_

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "engine/model/status_macros.h"
#include "engine/onnx/onnx_executor.h"
#include "engine/onnx/onnx_shape.h"
#include "engine/util/string_view_compat.h"

namespace jetserve::onnx_ops {

using TP = onnx::TensorProto;
using Shape = std::vector<int64_t>;

inline absl::Status Invalid(std::string_view what) { return absl::InvalidArgumentError(Sv(what)); }
inline absl::Status Unsupported(std::string_view what) {
  return absl::UnimplementedError(Sv(what));
}

inline bool IsFloatType(int32_t t) { return t == TP::FLOAT || t == TP::DOUBLE; }

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

std::string ShapeStr(const Shape& s);

// ---- attributes ------------------------------------------------------------------------

const onnx::AttributeProto* FindAttr(const onnx::NodeProto& n, std::string_view name);
int64_t AttrInt(const onnx::NodeProto& n, std::string_view name, int64_t def);
float AttrFloat(const onnx::NodeProto& n, std::string_view name, float def);
std::string AttrString(const onnx::NodeProto& n, std::string_view name, std::string def);
// False (and *out untouched) when the attribute is absent.
bool AttrInts(const onnx::NodeProto& n, std::string_view name, Shape* out);

// ---- run-time context --------------------------------------------------------------------

struct Ctx {
  const OnnxExecutorOptions* options;
  int64_t opset;
  ThreadPool* pool;
  std::vector<std::vector<uint8_t>>* free_list;

  // Shapes `v` and sizes its storage, taking a free buffer when one is large enough.
  absl::Status Alloc(OnnxValue* v, int32_t dtype, Shape shape) const;

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

// ---- static shape inference ------------------------------------------------------------

// What inference knows about one value: its element type (0: unknown), its shape and, for
// small integer tensors (the Shape -> Gather -> Concat arithmetic exporters emit), the
// elements themselves (each an OnnxDim: a constant, a symbolic product or unknown).
struct SymValue {
  int32_t dtype = 0;
  OnnxShape shape;
  bool has_value = false;
  std::vector<OnnxDim> value;  // row-major, when has_value
};
inline constexpr int64_t kMaxSymElements = 64;  // values tracked for tensors this small

using SymIn = std::vector<const SymValue*>;  // nullptr: an omitted optional input
using SymOut = std::vector<SymValue>;        // sized to the node's outputs, all unknown
// An assumption inference made: expr <= bound. A call that breaks one gets no static
// checks (its shapes may differ from the inferred ones; the kernels still check them).
struct SymAssumption {
  OnnxDim expr;
  int64_t bound;
};
struct InferCtx {
  int64_t opset;
  absl::Span<const std::string> names;      // of the symbols, for messages
  std::vector<SymAssumption>* assumptions;  // appended to
};
// Fills what it can prove about the outputs, given that the node runs without error; an
// error only where the node can never run (concrete dims that contradict each other).
using InferFn = absl::Status (*)(const onnx::NodeProto& node, const SymIn& in, SymOut* out,
                                 const InferCtx& ctx);

// One registry entry: the operator's name (default domain), its kernel and its shape
// inference (nullptr: outputs unknown).
struct KernelEntry {
  const char* op;
  KernelFn fn;
  InferFn infer = nullptr;
};

// The kernel tables of the operator families.
absl::Span<const KernelEntry> ElementwiseKernels();
absl::Span<const KernelEntry> MatMulKernels();
absl::Span<const KernelEntry> ReduceKernels();
absl::Span<const KernelEntry> LayoutKernels();
absl::Span<const KernelEntry> IndexKernels();
absl::Span<const KernelEntry> MiscKernels();

// ---- shape helpers -------------------------------------------------------------------

absl::StatusOr<int> NormAxis(int64_t axis, int rank, std::string_view what = "axis");
// Product of s[begin, end).
int64_t Prod(const Shape& s, size_t begin, size_t end);
absl::StatusOr<Shape> BroadcastShapes(const std::vector<const Shape*>& shapes);
// Element strides of `s` seen through broadcasting to `out` (0 along broadcast dims).
Shape BroadcastStrides(const Shape& s, const Shape& out);

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

// The elements of an INT64 or INT32 tensor.
absl::StatusOr<std::vector<int64_t>> IntsOf(const OnnxValue& v, std::string_view what);
absl::StatusOr<double> ScalarOf(const OnnxValue& v, std::string_view what);
// The first `min` inputs are present.
absl::Status NeedInputs(const In& in, size_t min);
absl::Status SameType(const OnnxValue& a, const OnnxValue& b);
// y = x's elements with another shape of the same size.
absl::Status CopyAs(const OnnxValue& x, Shape shape, OnnxValue* y, const Ctx& ctx);

// ---- shape inference helpers -----------------------------------------------------------

// A constant's value as inference sees it (concrete shape; elements if small and integer).
SymValue SymOfConstant(const OnnxValue& v);
// in[i], or nullptr when absent or omitted.
inline const SymValue* SymArg(const SymIn& in, size_t i) { return i < in.size() ? in[i] : nullptr; }
// The elements of `v` when all are known constants.
std::optional<std::vector<int64_t>> ConstInts(const SymValue* v);
// Numpy broadcasting of known or unknown dims; Invalid for two constants that differ and
// neither is 1.
absl::StatusOr<OnnxShape> BroadcastSym(const std::vector<const OnnxShape*>& shapes);
// Output 0 = input 0's shape with element type `dtype` (0: input 0's).
absl::Status InferSame(const onnx::NodeProto& node, const SymIn& in, SymOut* out,
                       const InferCtx& ctx);
// The axis normalized against a known rank, nullopt when out of range.
std::optional<int> SymAxis(int64_t axis, int rank);

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

}  // namespace jetserve::onnx_ops

#endif  // JETSERVE_ENGINE_ONNX_ONNX_OPS_H_
