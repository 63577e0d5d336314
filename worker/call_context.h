// CallContext: what a backend sees of one call besides its request — who asked, by when,
// and whether the caller still wants the answer.
//
// The worker creates one per call and cancels it when the client cancels, the deadline
// passes, or a drain's grace period runs out. A backend polls Cancelled() between units of
// work (a batch step, an encoder batch) and may sleep in WaitForCancellation() instead of
// absl::SleepFor so that it wakes at once:
//
//   while (!ctx.Cancelled() && !done) Step();
//   if (ctx.Cancelled()) return ctx.CancelledStatus();  // CANCELLED or DEADLINE_EXCEEDED
//
// Thread-safe: the worker cancels from gRPC threads while the backend reads from its own.
#ifndef JETSERVE_WORKER_CALL_CONTEXT_H_
#define JETSERVE_WORKER_CALL_CONTEXT_H_

#include <atomic>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace jetserve::worker {

class CallContext {
 public:
  // `deadline` is absl::InfiniteFuture() for none.
  CallContext(std::string request_id, absl::Time deadline);
  CallContext(const CallContext&) = delete;
  CallContext& operator=(const CallContext&) = delete;

  // The gateway's request id (Envelope.request_id); may be empty.
  const std::string& request_id() const { return request_id_; }
  absl::Time deadline() const { return deadline_; }

  // True once the call was cancelled or its deadline passed. Cheap: call it often.
  bool Cancelled() const;
  // DEADLINE_EXCEEDED when the deadline has passed, else CANCELLED (with the reason).
  // Meaningful only when Cancelled().
  absl::Status CancelledStatus() const;

  // Sleeps until `timeout` elapses, the call is cancelled, or its deadline passes.
  // Returns Cancelled().
  bool WaitForCancellation(absl::Duration timeout) const;

  // Worker side: cancels the call (idempotent). `reason` goes into CancelledStatus(), which
  // is DEADLINE_EXCEEDED instead when `deadline_exceeded`.
  void Cancel(absl::string_view reason, bool deadline_exceeded = false);

  // Whether a cancellation arriving now is the deadline's: the client's deadline and the
  // server's differ by the network latency, so the client may cancel (RST_STREAM) a moment
  // before the server's deadline passes.
  bool NearDeadline() const;

 private:
  const std::string request_id_;
  const absl::Time deadline_;
  std::atomic<bool> cancelled_{false};
  mutable absl::Mutex mu_;
  std::string reason_ ABSL_GUARDED_BY(mu_);
  bool deadline_exceeded_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace jetserve::worker

#endif  // JETSERVE_WORKER_CALL_CONTEXT_H_
