#include "engine/util/thread_pool.h"

#include <algorithm>

namespace jetserve {
namespace {

void Range(int64_t n, int parts, int index, int64_t* begin, int64_t* end) {
  const int64_t chunk = n / parts;
  const int64_t rem = n % parts;
  *begin = index * chunk + std::min<int64_t>(index, rem);
  *end = *begin + chunk + (index < rem ? 1 : 0);
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) : num_threads_(std::max(1, num_threads)) {
  for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::Run(int64_t n, RawFn fn, const void* ctx) {
  if (n <= 0) return;
  if (num_threads_ == 1 || n == 1) {
    fn(ctx, 0, n, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = fn;
    ctx_ = ctx;
    n_ = n;
    pending_ = num_threads_ - 1;
    ++generation_;
  }
  work_cv_.notify_all();
  int64_t begin, end;
  Range(n, num_threads_, 0, &begin, &end);
  if (begin < end) fn(ctx, begin, end, 0);
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [this] { return pending_ == 0; });
  fn_ = nullptr;
  ctx_ = nullptr;
}

void ThreadPool::WorkerLoop(int index) {
  uint64_t seen = 0;
  while (true) {
    RawFn fn;
    const void* ctx;
    int64_t n;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      fn = fn_;
      ctx = ctx_;
      n = n_;
    }
    int64_t begin, end;
    Range(n, num_threads_, index, &begin, &end);
    if (begin < end) fn(ctx, begin, end, index);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }
}

}  // namespace jetserve
