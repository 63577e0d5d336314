// Micro-benchmark of the dequantize-dot kernels (one weight row of 4096 against a quantized
// activation row), of row dequantization, per type, and of the batched tile kernel (a
// SmolLM2-sized weight matrix against a batch of activation rows) per compiled variant, so
// that variants compare in the same run.
//
//   build/engine/quant/vec_dot_bench --benchmark_filter=VecDot
//   build/engine/quant/vec_dot_bench --benchmark_filter=Tile --benchmark_repetitions=5
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "engine/quant/packed.h"
#include "engine/quant/quantize.h"
#include "engine/quant/vec_dot.h"

namespace jetserve::quant {
namespace {

constexpr int64_t kN = 4096;

std::vector<float> Random(uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist;
  std::vector<float> v(kN);
  for (float& x : v) x = dist(rng);
  return v;
}

void BM_VecDot(benchmark::State& state) {
  const auto type = static_cast<GgmlType>(state.range(0));
  const TypeKernels* k = GetTypeKernels(type);
  const std::vector<float> w = Random(1);
  const std::vector<float> y = Random(2);
  std::vector<uint8_t> wq(RowBytes(type, kN));
  std::vector<uint8_t> yq(RowBytes(k->vec_dot_type, kN));
  k->from_float(w.data(), wq.data(), kN);
  k->quantize_activation(y.data(), yq.data(), kN);
  for (auto _ : state) benchmark::DoNotOptimize(k->vec_dot(kN, wq.data(), yq.data()));
  state.SetLabel(std::string(GgmlTypeName(type)));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(wq.size()));
}

void BM_Dequantize(benchmark::State& state) {
  const auto type = static_cast<GgmlType>(state.range(0));
  const TypeKernels* k = GetTypeKernels(type);
  const std::vector<float> w = Random(1);
  std::vector<uint8_t> wq(RowBytes(type, kN));
  std::vector<float> out(kN);
  k->from_float(w.data(), wq.data(), kN);
  for (auto _ : state) {
    k->to_float(wq.data(), out.data(), kN);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(std::string(GgmlTypeName(type)));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(wq.size()));
}

// One weight matrix (rows x cols of `type`, in L2 as a thread's share of a layer is) times
// `batch` activation rows, through variant `variant`'s tile kernel; counts multiply-adds.
// Random normal weights (rows x cols, quantized to the kernels' type) and activation rows
// (batch x cols, quantized to its dot type).
struct Operands {
  std::vector<uint8_t> weights, activations;
};
Operands MakeOperands(const TypeKernels& k, int64_t rows, int64_t cols, int64_t batch) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist;
  std::vector<float> v(static_cast<size_t>(cols));
  const uint64_t wrow = RowBytes(k.type, cols), yrow = RowBytes(k.vec_dot_type, cols);
  Operands o{std::vector<uint8_t>(wrow * static_cast<uint64_t>(rows)),
             std::vector<uint8_t>(yrow * static_cast<uint64_t>(batch))};
  for (int64_t r = 0; r < rows; ++r) {
    for (float& x : v) x = dist(rng);
    k.from_float(v.data(), o.weights.data() + static_cast<uint64_t>(r) * wrow, cols);
  }
  for (int64_t t = 0; t < batch; ++t) {
    for (float& x : v) x = dist(rng);
    k.quantize_activation(v.data(), o.activations.data() + static_cast<uint64_t>(t) * yrow, cols);
  }
  return o;
}

