// The jetserve.v1.Admin service (proto/jetserve/v1/admin.proto): list, load, unload and
// reload models at run time through the worker pool's lifecycle operations. Every call is
// first authorized (the gateway passes a check of the caller's API key); the lifecycle
// calls finish from the pool's lifecycle thread once their operation took effect.
//
//   AdminService admin(&pool, [&](const grpc::CallbackServerContext& c) { return Check(c); });
//   builder.RegisterService(&admin);
#ifndef JETSERVE_GATEWAY_ADMIN_SERVICE_H_
#define JETSERVE_GATEWAY_ADMIN_SERVICE_H_

#include <functional>

#include "gateway/auth.h"
#include "gateway/worker_pool.h"
#include "grpcpp/server_context.h"
#include "jetserve/v1/admin.grpc.pb.h"
#include "rpc/checked_request.h"

namespace jetserve::gateway {

// The admin API's check: the call must carry an API key with "admin": true. Without keys
// configured (auth off) every admin call is refused: an open gateway must not let anyone
// unload its models. `auth` must outlive the returned function.
std::function<absl::Status(const grpc::CallbackServerContext&)> AdminAuthorization(
    const Authenticator* auth);

// Requests that do not parse are answered INVALID_ARGUMENT after authorization
// (rpc/checked_request.h).
class AdminService final : public rpc::CheckedService<jetserve::v1::Admin> {
 public:
  // OK lets the call through; anything else is its answer (UNAUTHENTICATED,
  // PERMISSION_DENIED).
  using Authorize = std::function<absl::Status(const grpc::CallbackServerContext&)>;

  // `pool` must outlive the service and the server running it.
  AdminService(WorkerPool* pool, Authorize authorize);

 private:
  // Registers `handler` for `method`. Every call is first authorized, then its request
  // must have parsed; only then does the handler run, and it finishes `reactor` (at once or
  // later, from a lifecycle callback).
  template <typename Request, typename Response>
  void Register(const char* method,
                void (AdminService::*handler)(const Request& request, Response* response,
                                              grpc::ServerUnaryReactor* reactor));

  void ListModels(const jetserve::v1::AdminListModelsRequest& request,
                  jetserve::v1::AdminListModelsResponse* response,
                  grpc::ServerUnaryReactor* reactor);
  void LoadModel(const jetserve::v1::LoadModelRequest& request,
                 jetserve::v1::LoadModelResponse* response, grpc::ServerUnaryReactor* reactor);
  void UnloadModel(const jetserve::v1::UnloadModelRequest& request,
                   jetserve::v1::UnloadModelResponse* response, grpc::ServerUnaryReactor* reactor);
  void ReloadModel(const jetserve::v1::ReloadModelRequest& request,
                   jetserve::v1::ReloadModelResponse* response, grpc::ServerUnaryReactor* reactor);

  WorkerPool* const pool_;
  const Authorize authorize_;
};

}  // namespace jetserve::gateway

#endif  // JETSERVE_GATEWAY_ADMIN_SERVICE_H_
