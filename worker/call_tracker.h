// CallTracker: the worker's book of in-flight calls. Every call the worker receives
// (except GetInfo/Drain) begins and ends here, which gives one place for
// - draining: once Drain() is called, Begin() refuses new calls with UNAVAILABLE
//   "worker is draining"; running calls are cancelled when the grace period runs out;
// - accounting: End() feeds the request metrics and writes the call's one log line.
//
//   CallTracker tracker({.model = "smollm2", .metrics = &metrics});
//   absl::Status admitted = tracker.Begin(call);   // call registered either way
//   ...
//   tracker.End(call, {.method = "Generate", .request_id = id, .code = code, ...});
#ifndef JETSERVE_WORKER_CALL_TRACKER_H_
#define JETSERVE_WORKER_CALL_TRACKER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "worker/metrics.h"

namespace jetserve::worker {

// A call that the tracker can cancel.
class ActiveCall {
 public:
  virtual ~ActiveCall() = default;
  // Cancels the call as if the client had; must not block.
  virtual void Cancel(absl::string_view reason) = 0;
};

// What one finished call did, for metrics and its log line.
struct CallRecord {
  absl::string_view method;
  absl::string_view request_id;
  absl::StatusCode code = absl::StatusCode::kOk;
  absl::string_view message;
  absl::Duration duration;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

class CallTracker {
 public:
  struct Options {
    std::string model;
    // Not owned; outlives the tracker.
    WorkerMetrics* metrics = nullptr;
    // Calls waiting outside the tracker's view (backend queue, task pool); sampled into
    // the queue-depth gauge whenever a call begins or ends. May be empty.
    std::function<int64_t()> queued;
  };

  explicit CallTracker(Options options);
  // Joins the drain timer; calls must all have ended.
  ~CallTracker();
  CallTracker(const CallTracker&) = delete;
  CallTracker& operator=(const CallTracker&) = delete;

  // Registers `call` (always: End must follow). Returns UNAVAILABLE when draining, and the
  // caller then finishes the call with that status.
  absl::Status Begin(ActiveCall* call);
  // Unregisters `call`, counts and logs it.
  void End(ActiveCall* call, const CallRecord& record);

  // Refuses new calls from now on; cancels the calls still running after `grace`
  // (absl::InfiniteDuration(): never). A later call with a shorter grace moves the
  // cancellation earlier. Returns the calls running when called.
  int Drain(absl::Duration grace);
  bool draining() const;
  // Cancels every running call now.
  void CancelAll(absl::string_view reason);
  // Waits until no call is running or `deadline` passes; returns whether idle.
  bool WaitForIdle(absl::Time deadline) const;
  int running() const;

 private:
  void DrainTimer();

  const Options options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_set<ActiveCall*> calls_ ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time cancel_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  std::thread drain_timer_;  // started by the first Drain with a finite grace
};

}  // namespace jetserve::worker

#endif  // JETSERVE_WORKER_CALL_TRACKER_H_
