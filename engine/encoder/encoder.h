// The native BERT-family encoder (BERT, DistilBERT, RoBERTa/XLM-R, MiniLM, BGE, E5, GTE):
// hyperparameters, weights and the CPU forward pass. Filled from a GGUF file (encoder_gguf.h)
// or a recognized ONNX graph (encoder_onnx.h); both give the same structs.
//
// A batch is packed: the B sequences' tokens are stacked into one [sum(len), n_embd] matrix,
// so every linear layer is one matrix product that reads each weight row once per batch,
// and attention runs per (sequence, head) over that sequence's own tokens only. No padding
// and no mask: a sequence's result never depends on the rest of the batch.
//
//   EncoderWorkspace ws;                     // reused across calls; grows, never shrinks
//   std::vector<EncoderSequence> batch = {{ids, type_ids}, ...};
//   JS_RETURN_IF_ERROR(encoder.Forward(batch, &pool, &ws));     // ws.hidden: [rows, n_embd]
//   encoder.Pool(batch, Pooling::kMean, &ws, &pooled);          // [B, n_embd]
//   JS_RETURN_IF_ERROR(encoder.Classify(batch, &pool, &ws, &logits));  // [B, num_labels]
#ifndef JETSERVE_ENGINE_ENCODER_ENCODER_H_
#define JETSERVE_ENGINE_ENCODER_ENCODER_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "engine/model/weights.h"
#include "engine/util/thread_pool.h"

namespace jetserve::encoder {

enum class Family { kBert, kDistilBert, kRoberta };
enum class Pooling { kMean, kCls, kLast };
// How a classification head turns the first token's state into logits.
enum class HeadKind {
  kNone,
  kLinear,     // logits = W x + b
  kTanhDense,  // BERT pooler / RoBERTa classifier.dense: logits = Wo tanh(Wd x + bd) + bo
  kReluDense,  // DistilBERT pre_classifier: logits = Wo relu(Wd x + bd) + bo
};

struct EncoderConfig {
  Family family = Family::kBert;
  int n_layer = 0;
  int n_embd = 0;
  int n_head = 0;
  int n_ff = 0;
  int n_vocab = 0;
  int n_pos = 0;            // rows of the position table
  int n_type = 0;           // rows of the token-type table (0: none, as DistilBERT)
  int position_offset = 0;  // RoBERTa: padding_idx + 1
  float eps = 1e-12f;
  Pooling pooling = Pooling::kMean;
  bool normalize = true;  // embeddings are L2-normalized by default
  HeadKind head = HeadKind::kNone;
  std::vector<std::string> labels;  // id2label, index = class id
  bool multi_label = false;         // sigmoid per label instead of softmax

  int head_dim() const { return n_head > 0 ? n_embd / n_head : 0; }
  // Longest sequence the position table allows.
  int max_tokens() const { return n_pos - position_offset; }
};

struct EncoderLayer {
  model::MatrixView q, k, v, o;           // [n_embd, n_embd] (rows = outputs)
  model::MatrixView up;                   // [n_ff, n_embd]
  model::MatrixView down;                 // [n_embd, n_ff]
  std::vector<float> q_b, k_b, v_b, o_b;  // [n_embd]
  std::vector<float> ln1_w, ln1_b;        // after attention, [n_embd]
  std::vector<float> up_b;                // [n_ff]
  std::vector<float> down_b;              // [n_embd]
  std::vector<float> ln2_w, ln2_b;        // after the feed-forward block, [n_embd]
};

struct EncoderWeights {
  model::MatrixView tok_embd;   // [n_vocab, n_embd]
  model::MatrixView pos_embd;   // [n_pos, n_embd]
  model::MatrixView type_embd;  // [n_type, n_embd], absent when n_type == 0
  std::vector<float> emb_ln_w, emb_ln_b;
  std::vector<EncoderLayer> layers;
  model::MatrixView head_dense;  // [n_embd, n_embd] (kTanhDense, kReluDense)
  std::vector<float> head_dense_b;
  model::MatrixView head_out;  // [num_labels, n_embd]
  std::vector<float> head_out_b;
  // Float matrices the loader had to build (transposed or dequantized ONNX weights); the
  // views above may point here. A deque keeps addresses stable as it grows.
  std::deque<std::vector<float>> owned;
};

// One sequence: token ids (special tokens included) and token-type ids (empty: all 0).
struct EncoderSequence {
  absl::Span<const int32_t> ids;
  absl::Span<const int32_t> type_ids;
};

// Activations of one call, sized by the batch's total tokens; reuse to avoid allocations.
struct EncoderWorkspace {
  std::vector<float> hidden;  // [rows, n_embd]: the last layer's output after Forward
  std::vector<float> q, k, v, ctx, tmp, ff;
  std::vector<float> scores;  // per thread: [max_len]
  std::vector<uint8_t> scratch;
  std::vector<int64_t> row_start;  // first row of each sequence, plus the total
};

class GraphEncoder;  // graph_encoder.h

// A matrix view over float rows (row-major [rows, cols]).
model::MatrixView F32Matrix(const float* data, int64_t rows, int64_t cols);

class Encoder {
 public:
  // Checks every weight's shape against the config; InvalidArgument naming the tensor.
  static absl::StatusOr<std::unique_ptr<Encoder>> Create(EncoderConfig config,
                                                         EncoderWeights weights);

  // An encoder whose forward pass is an ONNX graph run by the generic executor (an export
  // the native recognizer does not map); `config` holds what config.json and the graph tell.
  static std::unique_ptr<Encoder> FromGraph(EncoderConfig config,
                                            std::shared_ptr<const GraphEncoder> graph);

  const EncoderConfig& config() const { return config_; }
  int num_labels() const;
  // The graph this encoder runs, or null for the native forward pass.
  const GraphEncoder* graph() const { return graph_.get(); }

  // Runs the layer stack; the result is in ws->hidden, packed by sequence. InvalidArgument
  // for an empty sequence, an id out of the vocabulary or a sequence over max_tokens().
  absl::Status Forward(absl::Span<const EncoderSequence> batch, ThreadPool* pool,
                       EncoderWorkspace* ws) const;
  // Pools ws->hidden (after Forward) into out[B * n_embd].
  void Pool(Pooling pooling, const EncoderWorkspace& ws, std::vector<float>* out) const;
  // Forward + classification head: out[B * num_labels] logits. FailedPrecondition without a head.
  absl::Status Classify(absl::Span<const EncoderSequence> batch, ThreadPool* pool,
                        EncoderWorkspace* ws, std::vector<float>* out) const;

 private:
  Encoder(EncoderConfig config, EncoderWeights weights)
      : config_(std::move(config)), weights_(std::move(weights)) {}
  absl::Status Check() const;
  void Linear(const model::MatrixView& w, const std::vector<float>& b, const float* x, int64_t n,
              float* y, ThreadPool* pool, EncoderWorkspace* ws) const;
  void Attention(const EncoderWorkspace& ws, int64_t num_seqs, float* ctx, ThreadPool* pool,
                 std::vector<float>* scores) const;

  EncoderConfig config_;
  EncoderWeights weights_;
  std::shared_ptr<const GraphEncoder> graph_;
};

}  // namespace jetserve::encoder

#endif  // JETSERVE_ENGINE_ENCODER_ENCODER_H_
