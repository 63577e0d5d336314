// Backend: the interface between the worker's gRPC layer and an inference engine (the
// continuous-batching decoder, the encoder, or the fake used by service tests).
//
// The worker owns one Backend per process (one model). Threading contract:
// - Generate is asynchronous: it must return at once (it runs on a gRPC callback thread)
//   and continue on the backend's own threads through the GenerateStream.
// - The unary calls (Classify, Rerank, Embed, Tokenize, Detokenize) run on the worker's
//   task pool, never on gRPC threads, and may block; they should poll ctx.Cancelled()
//   between units of work and return ctx.CancelledStatus() when it turns true.
// - Info/Capacity/Memory/Load are called from any thread and must be cheap.
// A task the model does not support returns UNIMPLEMENTED (the defaults below do).
// Errors are absl::Status; the worker converts them to gRPC status codes one to one.
//
//   absl::StatusOr<std::unique_ptr<Backend>> backend = LoadBackend(options);
//   WorkerServer server(std::move(*backend), server_options);
#ifndef JETSERVE_WORKER_BACKEND_H_
#define JETSERVE_WORKER_BACKEND_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/cuda/device.h"
#include "jetserve/v1/encode.pb.h"
#include "jetserve/v1/models.pb.h"
#include "jetserve/worker/v1/worker.pb.h"
#include "worker/call_context.h"
#include "worker/generate_stream.h"
#include "worker/generation_metrics.h"

namespace jetserve::worker {

// How to construct a backend.
struct BackendOptions {
  // Model file (GGUF or ONNX) or directory.
  std::string model_path;
  // Name the model is served under (ModelInfo.name).
  std::string model_name;
  // "cpu" or "cuda:N" (engine/cuda/device.h).
  DeviceSpec device;
  // Where the backend reports generation metrics; not owned, outlives the backend.
  // Never null (use NullGenerationMetrics).
  GenerationMetrics* metrics = nullptr;
  // Decoder serving limits (--max-seqs, --max-queued, --ctx, --kv-memory; encoders ignore
  // them): sequences in the running batch, requests accepted beyond them before
  // RESOURCE_EXHAUSTED, tokens per sequence (0: the model's default), and KV cache bytes
  // (0: max_seqs full contexts, at most 512 MiB, at least one context).
  int32_t max_seqs = 16;
  int32_t max_queued = 64;
  int64_t ctx = 0;
  int64_t kv_memory_bytes = 0;
  // Decoder: share the KV blocks of equal prompt prefixes across requests (--prefix-cache).
  bool prefix_cache = true;
};

// Requests inside the backend right now.
struct BackendLoad {
  // Requests being computed (Generate: sequences in the running batch).
  int32_t running = 0;
  // Requests accepted but waiting for the scheduler (admission by memory).
  int32_t queued = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // What the model is; `name`, `tasks`, `architecture`, ... set. Constant after load.
  virtual jetserve::v1::ModelInfo Info() const = 0;
  // How much work the backend takes at once (max_concurrent_requests >= 1).
  virtual jetserve::worker::v1::Capacity Capacity() const = 0;
  virtual jetserve::worker::v1::Memory Memory() const = 0;
  virtual BackendLoad Load() const = 0;

  // Takes the call; returns at once. `stream` stays valid until stream->Finish.
  virtual void Generate(GenerateStream* stream);

  virtual absl::StatusOr<jetserve::v1::ClassifyResponse> Classify(
      const CallContext& ctx, const jetserve::worker::v1::ClassifyRequest& request);
  virtual absl::StatusOr<jetserve::v1::RerankResponse> Rerank(
      const CallContext& ctx, const jetserve::worker::v1::RerankRequest& request);
  virtual absl::StatusOr<jetserve::v1::EmbedResponse> Embed(
      const CallContext& ctx, const jetserve::worker::v1::EmbedRequest& request);
  virtual absl::StatusOr<jetserve::v1::TokenizeResponse> Tokenize(
      const CallContext& ctx, const jetserve::worker::v1::TokenizeRequest& request);
  virtual absl::StatusOr<jetserve::v1::DetokenizeResponse> Detokenize(
      const CallContext& ctx, const jetserve::worker::v1::DetokenizeRequest& request);

 protected:
  // UNIMPLEMENTED "model NAME does not support METHOD".
  absl::Status Unsupported(absl::string_view method) const;
};

}  // namespace jetserve::worker

#endif  // JETSERVE_WORKER_BACKEND_H_
