// Micro-benchmark of the scalar dequantize-dot kernels (one weight row of 4096 against a
// quantized activation row) and of row dequantization, per type. The SIMD kernels will be
// measured against these.
//
//   build/engine/quant/vec_dot_bench --benchmark_filter=VecDot
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
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

}  // namespace
}  // namespace jetserve::quant

BENCHMARK_MAIN();
