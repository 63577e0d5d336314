// Loads the native encoder from a model file: an ONNX export (a .onnx file or a folder with
// model.onnx, config.json and sentence-transformers files beside it) whose graph is recognized
// as a BERT-family encoder, or a GGUF file of llama.cpp's `bert` architecture.
//
// An ONNX graph that is not recognized (or with onnx_path = kExecutor) runs on the generic
// ONNX executor instead (graph_encoder.h), with the same Encoder interface; it is refused only
// when the executor refuses it too (an unsupported operator, named), and the error then gives
// both reasons.
//
// ONNX recognition follows the parameter names torch.onnx.export keeps (biases, norms and
// embeddings: `*encoder.layer.N.attention.self.query.bias`, DistilBERT's
// `*transformer.layer.N.attention.q_lin.bias`, …) and the graph from each bias to its
// MatMul/Gemm and weight, so anonymous weights (`onnx::MatMul_470`) are found too. Weights
// that are computed from constants (int8 weight-only quantization: Cast + Mul by a scale,
// DequantizeLinear, Transpose) are folded at load. Float embedding tables are used in place;
// linear weights are stored [in, out] by ONNX and transposed once into [out, in] rows.
//
//   JS_ASSIGN_OR_RETURN(std::unique_ptr<EncoderModel> m, LoadEncoder("models/minilm"));
//   m->encoder->Forward(batch, &pool, &ws);
#ifndef JETSERVE_ENGINE_ENCODER_ENCODER_LOADER_H_
#define JETSERVE_ENGINE_ENCODER_ENCODER_LOADER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/encoder/encoder.h"
#include "engine/format/gguf_reader.h"
#include "engine/onnx/onnx_model.h"

namespace jetserve::encoder {

// How an ONNX export runs: the native encoder when the graph is recognized, else the generic
// executor (kAuto); or forced to one of them (kNative fails on an unrecognized graph).
enum class OnnxPath { kAuto, kNative, kExecutor };

struct EncoderLoadOptions {
  int n_head = 0;  // 0: from config.json / GGUF metadata, else inferred from the graph
  OnnxLoadOptions onnx;
  OnnxPath onnx_path = OnnxPath::kAuto;
};

// An encoder with the file data its weights point into.
struct EncoderModel {
  std::unique_ptr<OnnxModel> onnx;
  std::unique_ptr<GgufFile> gguf;
  std::unique_ptr<Encoder> encoder;
  std::string dir;  // folder of the model file (tokenizer.json, config.json)
};

absl::StatusOr<std::unique_ptr<EncoderModel>> LoadOnnxEncoder(
    const std::string& path, const EncoderLoadOptions& options = {});
absl::StatusOr<std::unique_ptr<EncoderModel>> LoadGgufEncoder(
    const std::string& path, const EncoderLoadOptions& options = {});
// By file kind: *.gguf, *.onnx, or a folder holding model.onnx.
absl::StatusOr<std::unique_ptr<EncoderModel>> LoadEncoder(const std::string& path,
                                                          const EncoderLoadOptions& options = {});

}  // namespace jetserve::encoder

#endif  // JETSERVE_ENGINE_ENCODER_ENCODER_LOADER_H_
