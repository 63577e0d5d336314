// WorkerServer: one worker process's gRPC server — the Worker service over a Backend,
// standard grpc.health.v1 (SERVING once started with a loaded backend, NOT_SERVING while
// draining; for "", "jetserve.worker.v1.Worker" and the model name) and server reflection — plus
// the task pool and call tracker behind it.
//
//   prometheus::Registry registry;
//   WorkerMetrics metrics(registry, "m");
//   ASSIGN_OR_RETURN(std::unique_ptr<WorkerServer> server,
//                    WorkerServer::Start(std::move(backend), &metrics,
//                                        {.listen = address, .model_name = "m"}));
//   server->address();                          // "127.0.0.1:41234" when port 0 was asked
//   server->StartDrain(absl::Seconds(30));      // SIGTERM: drain, then
//   server->Shutdown(absl::Now() + absl::Seconds(35));
#ifndef JETSERVE_WORKER_WORKER_SERVER_H_
#define JETSERVE_WORKER_WORKER_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "worker/backend.h"
#include "worker/call_tracker.h"
#include "worker/generate_reactor.h"
#include "worker/listen_address.h"
#include "worker/metrics.h"
#include "worker/task_pool.h"
#include "worker/worker_service.h"

namespace jetserve::worker {

class WorkerServer {
 public:
  struct Options {
    ListenAddress listen;
    std::string model_name;
    // "cpu" or "cuda:N", reported in GetInfo.
    std::string device = "cpu";
    // Where /metrics is served, reported in GetInfo; empty if nowhere.
    std::string metrics_address;
    // Threads running unary calls; 0: the backend's max_concurrent_requests (at most 64).
    int unary_threads = 0;
    GenerateReactor::Options stream;
    // Largest request accepted (bytes).
    int max_receive_message_bytes = 64 << 20;
    // Credentials of the listening port; null: plaintext (worker_tls.h makes TLS ones).
    std::shared_ptr<grpc::ServerCredentials> credentials;
  };

  // Takes the backend, listens and serves. `metrics` is not owned and outlives the server.
  static absl::StatusOr<std::unique_ptr<WorkerServer>> Start(std::unique_ptr<Backend> backend,
                                                             WorkerMetrics* metrics,
                                                             Options options);
  // Shuts down now (cancelling running calls) unless Shutdown ran.
  ~WorkerServer();
  WorkerServer(const WorkerServer&) = delete;
  WorkerServer& operator=(const WorkerServer&) = delete;

  // The bound address: "host:PORT" with the real port, or "unix:PATH".
  const std::string& address() const { return address_; }
  int port() const { return port_; }

  // See WorkerService::StartDrain.
  int StartDrain(absl::Duration grace) { return service_->StartDrain(grace); }
  // Waits until no call is running or `deadline` passes; returns whether idle.
  bool WaitForIdle(absl::Time deadline) { return tracker_->WaitForIdle(deadline); }
  void CancelAll(absl::string_view reason) { tracker_->CancelAll(reason); }
  // Stops the gRPC server: calls still running at `deadline` are cancelled; returns once
  // every call has ended. Idempotent.
  void Shutdown(absl::Time deadline);

  Backend& backend() { return *backend_; }
  WorkerService& service() { return *service_; }

 private:
  WorkerServer() = default;

  // Destroyed in reverse: the gRPC server first, the backend last.
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<CallTracker> tracker_;
  std::unique_ptr<TaskPool> pool_;
  std::unique_ptr<WorkerService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace jetserve::worker

#endif  // JETSERVE_WORKER_WORKER_SERVER_H_
