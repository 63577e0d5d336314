// Continuous batching over a paged KV cache: requests join and leave the running batch at
// every step, and each step runs ONE Decoder::Forward over the rows of all running
// sequences (one row per decoding sequence, plus a budget of prompt rows from sequences
// being prefilled in chunks), so every weight matrix is read once per chunk of rows for
// all sequences. Per-choice sampling, stop matching and logprobs are engine/runtime's
// Choice, exactly as in Generator; Forward's rows are bitwise independent of their batch
// neighbours and of chunking, so a request gets the same tokens alone or batched.
//
// Memory: one KvBlockPool; a sequence is admitted (highest priority, then oldest first)
// when blocks for its whole current token list are free and fewer than max_seqs run. When
// a decoding sequence needs a block and none is free, the newest running sequence is
// preempted: its blocks are freed and it goes back to the head of the waiting queue, to
// be recomputed later (sampler, detokenizer and stop state are kept, so it resumes with the
// same tokens). Cancelled (or expired) requests leave at the next step and free their
// blocks. A sequence whose sink is not writable (slow reader) is left out of steps until
// it is; the others keep going.
//
// Prefix cache (options.prefix_cache, per request SchedulerRequest::prefix_cache): the full
// KV blocks sequences fill stay indexed by their chained hash after the sequence ends; a
// sequence being admitted shares the indexed blocks holding its first tokens and computes
// only the rest (always at least its last token, whose logits it needs). Choices of one
// request (n > 1) wait to be admitted until the first has computed the prompt's full
// blocks, then share them. Cached blocks nobody holds count as free for admission and are
// evicted least recently released first. Outputs are bitwise those without the cache.
//
//   BatchScheduler sched(*decoder, *tokenizer, &pool, {.n_ctx = 2048, .num_blocks = 1024});
//   sched.Start();                                  // its own thread
//   absl::Status s = sched.Submit({.prompt = ids, .options = opts, .sink = &sink});
//   // sink->OnEvent(...) per token, sink->OnFinish(status, stats) once
#ifndef JETSERVE_ENGINE_RUNTIME_BATCH_SCHEDULER_H_
#define JETSERVE_ENGINE_RUNTIME_BATCH_SCHEDULER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "engine/model/decoder.h"
#include "engine/model/kv_cache.h"
#include "engine/runtime/choice.h"
#include "engine/runtime/generator.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/util/thread_pool.h"

namespace jetserve::runtime {

struct SchedulerOptions {
  int64_t n_ctx = 2048;       // tokens per sequence (capped by the model's)
  int64_t block_tokens = 16;  // KV block size
  int64_t num_blocks = 0;     // KV pool; 0: max_seqs full contexts. At least one context.
  int32_t max_seqs = 16;      // sequences in the running batch
  int32_t max_queued = 64;    // requests accepted beyond max_seqs (then RESOURCE_EXHAUSTED)
  int64_t step_tokens = 256;  // rows per step: decode rows first, prompt chunks fill the rest
  int64_t max_rows = 64;      // rows per Forward chunk (matrix-matrix width)
  uint64_t salt = 0;          // model salt of the KV block hashes
  bool prefix_cache = true;   // share the KV blocks of equal prompt prefixes
};

// Where one request's results go. Called on the scheduler's thread only; must not block.
class RequestSink {
 public:
  virtual ~RequestSink() = default;
  // Polled every step: true when the client left or the deadline passed.
  virtual bool Cancelled() const = 0;
  // False while the client is not reading: the request's sequences pause.
  virtual bool Writable() const { return true; }
  // When a first sequence of the request enters the running batch.
  virtual void OnAdmitted() {}
  // Right after the first OnAdmitted: prompt tokens taken from the prefix cache.
  virtual void OnPromptCached(int64_t /*tokens*/) {}
  // One event per generated token (choices interleave).
  virtual void OnEvent(const GenerationEvent& event) = 0;
  // Exactly once, last: OK after every choice finished, CANCELLED when Cancelled() turned
  // true, UNAVAILABLE at shutdown, or an engine error.
  virtual void OnFinish(absl::Status status, const GenerationStats& stats) = 0;
};

struct SchedulerRequest {
  std::vector<int32_t> prompt;
  GenerateOptions options;
  int32_t priority = 0;         // higher runs first
  RequestSink* sink = nullptr;  // not owned; valid until OnFinish returns
  bool prefix_cache = true;     // false: neither uses nor fills the prefix cache
};

struct SchedulerStats {
  int32_t running = 0;   // sequences in the batch
  int32_t waiting = 0;   // sequences waiting (new or preempted)
  int32_t requests = 0;  // requests accepted and not finished
  int64_t kv_blocks_total = 0;
  int64_t kv_blocks_free = 0;    // free + cached blocks nobody holds (evictable)
  int64_t kv_blocks_cached = 0;  // blocks in the prefix index (held or evictable)
  int64_t preemptions = 0;       // since start
  // Prefix cache, since start, per sequence admission (a resumed sequence queries again):
  // tokens looked up (the sequence's tokens) and tokens found (not computed).
  int64_t prefix_queried_tokens = 0;
  int64_t prefix_hit_tokens = 0;
  int64_t steps = 0;
};

// Told after every step that ran rows or changed a request's state (scheduler thread):
// rows run (0 when none ran), sequences that got a token this step.
struct StepInfo {
  int64_t rows = 0;
  int32_t sequences = 0;
  SchedulerStats stats;
};

class BatchScheduler {
 public:
  // decoder, tokenizer and pool outlive the scheduler.
  BatchScheduler(const model::Decoder& decoder, const tokenizer::Tokenizer& tokenizer,
                 ThreadPool* pool, const SchedulerOptions& options);
  ~BatchScheduler();  // Stop()
  BatchScheduler(const BatchScheduler&) = delete;
  BatchScheduler& operator=(const BatchScheduler&) = delete;

