// Supervises one local worker process (one replica of one model): spawns
// `jetserve-worker --model PATH --name NAME --listen unix:SOCK --device D
// [--metrics-listen ADDR] [args...]`,
// waits for grpc.health.v1 SERVING, registers it with the router, polls its health and
// capacity every health_interval, and restarts it with exponential backoff when it exits
// or stops answering probes (hung: killed after kFailedProbesToRestart in a row).
// Stop() takes it out of routing, waits for the calls routed to it to end and drains it
// (Drain RPC), all within drain_grace_period, then sends SIGTERM, then SIGKILL after
// kill_grace_period, and reaps it.
//
// Each supervisor runs one thread. Children get their own process group (a terminal's
// Ctrl-C reaches the gateway only, which then drains them) and PR_SET_PDEATHSIG, so they
// die with the gateway even if it is killed.
#ifndef JETSERVE_GATEWAY_SUPERVISOR_H_
#define JETSERVE_GATEWAY_SUPERVISOR_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/backoff.h"
#include "gateway/metrics.h"
#include "gateway/router.h"
#include "jetserve/v1/models.pb.h"

namespace jetserve::gateway {

struct SupervisorOptions {
  std::string model;
  int replica = 0;
  // Names the worker in logs and the router; default "MODEL/REPLICA". Workers of one
  // model that run at the same time (old and new ones during a reload) need distinct ids.
  std::string id;
  // Whether the worker takes calls once ready. A supervisor started unroutable runs and
  // probes its worker but keeps it out of routing until Activate() (reloads switch
  // routing only once every new worker is ready).
  bool routable = true;
  std::string worker_binary;
  std::string model_path;
  std::string device;
  std::string socket_path;  // without the "unix:" prefix
  // --metrics-listen for this replica; empty: none.
  std::string metrics_listen;
  std::vector<std::string> extra_args;
  std::map<std::string, std::string> env;
  absl::Duration health_interval = absl::Seconds(2);
  absl::Duration startup_timeout = absl::Seconds(300);
  absl::Duration drain_grace_period = absl::Seconds(30);
  absl::Duration kill_grace_period = absl::Seconds(5);
  Backoff::Options backoff;
};

class Supervisor {
 public:
  enum class State { kStarting, kServing, kNotServing, kBackoff, kStopping, kStopped };
  struct Status {
    State state = State::kStarting;
    int consecutive_failures = 0;
    int exits = 0;                                 // worker exits (or failed spawns) so far
    std::string detail;                            // last failure, for ModelInfo.state_detail
    std::optional<jetserve::v1::ModelInfo> model;  // as the worker reported it
  };

  // `router` and `metrics` (nullable) must outlive the supervisor.
  Supervisor(SupervisorOptions options, Router* router, GatewayMetrics* metrics);
  ~Supervisor();  // Stop()

  void Start();
  // Asks the thread to stop the worker; returns at once. Join() waits for it.
  void RequestStop();
  void Join();
  void Stop() {
    RequestStop();
    Join();
  }

  Status GetStatus() const;
  // Lets a supervisor started with routable = false route calls to its worker.
  void Activate();
  const std::string& id() const { return id_; }

 private:
  struct Exit {
    bool exited = false;
    std::string description;  // "exited with status 1", "killed by signal 9"
  };

  void Run();
  // Starts the process; returns its pid or an error (exec failures included).
  absl::StatusOr<pid_t> Spawn();
  // Non-blocking waitpid; fills `exit` once the child is gone.
  bool Reaped(pid_t pid, Exit* exit);
  // Drain, SIGTERM, SIGKILL; returns once the child is reaped.
  void Terminate(pid_t pid, WorkerEndpoint* endpoint, bool ready);
  // Waits up to `timeout` or until stop is requested; returns true when stopping.
  bool SleepFor(absl::Duration timeout);
  void SetStatus(State state, const std::string& detail);
  // Registers the worker's state with the router (held back while unroutable).
  void Publish(const std::shared_ptr<WorkerEndpoint>& endpoint, bool ready, int capacity);

  const SupervisorOptions options_;
  const std::string id_;
  Router* const router_;
  GatewayMetrics* const metrics_;
  std::thread thread_;

  // Serializes router updates with Activate(); never held while taking mu_.
  absl::Mutex publish_mu_;
  bool routable_ ABSL_GUARDED_BY(publish_mu_);
  std::shared_ptr<WorkerEndpoint> published_ ABSL_GUARDED_BY(publish_mu_);
  bool published_ready_ ABSL_GUARDED_BY(publish_mu_) = false;
  int published_capacity_ ABSL_GUARDED_BY(publish_mu_) = 0;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jetserve::gateway

#endif  // JETSERVE_GATEWAY_SUPERVISOR_H_
