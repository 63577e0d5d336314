#include "worker/metrics.h"

#include <utility>

namespace jetserve::worker {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Histogram;

// Call latency: from cache hits on Tokenize (sub-millisecond) to long generations.
Histogram::BucketBoundaries DurationBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
          0.5,    1,     2.5,    5,     10,   30,    60,   120, 300};
}
Histogram::BucketBoundaries TimeToFirstTokenBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}
// Decode steps: ~1 ms (small model on a datacenter GPU) to ~1 s (large model on a Nano CPU).
Histogram::BucketBoundaries TimePerOutputTokenBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1};
}

Histogram::BucketBoundaries BatchSizeBuckets() { return {1, 2, 4, 8, 16, 32, 64, 128, 256}; }

}  // namespace

WorkerMetrics::WorkerMetrics(prometheus::Registry& registry, std::string model)
    : model_(std::move(model)),
      requests_total_(BuildCounter()
                          .Name("jetserve_worker_requests_total")
                          .Help("Calls finished, by method and gRPC status code.")
                          .Register(registry)),
      request_duration_(BuildHistogram()
                            .Name("jetserve_worker_request_duration_seconds")
                            .Help("Time from receiving a call to its end, by method.")
                            .Register(registry)),
      in_flight_(BuildGauge()
                     .Name("jetserve_worker_requests_in_flight")
                     .Help("Calls received and not yet finished.")
                     .Register(registry)
                     .Add({{"model", model_}})),
      queue_depth_(BuildGauge()
                       .Name("jetserve_worker_queue_depth")
                       .Help("Calls accepted but waiting to run.")
                       .Register(registry)
                       .Add({{"model", model_}})),
      prompt_tokens_(BuildCounter()
                         .Name("jetserve_worker_prompt_tokens_total")
                         .Help("Prompt tokens processed by Generate.")
                         .Register(registry)
                         .Add({{"model", model_}})),
      generated_tokens_(BuildCounter()
                            .Name("jetserve_worker_generated_tokens_total")
                            .Help("Tokens generated, all choices together.")
                            .Register(registry)
                            .Add({{"model", model_}})),
      time_to_first_token_(BuildHistogram()
                               .Name("jetserve_worker_time_to_first_token_seconds")
                               .Help("From receiving a Generate call to its first token.")
                               .Register(registry)
                               .Add({{"model", model_}}, TimeToFirstTokenBuckets())),
      time_per_output_token_(BuildHistogram()
                                 .Name("jetserve_worker_time_per_output_token_seconds")
                                 .Help("Time between consecutive tokens of one sequence.")
                                 .Register(registry)
                                 .Add({{"model", model_}}, TimePerOutputTokenBuckets())),
      kv_blocks_used_(BuildGauge()
                          .Name("jetserve_worker_kv_cache_blocks")
                          .Help("KV cache blocks by state (used, free).")
                          .Register(registry)
                          .Add({{"model", model_}, {"state", "used"}})),
      kv_blocks_free_(BuildGauge()
                          .Name("jetserve_worker_kv_cache_blocks")
                          .Help("KV cache blocks by state (used, free).")
                          .Register(registry)
                          .Add({{"model", model_}, {"state", "free"}})),
      running_(BuildGauge()
                   .Name("jetserve_worker_requests_running")
                   .Help("Sequences in the running batch.")
                   .Register(registry)
                   .Add({{"model", model_}})),
      waiting_(BuildGauge()
                   .Name("jetserve_worker_requests_waiting")
                   .Help("Sequences waiting for KV blocks or a batch slot.")
                   .Register(registry)
                   .Add({{"model", model_}})),
      kv_usage_(BuildGauge()
                    .Name("jetserve_worker_kv_cache_usage_ratio")
                    .Help("Fraction of KV cache blocks in use.")
                    .Register(registry)
                    .Add({{"model", model_}})),
      batch_size_(BuildHistogram()
                      .Name("jetserve_worker_batch_size")
                      .Help("Sequences that got a token in one batched step.")
                      .Register(registry)
                      .Add({{"model", model_}}, BatchSizeBuckets())),
      preemptions_(BuildCounter()
                       .Name("jetserve_worker_preemptions_total")
                       .Help("Sequences preempted when KV blocks ran out.")
                       .Register(registry)
                       .Add({{"model", model_}})),
      prefix_queried_(BuildCounter()
                          .Name("jetserve_worker_prefix_cache_queried_tokens_total")
                          .Help("Tokens of admitted sequences looked up in the prefix cache.")
                          .Register(registry)
                          .Add({{"model", model_}})),
      prefix_hit_(BuildCounter()
                      .Name("jetserve_worker_prefix_cache_hit_tokens_total")
                      .Help("Looked-up tokens found in the prefix cache (not computed).")
                      .Register(registry)
                      .Add({{"model", model_}})),
      prefix_blocks_(BuildGauge()
                         .Name("jetserve_worker_prefix_cache_blocks")
                         .Help("KV blocks in the prefix index (held or evictable).")
                         .Register(registry)
                         .Add({{"model", model_}})) {}

void WorkerMetrics::RequestStarted() { in_flight_.Increment(); }

void WorkerMetrics::RequestFinished(absl::string_view method, absl::StatusCode code,
                                    absl::Duration duration) {
  in_flight_.Decrement();
  const std::string method_label(method);
  requests_total_
      .Add({{"model", model_}, {"method", method_label}, {"code", absl::StatusCodeToString(code)}})
      .Increment();
  request_duration_.Add({{"model", model_}, {"method", method_label}}, DurationBuckets())
      .Observe(absl::ToDoubleSeconds(duration));
}

void WorkerMetrics::SetQueueDepth(int64_t depth) { queue_depth_.Set(static_cast<double>(depth)); }

void WorkerMetrics::AddPromptTokens(int64_t n) { prompt_tokens_.Increment(static_cast<double>(n)); }

void WorkerMetrics::AddGeneratedTokens(int64_t n) {
  generated_tokens_.Increment(static_cast<double>(n));
}

void WorkerMetrics::ObserveTimeToFirstToken(absl::Duration d) {
  time_to_first_token_.Observe(absl::ToDoubleSeconds(d));
}

void WorkerMetrics::ObserveTimePerOutputToken(absl::Duration d) {
  time_per_output_token_.Observe(absl::ToDoubleSeconds(d));
}

void WorkerMetrics::SetKvCacheBlocks(const KvCacheBlocks& blocks) {
  kv_blocks_used_.Set(static_cast<double>(blocks.used));
  kv_blocks_free_.Set(static_cast<double>(blocks.free));
}

void WorkerMetrics::SetBatchState(int64_t running, int64_t waiting, double kv_usage_ratio) {
  running_.Set(static_cast<double>(running));
  waiting_.Set(static_cast<double>(waiting));
  kv_usage_.Set(kv_usage_ratio);
}

void WorkerMetrics::ObserveBatchSize(int64_t sequences) {
  batch_size_.Observe(static_cast<double>(sequences));
}

void WorkerMetrics::AddPreemptions(int64_t n) { preemptions_.Increment(static_cast<double>(n)); }

void WorkerMetrics::AddPrefixCacheTokens(int64_t queried, int64_t hit) {
  prefix_queried_.Increment(static_cast<double>(queried));
  prefix_hit_.Increment(static_cast<double>(hit));
}

void WorkerMetrics::SetPrefixCacheBlocks(int64_t blocks) {
  prefix_blocks_.Set(static_cast<double>(blocks));
}

}  // namespace jetserve::worker
