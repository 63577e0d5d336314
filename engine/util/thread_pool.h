// A small fixed thread pool for the forward pass: ParallelFor splits [0, n) into one
// contiguous range per thread and blocks until all are done. Created by the caller and
// passed in (no globals). Which thread computes an element never changes its result: the
// kernels give each output element a fixed reduction order.
//
//   ThreadPool pool(4);
//   pool.ParallelFor(rows, [&](int64_t begin, int64_t end, int thread) { ... });
#ifndef JETSERVE_ENGINE_UTIL_THREAD_POOL_H_
#define JETSERVE_ENGINE_UTIL_THREAD_POOL_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>
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
  // [0, num_threads()). Not reentrant: one ParallelFor at a time per pool. Takes any
  // callable by reference (no std::function, so no allocation per call).
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

  const int num_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  RawFn fn_ = nullptr;         // guarded by mu_
  const void* ctx_ = nullptr;  // guarded by mu_
  int64_t n_ = 0;              // guarded by mu_
  uint64_t generation_ = 0;    // guarded by mu_
  int pending_ = 0;            // guarded by mu_
  bool stop_ = false;          // guarded by mu_
};

}  // namespace jetserve

#endif  // JETSERVE_ENGINE_UTIL_THREAD_POOL_H_
