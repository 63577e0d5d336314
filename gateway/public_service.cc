#include "gateway/public_service.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "gateway/request_limits.h"
#include "google/protobuf/timestamp.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/server_context.h"
#include "jetserve/worker/v1/worker.grpc.pb.h"

namespace jetserve::gateway {
namespace {

namespace v1 = ::jetserve::v1;
namespace wv1 = ::jetserve::worker::v1;

constexpr size_t kMaxRequestIdLength = 128;
// Configured names are at most 128 characters; longer ones are not echoed in errors.
constexpr size_t kMaxModelNameLength = 128;

bool ValidRequestId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  for (char c : id) {
    if (!absl::ascii_isgraph(static_cast<unsigned char>(c)) || c == '"' || c == '\\') {
      return false;
    }
  }
  return true;
}

std::string NewRequestId() {
  absl::BitGen gen;
  return absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(gen), absl::Uniform<uint64_t>(gen));
}

bool IsLowerHex(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && (c < 'a' || c > 'f')) return false;
  }
  return true;
}

// W3C trace context: "vv-<32 hex trace id>-<16 hex parent id>-ff" (55 characters for
// version 00; later versions may append fields).
bool ValidTraceparent(absl::string_view t) {
  if (t.size() < 55 || t.size() > 512 || t[2] != '-' || t[35] != '-' || t[52] != '-') {
    return false;
  }
  return IsLowerHex(t.substr(0, 2)) && IsLowerHex(t.substr(3, 32)) &&
         IsLowerHex(t.substr(36, 16)) && IsLowerHex(t.substr(53, 2)) && t.substr(0, 2) != "ff";
}

