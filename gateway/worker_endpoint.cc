#include "gateway/worker_endpoint.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace jetserve::gateway {
namespace {

std::chrono::system_clock::time_point DeadlineAfter(absl::Duration d) {
  return absl::ToChronoTime(absl::Now() + d);
}

absl::Status FromGrpc(const grpc::Status& s, absl::string_view what) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

}  // namespace

absl::StatusOr<HealthStatus> CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                                         const std::string& service, absl::Duration timeout) {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(timeout));
  const grpc::Status status =
      grpc::health::v1::Health::NewStub(channel)->Check(&context, request, &response);
  if (!status.ok()) return FromGrpc(status, "health check");
  const int v = static_cast<int>(response.status());
  return v >= 0 && v <= 3 ? static_cast<HealthStatus>(v) : HealthStatus::kUnknown;
}

std::shared_ptr<WorkerEndpoint> WorkerEndpoint::Create(
    std::string id, std::string address, std::shared_ptr<grpc::ChannelCredentials> credentials,
    const std::string& tls_server_name) {
  return std::shared_ptr<WorkerEndpoint>(new WorkerEndpoint(
      std::move(id), std::move(address), std::move(credentials), tls_server_name));
}

WorkerEndpoint::WorkerEndpoint(std::string id, std::string address,
                               std::shared_ptr<grpc::ChannelCredentials> credentials,
                               const std::string& tls_server_name)
    : id_(std::move(id)), address_(std::move(address)) {
  grpc::ChannelArguments args;
  // Workers restart within seconds: reconnect quickly rather than with gRPC's default
  // 1 s .. 120 s backoff, so a restarted worker takes calls as soon as it is SERVING.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // Responses are bounded by the worker; requests were bounded by the gateway already.
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  // Each endpoint gets its own connection even when two share an address.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (!tls_server_name.empty()) args.SetSslTargetNameOverride(tls_server_name);
  if (credentials == nullptr) credentials = grpc::InsecureChannelCredentials();
  channel_ = grpc::CreateCustomChannel(address_, credentials, args);
  stub_ = jetserve::worker::v1::Worker::NewStub(channel_);
}

absl::StatusOr<jetserve::worker::v1::WorkerInfo> WorkerEndpoint::Probe(absl::Duration timeout) {
  absl::StatusOr<HealthStatus> health = CheckHealth(channel_, "", timeout);
  if (!health.ok()) return health.status();
  if (*health != HealthStatus::kServing) {
    return absl::FailedPreconditionError(
        absl::StrCat("health: not SERVING (status ", static_cast<int>(*health), ")"));
  }
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(timeout));
  jetserve::worker::v1::WorkerInfo info;
  grpc::Status status = stub_->GetInfo(&context, jetserve::worker::v1::GetInfoRequest(), &info);
  if (!status.ok()) return FromGrpc(status, "GetInfo");
  return info;
}

absl::StatusOr<jetserve::worker::v1::DrainResponse> WorkerEndpoint::Drain(absl::Duration grace,
                                                                          absl::Duration timeout) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(timeout));
  jetserve::worker::v1::DrainRequest request;
  request.set_grace_period_ms(
      static_cast<int32_t>(std::min<int64_t>(absl::ToInt64Milliseconds(grace), int64_t{1} << 30)));
  jetserve::worker::v1::DrainResponse response;
  grpc::Status status = stub_->Drain(&context, request, &response);
  if (!status.ok()) return FromGrpc(status, "Drain");
  return response;
}

void WorkerEndpoint::CallRouted() {
  absl::MutexLock lock(&calls_mu_);
  ++routed_calls_;
}

void WorkerEndpoint::CallEnded() {
  absl::MutexLock lock(&calls_mu_);
  --routed_calls_;
}

int WorkerEndpoint::routed_calls() const {
  absl::MutexLock lock(&calls_mu_);
  return routed_calls_;
}

bool WorkerEndpoint::WaitForNoRoutedCalls(absl::Time deadline) const {
  absl::MutexLock lock(&calls_mu_);
  auto none = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(calls_mu_) { return routed_calls_ == 0; };
  return calls_mu_.AwaitWithDeadline(absl::Condition(&none), deadline);
}

}  // namespace jetserve::gateway
