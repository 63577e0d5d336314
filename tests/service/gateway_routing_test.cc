// Multi-process tests of the gateway's request path: a real jetserve-gateway with real
// jetserve-fake-worker children. Routing between models, streaming order, cancellation,
// deadlines, unknown models, request ids and trace context, model listing, reflection.
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/unknown_field_set.h"
#include "grpcpp/client_context.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "tests/service/gateway_harness.h"

namespace jetserve::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

class GatewayRoutingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    std::string config = absl::StrFormat(
        R"({"listen": "127.0.0.1:0", "workerBinary": "%s", "runtimeDir": "%s/run",
            "supervision": {"healthInterval": "0.2s", "drainGracePeriod": "1s",
                            "killGracePeriod": "1s"},
            "limits": {"maxRequestBytes": 65536, "maxTokens": 4096},
            "models": [
              {"name": "alpha", "path": "/models/alpha", "local": {"replicas": 2,
               "args": ["--fake-capacity=4", "--fake-event-log=%s"]}},
              {"name": "beta", "path": "/models/beta", "local": {
               "metricsListen": "127.0.0.1:0",
               "args": ["--fake-capacity=4", "--fake-event-log=%s"]}}]})",
        FakeWorkerBinary(), dir_->path(), dir_->File("alpha.events"), dir_->File("beta.events"));
    auto gw = GatewayProcess::Start(*dir_, config);
    ASSERT_TRUE(gw.ok()) << gw.status();
    gateway_ = gw->release();
    ASSERT_TRUE(WaitForHealth(gateway_->channel(), "alpha", 1, absl::Seconds(30)))
        << gateway_->log();
    ASSERT_TRUE(WaitForHealth(gateway_->channel(), "beta", 1, absl::Seconds(30)))
        << gateway_->log();
    // Health turns SERVING with the first ready replica; wait for both of alpha's.
    ASSERT_TRUE(WaitForReadyReplicas(gateway_->stub(), "alpha", 2, absl::Seconds(30)))
        << gateway_->log();
  }
  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(gateway_, nullptr); }

  static TempDir* dir_;
  static GatewayProcess* gateway_;
};

TempDir* GatewayRoutingTest::dir_ = nullptr;
GatewayProcess* GatewayRoutingTest::gateway_ = nullptr;

TEST_F(GatewayRoutingTest, RoutesByModelAndStreamsTokensInOrder) {
  for (const std::string model : {"alpha", "beta"}) {
    GenerateResult r = RunGenerate(gateway_->stub(), model, "tokens=20 delay_ms=2",
                                   {.timeout = absl::Seconds(20)});
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    ASSERT_EQ(r.messages.size(), 20u);
    for (int i = 0; i < 20; ++i) {
      EXPECT_THAT(r.messages[i].token_ids(), ::testing::ElementsAre(i));
      EXPECT_EQ(r.messages[i].text(), absl::StrCat("[", model, " #", i, "]"));
    }
    EXPECT_EQ(r.messages.back().finish_reason(), jetserve::v1::FINISH_REASON_LENGTH);
    EXPECT_EQ(r.messages.back().usage().completion_tokens(), 20);
  }
}

TEST_F(GatewayRoutingTest, UnaryCallsRouteByModel) {
  for (const std::string model : {"alpha", "beta"}) {
    grpc::ClientContext context;
    jetserve::v1::TokenizeRequest request;
    request.set_model(model);
    request.set_text("hi");
    jetserve::v1::TokenizeResponse response;
    grpc::Status status = gateway_->stub().Tokenize(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_THAT(response.token_ids(), ::testing::ElementsAre('h', 'i'));
  }
}

TEST_F(GatewayRoutingTest, SpreadsLoadOverReplicas) {
  // Four concurrent slow streams on two replicas of capacity 4: least-outstanding routing
  // puts two on each.
  std::vector<std::thread> threads;
  std::vector<GenerateResult> results(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      results[i] =
          RunGenerate(gateway_->stub(), "alpha", "tokens=5 delay_ms=100",
                      {.timeout = absl::Seconds(30), .request_id = absl::StrCat("spread-", i)});
    });
  }
  for (auto& t : threads) t.join();
  std::map<int64_t, int> per_pid;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(results[i].status.ok()) << results[i].status.error_message();
    for (absl::string_view line :
         absl::StrSplit(ReadFileOrEmpty(dir_->File("alpha.events")), '\n')) {
      if (absl::StrContains(line, "\"event\":\"start\"") &&
          absl::StrContains(line, absl::StrCat("\"request_id\":\"spread-", i, "\""))) {
        per_pid[JsonInt(std::string(line), "pid")]++;
      }
    }
  }
  ASSERT_EQ(per_pid.size(), 2u);
  for (const auto& [pid, n] : per_pid) EXPECT_EQ(n, 2) << "pid " << pid;
}

