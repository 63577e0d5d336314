#include "gateway/request_queue.h"

#include <string>

#include "gtest/gtest.h"

namespace jetserve::gateway {
namespace {

TEST(RequestQueueTest, FifoBoundedRemovableExpiring) {
  RequestQueue<std::string> q(3);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_TRUE(q.Push(1, t0 + absl::Seconds(5), "a"));
  EXPECT_TRUE(q.Push(2, t0 + absl::Seconds(1), "b"));
  EXPECT_TRUE(q.Push(3, absl::InfiniteFuture(), "c"));
  std::string rejected = "d";
  EXPECT_FALSE(q.Push(4, t0, std::move(rejected)));
  EXPECT_EQ(rejected, "d");  // untouched on failure
  EXPECT_EQ(q.size(), 3);
  EXPECT_EQ(q.EarliestDeadline(), t0 + absl::Seconds(1));

  auto expired = q.TakeExpired(t0 + absl::Seconds(2));
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].value, "b");
  EXPECT_FALSE(q.Remove(2).has_value());

  auto removed = q.Remove(3);
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(removed->value, "c");
  auto front = q.PopFront();
  ASSERT_TRUE(front.has_value());
  EXPECT_EQ(front->value, "a");
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.PopFront().has_value());
}

TEST(RequestQueueTest, ZeroLimitRejectsAll) {
  RequestQueue<int> q(0);
  EXPECT_FALSE(q.Push(1, absl::InfiniteFuture(), 1));
}

}  // namespace
}  // namespace jetserve::gateway
