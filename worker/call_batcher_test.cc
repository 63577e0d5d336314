// CallBatcher: concurrent calls of one key run as one batch (the executor sees them
// together), keys never mix, max_items bounds a batch, cancelled calls are dropped.
#include "worker/call_batcher.h"

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace jetserve::worker {
namespace {

struct TestCall : CallBatcher::Call {
  int batch_size = 0;
  int64_t batch_items = 0;
};

TEST(CallBatcherTest, ConcurrentCallsOfOneKeyShareABatch) {
  std::mutex mu;
  std::vector<std::vector<std::string>> seen;
  CallBatcher batcher({.max_items = 8, .window = absl::Milliseconds(200)},
                      [&](absl::Span<CallBatcher::Call* const> calls) {
                        std::vector<std::string> keys;
                        int64_t items = 0;
                        for (auto* c : calls) {
                          keys.push_back(c->key);
                          items += c->items;
                        }
                        for (auto* c : calls) {
                          auto* t = static_cast<TestCall*>(c);
                          t->batch_size = static_cast<int>(calls.size());
                          t->batch_items = items;
                          t->status = absl::OkStatus();
                        }
                        std::lock_guard<std::mutex> lock(mu);
                        seen.push_back(keys);
                      });
  constexpr int kCalls = 12;
  std::vector<TestCall> calls(kCalls);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    calls[i].key = i % 3 == 0 ? "b" : "a";
    calls[i].items = 2;
    threads.emplace_back([&, i] { batcher.Run(&calls[i]); });
  }
  for (std::thread& t : threads) t.join();
  int64_t total = 0;
  bool any_shared = false;
  for (const auto& keys : seen) {
    for (const std::string& k : keys) EXPECT_EQ(k, keys[0]) << "keys mixed in one batch";
    total += static_cast<int64_t>(keys.size());
    any_shared = any_shared || keys.size() > 1;
  }
  EXPECT_EQ(total, kCalls);
  EXPECT_TRUE(any_shared);  // the 200 ms window lets concurrent callers join
  for (const TestCall& c : calls) {
    EXPECT_TRUE(c.done);
    EXPECT_TRUE(c.status.ok());
    EXPECT_LE(c.batch_items, 8);
  }
  EXPECT_EQ(batcher.batched_calls(), kCalls);
  EXPECT_LT(batcher.batches(), kCalls);
  EXPECT_EQ(batcher.queued(), 0);
}

TEST(CallBatcherTest, CancelledCallIsDroppedAndBigCallRunsAlone) {
  std::atomic<int> runs{0};
  CallBatcher batcher({.max_items = 4, .window = absl::Milliseconds(1)},
                      [&](absl::Span<CallBatcher::Call* const> calls) {
                        ++runs;
                        for (auto* c : calls) c->status = absl::OkStatus();
                      });
  CallContext ctx("r", absl::InfiniteFuture());
  ctx.Cancel("gone");
  TestCall cancelled;
  cancelled.key = "a";
  cancelled.ctx = &ctx;
  batcher.Run(&cancelled);
  EXPECT_EQ(cancelled.status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(runs.load(), 0);
  TestCall big;
  big.key = "a";
  big.items = 100;  // above max_items: still runs, alone
  batcher.Run(&big);
  EXPECT_TRUE(big.status.ok());
  EXPECT_EQ(runs.load(), 1);
}

}  // namespace
}  // namespace jetserve::worker
