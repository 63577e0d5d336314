// A small fixed thread pool for the forward pass. ParallelFor splits [0, n) into a few
// contiguous chunks per thread that the threads claim one at a time (the caller too), and
// returns when every chunk is done. A worker that the OS has not scheduled yet holds no
// work back: the threads that run claim its chunks. Created by the caller and passed in (no
// globals). Which thread computes an element never changes its result: the kernels give each
// output element a fixed reduction order.
//
//   ThreadPool pool(4);
//   pool.ParallelFor(rows, [&](int64_t begin, int64_t end, int thread) { ... });
//
// Between calls the workers spin briefly (a forward pass makes hundreds of calls a few
// microseconds apart), then sleep on a futex until the next call.
#ifndef JETSERVE_ENGINE_UTIL_THREAD_POOL_H_
#define JETSERVE_ENGINE_UTIL_THREAD_POOL_H_

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace jetserve {

class ThreadPool {
 public:
  // num_threads <= 1: everything runs on the calling thread.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Calls fn(begin, end, thread) on disjoint ranges covering [0, n); `thread` is in
  // [0, num_threads()) and no two calls with the same `thread` overlap in time, but one
  // thread may get several ranges (per-thread scratch is fine; per-thread results must
  // accumulate). Not reentrant: one ParallelFor at a time per pool. Takes any callable by
  // reference (no std::function, so no allocation per call).
  template <typename Fn>
  void ParallelFor(int64_t n, const Fn& fn) {
    Run(
        n,
        [](const void* f, int64_t b, int64_t e, int t) { (*static_cast<const Fn*>(f))(b, e, t); },
        &fn);
  }

 private:
  using RawFn = void (*)(const void* ctx, int64_t begin, int64_t end, int thread);
  void Run(int64_t n, RawFn fn, const void* ctx);
  void WorkerLoop(int index);
  // Claims and runs chunks of call `gen` until none is left; false if the call was over.
  void RunChunks(uint32_t gen, int thread);

  const int num_threads_;
  std::vector<std::thread> workers_;

  // The current call, written by the caller before it publishes `claim_` and read by a
  // worker only after it has claimed a chunk of that call (the caller cannot start the
  // next call before that chunk is done).
  RawFn fn_ = nullptr;
  const void* ctx_ = nullptr;
  int64_t n_ = 0;

  // Chunk claims: generation (32 bits) | chunk count (16) | next chunk index (16).
  std::atomic<uint64_t> claim_{0};
  // Chunks of the current call finished; the caller waits for all of them.
  std::atomic<uint32_t> done_{0};
  // The call number the workers wait on (futex word) and how many of them sleep on it.
  std::atomic<uint32_t> gen_{0};
  std::atomic<int> sleepers_{0};
  // Set while the caller sleeps waiting for `done_`.
  std::atomic<bool> caller_waiting_{false};
  std::atomic<bool> stop_{false};
};

}  // namespace jetserve

#endif  // JETSERVE_ENGINE_UTIL_THREAD_POOL_H_
