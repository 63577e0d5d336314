#include "engine/util/thread_pool.h"

#include <algorithm>
#include <chrono>

namespace jetserve {
namespace {

// Chunks per thread: enough that a late or preempted thread's share is taken by the others,
// few enough that a claim (one compare-and-swap) stays negligible next to a chunk.
constexpr int64_t kChunksPerThread = 4;
constexpr int64_t kMaxChunks = 0xffff;

// How long a thread spins for the next call (or the last chunks) before it sleeps: a decode
// step's calls come a few microseconds apart; between steps the workers sleep.
constexpr std::chrono::microseconds kSpinTime{50};

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Spins until done() or kSpinTime has passed; true if done().
template <typename Done>
bool SpinUntil(const Done& done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  while (true) {
    for (int i = 0; i < 32; ++i) {
      if (done()) return true;
      CpuRelax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return done();
  }
}

void Range(int64_t n, int64_t parts, int64_t index, int64_t* begin, int64_t* end) {
  const int64_t chunk = n / parts;
  const int64_t rem = n % parts;
  *begin = index * chunk + std::min<int64_t>(index, rem);
  *end = *begin + chunk + (index < rem ? 1 : 0);
}

constexpr uint32_t ClaimGen(uint64_t w) { return static_cast<uint32_t>(w >> 32); }
constexpr uint32_t ClaimChunks(uint64_t w) { return static_cast<uint32_t>(w >> 16) & 0xffff; }
constexpr uint32_t ClaimIndex(uint64_t w) { return static_cast<uint32_t>(w) & 0xffff; }

}  // namespace

ThreadPool::ThreadPool(int num_threads) : num_threads_(std::max(1, num_threads)) {
  for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_seq_cst);
  gen_.fetch_add(1, std::memory_order_seq_cst);
  gen_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::Run(int64_t n, RawFn fn, const void* ctx) {
  if (n <= 0) return;
  if (num_threads_ == 1 || n == 1) {
    fn(ctx, 0, n, 0);
    return;
  }
  const auto chunks =
      static_cast<uint32_t>(std::min({n, num_threads_ * kChunksPerThread, kMaxChunks}));
  fn_ = fn;
  ctx_ = ctx;
  n_ = n;
  done_.store(0, std::memory_order_relaxed);
  const uint32_t gen = gen_.load(std::memory_order_relaxed) + 1;
  claim_.store((uint64_t{gen} << 32) | (uint64_t{chunks} << 16), std::memory_order_release);
  gen_.store(gen, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) gen_.notify_all();

  RunChunks(gen, 0);

  // Chunks other threads claimed may still run.
  auto all_done = [&] { return done_.load(std::memory_order_acquire) == chunks; };
  if (SpinUntil(all_done)) return;
  caller_waiting_.store(true, std::memory_order_seq_cst);
  for (uint32_t d = done_.load(std::memory_order_seq_cst); d != chunks;
       d = done_.load(std::memory_order_seq_cst)) {
    done_.wait(d, std::memory_order_seq_cst);
  }
  caller_waiting_.store(false, std::memory_order_relaxed);
}

void ThreadPool::RunChunks(uint32_t gen, int thread) {
  uint64_t w = claim_.load(std::memory_order_acquire);
  while (ClaimGen(w) == gen && ClaimIndex(w) < ClaimChunks(w)) {
    if (!claim_.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
      continue;  // w now holds the current word
    }
    // The chunk is ours: the call's fields stay as they are until it is done.
    const uint32_t chunks = ClaimChunks(w);
    int64_t begin, end;
    Range(n_, chunks, ClaimIndex(w), &begin, &end);
    fn_(ctx_, begin, end, thread);
    if (done_.fetch_add(1, std::memory_order_seq_cst) + 1 == chunks &&
        caller_waiting_.load(std::memory_order_seq_cst)) {
      done_.notify_one();
    }
    w = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::WorkerLoop(int index) {
  uint32_t seen = 0;
  while (true) {
    auto next_call = [&] {
      return gen_.load(std::memory_order_acquire) != seen ||
             stop_.load(std::memory_order_relaxed);
    };
    if (!SpinUntil(next_call)) {
      // Announce the sleep before the last look, so a caller either sees a sleeper (and
      // wakes it) or this thread sees the caller's new generation.
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      while (gen_.load(std::memory_order_seq_cst) == seen &&
             !stop_.load(std::memory_order_seq_cst)) {
        gen_.wait(seen, std::memory_order_seq_cst);
      }
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = gen_.load(std::memory_order_acquire);
    RunChunks(seen, index);
  }
}

}  // namespace jetserve
