// The remote workers of one model (one generation of it: ModelConfig.remote): a thread
// that probes the static addresses, or the addresses a DNS name resolves to (re-resolved
// every resolve_interval with getaddrinfo; a failed resolution keeps the workers known),
// every health_interval, and registers them with the router as ready or not (one failed
// probe of a ready worker is tolerated, kFailedProbesToUnready in a row are not). Owned by
// the WorkerPool, which reads GetStatus() for readiness and ListModels/GetModel.
//
//   RemoteMonitor monitor({.model = config, .health_interval = absl::Seconds(2)}, &router);
//   ... monitor.GetStatus().probed ...
//   monitor.RequestStop();  // returns at once (stop many, then join each)
//   monitor.Join();         // its workers leave the router
#ifndef JETSERVE_GATEWAY_REMOTE_MONITOR_H_
#define JETSERVE_GATEWAY_REMOTE_MONITOR_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/router.h"
#include "grpcpp/security/credentials.h"
#include "jetserve/config/v1/gateway_config.pb.h"
#include "jetserve/v1/models.pb.h"

namespace jetserve::gateway {

// Resolves "host:port" to "ip:port" strings (IPv6 in brackets), sorted and unique.
absl::StatusOr<std::vector<std::string>> ResolveHostPort(const std::string& host_port);

class RemoteMonitor {
 public:
  struct Options {
    // A model with `remote` set.
    jetserve::config::v1::ModelConfig model;
    absl::Duration health_interval = absl::Seconds(2);
    // The model's generation (WorkerPool): two generations may watch the same addresses
    // during a reload, so those after the first get distinct router ids ("ADDR@gN").
    int64_t generation = 0;
    // Channel credentials (worker_tls); null: plaintext.
    std::shared_ptr<grpc::ChannelCredentials> credentials;
    std::string tls_server_name;
  };
  struct Status {
    bool probed = false;                              // the first probe round finished
    int total = 0;                                    // addresses known
    std::optional<jetserve::v1::ModelInfo> reported;  // by a ready worker, the latest
    std::string detail;  // why workers are not ready (first error), or empty
  };

  // Starts probing. `router` must outlive the monitor.
  RemoteMonitor(Options options, Router* router);
  ~RemoteMonitor();  // RequestStop(), Join()
  RemoteMonitor(const RemoteMonitor&) = delete;
  RemoteMonitor& operator=(const RemoteMonitor&) = delete;

  void RequestStop();
  // Waits for the thread, which removes the model's workers from the router as it ends.
  void Join();
  Status GetStatus() const;

 private:
  void Run();
  // Waits up to `timeout` or until stopped; true when stopping.
  bool SleepFor(absl::Duration timeout);

  const Options options_;
  Router* const router_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Status status_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace jetserve::gateway

#endif  // JETSERVE_GATEWAY_REMOTE_MONITOR_H_
