#include "gateway/admin_service.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "gateway/public_service.h"

namespace jetserve::gateway {
namespace {

namespace v1 = ::jetserve::v1;

constexpr size_t kMaxModelNameLength = 128;

absl::Status CheckName(const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError("name: required");
  if (name.size() > kMaxModelNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("name: at most ", kMaxModelNameLength, " characters, got ", name.size()));
  }
  return absl::OkStatus();
}

void LogAdmin(const char* method, const std::string& model, const absl::Status& status) {
  ::jetserve::LogLine(status.ok() ? LogLevel::kInfo : LogLevel::kWarning, "admin")
      .Add("method", method)
      .Add("model", model)
      .Add("code", absl::StatusCodeToString(status.code()))
      .Add("error", std::string(status.message()));
}

}  // namespace

std::function<absl::Status(const grpc::CallbackServerContext&)> AdminAuthorization(
    const Authenticator* auth) {
  return [auth](const grpc::CallbackServerContext& context) -> absl::Status {
    if (!auth->enabled()) {
      return absl::PermissionDeniedError(
          "the admin API needs API keys: configure auth with a key that has \"admin\": true");
    }
    absl::StatusOr<KeyIdentity> who = auth->Authenticate(GrpcAuthHeaders(context));
    if (!who.ok()) return who.status();
    return auth->CheckAdmin(*who);
  };
}

AdminService::AdminService(WorkerPool* pool, Authorize authorize)
    : pool_(pool), authorize_(std::move(authorize)) {
  Register("ListModels", &AdminService::ListModels);
  Register("LoadModel", &AdminService::LoadModel);
  Register("UnloadModel", &AdminService::UnloadModel);
  Register("ReloadModel", &AdminService::ReloadModel);
}

template <typename Request, typename Response>
void AdminService::Register(const char* method,
                            void (AdminService::*handler)(const Request&, Response*,
                                                          grpc::ServerUnaryReactor*)) {
  using Checked = rpc::CheckedRequest<Request>;
  HandleUnary<Request, Response>(
      method,
      [this, handler](grpc::CallbackServerContext* context, const Checked* request,
                      Response* response) -> grpc::ServerUnaryReactor* {
        grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
        absl::Status allowed = authorize_(*context);
        if (allowed.ok()) allowed = request->status;
        if (!allowed.ok()) {
          reactor->Finish(ToGrpcStatus(allowed));
        } else {
          (this->*handler)(request->message, response, reactor);
        }
        return reactor;
      });
}

void AdminService::ListModels(const v1::AdminListModelsRequest& /*request*/,
                              v1::AdminListModelsResponse* response,
                              grpc::ServerUnaryReactor* reactor) {
  for (auto& model : pool_->DescribeAllAdmin()) *response->add_models() = std::move(model);
  reactor->Finish(grpc::Status::OK);
}

void AdminService::LoadModel(const v1::LoadModelRequest& request, v1::LoadModelResponse* response,
                             grpc::ServerUnaryReactor* reactor) {
  const std::string name = request.config().name();
  pool_->LoadModel(request.config(), /*wait=*/true,
                   [this, reactor, response, name](absl::Status status) {
                     LogAdmin("LoadModel", name, status);
                     if (status.ok()) {
                       auto model = pool_->DescribeAdmin(name);
                       if (model.has_value()) *response->mutable_model() = std::move(*model);
                     }
                     reactor->Finish(ToGrpcStatus(status));
                   });
}

void AdminService::UnloadModel(const v1::UnloadModelRequest& request,
                               v1::UnloadModelResponse* /*response*/,
                               grpc::ServerUnaryReactor* reactor) {
  if (absl::Status valid = CheckName(request.name()); !valid.ok()) {
    return reactor->Finish(ToGrpcStatus(valid));
  }
  const std::string name = request.name();
  pool_->UnloadModel(name, [reactor, name](absl::Status status) {
    LogAdmin("UnloadModel", name, status);
    reactor->Finish(ToGrpcStatus(status));
  });
}

void AdminService::ReloadModel(const v1::ReloadModelRequest& request,
                               v1::ReloadModelResponse* response,
                               grpc::ServerUnaryReactor* reactor) {
  if (absl::Status valid = CheckName(request.name()); !valid.ok()) {
    return reactor->Finish(ToGrpcStatus(valid));
  }
  const std::string name = request.name();
  std::optional<WorkerPool::ModelConfig> config;
  if (request.has_config()) config = request.config();
  pool_->ReloadModel(name, std::move(config), [this, reactor, response, name](absl::Status status) {
    LogAdmin("ReloadModel", name, status);
    if (status.ok()) {
      auto model = pool_->DescribeAdmin(name);
      if (model.has_value()) *response->mutable_model() = std::move(*model);
    }
    reactor->Finish(ToGrpcStatus(status));
  });
}

}  // namespace jetserve::gateway