std::string ClientMetadata(const grpc::CallbackServerContext& context, const char* key) {
  const auto& md = context.client_metadata();
  auto it = md.find(key);
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

void ToTimestamp(absl::Time t, google::protobuf::Timestamp* ts) {
  const int64_t nanos = absl::ToUnixNanos(t);
  ts->set_seconds(nanos / 1000000000);
  ts->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

// State and bookkeeping shared by every routed call: request id, trace context, deadline,
// the router ticket or worker lease, and the two "done" halves (server and worker call)
// that decide when the reactor may delete itself.
class CallBase {
 public:
  virtual ~CallBase() = default;

 protected:
  CallBase(PublicService* service, grpc::CallbackServerContext* context, std::string method,
           const std::string& model)
      : service_(service),
        context_(context),
        method_(std::move(method)),
        model_(model),
        start_(absl::Now()) {
    request_id_ = ClientMetadata(*context, "x-request-id");
    if (!ValidRequestId(request_id_)) request_id_ = NewRequestId();
    traceparent_ = ClientMetadata(*context, "traceparent");
    if (!ValidTraceparent(traceparent_)) traceparent_.clear();
    tracestate_ = traceparent_.empty() ? "" : ClientMetadata(*context, "tracestate");
    if (tracestate_.size() > 512) tracestate_.clear();
    const auto deadline = context->deadline();
    if (deadline != std::chrono::system_clock::time_point::max()) {
      deadline_ = absl::FromChrono(deadline);
    } else if (service->options().default_deadline.has_value()) {
      deadline_ = start_ + *service->options().default_deadline;
    }
    context->AddInitialMetadata("x-request-id", request_id_);
  }

  // Sends the final status to the client (the reactor's Finish).
  virtual void FinishServer(const grpc::Status& status) = 0;
  // Starts the worker call once a lease is held.
  virtual void StartWorkerCall() = 0;

  // Authenticates and admits the call before anything else is looked at: a caller without
  // a valid key learns nothing about the request's shape. The admission (the key's
  // concurrency slot) lives as long as the call.
  absl::Status Authorize() {
    Authenticator* auth = service_->options().auth;
    if (auth == nullptr) return absl::OkStatus();
    absl::StatusOr<KeyIdentity> who = auth->Authenticate(GrpcAuthHeaders(*context_));
    if (!who.ok()) return who.status();
    key_ = *std::move(who);
    absl::StatusOr<Admission> admitted = auth->Admit(key_, model_);
    if (!admitted.ok()) return admitted.status();
    admission_ = *std::move(admitted);
    return absl::OkStatus();
  }

  // The token counts the worker reported (usage of the last message / the response).
  void SetUsage(int64_t prompt_tokens, int64_t generated_tokens) {
    absl::MutexLock lock(&mu_);
    usage_ = {prompt_tokens, generated_tokens};
  }

  absl::Status ValidateModel() const {
    if (model_.empty()) return absl::InvalidArgumentError("model: required");
    if (model_.size() > kMaxModelNameLength) {
      return absl::InvalidArgumentError(
          absl::StrCat("model: at most ", kMaxModelNameLength, " characters, got ", model_.size()));
    }
    return absl::OkStatus();
  }

  void StartAcquire() {
    uint64_t ticket = service_->router()->Acquire(
        model_, deadline_,
        [this](absl::StatusOr<WorkerLease> lease) { Granted(std::move(lease)); });
    // 0: the grant already ran (and may have finished the call, so `this` may be gone).
    if (ticket == 0) return;
    bool cancel_now = false;
    {
      absl::MutexLock lock(&mu_);
      if (!granted_) {
        ticket_ = ticket;
        cancel_now = cancelled_;
      }
    }
    if (cancel_now) service_->router()->Cancel(model_, ticket);
  }

  void Granted(absl::StatusOr<WorkerLease> lease) {
    {
      absl::MutexLock lock(&mu_);
      granted_ = true;
      ticket_ = 0;
      if (lease.ok() && cancelled_) lease = absl::CancelledError("cancelled by the client");
      if (lease.ok()) {
        worker_ = lease->endpoint().id();
        lease_ = std::move(*lease);
        client_started_ = true;
      }
    }
    if (!lease.ok()) {
      FinishCall(ToGrpcStatus(lease.status()));
      return;
    }
    StartWorkerCall();
  }

  // From the reactor's OnCancel: the client cancelled or its deadline passed.
  void HandleCancel() {
    uint64_t ticket;
    bool started;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      ticket = ticket_;
      started = client_started_ && !client_done_;
    }
    if (ticket != 0) service_->router()->Cancel(model_, ticket);
    // At the deadline the worker call ends by its own (identical) deadline, so the worker
    // sees DEADLINE_EXCEEDED rather than a cancellation.
    if (started && absl::Now() < deadline_) client_context()->TryCancel();
  }

  void FillEnvelope(wv1::Envelope* envelope) const {
    envelope->set_request_id(request_id_);
    envelope->set_traceparent(traceparent_);
    envelope->set_priority(wv1::PRIORITY_NORMAL);
    if (deadline_ != absl::InfiniteFuture()) ToTimestamp(deadline_, envelope->mutable_deadline());
    ToTimestamp(start_, envelope->mutable_received_at());
  }

  // A fresh client context for this attempt's worker call (contexts are single-use; earlier
  // ones live on until the call object goes, so a late TryCancel on them is harmless).
  grpc::ClientContext* SetupClientContext() {
    auto context = std::make_unique<grpc::ClientContext>();
    if (deadline_ != absl::InfiniteFuture()) context->set_deadline(absl::ToChronoTime(deadline_));
    context->AddMetadata("x-request-id", request_id_);
    if (!traceparent_.empty()) context->AddMetadata("traceparent", traceparent_);
    if (!tracestate_.empty()) context->AddMetadata("tracestate", tracestate_);
    absl::MutexLock lock(&mu_);
    client_contexts_.push_back(std::move(context));
    return client_contexts_.back().get();
  }

  // The current attempt's client context; null before the first worker call.
  grpc::ClientContext* client_context() {
    absl::MutexLock lock(&mu_);
    return client_contexts_.empty() ? nullptr : client_contexts_.back().get();
  }

  WorkerEndpoint& endpoint() {
    absl::MutexLock lock(&mu_);
    return lease_.endpoint();
  }

  // Records metrics and the log line, then finishes the server side.
  void FinishCall(const grpc::Status& status) {
    // A call that fails before any message may be answered trailers-only, where clients
    // see no initial metadata: repeat the id in the trailers.
    if (!status.ok()) context_->AddTrailingMetadata("x-request-id", request_id_);
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start_);
    const std::string label =
        service_->router()->HasModel(model_) ? model_ : std::string(kUnknownModelLabel);
    if (service_->metrics() != nullptr) {
      service_->metrics()->RecordRequest(label, method_, status.error_code(), seconds);
    }
    std::string worker;
    int attempts;
    std::optional<std::pair<int64_t, int64_t>> usage;
    {
      absl::MutexLock lock(&mu_);
      worker = worker_;
      attempts = attempts_;
      usage = usage_;
    }
    if (usage.has_value()) admission_.RecordUsage(usage->first, usage->second);
    // The key's slot frees before the client can see the final status (and call again).
    admission_.Release();
    auto line = JETSERVE_LOG(kInfo, "request");
    line.Add("request_id", request_id_)
        .Add("model", model_)
        .Add("method", method_)
        .Add("code", GrpcCodeName(status.error_code()))
        .Add("duration_ms", seconds * 1e3)
        .Add("worker", worker);
    if (attempts > 1) line.Add("attempts", int64_t{attempts});
    if (!key_.anonymous()) line.Add("key", key_.name());
    if (!status.ok()) line.Add("error", status.error_message());
    FinishServer(status);
  }

  // Called from the worker call's completion; releases the worker slot. A call that failed
  // UNAVAILABLE before any response found the worker gone (connection refused, process
  // killed) or draining: the router stops sending that worker calls until its next
  // successful probe, and the call goes back to the router for another worker (at most
  // kMaxAttempts in all, within its deadline; nothing reached the client, so trying again
  // is safe). Returns true when the call was retried: the caller must return at once
  // without touching the call (it may finish and go on another thread).
  bool FinishAttempt(const grpc::Status& status, bool got_response) {
    WorkerLease lease;
    {
      absl::MutexLock lock(&mu_);
      lease = std::move(lease_);
    }
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE || got_response ||
        lease.shared_endpoint() == nullptr) {
      return false;
    }
    service_->router()->MarkUnavailable(model_, lease.shared_endpoint().get());
    lease.Release();
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_ || attempts_ >= kMaxAttempts || absl::Now() >= deadline_) return false;
      ++attempts_;
      granted_ = false;
      client_started_ = false;  // no worker call in flight until the next grant
    }
    StartAcquire();
    return true;
  }

  void ServerDone() {
    bool done;
    {
      absl::MutexLock lock(&mu_);
      server_done_ = true;
      done = !client_started_ || client_done_;
    }
    if (done) delete this;
  }

  void ClientDone() {
    bool done;
    {
      absl::MutexLock lock(&mu_);
      client_done_ = true;
      done = server_done_;
    }
    if (done) delete this;
  }

  PublicService* const service_;
  grpc::CallbackServerContext* const context_;
  const std::string method_;
  const std::string model_;
  const absl::Time start_;
  absl::Time deadline_ = absl::InfiniteFuture();
  std::string request_id_;
  std::string traceparent_;
  std::string tracestate_;
  static constexpr int kMaxAttempts = 3;

  absl::Mutex mu_;
  uint64_t ticket_ ABSL_GUARDED_BY(mu_) = 0;
  bool granted_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool client_started_ ABSL_GUARDED_BY(mu_) = false;
  bool client_done_ ABSL_GUARDED_BY(mu_) = false;
  bool server_done_ ABSL_GUARDED_BY(mu_) = false;
  WorkerLease lease_ ABSL_GUARDED_BY(mu_);
  std::string worker_ ABSL_GUARDED_BY(mu_);
  int attempts_ ABSL_GUARDED_BY(mu_) = 1;
  std::vector<std::unique_ptr<grpc::ClientContext>> client_contexts_ ABSL_GUARDED_BY(mu_);
  std::optional<std::pair<int64_t, int64_t>> usage_ ABSL_GUARDED_BY(mu_);
  // Set by Authorize() in the constructor of the call, before any other thread sees it.
  KeyIdentity key_;
  Admission admission_;
};

