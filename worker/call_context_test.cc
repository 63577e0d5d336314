#include "worker/call_context.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::worker {
namespace {

using ::jetserve::testing::StatusIs;

TEST(CallContextTest, CancelWakesWaiterWithReason) {
  CallContext ctx("r", absl::InfiniteFuture());
  EXPECT_FALSE(ctx.Cancelled());
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(20));
    ctx.Cancel("client went away");
  });
  const absl::Time start = absl::Now();
  EXPECT_TRUE(ctx.WaitForCancellation(absl::Seconds(30)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  canceller.join();
  EXPECT_THAT(ctx.CancelledStatus(), StatusIs(absl::StatusCode::kCancelled, "client went away"));
  ctx.Cancel("second reason is ignored");
  EXPECT_THAT(ctx.CancelledStatus(), StatusIs(absl::StatusCode::kCancelled, "client went away"));
}

TEST(CallContextTest, DeadlinePassingIsCancellation) {
  CallContext ctx("r", absl::Now() + absl::Milliseconds(30));
  EXPECT_FALSE(ctx.WaitForCancellation(absl::Milliseconds(1)));
  EXPECT_TRUE(ctx.WaitForCancellation(absl::Seconds(30)));
  EXPECT_TRUE(ctx.Cancelled());
  EXPECT_THAT(ctx.CancelledStatus(), StatusIs(absl::StatusCode::kDeadlineExceeded));
}

}  // namespace
}  // namespace jetserve::worker
