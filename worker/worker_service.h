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
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "jetserve/worker/v1/worker.grpc.pb.h"
#include "worker/backend.h"
#include "worker/call_tracker.h"
#include "worker/generate_reactor.h"
#include "worker/task_pool.h"

namespace jetserve::worker {

// The health-check service names the worker reports on: overall ("") and its own.
inline constexpr const char* kWorkerServiceName = "jetserve.worker.v1.Worker";

class WorkerService final : public jetserve::worker::v1::Worker::CallbackService {
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

  grpc::ServerWriteReactor<jetserve::v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* ctx,
      const jetserve::worker::v1::GenerateRequest* request) override;
  grpc::ServerUnaryReactor* Classify(grpc::CallbackServerContext* ctx,
                                     const jetserve::worker::v1::ClassifyRequest* request,
                                     jetserve::v1::ClassifyResponse* response) override;
  grpc::ServerUnaryReactor* Rerank(grpc::CallbackServerContext* ctx,
                                   const jetserve::worker::v1::RerankRequest* request,
                                   jetserve::v1::RerankResponse* response) override;
  grpc::ServerUnaryReactor* Embed(grpc::CallbackServerContext* ctx,
                                  const jetserve::worker::v1::EmbedRequest* request,
                                  jetserve::v1::EmbedResponse* response) override;
  grpc::ServerUnaryReactor* Tokenize(grpc::CallbackServerContext* ctx,
                                     const jetserve::worker::v1::TokenizeRequest* request,
                                     jetserve::v1::TokenizeResponse* response) override;
  grpc::ServerUnaryReactor* Detokenize(grpc::CallbackServerContext* ctx,
                                       const jetserve::worker::v1::DetokenizeRequest* request,
                                       jetserve::v1::DetokenizeResponse* response) override;
  grpc::ServerUnaryReactor* GetInfo(grpc::CallbackServerContext* ctx,
                                    const jetserve::worker::v1::GetInfoRequest* request,
                                    jetserve::worker::v1::WorkerInfo* response) override;
  grpc::ServerUnaryReactor* Drain(grpc::CallbackServerContext* ctx,
                                  const jetserve::worker::v1::DrainRequest* request,
                                  jetserve::worker::v1::DrainResponse* response) override;

 private:
  Backend* const backend_;
  CallTracker* const tracker_;
  TaskPool* const pool_;
  const Options options_;
  absl::Mutex mu_;
  grpc::HealthCheckServiceInterface* health_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace jetserve::worker

#endif  // JETSERVE_WORKER_WORKER_SERVICE_H_
