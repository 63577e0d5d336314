// UnaryCall: the server side of one unary Worker call (Classify, Rerank, Embed, Tokenize,
// Detokenize). gRPC's callback threads must never block, so the backend's work runs on the
// TaskPool; OnCancel (client cancelled, deadline passed) cancels the CallContext the
// backend polls. OnDone accounts for the call in the CallTracker and deletes the reactor.
//
//   const EmbedRequest* request = &checked->message;  // checked: rpc::CheckedRequest
//   return UnaryCall::Start(ctx, "Embed", checked->status, request->envelope(), tracker, pool,
//       [=](const CallContext& call, int64_t* prompt_tokens) -> absl::Status {
//         absl::StatusOr<EmbedResponse> r = backend->Embed(call, *request);
//         if (!r.ok()) return r.status();
//         *response = *std::move(r);
//         return absl::OkStatus();
//       });
#ifndef JETSERVE_WORKER_UNARY_CALL_H_
#define JETSERVE_WORKER_UNARY_CALL_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "jetserve/worker/v1/worker.pb.h"
#include "worker/call_context.h"
#include "worker/call_tracker.h"
#include "worker/task_pool.h"

namespace jetserve::worker {

class UnaryCall final : public grpc::ServerUnaryReactor, public ActiveCall {
 public:
  // Runs on a pool thread; fills the gRPC response and reports the tokens it processed.
  using Body = absl::AnyInvocable<absl::Status(const CallContext& call, int64_t* prompt_tokens)>;

  // Creates the reactor and schedules `body`, or finishes at once: UNAVAILABLE while
  // draining, `received` when it is not OK (the request did not parse; rpc/checked_request.h).
  // `method` must be a string literal; `tracker` and `pool` outlive every call.
  static grpc::ServerUnaryReactor* Start(grpc::CallbackServerContext* ctx, const char* method,
                                         const absl::Status& received,
                                         const jetserve::worker::v1::Envelope& envelope,
                                         CallTracker* tracker, TaskPool* pool, Body body);

  void OnCancel() override;
  void OnDone() override;
  void Cancel(absl::string_view reason) override;

 private:
  UnaryCall(grpc::CallbackServerContext* ctx, const char* method,
            const jetserve::worker::v1::Envelope& envelope, CallTracker* tracker);
  void Run(Body body);
  void FinishWith(absl::Status status, int64_t prompt_tokens);

  grpc::CallbackServerContext* const ctx_;
  const char* const method_;
  CallTracker* const tracker_;
  const absl::Time started_;
  CallContext call_;

  absl::Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  int64_t prompt_tokens_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace jetserve::worker

#endif  // JETSERVE_WORKER_UNARY_CALL_H_
