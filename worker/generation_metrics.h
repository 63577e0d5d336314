// GenerationMetrics: where an engine reports what it generates, so the worker can export
// it (worker/metrics.h implements this with Prometheus). Backends get a pointer through
// BackendOptions and must not assume any particular exporter; tests pass a recorder.
//
//   metrics->AddPromptTokens(prompt.size());
//   metrics->ObserveTimeToFirstToken(absl::Now() - received);
//   metrics->AddGeneratedTokens(1);
//   metrics->ObserveTimePerOutputToken(step_time);
//   metrics->SetKvCacheBlocks({.used = 120, .free = 904});
//   metrics->SetBatchState(/*running=*/8, /*waiting=*/2, /*kv_usage_ratio=*/0.12);
//   metrics->ObserveBatchSize(8);
//
// All methods are thread-safe and cheap (no allocation on the hot path).
#ifndef JETSERVE_WORKER_GENERATION_METRICS_H_
#define JETSERVE_WORKER_GENERATION_METRICS_H_

#include <cstdint>

#include "absl/time/time.h"

namespace jetserve::worker {

struct KvCacheBlocks {
  // Blocks holding tokens of running or cached sequences.
  int64_t used = 0;
  // Blocks available to new sequences.
  int64_t free = 0;
};

class GenerationMetrics {
 public:
  virtual ~GenerationMetrics() = default;
  // Prompt tokens computed (prefill), cached ones included.
  virtual void AddPromptTokens(int64_t n) = 0;
  // Tokens generated (all choices).
  virtual void AddGeneratedTokens(int64_t n) = 0;
  // From the worker receiving a request to its first generated token.
  virtual void ObserveTimeToFirstToken(absl::Duration d) = 0;
  // Time between two consecutive tokens of one sequence.
  virtual void ObserveTimePerOutputToken(absl::Duration d) = 0;
  virtual void SetKvCacheBlocks(const KvCacheBlocks& blocks) = 0;
  // Continuous batching (defaults do nothing, for engines without a scheduler):
  // sequences running and waiting after a step, and the KV cache's used fraction.
  virtual void SetBatchState(int64_t /*running*/, int64_t /*waiting*/, double /*kv_usage_ratio*/) {}
  // Sequences that got a token in one step.
  virtual void ObserveBatchSize(int64_t /*sequences*/) {}
  // Sequences preempted (blocks freed, recomputed later).
  virtual void AddPreemptions(int64_t /*n*/) {}
  // Prefix cache: tokens looked up at admission and tokens found (not computed); KV
  // blocks in the prefix index.
  virtual void AddPrefixCacheTokens(int64_t /*queried*/, int64_t /*hit*/) {}
  virtual void SetPrefixCacheBlocks(int64_t /*blocks*/) {}
};

// Discards everything; for backends built without a metrics sink.
class NullGenerationMetrics final : public GenerationMetrics {
 public:
  void AddPromptTokens(int64_t) override {}
  void AddGeneratedTokens(int64_t) override {}
  void ObserveTimeToFirstToken(absl::Duration) override {}
  void ObserveTimePerOutputToken(absl::Duration) override {}
  void SetKvCacheBlocks(const KvCacheBlocks&) override {}
};

}  // namespace jetserve::worker

#endif  // JETSERVE_WORKER_GENERATION_METRICS_H_