void BM_Tile(benchmark::State& state) {
  const auto type = static_cast<GgmlType>(state.range(0));
  const auto variant = static_cast<size_t>(state.range(1));
  const int64_t rows = state.range(2), cols = state.range(3), batch = state.range(4);
  if (variant >= SupportedKernelVariants().size()) {
    state.SkipWithError("variant not supported on this CPU");
    return;
  }
  const TypeKernels* k = SupportedKernelVariants()[variant].get(type);
  const Operands o = MakeOperands(*k, rows, cols, batch);
  const uint64_t wrow = RowBytes(type, cols), yrow = RowBytes(k->vec_dot_type, cols);
  const std::vector<uint8_t>& wq = o.weights;
  const std::vector<uint8_t>& yq = o.activations;
  std::vector<float> out(static_cast<size_t>(rows * batch));
  for (auto _ : state) {
    k->vec_dot_tile(cols, wq.data(), wrow, rows, yq.data(), yrow, batch, out.data(), rows);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(std::string(SupportedKernelVariants()[variant].name) + " " +
                 std::string(GgmlTypeName(type)));
  state.SetItemsProcessed(state.iterations() * rows * cols * batch);
}

void TileShapes(benchmark::internal::Benchmark* b) {
  for (GgmlType t : {GgmlType::kQ4_1, GgmlType::kQ8_0}) {
    for (int64_t variant = 1; variant < 3; ++variant) {
      for (int64_t batch : {1, 2, 3, 4, 8, 16}) {
        b->Args({static_cast<int64_t>(t), variant, 768, 576, batch});
      }
      // A matrix well past the caches: weights stream from memory as in a decode step.
      b->Args({static_cast<int64_t>(t), variant, 131072, 576, 1});
      b->Args({static_cast<int64_t>(t), variant, 131072, 576, 8});
    }
  }
  // Prefill shapes of a 1.1B llama: 128 activation rows against 256 rows of a 2048-wide and
  // a 5632-wide (feed-forward down) matrix.
  for (GgmlType t : {GgmlType::kQ4_0, GgmlType::kQ5_0, GgmlType::kQ8_0, GgmlType::kQ4_K,
                     GgmlType::kQ5_K, GgmlType::kQ6_K}) {
    for (int64_t variant = 1; variant < 3; ++variant) {
      for (int64_t cols : {2048, 5632}) {
        for (int64_t batch : {1, 8, 128})
          b->Args({static_cast<int64_t>(t), variant, 256, cols, batch});
      }
      // A thread's share of the feed-forward gate and up matrices (past L2) against 128 rows
      // (prefill) and 8 rows (a batched decode step).
      b->Args({static_cast<int64_t>(t), variant, 5632, 2048, 128});
      b->Args({static_cast<int64_t>(t), variant, 5632, 2048, 8});
      // Decode: one activation row against a matrix streamed from memory (2048-wide rows).
      b->Args({static_cast<int64_t>(t), variant, 65536, 2048, 1});
    }
  }
}

void AllTypes(benchmark::internal::Benchmark* b) {
  for (GgmlType t :
       {GgmlType::kF32, GgmlType::kF16, GgmlType::kBF16, GgmlType::kQ4_0, GgmlType::kQ4_1,
        GgmlType::kQ5_0, GgmlType::kQ5_1, GgmlType::kQ8_0, GgmlType::kQ2_K, GgmlType::kQ3_K,
        GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K}) {
    b->Arg(static_cast<int64_t>(t));
  }
}

BENCHMARK(BM_VecDot)->Apply(AllTypes);
BENCHMARK(BM_Dequantize)->Apply(AllTypes);
BENCHMARK(BM_Tile)->Apply(TileShapes);

// The packed tile (packed.h) of the CPU's fastest variant on the same shapes as BM_Tile's
// Q4_0, Q4_K and Q6_K rows (compare with BM_Tile/2/2/..., BM_Tile/12/2/..., BM_Tile/14/2/...): the
// weights packed, the activation tables built once outside the loop, as MatMuls does once per
// product.
void BM_Packed(benchmark::State& state) {
  const auto type = static_cast<GgmlType>(state.range(0));
  const int64_t rows = state.range(1), cols = state.range(2), batch = state.range(3);
  const TypeKernels* k = GetTypeKernels(type);
  if (k->packed_tile == nullptr) {
    state.SkipWithError("no packed kernel for this type on this CPU");
    return;
  }
  const Operands o = MakeOperands(*k, rows, cols, batch);
  const uint64_t wrow = RowBytes(type, cols), yrow = RowBytes(k->vec_dot_type, cols);
  std::vector<uint8_t> packed(PackedGroupBytes(type, cols) *
                              static_cast<uint64_t>(rows / kPackRows));
  PackRows(type, cols, o.weights.data(), wrow, rows, packed.data());
  const int64_t nb = cols / kQK;
  std::vector<PackedActivation> table(PackedUsesTable(type) ? static_cast<size_t>(nb * batch) : 0);
  for (int64_t t = 0; PackedUsesTable(type) && t < batch; ++t) {
    PreparePackedActivation(cols, o.activations.data() + static_cast<uint64_t>(t) * yrow,
                            table.data() + t * nb);
  }
  const std::vector<uint8_t>& yq = o.activations;
  std::vector<float> out(static_cast<size_t>(rows * batch));
  for (auto _ : state) {
    k->packed_tile(cols, packed.data(), rows / kPackRows, yq.data(), yrow, table.data(), batch,
                   out.data(), rows);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(std::string(GgmlTypeName(type)));
  state.SetItemsProcessed(state.iterations() * rows * cols * batch);
}

void PackedShapes(benchmark::internal::Benchmark* b) {
  for (GgmlType type : {GgmlType::kQ4_0, GgmlType::kQ8_0, GgmlType::kQ4_K, GgmlType::kQ6_K}) {
    const auto t = static_cast<int64_t>(type);
    for (int64_t batch : {1, 8, 128}) {
      b->Args({t, 256, 2048, batch});
      b->Args({t, 256, 5632, batch});
    }
    b->Args({t, 65536, 2048, 1});
  }
}
BENCHMARK(BM_Packed)->Apply(PackedShapes);

}  // namespace
}  // namespace jetserve::quant

BENCHMARK_MAIN();
