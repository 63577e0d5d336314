#include "worker/listen_address.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::worker {
namespace {

using ::jetserve::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ListenAddressTest, ParsesTcpAndUnix) {
  absl::StatusOr<ListenAddress> a = ParseListenAddress("127.0.0.1:0", "--listen", {});
  ASSERT_OK(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 0);
  EXPECT_EQ(a->ToString(), "127.0.0.1:0");
  a = ParseListenAddress("[::1]:50051", "--listen", {});
  ASSERT_OK(a);
  EXPECT_EQ(a->ToString(), "[::1]:50051");
  a = ParseListenAddress("unix:/run/w.sock", "--listen", {});
  ASSERT_OK(a);
  EXPECT_TRUE(a->is_unix());
  EXPECT_EQ(a->ToString(), "unix:/run/w.sock");
}

TEST(ListenAddressTest, RejectsWithPreciseMessages) {
  EXPECT_THAT(ParseListenAddress("", "--listen", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--listen is empty")));
  EXPECT_THAT(ParseListenAddress("localhost", "--listen", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has no port")));
  EXPECT_THAT(ParseListenAddress(":80", "--listen", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has no host")));
  EXPECT_THAT(ParseListenAddress("h:65536", "--listen", {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("port \"65536\" is not an integer in [0, 65535]")));
  EXPECT_THAT(ParseListenAddress("h:-1", "--listen", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("port \"-1\"")));
  EXPECT_THAT(ParseListenAddress("::1:80", "--listen", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("brackets")));
  EXPECT_THAT(ParseListenAddress("unix:", "--listen", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("socket path is empty")));
  EXPECT_THAT(ParseListenAddress("unix:/" + std::string(200, 'a'), "--listen", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("the limit is 107")));
  EXPECT_THAT(ParseListenAddress("unix:/x", "--metrics-listen", {.allow_unix = false}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--metrics-listen \"unix:/x\": Unix sockets are not supported")));
}

}  // namespace
}  // namespace jetserve::worker
