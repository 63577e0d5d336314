// Micro-benchmark of one head's attention over a paged cache (blocks of 16 cells, three KV
// heads interleaved as the cache stores them): the CPU's fused kernel (AttentionKernels::
// attend) against the same build's separate steps composed (AttendWith: a dot per cell,
// softmax, the weighted values lane by lane in memory, the reduction), in the same run.
// Both give the same bits (ops_test); the ratio of their cells/s is the fusion's gain.
//
//   build/engine/model/attention_bench --benchmark_repetitions=3
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "engine/model/ops.h"

namespace jetserve::model {
namespace {

constexpr int64_t kBlock = 16, kKvHeads = 3;

void BM_Attend(benchmark::State& state) {
  const bool fused = state.range(0) != 0;
  const int64_t d = state.range(1), n = state.range(2);
  const AttentionKernels& k = GetAttentionKernels();
  const int64_t stride = d * kKvHeads;
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<float> keys(static_cast<size_t>(blocks * kBlock * stride)), values(keys.size()), q(d);
  for (float& x : keys) x = dist(rng) * 0.3f;
  for (float& x : values) x = dist(rng);
  for (float& x : q) x = dist(rng);
  std::vector<KvRun> runs;
  // Blocks in reverse order in memory, as a long-running pool hands them out.
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t at = (blocks - 1 - b) * kBlock;
    runs.push_back({keys.data() + at * stride + d, values.data() + at * stride + d,
                    std::min(kBlock, n - b * kBlock)});
  }
  std::vector<float> scores(n), lanes(64 * d), out(d);
  std::vector<const float*> rows(n);
  const AttendArgs args = {.q = q.data(),
                           .head_dim = d,
                           .scale = 0.125f,
                           .runs = runs,
                           .k_stride = stride,
                           .v_stride = stride,
                           .dv = d,
                           .first = 0,
                           .scores = scores.data(),
                           .lanes = lanes.data(),
                           .value_rows = rows.data(),
                           .out = out.data()};
  for (auto _ : state) {
    if (fused) {
      k.attend(args);
    } else {
      AttendWith(k, args);
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(std::string(k.name) + (fused ? " fused" : " steps"));
  state.SetItemsProcessed(state.iterations() * n);
}

BENCHMARK(BM_Attend)
    ->ArgNames({"fused", "head_dim", "cells"})
    ->ArgsProduct({{0, 1}, {64, 128, 256}, {32, 100, 256, 1024, 4096}});

}  // namespace
}  // namespace jetserve::model

BENCHMARK_MAIN();
