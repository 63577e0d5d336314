// All workers of all models: a Supervisor per local replica, and for remote models a
// monitor thread that probes the static addresses (or the addresses a DNS name resolves
// to, re-resolved every resolve_interval with getaddrinfo) every health_interval and
// registers them with the router. Also answers ListModels/GetModel: config + worker info.
//
//   WorkerPool pool(config, &router, &metrics);
//   pool.Start();
//   jetserve::v1::ModelInfo info = *pool.Describe("smollm2");
//   pool.Stop();  // drains and stops local workers, in parallel
#ifndef JETSERVE_GATEWAY_WORKER_POOL_H_
#define JETSERVE_GATEWAY_WORKER_POOL_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "gateway/config.h"
#include "gateway/metrics.h"
#include "gateway/router.h"
#include "gateway/supervisor.h"
#include "jetserve/v1/models.pb.h"

namespace jetserve::gateway {

// Resolves "host:port" to "ip:port" strings (IPv6 in brackets), sorted and unique.
absl::StatusOr<std::vector<std::string>> ResolveHostPort(const std::string& host_port);

class WorkerPool {
 public:
  // `config` must be validated and have runtime_dir set; router and metrics (nullable)
  // must outlive the pool.
  WorkerPool(const GatewayConfig& config, Router* router, GatewayMetrics* metrics);
  ~WorkerPool();  // Stop()

  void Start();
  void Stop();

  // Null when the model is not configured.
  std::optional<jetserve::v1::ModelInfo> Describe(const std::string& model) const;
  std::vector<jetserve::v1::ModelInfo> DescribeAll() const;

 private:
  struct RemoteModel {
    const jetserve::config::v1::ModelConfig* config;
    std::thread thread;
    mutable absl::Mutex mu;
    int total ABSL_GUARDED_BY(mu) = 0;
    std::optional<jetserve::v1::ModelInfo> reported ABSL_GUARDED_BY(mu);
    std::string detail ABSL_GUARDED_BY(mu);
  };

  void MonitorRemote(RemoteModel* remote);
  bool SleepFor(absl::Duration timeout);

  const GatewayConfig config_;
  Router* const router_;
  GatewayMetrics* const metrics_;
  std::map<std::string, std::vector<std::unique_ptr<Supervisor>>> local_;
  std::map<std::string, std::unique_ptr<RemoteModel>> remote_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace jetserve::gateway

#endif  // JETSERVE_GATEWAY_WORKER_POOL_H_
