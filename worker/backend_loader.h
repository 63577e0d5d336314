// LoadBackend: the factory the shipped jetserve-worker uses to turn --model/--device into
// a Backend. It checks what can be checked before any engine exists (the file is there,
// readable, of a known format; the device is usable by this build) and picks the engine
// for the format. Until the engine issues land no engine exists, so every load fails with
// a message saying so; the worker then exits non-zero. Test binaries use their own
// factory (tests/service/fake_backend.h).
//
//   absl::StatusOr<std::unique_ptr<Backend>> backend = LoadBackend(options);
//   if (!backend.ok()) { std::cerr << backend.status().message(); return 1; }
#ifndef JETSERVE_WORKER_BACKEND_LOADER_H_
#define JETSERVE_WORKER_BACKEND_LOADER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "worker/backend.h"

namespace jetserve::worker {

// Errors: NOT_FOUND (no such file), PERMISSION_DENIED (unreadable), INVALID_ARGUMENT
// (not a GGUF or ONNX model), FAILED_PRECONDITION (no CUDA in this build or no driver),
// NOT_FOUND also for a CUDA ordinal this machine lacks, UNIMPLEMENTED (no engine for the
// format yet).
absl::StatusOr<std::unique_ptr<Backend>> LoadBackend(const BackendOptions& options);

}  // namespace jetserve::worker

#endif  // JETSERVE_WORKER_BACKEND_LOADER_H_
