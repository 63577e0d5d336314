// Routes calls by model name to a ready worker with the fewest outstanding calls. Each
// worker takes at most min(its advertised capacity, the model's max_in_flight_per_worker)
// calls at once; further calls wait in the model's bounded FIFO queue
// (RESOURCE_EXHAUSTED when full, DEADLINE_EXCEEDED when their deadline passes while
// waiting, UNAVAILABLE when no worker is ready). Thread-safe.
//
// Workers are registered by the worker pool (supervisors and remote monitors):
//   router.SetWorker("smollm2", endpoint, /*ready=*/true, /*capacity=*/8);
// A call asks for a lease; the grant runs exactly once, inline or later from another
// thread, never under the router's lock:
//   uint64_t ticket = router.Acquire("smollm2", deadline, [](absl::StatusOr<WorkerLease> l) {
//     if (l.ok()) Forward(l->endpoint());  // the slot frees when the lease is destroyed
//   });
//   router.Cancel("smollm2", ticket);  // client went away while queued
//
// Models come and go at run time (AddModel/RemoveModel). A model on hold (SetHold: its
// workers are starting on demand) queues calls while no worker is ready instead of failing
// them, and a call to a held model with no ready worker tells the demand listener.
#ifndef JETSERVE_GATEWAY_ROUTER_H_
#define JETSERVE_GATEWAY_ROUTER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/metrics.h"
#include "gateway/request_queue.h"
#include "gateway/worker_endpoint.h"

namespace jetserve::gateway {

class Router;

// One worker's routing state; guarded by the router's mutex.
struct RouterSlot {
  std::shared_ptr<WorkerEndpoint> endpoint;
  bool ready = false;
  int limit = 0;
  int outstanding = 0;
  uint64_t last_grant = 0;  // tie-break: least recently used first
};

// A claim on one call slot of one worker; gives the slot back when destroyed.
class WorkerLease {
 public:
  WorkerLease() = default;
  WorkerLease(WorkerLease&& other) noexcept { *this = std::move(other); }
  WorkerLease& operator=(WorkerLease&& other) noexcept;
  ~WorkerLease() { Release(); }

  WorkerEndpoint& endpoint() const { return *endpoint_; }
  const std::shared_ptr<WorkerEndpoint>& shared_endpoint() const { return endpoint_; }
  void Release();

 private:
  friend class Router;
  Router* router_ = nullptr;
  std::string model_;
  uint64_t model_id_ = 0;  // the model's incarnation: a re-added name is another model
  std::shared_ptr<RouterSlot> slot_;
  std::shared_ptr<WorkerEndpoint> endpoint_;
};

class Router {
 public:
  using Grant = absl::AnyInvocable<void(absl::StatusOr<WorkerLease>)>;

  struct ModelOptions {
    std::string name;
    int queue_limit = 64;
    std::optional<int> max_in_flight_per_worker;
  };

  struct ModelStatus {
    int ready_workers = 0;
    int total_workers = 0;
    int queued = 0;
    int in_flight = 0;
    bool hold = false;
    // Last Acquire or lease release; InfinitePast before the first call.
    absl::Time last_activity = absl::InfinitePast();
  };

  // `metrics` may be null (unit tests); it must outlive the router.
  explicit Router(GatewayMetrics* metrics);
  ~Router();  // calls Shutdown()

  // Adds a model; for a model already present, updates its options (queued calls and
  // workers stay).
  void AddModel(const ModelOptions& options);
  bool HasModel(const std::string& model) const;
  // Removes a model: its queued calls fail UNAVAILABLE, new calls get NOT_FOUND; calls
  // running on its workers go on (their leases outlive the model).
  void RemoveModel(const std::string& model);
  // While held, calls to the model wait in its queue when no worker is ready (its workers
  // are starting), and the model counts as serving. Releasing the hold with no ready worker
  // fails the queued calls with UNAVAILABLE and `reason`.
  void SetHold(const std::string& model, bool hold, const std::string& reason = "");
  // Called (outside the lock) with the model name when a call arrives for a held model
  // that has no ready worker. Set before the first Acquire.
  void SetDemandListener(std::function<void(const std::string&)> listener);