// Generate: server-side writer and worker-side reader in one object, with one message in
// flight: read from the worker → write to the client → read the next.
class GenerateCall final : public grpc::ServerWriteReactor<v1::GenerateResponse>,
                           public grpc::ClientReadReactor<v1::GenerateResponse>,
                           private CallBase {
 public:
  GenerateCall(PublicService* service, grpc::CallbackServerContext* context,
               const rpc::CheckedRequest<v1::GenerateRequest>* request)
      : CallBase(service, context, "Generate", request->message.model()),
        request_(&request->message) {
    absl::Status valid = Authorize();
    if (valid.ok()) valid = request->status;
    if (valid.ok()) valid = Validate();
    if (!valid.ok()) {
      FinishCall(ToGrpcStatus(valid));
      return;
    }
    StartAcquire();
  }

  // Server side.
  void OnWriteDone(bool ok) override {
    bool finish_now = false;
    {
      absl::MutexLock lock(&write_mu_);
      write_pending_ = false;
      finish_now = finish_pending_;
    }
    if (finish_now) {
      FinishCall(final_status_);
      ClientDone();
      return;
    }
    if (ok) {
      grpc::ClientReadReactor<v1::GenerateResponse>::StartRead(&response_);
    } else {
      client_context()->TryCancel();  // the client is gone; stop the worker
    }
    // Taken in OnReadDone: the worker call's OnDone cannot run before the next read is
    // issued (without it, a cancelled worker call could finish between this write's end
    // and StartRead, and the read would start on a finished call: OnDone twice).
    grpc::ClientReadReactor<v1::GenerateResponse>::RemoveHold();
  }
  void OnCancel() override { HandleCancel(); }
  void OnDone() override { ServerDone(); }

  // Worker side.
  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone(status) follows
    if (response_.has_usage()) {
      SetUsage(response_.usage().prompt_tokens(), response_.usage().completion_tokens());
    }
    {
      absl::MutexLock lock(&write_mu_);
      write_pending_ = true;
      got_response_ = true;
    }
    grpc::ClientReadReactor<v1::GenerateResponse>::AddHold();  // released in OnWriteDone
    grpc::ServerWriteReactor<v1::GenerateResponse>::StartWrite(&response_);
  }
  void OnDone(const grpc::Status& status) override {
    bool got_response;
    {
      absl::MutexLock lock(&write_mu_);
      got_response = got_response_;
    }
    if (FinishAttempt(status, got_response)) return;  // another worker takes the call
    {
      absl::MutexLock lock(&write_mu_);
      if (write_pending_) {
        // Finish after the last write completes; OnWriteDone takes over.
        final_status_ = status;
        finish_pending_ = true;
        return;
      }
    }
    FinishCall(status);
    ClientDone();
  }

 private:
  absl::Status Validate() const {
    absl::Status st = ValidateModel();
    if (!st.ok() || !service_->router()->HasModel(model_)) return st;  // the router: NOT_FOUND
    return CheckGenerateRequest(*request_, service_->options().limits);
  }

  void FinishServer(const grpc::Status& status) override {
    grpc::ServerWriteReactor<v1::GenerateResponse>::Finish(status);
  }

  void StartWorkerCall() override {
    FillEnvelope(worker_request_.mutable_envelope());
    *worker_request_.mutable_request() = *request_;
    // On a retry this reactor binds to a new worker call: the previous call's state was
    // released before its OnDone, and the reactor holds only the pointer to the current one.
    grpc::ClientContext* context = SetupClientContext();
    endpoint().stub().async()->Generate(context, &worker_request_, this);
    grpc::ClientReadReactor<v1::GenerateResponse>::StartRead(&response_);
    grpc::ClientReadReactor<v1::GenerateResponse>::StartCall();
  }

  const v1::GenerateRequest* const request_;
  wv1::GenerateRequest worker_request_;
  // The one message in flight: filled by the worker read, then written to the client.
  v1::GenerateResponse response_;
  absl::Mutex write_mu_;
  bool write_pending_ ABSL_GUARDED_BY(write_mu_) = false;
  bool finish_pending_ ABSL_GUARDED_BY(write_mu_) = false;
  bool got_response_ ABSL_GUARDED_BY(write_mu_) = false;
  grpc::Status final_status_;
};