TEST_F(GatewayRoutingTest, RequestIdAndTraceparentReachTheWorker) {
  const std::string traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  GenerateResult r = RunGenerate(
      gateway_->stub(), "beta", "tokens=1",
      {.timeout = absl::Seconds(20), .request_id = "rid-trace-1", .traceparent = traceparent});
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.request_id, "rid-trace-1");
  EXPECT_TRUE(WaitForEvent(dir_->File("beta.events"), "finished", "rid-trace-1", absl::Seconds(5)));
  EXPECT_TRUE(gateway_->WaitForLog(
      {"\"event\":\"request\"", "\"request_id\":\"rid-trace-1\"", "\"model\":\"beta\"",
       "\"method\":\"Generate\"", "\"code\":\"OK\"", "\"worker\":\"beta/0\""},
      absl::Seconds(5)));
  // Without an id the gateway makes one and returns it.
  GenerateResult generated =
      RunGenerate(gateway_->stub(), "beta", "tokens=1", {.timeout = absl::Seconds(20)});
  ASSERT_TRUE(generated.status.ok());
  EXPECT_EQ(generated.request_id.size(), 32u);
  EXPECT_TRUE(
      WaitForEvent(dir_->File("beta.events"), "finished", generated.request_id, absl::Seconds(5)));
}

TEST_F(GatewayRoutingTest, LocalWorkersGetMetricsListen) {
  EXPECT_EQ(gateway_
                ->LogLines({"\"event\":\"worker_ready\"", "\"worker\":\"beta/0\"",
                            "\"metrics_address\":\"127.0.0.1:"})
                .size(),
            1u);
  EXPECT_EQ(gateway_
                ->LogLines({"\"event\":\"worker_ready\"", "\"worker\":\"alpha/0\"",
                            "\"metrics_address\":\"\""})
                .size(),
            1u);
}

