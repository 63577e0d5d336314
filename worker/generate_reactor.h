// GenerateReactor: the server side of one Worker.Generate call. It is both the gRPC
// write reactor and the GenerateStream the backend writes to, and owns all per-call state.
//
// Life: created by WorkerService::Generate, which returns it to gRPC; registers with the
// CallTracker and hands itself to Backend::Generate (or finishes at once: UNAVAILABLE while
// draining, INVALID_ARGUMENT when the request did not parse). Writes go to gRPC one at a time;
// later ones wait in a queue of at most `max_queued` messages, beyond which Writable() is false
// (flow control). gRPC's OnCancel (client cancelled or deadline passed) cancels the CallContext and
// wakes the backend. The gRPC call is finished only after the backend called Finish, so the
// backend's pointer stays valid; OnDone then accounts for the call and deletes the reactor.
#ifndef JETSERVE_WORKER_GENERATE_REACTOR_H_
#define JETSERVE_WORKER_GENERATE_REACTOR_H_

#include <cstdint>
#include <deque>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "jetserve/worker/v1/worker.pb.h"
#include "rpc/checked_request.h"
#include "worker/backend.h"
#include "worker/call_context.h"
#include "worker/call_tracker.h"
#include "worker/generate_stream.h"

namespace jetserve::worker {

// Converts between absl and gRPC statuses (the codes are numerically the same).
grpc::Status ToGrpcStatus(const absl::Status& status);
// The call's deadline: the earlier of gRPC's and the envelope's.
absl::Time CallDeadline(const grpc::CallbackServerContext& ctx,
                        const jetserve::worker::v1::Envelope& envelope);

class GenerateReactor final : public grpc::ServerWriteReactor<jetserve::v1::GenerateResponse>,
                              public GenerateStream,
                              public ActiveCall {
 public:
  struct Options {
    // Unsent messages queued beyond the one in flight before Writable() turns false.
    int max_queued = 8;
    // A backend writing past this many queued messages fails the call.
    int hard_limit = 1024;
  };

  // Starts the call. `ctx` and `request` are owned by gRPC and outlive the reactor;
  // `backend` and `tracker` outlive every call. A request that did not parse
  // (request->status) is answered with its status without reaching the backend.
  GenerateReactor(grpc::CallbackServerContext* ctx,
                  const rpc::CheckedRequest<jetserve::worker::v1::GenerateRequest>* request,
                  Backend* backend, CallTracker* tracker, const Options& options);

  // GenerateStream
  const jetserve::worker::v1::GenerateRequest& request() const override { return *request_; }
  const CallContext& context() const override { return call_; }
  bool Write(jetserve::v1::GenerateResponse response) override;
  bool Writable() const override;
  void SetWakeCallback(absl::AnyInvocable<void()> wake) override;
  void Finish(absl::Status status) override;

  // grpc::ServerWriteReactor
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  // ActiveCall
  void Cancel(absl::string_view reason) override;

 private:
  // Marks the call cancelled and drops unsent messages.
  void CancelLocked(absl::string_view reason, bool deadline_exceeded = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The status to finish the gRPC call with, once the backend finished and no write is in
  // flight; sets finish_started_.
  std::optional<grpc::Status> TakeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Wake();

  grpc::CallbackServerContext* const ctx_;
  const jetserve::worker::v1::GenerateRequest* const request_;
  CallTracker* const tracker_;
  const Options options_;
  const absl::Time started_;
  CallContext call_;

  mutable absl::Mutex mu_;
  // The message gRPC is sending; touched only while write_in_flight_.
  jetserve::v1::GenerateResponse in_flight_message_;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<jetserve::v1::GenerateResponse> queue_ ABSL_GUARDED_BY(mu_);
  // Writable() answered false (or the queue filled): wake the backend when it drains.
  mutable bool blocked_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool backend_finished_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_started_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status final_status_ ABSL_GUARDED_BY(mu_);
  // Set when the call failed on the worker's side (flow-control overrun); wins over the
  // backend's status.
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  // What the gRPC call was finished with (for OnDone's accounting).
  absl::Status end_status_ ABSL_GUARDED_BY(mu_);
  int64_t prompt_tokens_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t completion_tokens_ ABSL_GUARDED_BY(mu_) = 0;

  // Separate from mu_ so that the callback may call Writable()/Cancelled().
  absl::Mutex wake_mu_;
  absl::AnyInvocable<void()> wake_ ABSL_GUARDED_BY(wake_mu_);
};

}  // namespace jetserve::worker

#endif  // JETSERVE_WORKER_GENERATE_REACTOR_H_