// Describes one unary method of the worker API for UnaryCall.
#define JETSERVE_UNARY_METHOD(NAME)                                         \
  struct NAME##Method {                                                     \
    static constexpr const char* kName = #NAME;                             \
    using Request = v1::NAME##Request;                                      \
    using Response = v1::NAME##Response;                                    \
    using WorkerRequest = wv1::NAME##Request;                               \
    static void Call(wv1::Worker::Stub& stub, grpc::ClientContext* context, \
                     const WorkerRequest* request, Response* response,      \
                     std::function<void(grpc::Status)> done) {              \
      stub.async()->NAME(context, request, response, std::move(done));      \
    }                                                                       \
    static absl::Status Check(const Request& r, const Limits& limits) {     \
      return Check##NAME##Request(r, limits);                               \
    }                                                                       \
  };
JETSERVE_UNARY_METHOD(Classify)
JETSERVE_UNARY_METHOD(Rerank)
JETSERVE_UNARY_METHOD(Embed)
JETSERVE_UNARY_METHOD(Tokenize)
JETSERVE_UNARY_METHOD(Detokenize)
#undef JETSERVE_UNARY_METHOD

// A unary call forwarded asynchronously; the worker writes straight into the public
// response.
template <typename Method>
class UnaryCall final : public grpc::ServerUnaryReactor, private CallBase {
 public:
  UnaryCall(PublicService* service, grpc::CallbackServerContext* context,
            const rpc::CheckedRequest<typename Method::Request>* request,
            typename Method::Response* response)
      : CallBase(service, context, Method::kName, request->message.model()),
        request_(&request->message),
        response_(response) {
    absl::Status valid = Authorize();
    if (valid.ok()) valid = request->status;
    if (valid.ok()) valid = ValidateModel();
    // Unknown models: the router answers NOT_FOUND.
    if (valid.ok() && service_->router()->HasModel(model_)) {
      valid = Method::Check(*request_, service_->options().limits);
    }
    if (!valid.ok()) {
      FinishCall(ToGrpcStatus(valid));
      return;
    }
    StartAcquire();
  }