  // Called with (model, serving) whenever a model gains its first or loses its last
  // ready worker. Runs outside the router's lock. Set before workers are registered.
  void SetReadinessListener(std::function<void(const std::string&, bool)> listener);

  // Adds or updates the worker `endpoint->id()`. A different endpoint object under the same
  // id (a restarted process) replaces the old one; calls still on the old one end by
  // themselves. `capacity` (advertised max_concurrent_requests) is ignored unless ready.
  void SetWorker(const std::string& model, std::shared_ptr<WorkerEndpoint> endpoint, bool ready,
                 int capacity);
  void RemoveWorker(const std::string& model, const std::string& worker_id);
  // A call on `endpoint` failed with UNAVAILABLE before any response (process gone,
  // connection refused, draining): route no new calls to it until its monitor's next
  // successful probe sets it ready again. No-op when `endpoint` was already replaced.
  void MarkUnavailable(const std::string& model, const WorkerEndpoint* endpoint);

  // Returns a ticket for Cancel (0 when `grant` already ran).
  uint64_t Acquire(const std::string& model, absl::Time deadline, Grant grant);
  // Fails a still-queued call with CANCELLED; no-op once it was granted.
  void Cancel(const std::string& model, uint64_t ticket);

  ModelStatus Status(const std::string& model) const;

  // Fails queued calls with UNAVAILABLE and refuses new ones; stops the deadline thread.
  void Shutdown();
  // Waits until no lease is held (every routed call ended) or `deadline` passes; returns
  // whether idle. After Shutdown, this lets the gateway answer new calls UNAVAILABLE
  // itself while the running ones finish, before the gRPC server stops taking calls.
  bool WaitIdle(absl::Time deadline);

 private:
  friend class WorkerLease;
  using Slot = RouterSlot;
  struct Pending {
    Grant grant;
  };
  struct Model {
    Model(const ModelOptions& o, uint64_t model_id)
        : options(o), id(model_id), queue(o.queue_limit) {}
    ModelOptions options;
    uint64_t id;
    absl::flat_hash_map<std::string, std::shared_ptr<Slot>> workers;
    RequestQueue<Pending> queue;
    int in_flight = 0;
    bool serving = false;
    bool hold = false;
    std::string hold_reason;
    absl::Time last_activity = absl::InfinitePast();
  };
  struct Ready {
    Grant grant;
    absl::StatusOr<WorkerLease> result;
  };

  void Release(const std::string& model, uint64_t model_id, const std::shared_ptr<Slot>& slot);
  bool AnyReadyLocked(const Model& m) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Picks a slot with room; null when none. Caller holds mu_.
  std::shared_ptr<Slot> PickLocked(Model& m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  WorkerLease LeaseLocked(const std::string& name, Model& m, const std::shared_ptr<Slot>& slot)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Grants queued calls while slots are free; fails them all when no worker is ready.
  void DispatchLocked(const std::string& name, Model& m, std::vector<Ready>* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Updates gauges and collects a readiness change.
  void UpdateLocked(const std::string& name, Model& m,
                    std::vector<std::pair<std::string, bool>>* changes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Deliver(std::vector<Ready> ready, std::vector<std::pair<std::string, bool>> changes);
  void DeadlineLoop();

  GatewayMetrics* const metrics_;
  // Serializes readiness notifications so the listener always ends on the latest state.
  // Acquired before mu_, never while holding it.
  absl::Mutex listener_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Model>> models_ ABSL_GUARDED_BY(mu_);
  std::function<void(const std::string&, bool)> listener_ ABSL_GUARDED_BY(mu_);
  std::function<void(const std::string&)> demand_listener_ ABSL_GUARDED_BY(mu_);
  uint64_t next_model_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t grants_ ABSL_GUARDED_BY(mu_) = 0;
  int leases_ ABSL_GUARDED_BY(mu_) = 0;  // held, all models (removed ones too)
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  std::thread deadline_thread_;
};

}  // namespace jetserve::gateway

#endif  // JETSERVE_GATEWAY_ROUTER_H_
