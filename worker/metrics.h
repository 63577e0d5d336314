// WorkerMetrics: the worker's Prometheus metrics, registered in a registry the caller owns
// (main serves it on --metrics-listen; tests Collect() it and read exact values).
//
// Every metric carries the label model="<--name>". Request metrics are fed by the gRPC
// layer; generation metrics by the backend through the GenerationMetrics interface.
//
//   jetserve_worker_requests_total{model,method,code}              counter
//       Calls finished, by method (Generate, Classify, Rerank, Embed, Tokenize,
//       Detokenize; the control calls GetInfo and Drain are not counted) and gRPC status
//       code name (OK, CANCELLED, DEADLINE_EXCEEDED, UNAVAILABLE while draining, ...).
//   jetserve_worker_request_duration_seconds{model,method}         histogram
//       Time from the worker receiving a call to its end (last message for Generate).
//   jetserve_worker_requests_in_flight{model}                      gauge
//       Calls received and not yet finished (running + queued).
//   jetserve_worker_queue_depth{model}                             gauge
//       Calls accepted but waiting: in the backend's queue or for a task-pool thread.
//   jetserve_worker_prompt_tokens_total{model}                     counter
//       Prompt tokens processed by Generate (prefill, cached tokens included).
//   jetserve_worker_generated_tokens_total{model}                  counter
//       Tokens generated, all choices together.
//   jetserve_worker_time_to_first_token_seconds{model}             histogram
//       From receiving a Generate call to its first generated token.
//   jetserve_worker_time_per_output_token_seconds{model}           histogram
//       Time between consecutive generated tokens of one sequence.
//   jetserve_worker_kv_cache_blocks{model,state}                   gauge
//       KV cache blocks by state: "used" (held by sequences or the prefix cache) or
//       "free".
//   jetserve_worker_requests_running{model}                        gauge
//       Sequences in the running batch (Generate choices count one each).
//   jetserve_worker_requests_waiting{model}                        gauge
//       Sequences admitted to the backend but waiting for KV blocks or a batch slot
//       (new or preempted).
//   jetserve_worker_kv_cache_usage_ratio{model}                    gauge
//       Fraction of KV cache blocks in use, [0, 1].
//   jetserve_worker_batch_size{model}                              histogram
//       Sequences that got a token in one batched step.
//   jetserve_worker_preemptions_total{model}                       counter
//       Sequences preempted when KV blocks ran out (recomputed later).
//   jetserve_worker_prefix_cache_queried_tokens_total{model}        counter
//       Tokens of sequences looked up in the prefix cache when admitted (a preempted
//       sequence is looked up again when it resumes; requests bypassing the cache are not).
//   jetserve_worker_prefix_cache_hit_tokens_total{model}            counter
//       Of those, tokens whose KV blocks were found and not computed. Hit ratio:
//       hit_tokens_total / queried_tokens_total.
//   jetserve_worker_prefix_cache_blocks{model}                      gauge
//       KV blocks in the prefix index, held by sequences or evictable (evictable ones count
//       as "free" in jetserve_worker_kv_cache_blocks).
//
//   prometheus::Registry registry;
//   WorkerMetrics metrics(registry, "smollm2");
//   metrics.RequestStarted();
//   metrics.RequestFinished("Generate", absl::StatusCode::kOk, absl::Milliseconds(12));
#ifndef JETSERVE_WORKER_METRICS_H_
#define JETSERVE_WORKER_METRICS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "worker/generation_metrics.h"

namespace jetserve::worker {

class WorkerMetrics final : public GenerationMetrics {
 public:
  // Registers the families in `registry`, which must outlive this object.
  WorkerMetrics(prometheus::Registry& registry, std::string model);
  WorkerMetrics(const WorkerMetrics&) = delete;
  WorkerMetrics& operator=(const WorkerMetrics&) = delete;

  // A call arrived (in_flight + 1).
  void RequestStarted();
  // A call ended (in_flight - 1, counted and timed).
  void RequestFinished(absl::string_view method, absl::StatusCode code, absl::Duration duration);
  void SetQueueDepth(int64_t depth);

  // GenerationMetrics
  void AddPromptTokens(int64_t n) override;
  void AddGeneratedTokens(int64_t n) override;
  void ObserveTimeToFirstToken(absl::Duration d) override;
  void ObserveTimePerOutputToken(absl::Duration d) override;
  void SetKvCacheBlocks(const KvCacheBlocks& blocks) override;
  void SetBatchState(int64_t running, int64_t waiting, double kv_usage_ratio) override;
  void ObserveBatchSize(int64_t sequences) override;
  void AddPreemptions(int64_t n) override;
  void AddPrefixCacheTokens(int64_t queried, int64_t hit) override;
  void SetPrefixCacheBlocks(int64_t blocks) override;

 private:
  const std::string model_;
  prometheus::Family<prometheus::Counter>& requests_total_;
  prometheus::Family<prometheus::Histogram>& request_duration_;
  prometheus::Gauge& in_flight_;
  prometheus::Gauge& queue_depth_;
  prometheus::Counter& prompt_tokens_;
  prometheus::Counter& generated_tokens_;
  prometheus::Histogram& time_to_first_token_;
  prometheus::Histogram& time_per_output_token_;
  prometheus::Gauge& kv_blocks_used_;
  prometheus::Gauge& kv_blocks_free_;
  prometheus::Gauge& running_;
  prometheus::Gauge& waiting_;
  prometheus::Gauge& kv_usage_;
  prometheus::Histogram& batch_size_;
  prometheus::Counter& preemptions_;
  prometheus::Counter& prefix_queried_;
  prometheus::Counter& prefix_hit_;
  prometheus::Gauge& prefix_blocks_;
};

}  // namespace jetserve::worker

#endif  // JETSERVE_WORKER_METRICS_H_
