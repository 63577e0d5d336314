// All workers of all models, and their lifecycle while the gateway runs: a Supervisor per
// local replica, and for remote models a RemoteMonitor (gateway/remote_monitor.h) that
// probes their addresses and registers them with the router. Also answers
// ListModels/GetModel: config + worker info.
//
// Models are added, removed and reloaded at run time (admin API, SIGHUP). These operations
// run one at a time on the pool's lifecycle thread, in arrival order; each reports its
// outcome through a callback once it took effect. A model's set of workers is a
// "generation": a reload starts a new generation beside the old one (kept out of routing),
// switches routing once every new worker serves, then drains and stops the old one — or,
// when the new workers cannot start, stops them and leaves the old ones serving.
// Models with keep_alive start no workers until their first call (which waits, held in the
// router's queue) and stop them after keep_alive without calls.
//
//   WorkerPool pool(config, &router, &metrics);
//   pool.Start();
//   pool.ReloadModel("smollm2", std::nullopt, [](absl::Status s) { ... });
//   jetserve::v1::ModelInfo info = *pool.Describe("smollm2");
//   pool.Stop();  // drains and stops local workers, in parallel
#ifndef JETSERVE_GATEWAY_WORKER_POOL_H_
#define JETSERVE_GATEWAY_WORKER_POOL_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "gateway/config.h"
#include "gateway/metrics.h"
#include "gateway/remote_monitor.h"
#include "gateway/router.h"
#include "gateway/supervisor.h"
#include "grpcpp/security/credentials.h"
#include "jetserve/v1/admin.pb.h"
#include "jetserve/v1/models.pb.h"

namespace jetserve::gateway {

class WorkerPool {
 public:
  using ModelConfig = ::jetserve::config::v1::ModelConfig;
  // Outcome of a lifecycle operation; runs on the lifecycle thread (keep it short).
  using Done = absl::AnyInvocable<void(absl::Status)>;

  // `config` must be validated and have runtime_dir set; router and metrics (nullable)
  // must outlive the pool.
  WorkerPool(const GatewayConfig& config, Router* router, GatewayMetrics* metrics);
  ~WorkerPool();  // Stop()

  // Channel credentials for remote workers (worker_tls); call before Start(). Default
  // plaintext.
  void SetRemoteCredentials(std::shared_ptr<grpc::ChannelCredentials> credentials,
                            std::string tls_server_name) {
    remote_credentials_ = std::move(credentials);
    remote_tls_server_name_ = std::move(tls_server_name);
  }

  // Adds the config's models (registering them with the router) and starts their workers.
  void Start();
  // Fails pending and running operations with UNAVAILABLE (their callbacks run soon after,
  // on the lifecycle thread); starts no more. Stop() does this first.
  void CancelOperations();
  // Fails pending operations with UNAVAILABLE, then drains and stops every worker.
  void Stop();

  // Adds a model. wait = true (admin): without keep_alive, `done` runs once every replica
  // serves, or with the worker's error after removing the model again; wait = false (config
  // files): added at once, failing workers are retried with backoff.
  void LoadModel(ModelConfig config, bool wait, Done done);
  // Removes a model; `done` runs once it takes no new calls (its workers drain after).
  void UnloadModel(std::string name, Done done);
  // Replaces a model's workers (with `config`, or its current config when unset).
  void ReloadModel(std::string name, std::optional<ModelConfig> config, Done done);
  // Makes the served models those of `config` (a re-read config file): removes, adds and
  // reloads what differs; worker_binary and supervision apply to workers started from now
  // on. `done` gets the first error, if any (the other changes still apply).
  void ApplyConfig(GatewayConfig config, Done done);

  // Null when the model is not served.
  std::optional<jetserve::v1::ModelInfo> Describe(const std::string& model) const;
  std::vector<jetserve::v1::ModelInfo> DescribeAll() const;
  std::optional<jetserve::v1::AdminModel> DescribeAdmin(const std::string& model) const;
  std::vector<jetserve::v1::AdminModel> DescribeAllAdmin() const;

 private:
  // One set of workers of one model.
  struct Generation {
    int64_t number = 0;
    std::vector<std::unique_ptr<Supervisor>> local;
    std::unique_ptr<RemoteMonitor> remote;
  };
  struct Entry {
    ModelConfig config;
    std::unique_ptr<Generation> current;  // null while idle (keep_alive)
    int64_t generations = 0;              // generations started so far
    bool loading = false;                 // a keep_alive start is queued or running
    absl::Time resident_since = absl::InfinitePast();
    std::string last_error;
  };
  // Runs with stopping = true when the pool stops before the operation ran.
  using Op = absl::AnyInvocable<void(bool stopping)>;

  void Enqueue(Op op);
  void LifecycleLoop();
  // Builds and starts generation number `entry.generations++` of `config`; local workers
  // stay out of routing until Supervisor::Activate when !routable.
  std::unique_ptr<Generation> StartGeneration(Entry& entry, const ModelConfig& config,
                                              bool routable) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits until every replica serves (remote: the first probe round finished); fails on
  // the first worker exit, after `timeout`, or when the pool stops.
  absl::Status WaitGeneration(const Generation& generation, absl::Duration timeout);
  // Stops (drains) a generation's workers and waits for them.
  static void StopGeneration(std::unique_ptr<Generation> generation);
  Router::ModelOptions RouterOptions(const ModelConfig& config) const;
  // Validates `config` as a new or replacing entry of the current model list.
  absl::Status ValidateModel(ModelConfig* config, bool replacing) const;

  void DoLoad(ModelConfig config, bool wait, Done done);
  void DoUnload(const std::string& name, Done done);
  void DoReload(const std::string& name, std::optional<ModelConfig> config, Done done);
  void DoApply(GatewayConfig config, Done done);
  // keep_alive: starts an idle model's workers for waiting calls.
  void DoWake(const std::string& name);
  // keep_alive: stops resident models whose idle time ran out.
  void CheckIdle();
  void OnDemand(const std::string& name);

  std::shared_ptr<grpc::ChannelCredentials> remote_credentials_;
  std::string remote_tls_server_name_;
  Router* const router_;
  GatewayMetrics* const metrics_;

  mutable absl::Mutex mu_;
  // Global fields (worker_binary, supervision, runtime_dir, ...); models live in models_.
  GatewayConfig config_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<Entry>> models_ ABSL_GUARDED_BY(mu_);
  std::deque<Op> ops_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  std::thread lifecycle_;
  const std::vector<ModelConfig> initial_models_;
};

}  // namespace jetserve::gateway

#endif  // JETSERVE_GATEWAY_WORKER_POOL_H_
