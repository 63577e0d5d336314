#include "gateway/router.h"

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::gateway {
namespace {

using ::jetserve::testing::StatusIs;
using ::testing::HasSubstr;

// Collects what a grant delivered.
struct Outcome {
  std::optional<absl::StatusOr<WorkerLease>> result;
  Router::Grant Grant() {
    return [this](absl::StatusOr<WorkerLease> r) { result = std::move(r); };
  }
  bool granted() const { return result.has_value() && result->ok(); }
  std::string worker() const { return (*result)->endpoint().id(); }
};

std::shared_ptr<WorkerEndpoint> Endpoint(const std::string& id) {
  return WorkerEndpoint::Create(id, "unix:/nonexistent/" + id + ".sock");
}

TEST(RouterTest, UnknownModelAndNoReadyWorker) {
  Router router(nullptr);
  router.AddModel({.name = "m", .queue_limit = 4});
  Outcome unknown, unready;
  router.Acquire("nope", absl::InfiniteFuture(), unknown.Grant());
  EXPECT_THAT(*unknown.result, StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
  router.SetWorker("m", Endpoint("w0"), /*ready=*/false, 0);
  router.Acquire("m", absl::InfiniteFuture(), unready.Grant());
  EXPECT_THAT(*unready.result, StatusIs(absl::StatusCode::kUnavailable));
}

TEST(RouterTest, CapacityThenQueueThenResourceExhausted) {
  Router router(nullptr);
  router.AddModel({.name = "m", .queue_limit = 2});
  router.SetWorker("m", Endpoint("w0"), true, /*capacity=*/2);
  std::vector<Outcome> calls(6);
  for (auto& c : calls) router.Acquire("m", absl::InfiniteFuture(), c.Grant());
  EXPECT_TRUE(calls[0].granted());
  EXPECT_TRUE(calls[1].granted());
  EXPECT_FALSE(calls[2].result.has_value());  // queued
  EXPECT_FALSE(calls[3].result.has_value());
  EXPECT_THAT(*calls[4].result, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(*calls[5].result, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(router.Status("m").queued, 2);
  EXPECT_EQ(router.Status("m").in_flight, 2);

  calls[1].result.reset();  // releases the lease: the head of the queue gets the slot
  EXPECT_TRUE(calls[2].granted());
  EXPECT_FALSE(calls[3].result.has_value());
  calls[0].result->value().Release();
  EXPECT_TRUE(calls[3].granted());
  EXPECT_EQ(router.Status("m").queued, 0);
}

TEST(RouterTest, LeastOutstandingAndPerWorkerCap) {
  Router router(nullptr);
  router.AddModel({.name = "m", .queue_limit = 0, .max_in_flight_per_worker = 2});
  router.SetWorker("m", Endpoint("a"), true, 8);
  router.SetWorker("m", Endpoint("b"), true, 8);
  std::vector<Outcome> calls(5);
  for (auto& c : calls) router.Acquire("m", absl::InfiniteFuture(), c.Grant());
  int a = 0, b = 0;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(calls[i].granted());
    (calls[i].worker() == "a" ? a : b)++;
  }
  EXPECT_EQ(a, 2);
  EXPECT_EQ(b, 2);
  // min(advertised 8, max_in_flight_per_worker 2) per worker, queue_limit 0.
  EXPECT_THAT(*calls[4].result, StatusIs(absl::StatusCode::kResourceExhausted));
  // A free slot on "b" gets the next call even though "a" was added first.
  for (auto& c : calls) {
    if (c.granted() && c.worker() == "b") {
      c.result.reset();
      break;
    }
  }
  Outcome next;
  router.Acquire("m", absl::InfiniteFuture(), next.Grant());
  ASSERT_TRUE(next.granted());
  EXPECT_EQ(next.worker(), "b");
}

TEST(RouterTest, QueuedCallExpiresCancelsAndFailsWhenWorkersGo) {
  Router router(nullptr);
  router.AddModel({.name = "m", .queue_limit = 8});
  auto w = Endpoint("w");
  router.SetWorker("m", w, true, 1);
  Outcome busy;
  router.Acquire("m", absl::InfiniteFuture(), busy.Grant());
  ASSERT_TRUE(busy.granted());

  absl::Notification expired;
  absl::Status expired_status;
  router.Acquire("m", absl::Now() + absl::Milliseconds(50), [&](absl::StatusOr<WorkerLease> r) {
    expired_status = r.status();
    expired.Notify();
  });
  ASSERT_TRUE(expired.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_THAT(expired_status, StatusIs(absl::StatusCode::kDeadlineExceeded));

  Outcome cancelled;
  uint64_t ticket = router.Acquire("m", absl::InfiniteFuture(), cancelled.Grant());
  ASSERT_NE(ticket, 0u);
  router.Cancel("m", ticket);
  EXPECT_THAT(*cancelled.result, StatusIs(absl::StatusCode::kCancelled));

  Outcome stranded;
  router.Acquire("m", absl::InfiniteFuture(), stranded.Grant());
  EXPECT_FALSE(stranded.result.has_value());
  router.SetWorker("m", w, /*ready=*/false, 0);
  EXPECT_THAT(*stranded.result, StatusIs(absl::StatusCode::kUnavailable));
}

TEST(RouterTest, ReadinessListenerAndRestartedWorker) {
  Router router(nullptr);
  router.AddModel({.name = "m", .queue_limit = 8});
  std::vector<std::pair<std::string, bool>> events;
  router.SetReadinessListener(
      [&](const std::string& model, bool serving) { events.emplace_back(model, serving); });
  router.SetWorker("m", Endpoint("w"), true, 1);
  Outcome old_call;
  router.Acquire("m", absl::InfiniteFuture(), old_call.Grant());
  ASSERT_TRUE(old_call.granted());
  router.SetWorker("m", Endpoint("w"), false, 0);  // process died
  router.SetWorker("m", Endpoint("w"), true, 1);   // new process under the same id
  Outcome new_call;
  router.Acquire("m", absl::InfiniteFuture(), new_call.Grant());
  EXPECT_TRUE(new_call.granted());  // the old call's slot does not count against it
  old_call.result.reset();
  router.RemoveWorker("m", "w");
  EXPECT_THAT(events, ::testing::ElementsAre(std::pair<std::string, bool>("m", true),
                                             std::pair<std::string, bool>("m", false),
                                             std::pair<std::string, bool>("m", true),
                                             std::pair<std::string, bool>("m", false)));
  EXPECT_EQ(router.Status("m").total_workers, 0);
}

TEST(RouterTest, MarkUnavailableSkipsTheWorkerUntilItIsSetReadyAgain) {
  Router router(nullptr);
  router.AddModel({.name = "m", .queue_limit = 4});
  auto a = Endpoint("a");
  auto b = Endpoint("b");
  router.SetWorker("m", a, true, 8);
  router.SetWorker("m", b, true, 8);
  router.MarkUnavailable("m", a.get());
  EXPECT_EQ(router.Status("m").ready_workers, 1);
  for (int i = 0; i < 3; ++i) {
    Outcome call;
    router.Acquire("m", absl::InfiniteFuture(), call.Grant());
    ASSERT_TRUE(call.granted());
    EXPECT_EQ(call.worker(), "b");
  }
  // A stale endpoint object (the process under id "b" was replaced) changes nothing.
  auto old_b = Endpoint("b");
  router.MarkUnavailable("m", old_b.get());
  EXPECT_EQ(router.Status("m").ready_workers, 1);
  // The last ready worker marked down: the model stops serving, queued calls fail fast.
  router.MarkUnavailable("m", b.get());
  Outcome none;
  router.Acquire("m", absl::InfiniteFuture(), none.Grant());
  EXPECT_THAT(*none.result, StatusIs(absl::StatusCode::kUnavailable));
  // The monitor's next successful probe brings it back, and round-robin covers both again.
  router.SetWorker("m", a, true, 8);
  router.SetWorker("m", b, true, 8);
  std::set<std::string> seen;
  for (int i = 0; i < 2; ++i) {
    Outcome call;
    router.Acquire("m", absl::InfiniteFuture(), call.Grant());
    ASSERT_TRUE(call.granted());
    seen.insert(call.worker());
  }
  EXPECT_EQ(seen, (std::set<std::string>{"a", "b"}));
}

TEST(RouterTest, ShutdownFailsQueuedAndRefusesNew) {
  Router router(nullptr);
  router.AddModel({.name = "m", .queue_limit = 8});
  router.SetWorker("m", Endpoint("w"), true, 1);
  Outcome running, queued, late;
  router.Acquire("m", absl::InfiniteFuture(), running.Grant());
  router.Acquire("m", absl::InfiniteFuture(), queued.Grant());
  router.Shutdown();
  EXPECT_THAT(*queued.result, StatusIs(absl::StatusCode::kUnavailable));
  router.Acquire("m", absl::InfiniteFuture(), late.Grant());
  EXPECT_THAT(*late.result, StatusIs(absl::StatusCode::kUnavailable));
  running.result.reset();  // releasing after shutdown is fine
}

// WaitIdle counts leases across models, removed models included, and wakes when the last
// one is released (from another thread).
TEST(RouterTest, WaitIdleWaitsForTheLastLease) {
  Router router(nullptr);
  router.AddModel({.name = "a", .queue_limit = 8});
  router.AddModel({.name = "b", .queue_limit = 8});
  router.SetWorker("a", Endpoint("wa"), true, 2);
  router.SetWorker("b", Endpoint("wb"), true, 2);
  EXPECT_TRUE(router.WaitIdle(absl::Now()));
  Outcome a, b;
  router.Acquire("a", absl::InfiniteFuture(), a.Grant());
  router.Acquire("b", absl::InfiniteFuture(), b.Grant());
  ASSERT_TRUE(a.granted() && b.granted());
  router.RemoveModel("b");  // its lease outlives the model
  router.Shutdown();
  EXPECT_FALSE(router.WaitIdle(absl::Now() + absl::Milliseconds(20)));
  a.result.reset();
  EXPECT_FALSE(router.WaitIdle(absl::Now() + absl::Milliseconds(20)));
  std::thread release([&b] {
    absl::SleepFor(absl::Milliseconds(50));
    b.result.reset();
  });
  EXPECT_TRUE(router.WaitIdle(absl::Now() + absl::Seconds(30)));
  release.join();
}

}  // namespace
}  // namespace jetserve::gateway
