// The public jetserve.v1.Jetserve service (callback API). Each call is routed by model
// name through the Router to one worker and forwarded over that worker's channel:
//  - Generate: a reactor that is at once the server-side writer and the client-side reader
//    of the worker's stream. It reads the next worker message only after the client's write
//    completed, so a slow reader pauses the worker (HTTP/2 flow control) and the gateway
//    holds one message per stream.
//  - Classify/Rerank/Embed/Tokenize/Detokenize: forwarded asynchronously (the worker's
//    response is written straight into the public response).
//  - ListModels/GetModel: answered from the config and the workers' reported info.
// Client cancellation cancels the worker call; the client's deadline (or
// limits.default_deadline) becomes the worker call's deadline and Envelope.deadline.
// "x-request-id" (taken or generated) and "traceparent"/"tracestate" go to the worker;
// x-request-id also returns in the initial metadata (and in the trailers of failed calls). One log
// line and one metrics record per call.
// Before routing, each call is authenticated and admitted (options.auth: UNAUTHENTICATED,
// PERMISSION_DENIED, RESOURCE_EXHAUSTED) and checked against the request limits
// (INVALID_ARGUMENT naming the field); the usage the worker reports is counted for the
// call's API key. ListModels/GetModel need a valid key too (no model or rate check).
#ifndef JETSERVE_GATEWAY_PUBLIC_SERVICE_H_
#define JETSERVE_GATEWAY_PUBLIC_SERVICE_H_

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "gateway/auth.h"
#include "gateway/metrics.h"
#include "gateway/router.h"
#include "gateway/worker_pool.h"
#include "jetserve/v1/service.grpc.pb.h"
#include "rpc/checked_request.h"

namespace jetserve::gateway {

struct PublicServiceOptions {
  // Deadline for calls that carry none.
  std::optional<absl::Duration> default_deadline;
  // Upper bound on GenerateRequest.stop.max_tokens.
  std::optional<int> max_tokens;
  // Request-shape limits (validated config; gateway/request_limits.h).
  jetserve::config::v1::Limits limits;
  // API keys; null or disabled: no key needed. Not owned.
  Authenticator* auth = nullptr;
};

// Status conversion at the handler boundary.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The methods are registered with rpc::CheckedRequest<...> requests (rpc/checked_request.h),
// so that a request that does not parse (a string field with invalid UTF-8, broken wire
// format) is answered INVALID_ARGUMENT naming the field, after authentication.
class PublicService final : public rpc::CheckedService<jetserve::v1::Jetserve> {
 public:
  // router, pool and metrics must outlive the service (and the server running it).
  PublicService(Router* router, WorkerPool* pool, GatewayMetrics* metrics,
                PublicServiceOptions options);

  // Shared by the per-call reactors (defined in the .cc).
  Router* router() const { return router_; }
  GatewayMetrics* metrics() const { return metrics_; }
  const PublicServiceOptions& options() const { return options_; }

 private:
  // Registers the forwarding handler of one unary method (a method descriptor in the .cc).
  template <typename Method>
  void RegisterUnary();
  grpc::ServerUnaryReactor* ListModels(
      grpc::CallbackServerContext* context,
      const rpc::CheckedRequest<jetserve::v1::ListModelsRequest>* request,
      jetserve::v1::ListModelsResponse* response);
  grpc::ServerUnaryReactor* GetModel(
      grpc::CallbackServerContext* context,
      const rpc::CheckedRequest<jetserve::v1::GetModelRequest>* request,
      jetserve::v1::ModelInfo* response);

  // UNAUTHENTICATED unless the call carries a valid key (or auth is off).
  grpc::Status Authenticate(const grpc::CallbackServerContext& context) const;

  Router* const router_;
  WorkerPool* const pool_;
  GatewayMetrics* const metrics_;
  const PublicServiceOptions options_;
};

}  // namespace jetserve::gateway

#endif  // JETSERVE_GATEWAY_PUBLIC_SERVICE_H_