  void OnCancel() override { HandleCancel(); }
  void OnDone() override { ServerDone(); }

 private:
  void FinishServer(const grpc::Status& status) override {
    grpc::ServerUnaryReactor::Finish(status);
  }

  void StartWorkerCall() override {
    FillEnvelope(worker_request_.mutable_envelope());
    *worker_request_.mutable_request() = *request_;
    grpc::ClientContext* context = SetupClientContext();
    Method::Call(endpoint().stub(), context, &worker_request_, response_,
                 [this](grpc::Status status) {
                   if (FinishAttempt(status, /*got_response=*/status.ok())) return;
                   if constexpr (requires { response_->usage().prompt_tokens(); }) {
                     if (status.ok()) SetUsage(response_->usage().prompt_tokens(), 0);
                   }
                   FinishCall(status);
                   ClientDone();
                 });
  }

  const typename Method::Request* const request_;
  typename Method::Response* const response_;
  typename Method::WorkerRequest worker_request_;
};

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

grpc::Status PublicService::Authenticate(const grpc::CallbackServerContext& context) const {
  if (options_.auth == nullptr) return grpc::Status::OK;
  return ToGrpcStatus(options_.auth->Authenticate(GrpcAuthHeaders(context)).status());
}

PublicService::PublicService(Router* router, WorkerPool* pool, GatewayMetrics* metrics,
                             PublicServiceOptions options)
    : router_(router), pool_(pool), metrics_(metrics), options_(std::move(options)) {
  HandleServerStreaming<v1::GenerateRequest, v1::GenerateResponse>(
      "Generate", [this](grpc::CallbackServerContext* context,
                         const rpc::CheckedRequest<v1::GenerateRequest>* request) {
        return new GenerateCall(this, context, request);
      });
  RegisterUnary<ClassifyMethod>();
  RegisterUnary<RerankMethod>();
  RegisterUnary<EmbedMethod>();
  RegisterUnary<TokenizeMethod>();
  RegisterUnary<DetokenizeMethod>();
  HandleUnary<v1::ListModelsRequest, v1::ListModelsResponse>(
      "ListModels",
      [this](grpc::CallbackServerContext* context,
             const rpc::CheckedRequest<v1::ListModelsRequest>* request,
             v1::ListModelsResponse* response) { return ListModels(context, request, response); });
  HandleUnary<v1::GetModelRequest, v1::ModelInfo>(
      "GetModel", [this](grpc::CallbackServerContext* context,
                         const rpc::CheckedRequest<v1::GetModelRequest>* request,
                         v1::ModelInfo* response) { return GetModel(context, request, response); });
}

