// DecoderBackend: the worker's Backend for GGUF decoder models on the CPU. Serves
// Generate through engine/runtime's BatchScheduler (continuous batching over a paged KV
// cache sized from --kv-memory / --max-seqs / --ctx, admission by free blocks, bounded
// waiting queue, preemption, cancellation at the next step, paused slow readers),
// Tokenize and Detokenize. Capacity() advertises max_seqs and the KV blocks.
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
