// One worker as the gateway sees it: its address, the single gRPC channel to it and the
// worker-API stub, plus the probe the supervisor and the remote monitors use to decide
// readiness (grpc.health.v1 SERVING, then GetInfo for the capacity).
//
//   auto endpoint = WorkerEndpoint::Create("smollm2/0", "unix:/run/js/smollm2-0.sock");
//   absl::StatusOr<WorkerInfo> info = endpoint->Probe(absl::Seconds(1));
#ifndef JETSERVE_GATEWAY_WORKER_ENDPOINT_H_
#define JETSERVE_GATEWAY_WORKER_ENDPOINT_H_

#include <algorithm>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "jetserve/worker/v1/worker.grpc.pb.h"

namespace jetserve::gateway {

enum class HealthStatus { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };

// grpc.health.v1 Check (stubs generated from Debian's grpc-proto). Blocking; for the
// gateway's own threads and tests.
absl::StatusOr<HealthStatus> CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                                         const std::string& service, absl::Duration timeout);

// A ready worker is taken out of routing after this many failed probes in a row (one slow
// answer on a loaded machine is not an outage), or at once when it reports NOT_SERVING.
inline constexpr int kFailedProbesToUnready = 2;
// A local worker that was ready and then leaves this many probes in a row unanswered
// (hung, stopped) is killed and restarted.
inline constexpr int kFailedProbesToRestart = 4;

// How long one probe may take: generous, independent of short test intervals.
inline absl::Duration ProbeTimeout(absl::Duration health_interval) {
  return std::clamp(2 * health_interval, absl::Seconds(1), absl::Seconds(10));
}

class WorkerEndpoint {
 public:
  // `id` names the worker in logs ("model/replica" or the address). `credentials`: null
  // for plaintext; `tls_server_name` overrides the name checked against the worker's
  // certificate (empty: the address's host).
  static std::shared_ptr<WorkerEndpoint> Create(
      std::string id, std::string address,
      std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr,
      const std::string& tls_server_name = "");

  const std::string& id() const { return id_; }
  const std::string& address() const { return address_; }
  jetserve::worker::v1::Worker::Stub& stub() { return *stub_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

  // Health "" must be SERVING; then returns GetInfo. Errors say which step failed;
  // FAILED_PRECONDITION means the worker answered but is not SERVING (e.g. draining).
  absl::StatusOr<jetserve::worker::v1::WorkerInfo> Probe(absl::Duration timeout);

  // Asks the worker to stop taking requests (grace_period_ms for its running ones).
  absl::StatusOr<jetserve::worker::v1::DrainResponse> Drain(absl::Duration grace,
                                                            absl::Duration timeout);

  // Calls routed to this worker that have not finished at the gateway (router leases).
  // Counted by the router as it grants and releases leases, so a worker taken out of
  // routing has exactly these left to finish, including those whose request has not
  // reached the worker yet (which the worker's own count misses).
  void CallRouted() ABSL_LOCKS_EXCLUDED(calls_mu_);
  void CallEnded() ABSL_LOCKS_EXCLUDED(calls_mu_);
  int routed_calls() const ABSL_LOCKS_EXCLUDED(calls_mu_);
  // Waits until no routed call is left or `deadline` passes; true when none is left.
  bool WaitForNoRoutedCalls(absl::Time deadline) const ABSL_LOCKS_EXCLUDED(calls_mu_);

 private:
  WorkerEndpoint(std::string id, std::string address,
                 std::shared_ptr<grpc::ChannelCredentials> credentials,
                 const std::string& tls_server_name);

  const std::string id_;
  const std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<jetserve::worker::v1::Worker::Stub> stub_;
  mutable absl::Mutex calls_mu_;
  int routed_calls_ ABSL_GUARDED_BY(calls_mu_) = 0;
};

}  // namespace jetserve::gateway

#endif  // JETSERVE_GATEWAY_WORKER_ENDPOINT_H_
