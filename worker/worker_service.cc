#include "worker/worker_service.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

#include "common/log.h"
#include "worker/unary_call.h"

#ifndef JETSERVE_VERSION
#define JETSERVE_VERSION "unknown"
#endif

namespace jetserve::worker {
namespace wv1 = ::jetserve::worker::v1;

WorkerService::WorkerService(Backend* backend, CallTracker* tracker, TaskPool* pool,
                             Options options)
    : backend_(backend), tracker_(tracker), pool_(pool), options_(std::move(options)) {
  HandleServerStreaming<wv1::GenerateRequest, jetserve::v1::GenerateResponse>(
      "Generate", [this](grpc::CallbackServerContext* ctx,
                         const rpc::CheckedRequest<wv1::GenerateRequest>* request) {
        return new GenerateReactor(ctx, request, backend_, tracker_, options_.stream);
      });
  HandleBackendCall<wv1::ClassifyRequest, jetserve::v1::ClassifyResponse>(
      "Classify", &Backend::Classify,
      [](const wv1::ClassifyRequest&, const jetserve::v1::ClassifyResponse& r) -> int64_t {
        return r.usage().prompt_tokens();
      });
  HandleBackendCall<wv1::RerankRequest, jetserve::v1::RerankResponse>(
      "Rerank", &Backend::Rerank,
      [](const wv1::RerankRequest&, const jetserve::v1::RerankResponse& r) -> int64_t {
        return r.usage().prompt_tokens();
      });
  HandleBackendCall<wv1::EmbedRequest, jetserve::v1::EmbedResponse>(
      "Embed", &Backend::Embed,
      [](const wv1::EmbedRequest&, const jetserve::v1::EmbedResponse& r) -> int64_t {
        return r.usage().prompt_tokens();
      });
  HandleBackendCall<wv1::TokenizeRequest, jetserve::v1::TokenizeResponse>(
      "Tokenize", &Backend::Tokenize,
      [](const wv1::TokenizeRequest&, const jetserve::v1::TokenizeResponse& r) -> int64_t {
        return r.token_ids_size();
      });
  HandleBackendCall<wv1::DetokenizeRequest, jetserve::v1::DetokenizeResponse>(
      "Detokenize", &Backend::Detokenize,
      [](const wv1::DetokenizeRequest& request, const jetserve::v1::DetokenizeResponse&)
          -> int64_t { return request.request().token_ids_size(); });
  HandleUnary<wv1::GetInfoRequest, wv1::WorkerInfo>(
      "GetInfo",
      [this](grpc::CallbackServerContext* ctx,
             const rpc::CheckedRequest<wv1::GetInfoRequest>* request, wv1::WorkerInfo* response) {
        grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
        if (!request->status.ok()) {
          reactor->Finish(ToGrpcStatus(request->status));
          return reactor;
        }
        *response = Info();
        reactor->Finish(grpc::Status::OK);
        return reactor;
      });
  HandleUnary<wv1::DrainRequest, wv1::DrainResponse>(
      "Drain", [this](grpc::CallbackServerContext* ctx,
                      const rpc::CheckedRequest<wv1::DrainRequest>* request,
                      wv1::DrainResponse* response) { return Drain(ctx, request, response); });
}

template <typename Request, typename Response>
void WorkerService::HandleBackendCall(const char* method,
                                      absl::StatusOr<Response> (Backend::*call)(const CallContext&,
                                                                                const Request&),
                                      int64_t (*tokens)(const Request&, const Response&)) {
  HandleUnary<Request, Response>(
      method, [this, method, call, tokens](grpc::CallbackServerContext* ctx,
                                           const rpc::CheckedRequest<Request>* checked,
                                           Response* response) {
        const Request* request = &checked->message;
        return UnaryCall::Start(
            ctx, method, checked->status, request->envelope(), tracker_, pool_,
            [backend = backend_, call, tokens, request, response](
                const CallContext& context, int64_t* prompt_tokens) -> absl::Status {
              absl::StatusOr<Response> result = (backend->*call)(context, *request);
              if (!result.ok()) return result.status();
              *response = *std::move(result);
              *prompt_tokens = tokens(*request, *response);
              return absl::OkStatus();
            });
      });
}

void WorkerService::SetHealthService(grpc::HealthCheckServiceInterface* health) {
  absl::MutexLock lock(&mu_);
  health_ = health;
}

int WorkerService::StartDrain(absl::Duration grace) {
  const int running = tracker_->Drain(grace);
  absl::MutexLock lock(&mu_);
  if (health_ != nullptr) {
    health_->SetServingStatus(false);  // every service name, "" included
  }
  return running;
}

wv1::WorkerInfo WorkerService::Info() const {
  wv1::WorkerInfo info;
  *info.mutable_model() = backend_->Info();
  info.mutable_model()->set_name(options_.model_name);
  info.mutable_model()->set_device(options_.device);
  *info.mutable_capacity() = backend_->Capacity();
  *info.mutable_memory() = backend_->Memory();
  info.set_state(tracker_->draining() ? wv1::WORKER_STATE_DRAINING : wv1::WORKER_STATE_SERVING);
  const BackendLoad load = backend_->Load();
  const int64_t queued = load.queued + pool_->Pending();
  info.set_queued_requests(static_cast<int32_t>(queued));
  info.set_running_requests(
      static_cast<int32_t>(std::max<int64_t>(0, tracker_->running() - queued)));
  info.set_version(JETSERVE_VERSION);
  info.set_pid(getpid());
  info.set_metrics_address(options_.metrics_address);
  return info;
}

grpc::ServerUnaryReactor* WorkerService::Drain(
    grpc::CallbackServerContext* ctx, const rpc::CheckedRequest<wv1::DrainRequest>* checked,
    wv1::DrainResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (!checked->status.ok()) {
    reactor->Finish(ToGrpcStatus(checked->status));
    return reactor;
  }
  const wv1::DrainRequest* request = &checked->message;
  if (request->grace_period_ms() < 0) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "grace_period_ms must be >= 0 (0: wait indefinitely)"));
    return reactor;
  }
  const absl::Duration grace = request->grace_period_ms() == 0
                                   ? absl::InfiniteDuration()
                                   : absl::Milliseconds(request->grace_period_ms());
  response->set_running_requests(StartDrain(grace));
  JETSERVE_LOG(kInfo, "drain")
      .Add("grace_ms", int64_t{request->grace_period_ms()})
      .Add("running_requests", int64_t{response->running_requests()});
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace jetserve::worker
