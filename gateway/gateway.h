// The gateway process assembled: metrics registry (+ /metrics exposer), router, worker pool
// (supervisors, remote monitors), and the gRPC server with the public service,
// grpc.health.v1 and server reflection.
//
// Health: per model (service name = model name) SERVING while the model has a ready
// worker; overall ("") SERVING while the gateway runs and any model is ready.
//
//   absl::StatusOr<std::unique_ptr<Gateway>> gateway = Gateway::Start(config);
//   ... (*gateway)->port() ...
//   (*gateway)->Shutdown();  // stop accepting, finish calls, drain and stop workers
#ifndef JETSERVE_GATEWAY_GATEWAY_H_
#define JETSERVE_GATEWAY_GATEWAY_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "gateway/admin_service.h"
#include "gateway/auth.h"
#include "gateway/config.h"
#include "gateway/metrics.h"
#include "gateway/public_service.h"
#include "gateway/router.h"
#include "gateway/worker_pool.h"
#include "grpcpp/server.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"

namespace jetserve::gateway {

class Gateway {
 public:
  // `config` must be validated (LoadGatewayConfig does that).
  static absl::StatusOr<std::unique_ptr<Gateway>> Start(GatewayConfig config);
  ~Gateway();  // Shutdown()

  // The bound public port (for "host:0" configs); 0 for Unix sockets.
  int port() const { return port_; }
  // The bound /metrics port, 0 when metrics are off.
  int metrics_port() const { return metrics_port_; }
  prometheus::Registry& registry() { return *registry_; }
  // A channel to the public service inside this process (no socket); the HTTP API uses it.
  std::shared_ptr<grpc::Channel> InProcessChannel();
  // API keys (the admin API checks CheckAdmin; a config reload calls Reload).
  Authenticator& auth() { return *auth_; }

  // SIGHUP: applies a re-read config file. Models are added, removed and reloaded to match
  // it (see WorkerPool::ApplyConfig); worker_binary and supervision apply to workers
  // started from now on; the other fields need a restart (logged). Returns at once; the
  // outcome is logged ("config_applied").
  void ApplyConfig(GatewayConfig config);

  // Health NOT_SERVING, queued calls fail UNAVAILABLE and new ones are refused; running
  // calls get supervision.drain_grace_period to finish; then the workers drain and stop.
  void Shutdown();

 private:
  explicit Gateway(GatewayConfig config);
  void OnReadiness(const std::string& model, bool serving);

  GatewayConfig config_;
  bool owns_runtime_dir_ = false;
  int port_ = 0;
  int metrics_port_ = 0;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<GatewayMetrics> metrics_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<PublicService> service_;
  std::unique_ptr<AdminService> admin_;
  std::unique_ptr<grpc::Server> server_;

  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, bool> serving_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jetserve::gateway

#endif  // JETSERVE_GATEWAY_GATEWAY_H_
