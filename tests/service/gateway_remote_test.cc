// Multi-process test of remote workers: the gateway connects to workers it did not start,
// by static address and by a DNS name it resolves itself, and follows their health; the
// default deadline for calls that carry none.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/service/gateway_harness.h"

namespace jetserve::testing {
namespace {

using ::testing::HasSubstr;

TEST(GatewayRemoteTest, StaticAndDnsWorkersServeAndHealthFollowsThem) {
  TempDir dir;
  auto a = FakeWorkerProcess::Start(dir, "ra", {});
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = FakeWorkerProcess::Start(dir, "rb", {"--fake-event-log=" + dir.File("rb.events")});
  ASSERT_TRUE(b.ok()) << b.status();
  const std::string config = absl::StrFormat(
      R"({"listen": "127.0.0.1:0",
          "supervision": {"healthInterval": "0.1s"},
          "limits": {"defaultDeadline": "0.3s"},
          "models": [
            {"name": "static", "remote": {"addresses": ["%s"]}},
            {"name": "dns", "remote": {"dnsName": "localhost:%d", "resolveInterval": "1s"}}]})",
      (*a)->address(), (*b)->port());
  auto gw = GatewayProcess::Start(dir, config);
  ASSERT_TRUE(gw.ok()) << gw.status();
  GatewayProcess& g = **gw;
  ASSERT_TRUE(WaitForHealth(g.channel(), "static", 1, absl::Seconds(30))) << g.log();
  ASSERT_TRUE(WaitForHealth(g.channel(), "dns", 1, absl::Seconds(30))) << g.log();

  GenerateResult ra = RunGenerate(g.stub(), "static", "tokens=2", {.timeout = absl::Seconds(20)});
  ASSERT_TRUE(ra.status.ok()) << ra.status.error_message();
  EXPECT_EQ(ra.text(), "[ra #0][ra #1]");
  GenerateResult rb = RunGenerate(g.stub(), "dns", "tokens=1", {.timeout = absl::Seconds(20)});
  ASSERT_TRUE(rb.status.ok()) << rb.status.error_message();
  EXPECT_EQ(rb.text(), "[rb #0]");

  // limits.default_deadline applies to calls without a deadline, and reaches the worker.
  GenerateResult slow =
      RunGenerate(g.stub(), "dns", "tokens=1000 delay_ms=10", {.request_id = "default-deadline"});
  EXPECT_EQ(slow.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(
      WaitForEvent(dir.File("rb.events"), "deadline", "default-deadline", absl::Seconds(10)));

  grpc::ClientContext context;
  jetserve::v1::GetModelRequest request;
  request.set_name("dns");
  jetserve::v1::ModelInfo info;
  ASSERT_TRUE(g.stub().GetModel(&context, request, &info).ok());
  EXPECT_EQ(info.state(), jetserve::v1::MODEL_STATE_READY);
  EXPECT_EQ(info.ready_replicas(), 1);
  EXPECT_GE(info.total_replicas(), 1);  // localhost may also resolve to ::1
  EXPECT_TRUE(g.WaitForLog(
      {"\"event\":\"worker_added\"", "\"model\":\"dns\"", absl::StrCat("127.0.0.1:", (*b)->port())},
      absl::Seconds(5)));

  // The static worker goes away: the model stops serving, calls fail fast.
  (*a)->Kill();
  ASSERT_TRUE(WaitForHealth(g.channel(), "static", 2, absl::Seconds(30))) << g.log();
  GenerateResult gone = RunGenerate(g.stub(), "static", "tokens=1", {.timeout = absl::Seconds(20)});
  EXPECT_EQ(gone.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  grpc::ClientContext context2;
  request.set_name("static");
  ASSERT_TRUE(g.stub().GetModel(&context2, request, &info).ok());
  EXPECT_EQ(info.state(), jetserve::v1::MODEL_STATE_UNAVAILABLE);
  EXPECT_THAT(info.state_detail(), HasSubstr((*a)->address()));
  EXPECT_EQ(HealthOf(g.channel(), "dns"), 1);
}

}  // namespace
}  // namespace jetserve::testing