TEST_F(GatewayRoutingTest, UnknownModelIsNotFound) {
  GenerateResult r = RunGenerate(gateway_->stub(), "gamma", "tokens=1",
                                 {.timeout = absl::Seconds(10), .request_id = "rid-unknown"});
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(r.status.error_message(), HasSubstr("gamma"));
  EXPECT_EQ(r.request_id, "rid-unknown");
  grpc::ClientContext context;
  jetserve::v1::EmbedRequest request;
  request.set_model("gamma");
  jetserve::v1::EmbedResponse response;
  EXPECT_EQ(gateway_->stub().Embed(&context, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  GenerateResult empty = RunGenerate(gateway_->stub(), "", "tokens=1");
  EXPECT_EQ(empty.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(empty.status.error_message(), HasSubstr("model: required"));
  GenerateResult huge = RunGenerate(gateway_->stub(), std::string(5000, 'm'), "tokens=1");
  EXPECT_EQ(huge.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(huge.status.error_message(), "model: at most 128 characters, got 5000");
}

TEST_F(GatewayRoutingTest, OversizedRequestIsRejected) {
  GenerateResult r = RunGenerate(gateway_->stub(), "alpha", std::string(100000, 'x'),
                                 {.timeout = absl::Seconds(10)});
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  GenerateResult fits =
      RunGenerate(gateway_->stub(), "alpha", "tokens=1 " + std::string(50000, 'x'),
                  {.timeout = absl::Seconds(10)});
  EXPECT_TRUE(fits.status.ok()) << fits.status.error_message();
}

TEST_F(GatewayRoutingTest, MaxTokensLimitNamesTheField) {
  grpc::ClientContext context;
  jetserve::v1::GenerateRequest request;
  request.set_model("alpha");
  request.set_prompt("tokens=1");
  request.mutable_stop()->set_max_tokens(5000);
  auto reader = gateway_->stub().Generate(&context, request);
  jetserve::v1::GenerateResponse response;
  EXPECT_FALSE(reader->Read(&response));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("stop.max_tokens: must be at most 4096, got 5000"));
}

TEST_F(GatewayRoutingTest, CancellingAStreamStopsTheWorker) {
  grpc::ClientContext context;
  context.AddMetadata("x-request-id", "rid-cancel-1");
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  jetserve::v1::GenerateRequest request;
  request.set_model("alpha");
  request.set_prompt("tokens=1000 delay_ms=10");
  auto reader = gateway_->stub().Generate(&context, request);
  jetserve::v1::GenerateResponse response;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(reader->Read(&response));
  context.TryCancel();
  while (reader->Read(&response)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  const std::string events = dir_->File("alpha.events");
  EXPECT_TRUE(WaitForEvent(events, "cancelled", "rid-cancel-1", absl::Seconds(10)));
  EXPECT_EQ(CountEvents(events, "finished", "rid-cancel-1"), 0);
  // The worker stopped producing tokens well before the 1000.
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_LT(CountEvents(events, "token", "rid-cancel-1"), 500);
}

TEST_F(GatewayRoutingTest, DeadlineReachesTheWorker) {
  GenerateResult r =
      RunGenerate(gateway_->stub(), "beta", "tokens=1000 delay_ms=10",
                  {.timeout = absl::Milliseconds(300), .request_id = "rid-deadline-1"});
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_FALSE(r.messages.empty());
  EXPECT_TRUE(
      WaitForEvent(dir_->File("beta.events"), "deadline", "rid-deadline-1", absl::Seconds(10)));
  EXPECT_EQ(CountEvents(dir_->File("beta.events"), "finished", "rid-deadline-1"), 0);
}

TEST_F(GatewayRoutingTest, ListAndGetModels) {
  grpc::ClientContext context;
  jetserve::v1::ListModelsResponse list;
  ASSERT_TRUE(gateway_->stub().ListModels(&context, {}, &list).ok());
  ASSERT_EQ(list.models_size(), 2);
  EXPECT_EQ(list.models(0).name(), "alpha");
  EXPECT_EQ(list.models(0).state(), jetserve::v1::MODEL_STATE_READY);
  EXPECT_EQ(list.models(0).ready_replicas(), 2);
  EXPECT_EQ(list.models(0).total_replicas(), 2);
  EXPECT_EQ(list.models(0).device(), "cpu");
  EXPECT_EQ(list.models(1).name(), "beta");

  grpc::ClientContext missing_context;
  jetserve::v1::GetModelRequest missing;
  missing.set_name("gamma");
  jetserve::v1::ModelInfo info;
  EXPECT_EQ(gateway_->stub().GetModel(&missing_context, missing, &info).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(GatewayRoutingTest, HealthOverallAndPerModel) {
  EXPECT_EQ(HealthOf(gateway_->channel(), ""), 1);
  EXPECT_EQ(HealthOf(gateway_->channel(), "alpha"), 1);
  EXPECT_EQ(HealthOf(gateway_->channel(), "gamma"), -1);  // NOT_FOUND
}

// Server reflection v1alpha, spoken with a generic stub (Debian ships no reflection client):
// ServerReflectionRequest{list_services = 7} → ServerReflectionResponse{
// list_services_response = 6 {service = 1 {name = 1}}}.
TEST_F(GatewayRoutingTest, ReflectionListsTheServices) {
  grpc::GenericStub stub(gateway_->channel());
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok;
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  std::string request("\x3a\x00", 2);  // field 7, empty string
  grpc::Slice slice(request);
  grpc::ByteBuffer out(&slice, 1);
  call->Write(out, reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::ByteBuffer in;
  call->Read(&in, reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  call->WritesDone(reinterpret_cast<void*>(4));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  ASSERT_TRUE(status.ok()) << status.error_message();

  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(in.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  google::protobuf::UnknownFieldSet response;
  ASSERT_TRUE(response.ParseFromString(bytes));
  std::vector<std::string> names;
  for (int i = 0; i < response.field_count(); ++i) {
    if (response.field(i).number() != 6) continue;
    google::protobuf::UnknownFieldSet list;
    ASSERT_TRUE(list.ParseFromString(response.field(i).length_delimited()));
    for (int j = 0; j < list.field_count(); ++j) {
      google::protobuf::UnknownFieldSet service;
      ASSERT_TRUE(service.ParseFromString(list.field(j).length_delimited()));
      for (int k = 0; k < service.field_count(); ++k) {
        if (service.field(k).number() == 1) names.push_back(service.field(k).length_delimited());
      }
    }
  }
  EXPECT_THAT(names, ::testing::IsSupersetOf({"jetserve.v1.Jetserve", "grpc.health.v1.Health",
                                              "grpc.reflection.v1alpha.ServerReflection"}));
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

TEST(GatewayConfigErrorTest, MalformedConfigNamesTheField) {
  TempDir dir;
  ProcessResult bad = RunGatewayToExit(
      dir, R"({"models": [{"name": "a", "path": "/m", "local": {"replicas": 65}}]})");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.output, HasSubstr("models[0].local.replicas: must be in [1, 64], got 65"));
  ProcessResult unknown = RunGatewayToExit(dir, R"({"models": [{"name": "a", "pth": "/m"}]})");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.output, HasSubstr("models[0]"));
  EXPECT_THAT(unknown.output, HasSubstr("pth"));
}

}  // namespace
}  // namespace jetserve::testing
