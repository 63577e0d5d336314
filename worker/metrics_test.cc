#include "worker/metrics.h"

#include <map>
#include <string>

#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace jetserve::worker {
namespace {

TEST(WorkerMetricsTest, ExportsDocumentedNamesAndLabels) {
  prometheus::Registry registry;
  WorkerMetrics metrics(registry, "m");
  metrics.RequestStarted();
  metrics.RequestFinished("Embed", absl::StatusCode::kResourceExhausted, absl::Milliseconds(3));
  metrics.SetQueueDepth(2);
  metrics.AddPromptTokens(10);
  metrics.AddGeneratedTokens(4);
  metrics.ObserveTimeToFirstToken(absl::Milliseconds(40));
  metrics.ObserveTimePerOutputToken(absl::Milliseconds(8));
  metrics.SetKvCacheBlocks({.used = 3, .free = 5});
  metrics.SetBatchState(7, 2, 0.25);
  metrics.ObserveBatchSize(7);
  metrics.ObserveBatchSize(1);
  metrics.AddPreemptions(3);
  metrics.AddPrefixCacheTokens(100, 64);
  metrics.AddPrefixCacheTokens(20, 0);
  metrics.SetPrefixCacheBlocks(9);
  const std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  for (const char* line : {
           "jetserve_worker_requests_total{code=\"RESOURCE_EXHAUSTED\",method=\"Embed\",model="
           "\"m\"} 1",
           "jetserve_worker_request_duration_seconds_count{method=\"Embed\",model=\"m\"} 1",
           "jetserve_worker_request_duration_seconds_bucket{method=\"Embed\",model=\"m\",le=\"0."
           "005\"} 1",
           "jetserve_worker_requests_in_flight{model=\"m\"} 0",
           "jetserve_worker_queue_depth{model=\"m\"} 2",
           "jetserve_worker_prompt_tokens_total{model=\"m\"} 10",
           "jetserve_worker_generated_tokens_total{model=\"m\"} 4",
           "jetserve_worker_time_to_first_token_seconds_count{model=\"m\"} 1",
           "jetserve_worker_time_per_output_token_seconds_count{model=\"m\"} 1",
           "jetserve_worker_kv_cache_blocks{model=\"m\",state=\"used\"} 3",
           "jetserve_worker_kv_cache_blocks{model=\"m\",state=\"free\"} 5",
           "jetserve_worker_requests_running{model=\"m\"} 7",
           "jetserve_worker_requests_waiting{model=\"m\"} 2",
           "jetserve_worker_kv_cache_usage_ratio{model=\"m\"} 0.25",
           "jetserve_worker_batch_size_count{model=\"m\"} 2",
           "jetserve_worker_batch_size_bucket{model=\"m\",le=\"4\"} 1",
           "jetserve_worker_batch_size_bucket{model=\"m\",le=\"8\"} 2",
           "jetserve_worker_preemptions_total{model=\"m\"} 3",
           "jetserve_worker_prefix_cache_queried_tokens_total{model=\"m\"} 120",
           "jetserve_worker_prefix_cache_hit_tokens_total{model=\"m\"} 64",
           "jetserve_worker_prefix_cache_blocks{model=\"m\"} 9",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing: " << line << "\nin:\n" << text;
  }
}

}  // namespace
}  // namespace jetserve::worker
