// EncoderBackend: the worker's Backend for BERT-family encoder models (ONNX folder/file or
// GGUF `bert`) on the CPU, through engine/encoder's TextEncoder. Serves Embed, Classify
// (the model's labels, or zero-shot over candidate labels for NLI models), Rerank
// (cross-encoders), Tokenize and Detokenize. Calls run one at a time on the backend's thread
// pool (the worker's task pool may hand several; they wait on a mutex).
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Backend> b, LoadEncoderBackend(options));
#ifndef JETSERVE_WORKER_ENCODER_BACKEND_H_
#define JETSERVE_WORKER_ENCODER_BACKEND_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/encoder/text_encoder.h"
#include "worker/backend.h"

namespace jetserve::worker {

// Loads the encoder and its tokenizer from options.model_path. CPU only: UNIMPLEMENTED for a
// CUDA device.
absl::StatusOr<std::unique_ptr<Backend>> LoadEncoderBackend(const BackendOptions& options);

// Whether `path` is a GGUF file of an encoder architecture (bert); false on any error.
bool IsEncoderGguf(const std::string& path);

// Request fields as engine options (shared with DecoderBackend, which serves Embed and
// zero-shot Classify on decoder models). TRUNCATION_UNSPECIFIED is TRUNCATION_END.
absl::StatusOr<encoder::Truncation> ToTruncation(jetserve::v1::Truncation t);
absl::StatusOr<encoder::EmbedOptions> ToEmbedOptions(const jetserve::v1::EmbedRequest& r);
absl::StatusOr<encoder::ZeroShotOptions> ToZeroShotOptions(const jetserve::v1::ClassifyRequest& r);

// Appends scores (best first) to `out`, at most top_k (0: all), each with its index among
// `names`.
void AddLabelScores(const std::vector<encoder::LabelScore>& scores,
                    const std::vector<std::string>& names, int top_k,
                    jetserve::v1::Classification* out);

}  // namespace jetserve::worker

#endif  // JETSERVE_WORKER_ENCODER_BACKEND_H_
