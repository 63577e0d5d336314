// TaskPool: a fixed set of threads running closures in FIFO order. The worker runs the
// backend's blocking unary calls here, because gRPC's callback threads must never block.
//
//   TaskPool pool(4);
//   pool.Schedule([] { ... });
//   pool.Pending();   // closures waiting for a thread (for the queue-depth metric)
//
// The destructor runs every closure already scheduled, then joins the threads.
#ifndef JETSERVE_WORKER_TASK_POOL_H_
#define JETSERVE_WORKER_TASK_POOL_H_

#include <cstdint>
#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace jetserve::worker {

class TaskPool {
 public:
  // Starts `threads` threads (at least 1).
  explicit TaskPool(int threads);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  void Schedule(absl::AnyInvocable<void() &&> task);
  // Tasks scheduled and not yet started.
  int64_t Pending() const;

 private:
  void Run();

  mutable absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void() &&>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace jetserve::worker

#endif  // JETSERVE_WORKER_TASK_POOL_H_