  // Effective options (n_ctx capped, num_blocks resolved).
  const SchedulerOptions& options() const { return options_; }

  // Thread-safe. Validates and enqueues; on error (INVALID_ARGUMENT, RESOURCE_EXHAUSTED
  // past the queue bound, UNAVAILABLE after Stop) the sink is never called.
  absl::Status Submit(SchedulerRequest request);
  // Thread-safe: wakes the scheduler (a paused sink became writable or was cancelled).
  void Notify();

  // Runs the loop on an own thread until Stop.
  void Start();
  // Ends the thread; unfinished requests get UNAVAILABLE.
  void Stop();

  // One step on the caller's thread (when not Start()ed): true when rows ran or a request
  // changed state.
  bool Step();
  // Thread-safe snapshot.
  SchedulerStats Stats() const;
  void SetStepObserver(std::function<void(const StepInfo&)> observer) {
    observer_ = std::move(observer);
  }

  // The KV pool, for independent checks while no step runs.
  const model::KvBlockPool& kv_pool() const { return kv_pool_; }

 private:
  struct Request;
  struct Sequence;

  void Admit();
  bool WaitsForSibling(const Sequence* s) const;
  void SweepCancelled();
  void Preempt(Sequence* s);
  void FinishSequence(Sequence* s);
  void FinishRequest(Request* r, absl::Status status);
  void PublishStats();

  const model::Decoder& decoder_;
  const tokenizer::Tokenizer& tokenizer_;
  ThreadPool* pool_;
  SchedulerOptions options_;
  model::KvBlockPool kv_pool_;
  model::RunState state_;
  std::vector<float> logits_;
  std::function<void(const StepInfo&)> observer_;

  // Scheduler thread only.
  std::vector<std::unique_ptr<Request>> requests_;  // accepted, unfinished
  std::vector<Sequence*> running_;                  // in admission order
  std::vector<Sequence*> waiting_;                  // sorted when admitting
  uint64_t next_order_ = 0;
  int64_t preemptions_ = 0;
  int64_t steps_ = 0;
  int64_t prefix_queried_ = 0, prefix_hit_ = 0;
  std::vector<int32_t> match_;  // scratch
  // Scratch of a step: the sequences sampled (with their logits row) and their events.
  std::vector<std::pair<Sequence*, const float*>> due_;
  std::vector<GenerationEvent> events_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Request>> incoming_;  // guarded by mu_
  int32_t accepted_ = 0;                           // unfinished requests, guarded by mu_
  bool stop_ = false;                              // guarded by mu_
  bool woken_ = false;                             // guarded by mu_
  SchedulerStats stats_;                           // guarded by mu_
  std::thread thread_;
};

}  // namespace jetserve::runtime

#endif  // JETSERVE_ENGINE_RUNTIME_BATCH_SCHEDULER_H_
