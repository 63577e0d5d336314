#include "worker/unary_call.h"

#include <utility>

#include "worker/generate_reactor.h"

namespace jetserve::worker {

grpc::ServerUnaryReactor* UnaryCall::Start(grpc::CallbackServerContext* ctx, const char* method,
                                           const absl::Status& received,
                                           const jetserve::worker::v1::Envelope& envelope,
                                           CallTracker* tracker, TaskPool* pool, Body body) {
  auto* call = new UnaryCall(ctx, method, envelope, tracker);
  absl::Status admitted = tracker->Begin(call);
  if (admitted.ok()) admitted = received;
  if (!admitted.ok()) {
    call->FinishWith(std::move(admitted), 0);
  } else {
    pool->Schedule([call, body = std::move(body)]() mutable { call->Run(std::move(body)); });
  }
  return call;
}

UnaryCall::UnaryCall(grpc::CallbackServerContext* ctx, const char* method,
                     const jetserve::worker::v1::Envelope& envelope, CallTracker* tracker)
    : ctx_(ctx),
      method_(method),
      tracker_(tracker),
      started_(absl::Now()),
      call_(envelope.request_id(), CallDeadline(*ctx, envelope)) {}

void UnaryCall::Run(Body body) {
  if (call_.Cancelled()) {
    FinishWith(call_.CancelledStatus(), 0);
    return;
  }
  int64_t prompt_tokens = 0;
  absl::Status status = body(call_, &prompt_tokens);
  // A backend that noticed cancellation late still reports what happened to the call.
  if (status.ok() && call_.Cancelled()) status = call_.CancelledStatus();
  FinishWith(std::move(status), prompt_tokens);
}

void UnaryCall::FinishWith(absl::Status status, int64_t prompt_tokens) {
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    finished_ = true;
    status_ = status;
    prompt_tokens_ = prompt_tokens;
  }
  Finish(ToGrpcStatus(status));
}

void UnaryCall::OnCancel() {
  if (call_.NearDeadline()) {
    call_.Cancel("deadline exceeded", /*deadline_exceeded=*/true);
  } else {
    call_.Cancel("the client cancelled the call");
  }
}

void UnaryCall::Cancel(absl::string_view reason) {
  call_.Cancel(reason);
  bool finished;
  {
    absl::MutexLock lock(&mu_);
    finished = finished_;
  }
  if (!finished) ctx_->TryCancel();
}

void UnaryCall::OnDone() {
  CallRecord record;
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    status = status_;
    record.prompt_tokens = prompt_tokens_;
  }
  record.method = method_;
  record.request_id = call_.request_id();
  record.code = status.code();
  record.message = status.message();
  record.duration = absl::Now() - started_;
  tracker_->End(this, record);
  delete this;
}

}  // namespace jetserve::worker
