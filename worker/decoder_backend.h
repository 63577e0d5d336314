// DecoderBackend: the worker's Backend for GGUF decoder models on the CPU. Serves
// Generate (one request at a time on its own thread, through engine/runtime's Generator),
// Tokenize and Detokenize. Requests wait in a FIFO queue; the continuous-batching
// scheduler (issue 7) replaces the one-at-a-time loop without changing this interface.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Backend> b, LoadDecoderBackend(options));
#ifndef JETSERVE_WORKER_DECODER_BACKEND_H_
#define JETSERVE_WORKER_DECODER_BACKEND_H_

#include <memory>

#include "absl/status/statusor.h"
#include "worker/backend.h"

namespace jetserve::worker {

// Loads the model and tokenizer from options.model_path (a GGUF file). CPU only:
// UNIMPLEMENTED for a CUDA device.
absl::StatusOr<std::unique_ptr<Backend>> LoadDecoderBackend(const BackendOptions& options);

}  // namespace jetserve::worker

#endif  // JETSERVE_WORKER_DECODER_BACKEND_H_
