// An encoder ONNX graph run by the generic executor (engine/onnx/onnx_executor.h): the path
// for exports the native BERT-family recognizer does not map (other architectures, fused or
// reordered graphs), and an independent check of the native path on the ones it does.
//
// Inputs are found by name: input_ids (required), attention_mask, token_type_ids,
// position_ids; any other graph input is refused at load. A batch is sorted by length and
// run in groups of similar length, each padded to its longest sequence (pad id 0, attention
// mask 0; a graph without an attention-mask input gets groups of equal length only, as
// padding would change its result), and the hidden states of the real tokens
// are packed into EncoderWorkspace::hidden exactly as the native Encoder::Forward leaves them,
// so pooling and everything above it is shared. Outputs: the hidden states are the output
// named last_hidden_state, else the first float output of rank 3; logits are the output named
// logits, else the first float output of rank 2.
//
//   EncoderConfig c;   // labels, pooling, ... from config.json; graph sizes filled in here
//   JS_ASSIGN_OR_RETURN(std::unique_ptr<GraphEncoder> g, GraphEncoder::Create(onnx, &c));
//   JS_RETURN_IF_ERROR(g->Forward(batch, &pool, &ws));      // ws.hidden, ws.row_start
#ifndef JETSERVE_ENGINE_ENCODER_GRAPH_ENCODER_H_
#define JETSERVE_ENGINE_ENCODER_GRAPH_ENCODER_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/encoder/encoder.h"
#include "engine/onnx/onnx_executor.h"
#include "engine/onnx/onnx_model.h"

namespace jetserve::encoder {

class GraphEncoder {
 public:
  // Plans `model` (which must outlive the GraphEncoder). Sets config->n_embd, n_vocab (from
  // the table input_ids index, when the graph has one), n_type and, when config->n_pos is 0,
  // the position limit from a `*position_embeddings*` table.
  static absl::StatusOr<std::unique_ptr<GraphEncoder>> Create(const OnnxModel& model,
                                                              EncoderConfig* config);

  // Hidden states of every token, packed by sequence; FailedPrecondition if the graph has
  // no hidden-state output (a classifier exported with logits only).
  absl::Status Forward(absl::Span<const EncoderSequence> batch, ThreadPool* pool,
                       EncoderWorkspace* ws) const;
  // out[B * num_labels()] logits; FailedPrecondition without a logits output.
  absl::Status Classify(absl::Span<const EncoderSequence> batch, ThreadPool* pool,
                        std::vector<float>* out) const;

  int num_labels() const { return num_labels_; }
  bool has_hidden() const { return hidden_out_ >= 0; }
  const OnnxExecutor& executor() const { return *exec_; }

 private:
  GraphEncoder() = default;
  absl::Status Run(absl::Span<const EncoderSequence> batch, ThreadPool* pool,
                   std::vector<OnnxValue>* outputs) const;
  // Batch indices grouped for one run each (similar lengths; equal without a mask input).
  std::vector<std::vector<size_t>> Groups(absl::Span<const EncoderSequence> batch) const;

  std::unique_ptr<OnnxExecutor> exec_;
  EncoderConfig config_;  // limits checked per call
  int ids_ = -1, mask_ = -1, types_ = -1, positions_ = -1;
  int hidden_out_ = -1, logits_out_ = -1;
  int num_labels_ = 0;
};

}  // namespace jetserve::encoder

#endif  // JETSERVE_ENGINE_ENCODER_GRAPH_ENCODER_H_
