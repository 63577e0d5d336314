// WorkerService: the jetserve.worker.v1.Worker gRPC service (callback API) over a Backend.
// Generate streams through a GenerateReactor; unary calls run on a TaskPool through
// UnaryCall; GetInfo and Drain answer inline. WorkerServer builds the gRPC server around
// it; tests may too.
//
//   WorkerService service(backend.get(), &tracker, &pool, {.model_name = "m", ...});
//   builder.RegisterService(&service);
//   ... server built ...
//   service.SetHealthService(server->GetHealthCheckService());  // drain → NOT_SERVING
#ifndef JETSERVE_WORKER_WORKER_SERVICE_H_
#define JETSERVE_WORKER_WORKER_SERVICE_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "jetserve/worker/v1/worker.grpc.pb.h"
#include "rpc/checked_request.h"
#include "worker/backend.h"
#include "worker/call_context.h"
#include "worker/call_tracker.h"
#include "worker/generate_reactor.h"
#include "worker/task_pool.h"

namespace jetserve::worker {

// The health-check service names the worker reports on: overall ("") and its own.
inline constexpr const char* kWorkerServiceName = "jetserve.worker.v1.Worker";

// The methods are registered with rpc::CheckedRequest<...> requests (rpc/checked_request.h):
// a request that does not parse (a string field with invalid UTF-8, broken wire format) is
// answered INVALID_ARGUMENT naming the field, and counted like any other failed call.
class WorkerService final : public rpc::CheckedService<jetserve::worker::v1::Worker> {
 public:
  struct Options {
    // Served model name (ModelInfo.name in GetInfo).
    std::string model_name;
    // "cpu" or "cuda:N" (ModelInfo.device in GetInfo).
    std::string device;
    // Where /metrics is served ("host:port"), empty if nowhere.
    std::string metrics_address;
    GenerateReactor::Options stream;
  };

  // `backend`, `tracker` and `pool` are not owned and outlive the service.
  WorkerService(Backend* backend, CallTracker* tracker, TaskPool* pool, Options options);

  // Lets Drain turn health NOT_SERVING. Not owned (the server's).
  void SetHealthService(grpc::HealthCheckServiceInterface* health);

  // Stops taking calls (UNAVAILABLE "worker is draining"), health NOT_SERVING, cancels the
  // calls still running after `grace` (absl::InfiniteDuration(): never). Returns the calls
  // running when called.
  int StartDrain(absl::Duration grace);
  jetserve::worker::v1::WorkerInfo Info() const;

 private:
  // Registers a unary method answered by a Backend method on the TaskPool; `tokens` gives
  // the prompt tokens the call processed.
  template <typename Request, typename Response>
  void HandleBackendCall(const char* method,
                         absl::StatusOr<Response> (Backend::*call)(const CallContext&,
                                                                   const Request&),
                         int64_t (*tokens)(const Request&, const Response&));
  grpc::ServerUnaryReactor* Drain(
      grpc::CallbackServerContext* ctx,
      const rpc::CheckedRequest<jetserve::worker::v1::DrainRequest>* request,
      jetserve::worker::v1::DrainResponse* response);

  Backend* const backend_;
  CallTracker* const tracker_;
  TaskPool* const pool_;
  const Options options_;
  absl::Mutex mu_;
  grpc::HealthCheckServiceInterface* health_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace jetserve::worker

#endif  // JETSERVE_WORKER_WORKER_SERVICE_H_
