#include "gateway/backoff.h"

#include "gtest/gtest.h"

namespace jetserve::gateway {
namespace {

TEST(BackoffTest, DoublesUpToMaxAndResetsAfterLongRun) {
  Backoff b({.initial = absl::Milliseconds(500),
             .max = absl::Seconds(3),
             .reset_after = absl::Seconds(30)});
  const absl::Duration short_run = absl::Seconds(1);
  EXPECT_EQ(b.OnExit(short_run), absl::Milliseconds(500));
  EXPECT_EQ(b.OnExit(short_run), absl::Seconds(1));
  EXPECT_EQ(b.OnExit(short_run), absl::Seconds(2));
  EXPECT_EQ(b.OnExit(short_run), absl::Seconds(3));
  EXPECT_EQ(b.OnExit(short_run), absl::Seconds(3));
  EXPECT_EQ(b.consecutive_failures(), 5);
  EXPECT_EQ(b.OnExit(absl::Seconds(30)), absl::Milliseconds(500));
  EXPECT_EQ(b.consecutive_failures(), 1);
  EXPECT_EQ(b.OnExit(short_run), absl::Seconds(1));
}

TEST(BackoffTest, ManyFailuresStayBounded) {
  Backoff b(
      {.initial = absl::Milliseconds(1), .max = absl::Hours(1), .reset_after = absl::Seconds(30)});
  absl::Duration last;
  for (int i = 0; i < 10000; ++i) last = b.OnExit(absl::ZeroDuration());
  EXPECT_EQ(last, absl::Hours(1));
}

}  // namespace
}  // namespace jetserve::gateway
