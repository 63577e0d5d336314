// GenerateStream: the worker's end of one Generate call, as a backend sees it.
//
// The worker creates one per call and hands it to Backend::Generate, which returns at once;
// the backend (typically a batching scheduler thread) then writes responses and finally
// calls Finish exactly once. Until Finish the pointer stays valid; after it the backend must
// not touch the stream again.
//
// Flow control: Write never blocks. The stream holds one message in flight to gRPC plus a
// small queue; when the queue is full Writable() turns false and the backend should skip
// this sequence (leave it out of the next batch step) until the wake callback runs. A
// backend that keeps writing regardless fails the call with RESOURCE_EXHAUSTED once a hard
// limit is hit, so a slow client can never grow the worker's memory without bound.
//
//   // scheduler thread
//   stream->SetWakeCallback([sched] { sched->Notify(); });   // once, before anything else
//   for each step:
//     if (stream->Cancelled()) { Free(seq); stream->Finish(stream->context().CancelledStatus()); }
//     else if (!stream->Writable()) { continue; }              // client not reading: pause
//     else stream->Write(std::move(delta));
//   ...
//   stream->Finish(absl::OkStatus());
//
// Cancellation (client cancelled, deadline passed, drain grace expired) is visible through
// Cancelled() at once and also runs the wake callback, so a paused sequence is woken to
// free its resources. After cancellation Write drops messages (returns false); the backend
// still calls Finish (its status is then replaced by CANCELLED / DEADLINE_EXCEEDED).
//
// Threads: Write, Writable and Finish may be called from any thread, but for one stream
// from one thread at a time (a sequence belongs to one scheduler thread); messages are
// sent in the order written.
#ifndef JETSERVE_WORKER_GENERATE_STREAM_H_
#define JETSERVE_WORKER_GENERATE_STREAM_H_

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "jetserve/worker/v1/worker.pb.h"
#include "worker/call_context.h"

namespace jetserve::worker {

class GenerateStream {
 public:
  virtual ~GenerateStream() = default;

  // The request as the gateway sent it (envelope + public request). Valid until Finish.
  virtual const jetserve::worker::v1::GenerateRequest& request() const = 0;
  // Request id, deadline and cancellation of this call.
  virtual const CallContext& context() const = 0;
  bool Cancelled() const { return context().Cancelled(); }

  // Queues one response. Never blocks. Returns false when the message was dropped because
  // the call is cancelled or already failed; the backend should then Finish soon.
  virtual bool Write(jetserve::v1::GenerateResponse response) = 0;
  // False while the queue of unsent messages is full: the client is not reading fast
  // enough. Writing anyway is allowed up to a hard limit (see above).
  virtual bool Writable() const = 0;
  // Sets the function run (on a gRPC thread) whenever the stream becomes writable again
  // after Writable() returned false, and when the call is cancelled. It must not block and
  // must not call Finish (signal the backend's own thread instead). May run once more
  // spuriously; never runs after Finish returns.
  virtual void SetWakeCallback(absl::AnyInvocable<void()> wake) = 0;

  // Ends the call: OK after the last response, or the error the client should get. Queued
  // responses are still sent first (unless the call is cancelled). Call exactly once.
  virtual void Finish(absl::Status status) = 0;
};

}  // namespace jetserve::worker

#endif  // JETSERVE_WORKER_GENERATE_STREAM_H_