template <typename Method>
void PublicService::RegisterUnary() {
  HandleUnary<typename Method::Request, typename Method::Response>(
      Method::kName, [this](grpc::CallbackServerContext* context,
                            const rpc::CheckedRequest<typename Method::Request>* request,
                            typename Method::Response* response) {
        return new UnaryCall<Method>(this, context, request, response);
      });
}

grpc::ServerUnaryReactor* PublicService::ListModels(
    grpc::CallbackServerContext* context, const rpc::CheckedRequest<v1::ListModelsRequest>* request,
    v1::ListModelsResponse* response) {
  auto* reactor = context->DefaultReactor();
  if (grpc::Status st = Authenticate(*context); !st.ok()) {
    reactor->Finish(st);
    return reactor;
  }
  if (!request->status.ok()) {
    reactor->Finish(ToGrpcStatus(request->status));
    return reactor;
  }
  for (auto& info : pool_->DescribeAll()) *response->add_models() = std::move(info);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* PublicService::GetModel(
    grpc::CallbackServerContext* context, const rpc::CheckedRequest<v1::GetModelRequest>* checked,
    v1::ModelInfo* response) {
  auto* reactor = context->DefaultReactor();
  if (grpc::Status st = Authenticate(*context); !st.ok()) {
    reactor->Finish(st);
    return reactor;
  }
  if (!checked->status.ok()) {
    reactor->Finish(ToGrpcStatus(checked->status));
    return reactor;
  }
  const v1::GetModelRequest* request = &checked->message;
  if (request->name().empty() || request->name().size() > kMaxModelNameLength) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 request->name().empty()
                                     ? std::string("name: required")
                                     : absl::StrCat("name: at most ", kMaxModelNameLength,
                                                    " characters, got ", request->name().size())));
    return reactor;
  }
  std::optional<v1::ModelInfo> info = pool_->Describe(request->name());
  if (!info.has_value()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                 absl::StrCat("model \"", request->name(), "\" is not served")));
    return reactor;
  }
  *response = std::move(*info);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace jetserve::gateway
