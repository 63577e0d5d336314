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
namespace {

namespace wv1 = ::jetserve::worker::v1;

// Wraps a Backend unary method into a UnaryCall body that fills `response`.
template <typename Request, typename Response, typename Method, typename TokenCount>
UnaryCall::Body MakeBody(Backend* backend, Method method, const Request* request,
                         Response* response, TokenCount tokens) {
  return [backend, method, request, response, tokens](const CallContext& call,
                                                      int64_t* prompt_tokens) -> absl::Status {
    absl::StatusOr<Response> result = (backend->*method)(call, *request);
    if (!result.ok()) return result.status();
    *response = *std::move(result);
    *prompt_tokens = tokens(*response);
    return absl::OkStatus();
  };
}

}  // namespace

WorkerService::WorkerService(Backend* backend, CallTracker* tracker, TaskPool* pool,
                             Options options)
    : backend_(backend), tracker_(tracker), pool_(pool), options_(std::move(options)) {}

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

grpc::ServerWriteReactor<jetserve::v1::GenerateResponse>* WorkerService::Generate(
    grpc::CallbackServerContext* ctx, const wv1::GenerateRequest* request) {
  return new GenerateReactor(ctx, request, backend_, tracker_, options_.stream);
}

grpc::ServerUnaryReactor* WorkerService::Classify(grpc::CallbackServerContext* ctx,
                                                  const wv1::ClassifyRequest* request,
                                                  jetserve::v1::ClassifyResponse* response) {
  return UnaryCall::Start(
      ctx, "Classify", request->envelope(), tracker_, pool_,
      MakeBody(backend_, &Backend::Classify, request, response,
               [](const jetserve::v1::ClassifyResponse& r) { return r.usage().prompt_tokens(); }));
}

grpc::ServerUnaryReactor* WorkerService::Rerank(grpc::CallbackServerContext* ctx,
                                                const wv1::RerankRequest* request,
                                                jetserve::v1::RerankResponse* response) {
  return UnaryCall::Start(
      ctx, "Rerank", request->envelope(), tracker_, pool_,
      MakeBody(backend_, &Backend::Rerank, request, response,
               [](const jetserve::v1::RerankResponse& r) { return r.usage().prompt_tokens(); }));
}

grpc::ServerUnaryReactor* WorkerService::Embed(grpc::CallbackServerContext* ctx,
                                               const wv1::EmbedRequest* request,
                                               jetserve::v1::EmbedResponse* response) {
  return UnaryCall::Start(
      ctx, "Embed", request->envelope(), tracker_, pool_,
      MakeBody(backend_, &Backend::Embed, request, response,
               [](const jetserve::v1::EmbedResponse& r) { return r.usage().prompt_tokens(); }));
}

grpc::ServerUnaryReactor* WorkerService::Tokenize(grpc::CallbackServerContext* ctx,
                                                  const wv1::TokenizeRequest* request,
                                                  jetserve::v1::TokenizeResponse* response) {
  return UnaryCall::Start(
      ctx, "Tokenize", request->envelope(), tracker_, pool_,
      MakeBody(backend_, &Backend::Tokenize, request, response,
               [](const jetserve::v1::TokenizeResponse& r) { return r.token_ids_size(); }));
}

grpc::ServerUnaryReactor* WorkerService::Detokenize(grpc::CallbackServerContext* ctx,
                                                    const wv1::DetokenizeRequest* request,
                                                    jetserve::v1::DetokenizeResponse* response) {
  return UnaryCall::Start(ctx, "Detokenize", request->envelope(), tracker_, pool_,
                          MakeBody(backend_, &Backend::Detokenize, request, response,
                                   [request](const jetserve::v1::DetokenizeResponse&) {
                                     return request->request().token_ids_size();
                                   }));
}

grpc::ServerUnaryReactor* WorkerService::GetInfo(grpc::CallbackServerContext* ctx,
                                                 const wv1::GetInfoRequest*,
                                                 wv1::WorkerInfo* response) {
  *response = Info();
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* WorkerService::Drain(grpc::CallbackServerContext* ctx,
                                               const wv1::DrainRequest* request,
                                               wv1::DrainResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
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
