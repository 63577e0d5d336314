#include "worker/worker_server.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"

namespace jetserve::worker {

absl::StatusOr<std::unique_ptr<WorkerServer>> WorkerServer::Start(std::unique_ptr<Backend> backend,
                                                                  WorkerMetrics* metrics,
                                                                  Options options) {
  std::unique_ptr<WorkerServer> self(new WorkerServer());
  Backend* raw_backend = backend.get();
  self->backend_ = std::move(backend);

  const int capacity = std::max(1, self->backend_->Capacity().max_concurrent_requests());
  const int threads = options.unary_threads > 0 ? options.unary_threads : std::min(capacity, 64);
  self->pool_ = std::make_unique<TaskPool>(threads);
  TaskPool* pool = self->pool_.get();
  self->tracker_ = std::make_unique<CallTracker>(CallTracker::Options{
      .model = options.model_name, .metrics = metrics, .queued = [raw_backend, pool]() {
        return raw_backend->Load().queued + pool->Pending();
      }});
  self->service_ = std::make_unique<WorkerService>(
      raw_backend, self->tracker_.get(), pool,
      WorkerService::Options{.model_name = options.model_name,
                             .device = options.device,
                             .metrics_address = options.metrics_address,
                             .stream = options.stream});

  // Process-wide switches of gRPC; both idempotent.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(
      options.listen.ToString(),
      options.credentials != nullptr ? options.credentials : grpc::InsecureServerCredentials(),
      &selected_port);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  // gRPC enables SO_REUSEPORT by default: two workers would then share one port silently.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(self->service_.get());
  self->server_ = builder.BuildAndStart();
  if (self->server_ == nullptr || (!options.listen.is_unix() && selected_port == 0)) {
    self->server_.reset();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen.ToString(),
                     " (address in use, or not an address of this machine?)"));
  }
  if (options.listen.is_unix()) {
    self->address_ = options.listen.ToString();
  } else {
    self->port_ = selected_port;
    self->address_ = absl::StrCat(options.listen.host, ":", selected_port);
  }
  grpc::HealthCheckServiceInterface* health = self->server_->GetHealthCheckService();
  if (health != nullptr) {
    health->SetServingStatus("", true);
    health->SetServingStatus(kWorkerServiceName, true);
    health->SetServingStatus(options.model_name, true);
    self->service_->SetHealthService(health);
  }
  return self;
}

WorkerServer::~WorkerServer() {
  Shutdown(absl::Now());
  server_.reset();
  pool_.reset();  // runs nothing more: every call has ended
  service_.reset();
  tracker_.reset();
  backend_.reset();
}

void WorkerServer::Shutdown(absl::Time deadline) {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  service_->StartDrain(absl::InfiniteDuration());
  server_->Shutdown(absl::ToChronoTime(deadline));
}

}  // namespace jetserve::worker
