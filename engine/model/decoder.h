// A decoder-only transformer on the CPU: loads a GGUF file (weights stay in the mapping),
// and runs the forward pass for a batch of token rows against per-sequence KV caches.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Decoder> model, Decoder::Open("smollm2.gguf"));
//   ThreadPool pool(4);
//   KvCache cache(model->config(), /*n_ctx=*/2048);
//   RunState state(*model, {.max_rows = 64, .n_ctx = 2048, .threads = pool.num_threads()});
//   std::vector<float> logits(model->config().n_vocab);
//   RETURN_IF_ERROR(model->Eval(prompt_ids, /*all_logits=*/false, &cache, &state, &pool,
//                               logits.data()));
//
// Forward() takes rows of several sequences at once (the batching runtime's step): every
// weight matrix is read once per chunk of rows, and each row's result depends only on its
// own sequence (fixed reduction order per row), never on the other rows or the chunking.
// The Decoder is immutable after Open and may be shared by threads; RunState and KvCache
// belong to one caller at a time.
#ifndef JETSERVE_ENGINE_MODEL_DECODER_H_
#define JETSERVE_ENGINE_MODEL_DECODER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/format/gguf_reader.h"
#include "engine/model/kv_cache.h"
#include "engine/model/model_config.h"
#include "engine/model/ops.h"
#include "engine/model/weights.h"
#include "engine/util/thread_pool.h"

namespace jetserve::model {

// One token to run: sequence index (into the caches span), token id, its position (must
// be the sequence's next position), and whether its next-token logits are wanted.
struct ForwardRow {
  int32_t seq = 0;
  int32_t token = 0;
  int64_t pos = 0;
  bool logits = false;
};

struct RunStateOptions {
  int64_t max_rows = 64;  // rows per chunk (prefill matrix-matrix width)
  int64_t n_ctx = 2048;   // longest cache it serves
  int threads = 1;        // the pool's thread count
};

class Decoder;

// Activation buffers sized once for a chunk of rows; the token loop never allocates.
class RunState {
 public:
  RunState(const Decoder& decoder, const RunStateOptions& options);
  const RunStateOptions& options() const { return options_; }

 private:
  friend class Decoder;
  RunStateOptions options_;
  std::vector<float> x_, h_, q_, k_, v_, att_, ff_a_, ff_b_, scores_;
  std::vector<float> att_lanes_;              // per thread: 64 lanes of one head's weighted values
  std::vector<std::vector<KvRun>> att_runs_;  // per thread: one head's cells, block by block
  std::vector<const float*> att_rows_;        // per thread: n_ctx value rows
  std::vector<float> rope_cs_;                // RoPE cosines and sines of one position
  std::vector<uint8_t> scratch_;
  std::vector<int64_t> logit_rows_;
};

class Decoder {
 public:
  static absl::StatusOr<std::unique_ptr<Decoder>> Open(const std::string& path,
                                                       const LoadOptions& options = {});
  static absl::StatusOr<std::unique_ptr<Decoder>> FromFile(std::unique_ptr<GgufFile> file,
                                                           const LoadOptions& options = {});

  const ModelConfig& config() const { return config_; }
  const GgufFile& file() const { return *file_; }
  const ModelWeights& weights() const { return weights_; }

  // Runs rows (any mix of sequences; a sequence's rows in position order). Appends their
  // keys/values to caches[row.seq] (whose capacity() must already cover them: see
  // KvCache::Reserve) and writes n_vocab logits for each row with row.logits, in row
  // order, to `logits`.
  absl::Status Forward(absl::Span<const ForwardRow> rows, absl::Span<KvCache* const> caches,
                       RunState* state, ThreadPool* pool, float* logits) const;

  // One sequence: tokens at positions cache->size()... Logits of every token (all_logits,
  // tokens.size() * n_vocab floats) or of the last one only (n_vocab floats).
  absl::Status Eval(absl::Span<const int32_t> tokens, bool all_logits, KvCache* cache,
                    RunState* state, ThreadPool* pool, float* logits) const;

  // As Eval, but writes each token's final hidden state (after the output norm, before the
  // output projection: what llama.cpp pools for embeddings), tokens.size() * n_embd floats.
  absl::Status EvalHidden(absl::Span<const int32_t> tokens, KvCache* cache, RunState* state,
                          ThreadPool* pool, float* hidden) const;

 private:
  Decoder() = default;
  // Eval / Forward writing logits (n_vocab per row) or, with `hidden`, normed hidden states
  // (n_embd per row).
  absl::Status EvalRows(absl::Span<const int32_t> tokens, bool all_rows, KvCache* cache,
                        RunState* state, ThreadPool* pool, float* out, bool hidden) const;
  absl::Status ForwardRows(absl::Span<const ForwardRow> rows, absl::Span<KvCache* const> caches,
                           RunState* state, ThreadPool* pool, float* out, bool hidden) const;
  void ForwardChunk(absl::Span<const ForwardRow> rows, absl::Span<KvCache* const> caches,
                    RunState* s, ThreadPool* pool, float* logits, bool hidden) const;
  void Attention(int64_t il, absl::Span<const ForwardRow> rows, absl::Span<KvCache* const> caches,
                 RunState* s, ThreadPool* pool) const;

  std::unique_ptr<GgufFile> file_;
  ModelConfig config_;
  ModelWeights weights_;
  struct RopeLayer {
    float base;
    float scale;
  };
  std::vector<RopeLayer> rope_;  // per layer (sliding-window layers may differ)
};

}  // namespace jetserve::model

#endif  // JETSERVE_ENGINE_MODEL_DECODER_H_
