#include "gateway/remote_monitor.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::gateway {
namespace {

using ::jetserve::testing::StatusIs;

TEST(ResolveHostPortTest, ResolvesNumericAndNames) {
  ASSERT_OK_AND_ASSIGN(auto v4, ResolveHostPort("127.0.0.1:50061"));
  EXPECT_THAT(v4, ::testing::ElementsAre("127.0.0.1:50061"));
  ASSERT_OK_AND_ASSIGN(auto v6, ResolveHostPort("[::1]:7"));
  EXPECT_THAT(v6, ::testing::ElementsAre("[::1]:7"));
  ASSERT_OK_AND_ASSIGN(auto local, ResolveHostPort("localhost:80"));
  EXPECT_THAT(local, ::testing::Contains(::testing::AnyOf("127.0.0.1:80", "[::1]:80")));
  EXPECT_THAT(ResolveHostPort("no-port"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ResolveHostPort("name.invalid:80"), StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace jetserve::gateway
