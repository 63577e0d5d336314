// CallBatcher: dynamic batching of unary calls (Embed, Classify, Rerank). Calls arriving
// within a short window (or until a size is reached) that have the same key (kind and
// options) run as ONE engine call; each caller blocks until its call ran, in a batch led
// by whichever waiting thread found the engine free. Cancelled calls are dropped before
// their batch runs.
//
//   CallBatcher batcher({.max_items = 64, .window = absl::Milliseconds(2)},
//                       [&](absl::Span<CallBatcher::Call* const> calls) { ...run, set status });
//   MyCall c;  c.key = "embed|mean|norm";  c.items = texts.size();  c.ctx = &ctx;
//   batcher.Run(&c);            // returns when c.status is set
#ifndef JETSERVE_WORKER_CALL_BATCHER_H_
#define JETSERVE_WORKER_CALL_BATCHER_H_

#include <cstdint>
#include <deque>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "worker/call_context.h"

namespace jetserve::worker {

class CallBatcher {
 public:
  struct Options {
    // Inputs per batch (a larger single call still runs, alone).
    int64_t max_items = 64;
    // How long a leader waits for more calls before running a partial batch.
    absl::Duration window = absl::Milliseconds(2);
  };
  // Callers derive their own call type (inputs and outputs) from this.
  struct Call {
    virtual ~Call() = default;
    std::string key;  // calls merge only with equal keys
    int64_t items = 1;
    const CallContext* ctx = nullptr;  // may be null
    absl::Status status;               // set by the executor (or CANCELLED)
    bool done = false;                 // guarded by the batcher
  };
  // Runs calls of one key as one batch and sets each call's status and results. Called
  // by one thread at a time.
  using Executor = absl::AnyInvocable<void(absl::Span<Call* const> calls)>;

  CallBatcher(const Options& options, Executor executor)
      : options_(options), executor_(std::move(executor)) {}

  // Blocks until `call` ran (or was dropped because its context was cancelled).
  void Run(Call* call);

  // Calls waiting now; batches run and calls in them since construction.
  int64_t queued() const;
  int64_t batches() const;
  int64_t batched_calls() const;

 private:
  const Options options_;
  Executor executor_;
  mutable absl::Mutex mu_;
  std::deque<Call*> queue_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  int64_t batches_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t batched_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace jetserve::worker

#endif  // JETSERVE_WORKER_CALL_BATCHER_H_
