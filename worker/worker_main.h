// WorkerMain: the whole life of a worker process — flags, backend load, serving, drain on
// SIGTERM/SIGINT — shared by the shipped jetserve-worker (factory: LoadBackend) and the
// test-only jetserve-fake-worker (factory: the fake backend). Defines the worker's flags:
//
//   --model PATH --name NAME --listen ADDR [--device cpu|cuda:N] [--metrics-listen ADDR]
//   [--log-level info] [--drain-grace 30s] [--unary-threads N] [--stream-queue N]
//
// Once serving it prints "listening on ADDR" (and "metrics on ADDR") to stdout, with the
// real port when port 0 was asked. SIGTERM/SIGINT: drain (health NOT_SERVING, new calls
// UNAVAILABLE), wait up to --drain-grace for running calls, cancel the rest (a second
// signal cancels at once), exit. Exit codes: 0 after a signal-initiated drain, 1 when
// the backend cannot load or the address cannot be bound, 2 for invalid flags.
//
//   int main(int argc, char** argv) {
//     return jetserve::worker::WorkerMain(argc, argv, {.program = "jetserve-worker",
//                                                      .factory = &LoadBackend});
//   }
#ifndef JETSERVE_WORKER_WORKER_MAIN_H_
#define JETSERVE_WORKER_WORKER_MAIN_H_

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "worker/backend.h"

namespace jetserve::worker {

using BackendFactory =
    std::function<absl::StatusOr<std::unique_ptr<Backend>>(const BackendOptions&)>;

struct WorkerMainOptions {
  const char* program = "jetserve-worker";
  BackendFactory factory;
};

int WorkerMain(int argc, char** argv, const WorkerMainOptions& options);

}  // namespace jetserve::worker

#endif  // JETSERVE_WORKER_WORKER_MAIN_H_
