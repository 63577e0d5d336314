// The worker's gRPC server in process, over the fake backend: streaming, cancellation,
// deadlines, flow control, drain, health, reflection and exact metrics.
#include "worker/worker_server.h"

#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "google/protobuf/message.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "tests/service/fake_backend.h"
#include "tests/service/raw_call.h"
#include "tests/service/worker_test_client.h"
#include "tests/testutil/status_matchers.h"
#include "worker/metrics.h"

namespace jetserve::testing {
namespace {

namespace wv1 = ::jetserve::worker::v1;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kModel[] = "test-model";

class WorkerServerTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer("127.0.0.1:0"); }

  void StartServer(const std::string& listen, int max_queued = 4) {
    metrics_ = std::make_unique<worker::WorkerMetrics>(registry_, kModel);
    auto backend = std::make_unique<FakeBackend>(
        FakeBackendOptions{.name = kModel, .capacity = 3, .metrics = metrics_.get()});
    backend_ = backend.get();
    absl::StatusOr<worker::ListenAddress> address =
        worker::ParseListenAddress(listen, "--listen", {});
    ASSERT_OK(address);
    absl::StatusOr<std::unique_ptr<worker::WorkerServer>> server = worker::WorkerServer::Start(
        std::move(backend), metrics_.get(),
        {.listen = *address, .model_name = kModel, .stream = {.max_queued = max_queued}});
    ASSERT_OK(server);
    server_ = *std::move(server);
    channel_ = WorkerChannel(server_->address());
    stub_ = wv1::Worker::NewStub(channel_);
  }

  std::optional<double> Metric(const std::string& name,
                               const std::map<std::string, std::string>& labels) {
    return MetricValue(registry_.Collect(), name, labels);
  }

  // Calls end on the server (OnDone) just after the client sees their status.
  void WaitForNoCallsInFlight() {
    const absl::Time until = absl::Now() + absl::Seconds(10);
    while (Metric("jetserve_worker_requests_in_flight", {{"model", kModel}}) != 0.0 &&
           absl::Now() < until) {
      absl::SleepFor(absl::Milliseconds(5));
    }
  }

  prometheus::Registry registry_;
  std::unique_ptr<worker::WorkerMetrics> metrics_;
  FakeBackend* backend_ = nullptr;  // owned by server_
  std::unique_ptr<worker::WorkerServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<wv1::Worker::Stub> stub_;
};

TEST_F(WorkerServerTest, GenerateStreamsTokensInOrderAndCompletes) {
  GenerateResult r = RunGenerate(*stub_, MakeGenerateRequest("order", "hello tokens=20"));
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  ASSERT_EQ(r.messages.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_THAT(r.messages[i].token_ids(), ElementsAre(i));
    EXPECT_EQ(r.messages[i].text(), absl::StrCat("[test-model #", i, "]"));
    EXPECT_EQ(r.messages[i].finish_reason(), i == 19 ? jetserve::v1::FINISH_REASON_LENGTH
                                                     : jetserve::v1::FINISH_REASON_UNSPECIFIED);
  }
  EXPECT_EQ(r.messages.back().usage().completion_tokens(), 20);
  EXPECT_EQ(r.messages.back().usage().prompt_tokens(), 15);  // bytes of the prompt
  EXPECT_TRUE(backend_->WaitForEvent("finished", "order", absl::Seconds(5)));
}

TEST_F(WorkerServerTest, GenerateHonoursMaxTokensAndBadDirectives) {
  wv1::GenerateRequest request = MakeGenerateRequest("max", "tokens=50");
  request.mutable_request()->mutable_stop()->set_max_tokens(3);
  EXPECT_EQ(RunGenerate(*stub_, request).messages.size(), 3u);
  GenerateResult bad = RunGenerate(*stub_, MakeGenerateRequest("bad", "tokens=lots"));
  EXPECT_EQ(bad.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.status.error_message(), HasSubstr("tokens=lots"));
  GenerateResult failed = RunGenerate(
      *stub_, MakeGenerateRequest("fail", "tokens=10 fail_at=4 fail_code=RESOURCE_EXHAUSTED"));
  EXPECT_EQ(failed.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(failed.messages.size(), 4u);
}

TEST_F(WorkerServerTest, ClientCancellationReachesBackend) {
  grpc::ClientContext ctx;
  auto reader = stub_->Generate(&ctx, MakeGenerateRequest("cancel-me", "tokens=100000 delay_ms=5"));
  jetserve::v1::GenerateResponse response;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(reader->Read(&response));
  ctx.TryCancel();
  while (reader->Read(&response)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  std::optional<FakeEvent> cancelled =
      backend_->WaitForEvent("cancelled", "cancel-me", absl::Seconds(5));
  ASSERT_TRUE(cancelled.has_value());
  EXPECT_LT(cancelled->n, 100000);
  EXPECT_EQ(backend_->CountEvents("finished", "cancel-me"), 0);
  WaitForNoCallsInFlight();
  EXPECT_EQ(Metric("jetserve_worker_requests_total",
                   {{"model", kModel}, {"method", "Generate"}, {"code", "CANCELLED"}}),
            1.0);
}

TEST_F(WorkerServerTest, DeadlineExpiresAsDeadlineExceededAndReachesBackend) {
  GenerateResult r = RunGenerate(*stub_, MakeGenerateRequest("late", "tokens=100000 delay_ms=10"),
                                 absl::Milliseconds(500));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  ASSERT_TRUE(backend_->WaitForEvent("deadline", "late", absl::Seconds(5)).has_value());
  WaitForNoCallsInFlight();
  EXPECT_EQ(Metric("jetserve_worker_requests_total",
                   {{"model", kModel}, {"method", "Generate"}, {"code", "DEADLINE_EXCEEDED"}}),
            1.0);
}

TEST_F(WorkerServerTest, UnaryDeadlineAndCancellationReachBackend) {
  wv1::EmbedRequest request;
  request.mutable_envelope()->set_request_id("slow-embed");
  request.mutable_request()->add_inputs("delay_ms=60000");
  grpc::ClientContext ctx;
  // Long enough for a busy machine's task pool to hand the call to the backend first (a
  // call whose deadline passes while queued ends without reaching it).
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  jetserve::v1::EmbedResponse response;
  EXPECT_EQ(stub_->Embed(&ctx, request, &response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(backend_->WaitForEvent("deadline", "slow-embed", absl::Seconds(5)).has_value());

  request.mutable_envelope()->set_request_id("cancelled-embed");
  grpc::ClientContext ctx2;
  absl::Notification done;
  grpc::Status status;
  stub_->async()->Embed(&ctx2, &request, &response, [&](grpc::Status s) {
    status = s;
    done.Notify();
  });
  ASSERT_TRUE(backend_->WaitForEvent("start", "cancelled-embed", absl::Seconds(5)).has_value());
  ctx2.TryCancel();
  done.WaitForNotification();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(backend_->WaitForEvent("cancelled", "cancelled-embed", absl::Seconds(5)).has_value());
}

TEST_F(WorkerServerTest, SlowReaderPausesProducer) {
  // 64 KiB messages: a few fill HTTP/2's flow-control window, then the worker's queue
  // (1 in flight + 4 queued) fills and the backend must stop producing.
  constexpr int kTokens = 400;
  // Fixed windows (no BDP probing) so the transport's share of the bound is predictable.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 * 1024);
  auto stub = wv1::Worker::NewStub(
      grpc::CreateCustomChannel(server_->address(), grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext ctx;
  auto reader = stub->Generate(
      &ctx, MakeGenerateRequest("slow", absl::StrCat("tokens=", kTokens, " chunk_bytes=65536")));
  jetserve::v1::GenerateResponse response;
  ASSERT_TRUE(reader->Read(&response));
  ASSERT_TRUE(backend_->WaitForEvent("paused", "slow", absl::Seconds(10)).has_value());
  // Let the transport settle: the count stops moving while the client does not read.
  int produced_while_paused = -1;
  for (const absl::Time until = absl::Now() + absl::Seconds(10); absl::Now() < until;) {
    absl::SleepFor(absl::Milliseconds(200));
    const int now = backend_->CountEvents("token", "slow");
    if (now == produced_while_paused) break;
    produced_while_paused = now;
  }
  // Bounded: 1 read + HTTP/2's 64 KiB window + 1 in flight + 4 queued, far below kTokens.
  EXPECT_LE(produced_while_paused, 16);
  RecordProperty("produced_while_paused", produced_while_paused);
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(backend_->CountEvents("token", "slow"), produced_while_paused)
      << "the backend kept producing for a client that does not read";
  // Reading again resumes the producer and every token arrives, in order.
  int next = 1;
  while (reader->Read(&response)) {
    ASSERT_THAT(response.token_ids(), ElementsAre(next % 256));
    ++next;
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(next, kTokens);
  EXPECT_GE(backend_->CountEvents("resumed", "slow"), 1);
}

TEST_F(WorkerServerTest, UnaryCallsAreDeterministic) {
  grpc::ClientContext c1;
  wv1::TokenizeRequest tokenize;
  tokenize.mutable_request()->set_text("hi!");
  tokenize.mutable_request()->set_return_pieces(true);
  jetserve::v1::TokenizeResponse tokens;
  ASSERT_TRUE(stub_->Tokenize(&c1, tokenize, &tokens).ok());
  EXPECT_THAT(tokens.token_ids(), ElementsAre('h', 'i', '!'));
  EXPECT_THAT(tokens.pieces(), ElementsAre("h", "i", "!"));

  grpc::ClientContext c2;
  wv1::DetokenizeRequest detokenize;
  detokenize.mutable_request()->add_token_ids('o');
  detokenize.mutable_request()->add_token_ids('k');
  jetserve::v1::DetokenizeResponse text;
  ASSERT_TRUE(stub_->Detokenize(&c2, detokenize, &text).ok());
  EXPECT_EQ(text.text(), "ok");

  grpc::ClientContext c3;
  detokenize.mutable_request()->add_token_ids(300);
  grpc::Status bad = stub_->Detokenize(&c3, detokenize, &text);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(bad.error_message(), "token_ids[2] = 300 is out of range [0, 256)");

  grpc::ClientContext c4;
  wv1::EmbedRequest embed;
  embed.mutable_request()->add_inputs("abcd");
  embed.mutable_request()->add_inputs("xy");
  jetserve::v1::EmbedResponse vectors;
  ASSERT_TRUE(stub_->Embed(&c4, embed, &vectors).ok());
  const float hash = static_cast<float>(NameHash(kModel) % 1000);
  EXPECT_THAT(vectors.embeddings(0).values(), ElementsAre(4.0f, hash, 0.0f));
  EXPECT_THAT(vectors.embeddings(1).values(), ElementsAre(2.0f, hash, 1.0f));

  grpc::ClientContext c5;
  wv1::ClassifyRequest classify;
  classify.mutable_request()->add_inputs()->set_text("abc");  // 3 bytes % 2 labels = 1
  jetserve::v1::ClassifyResponse labels;
  ASSERT_TRUE(stub_->Classify(&c5, classify, &labels).ok());
  EXPECT_EQ(labels.results(0).labels(0).label(), "positive");

  grpc::ClientContext c6;
  wv1::RerankRequest rerank;
  rerank.mutable_request()->set_query("abc");
  rerank.mutable_request()->add_documents("a");
  rerank.mutable_request()->add_documents("abd");
  jetserve::v1::RerankResponse ranked;
  ASSERT_TRUE(stub_->Rerank(&c6, rerank, &ranked).ok());
  EXPECT_EQ(ranked.results(0).index(), 1);
  EXPECT_FLOAT_EQ(ranked.results(0).score(), 1.0f);
}

TEST_F(WorkerServerTest, GetInfoReportsModelCapacityAndState) {
  grpc::ClientContext ctx;
  wv1::WorkerInfo info;
  ASSERT_TRUE(stub_->GetInfo(&ctx, wv1::GetInfoRequest(), &info).ok());
  EXPECT_EQ(info.model().name(), kModel);
  EXPECT_EQ(info.model().device(), "cpu");
  EXPECT_EQ(info.capacity().max_concurrent_requests(), 3);
  EXPECT_EQ(info.state(), wv1::WORKER_STATE_SERVING);
  EXPECT_EQ(info.pid(), getpid());
  EXPECT_FALSE(info.version().empty());
  EXPECT_EQ(info.running_requests(), 0);
}

TEST_F(WorkerServerTest, HealthAndReflection) {
  EXPECT_EQ(*HealthStatus(channel_, ""), kServing);
  EXPECT_EQ(*HealthStatus(channel_, "jetserve.worker.v1.Worker"), kServing);
  EXPECT_EQ(*HealthStatus(channel_, kModel), kServing);
  absl::StatusOr<std::vector<std::string>> services = ReflectionServices(channel_);
  ASSERT_OK(services);
  EXPECT_THAT(*services, Contains("jetserve.worker.v1.Worker"));
  EXPECT_THAT(*services, Contains("grpc.health.v1.Health"));
}

// Requests that do not parse, sent as raw bytes (protobuf's ParseFromString is the oracle
// of what does not parse): every method answers INVALID_ARGUMENT naming the field and the
// byte (derived here from how the bytes were built), not gRPC's UNIMPLEMENTED; nothing
// reaches the backend, the calls are counted like other failed calls, and the worker goes
// on serving (a broken Drain request drains nothing).
TEST_F(WorkerServerTest, RequestsThatDoNotParseAreInvalidArgument) {
  struct Case {
    std::string method;
    const google::protobuf::Message* type;
    std::string bytes;
    std::string message;
  };
  std::vector<Case> cases;
  // `message` serialized (it parses), with its placeholder "@@" replaced by 0xFF (never in
  // UTF-8) and '('. `message` must outlive the cases.
  auto raw = [&](const std::string& method, const google::protobuf::Message& message,
                 const std::string& expected) {
    std::string wire = message.SerializeAsString();
    std::unique_ptr<google::protobuf::Message> copy(message.New());
    EXPECT_TRUE(copy->ParseFromString(wire)) << method;
    const size_t at = wire.find("@@");
    ASSERT_NE(at, std::string::npos) << method;
    ASSERT_EQ(wire.find("@@", at + 1), std::string::npos) << method;
    wire.replace(at, 2, "\xff(");
    cases.push_back({method, &message, wire, expected});
  };
  const wv1::GenerateRequest prompt = MakeGenerateRequest("raw-prompt", "tokens=1 @@");
  raw("Generate", prompt, "request.prompt: not valid UTF-8 (byte 9 of the string");
  const wv1::GenerateRequest id = MakeGenerateRequest("raw-id@@", "tokens=1");
  raw("Generate", id, "envelope.request_id: not valid UTF-8 (byte 6 of the string");
  {
    std::string truncated = MakeGenerateRequest("raw-cut", "tokens=1").SerializeAsString();
    truncated.pop_back();
    cases.push_back({"Generate", &wv1::GenerateRequest::default_instance(), truncated,
                     "runs past the end of the message"});
  }
  wv1::ClassifyRequest classify;
  classify.mutable_request()->add_inputs()->set_text("x");
  classify.mutable_request()->add_candidate_labels("ok");
  classify.mutable_request()->add_candidate_labels("@@");
  raw("Classify", classify, "request.candidate_labels[1]: not valid UTF-8 (byte 0 of the string");
  wv1::RerankRequest rerank;
  rerank.mutable_request()->set_query("q@@");
  rerank.mutable_request()->add_documents("d");
  raw("Rerank", rerank, "request.query: not valid UTF-8 (byte 1 of the string");
  wv1::EmbedRequest embed;
  embed.mutable_request()->add_inputs("fine");
  embed.mutable_request()->add_inputs("x@@");
  raw("Embed", embed, "request.inputs[1]: not valid UTF-8 (byte 1 of the string");
  wv1::TokenizeRequest tokenize;
  tokenize.mutable_request()->set_text("abc@@");
  raw("Tokenize", tokenize, "request.text: not valid UTF-8 (byte 3 of the string");
  wv1::DetokenizeRequest detokenize;
  detokenize.mutable_request()->set_model("@@");
  detokenize.mutable_request()->add_token_ids(65);
  raw("Detokenize", detokenize, "request.model: not valid UTF-8 (byte 0 of the string");
  // Field 1 with wire type 7: no such wire type.
  cases.push_back({"GetInfo", &wv1::GetInfoRequest::default_instance(), std::string("\x0f", 1),
                   "request: invalid wire type 7 at byte 0"});
  cases.push_back({"Drain", &wv1::DrainRequest::default_instance(), std::string("\x0f", 1),
                   "request: invalid wire type 7 at byte 0"});
  ASSERT_EQ(cases.size(), 10u);

  for (const Case& c : cases) {
    std::unique_ptr<google::protobuf::Message> parsed(c.type->New());
    ASSERT_FALSE(parsed->ParseFromString(c.bytes)) << c.method << ": " << c.message;
    const RawCallResult r = RawCall(channel_, "/jetserve.worker.v1.Worker/" + c.method, c.bytes);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << c.method << ": " << r.status.error_code() << " " << r.status.error_message();
    EXPECT_THAT(r.status.error_message(), HasSubstr(c.message)) << c.method;
    EXPECT_EQ(r.messages, 0) << c.method;
  }
  WaitForNoCallsInFlight();
  EXPECT_TRUE(backend_->events().empty());
  auto count = [&](const char* method) {
    return Metric("jetserve_worker_requests_total",
                  {{"model", kModel}, {"method", method}, {"code", "INVALID_ARGUMENT"}});
  };
  EXPECT_EQ(count("Generate"), 3.0);
  for (const char* method : {"Classify", "Rerank", "Embed", "Tokenize", "Detokenize"}) {
    EXPECT_EQ(count(method), 1.0) << method;
  }

  // Still serving, and not draining: the same kind of calls with good bytes go through.
  EXPECT_EQ(*HealthStatus(channel_, ""), kServing);
  GenerateResult good = RunGenerate(*stub_, MakeGenerateRequest("after", "tokens=2"));
  EXPECT_TRUE(good.status.ok()) << good.status.error_message();
  EXPECT_EQ(good.messages.size(), 2u);
  const RawCallResult embedded =
      RawCall(channel_, "/jetserve.worker.v1.Worker/Embed", embed.SerializeAsString());
  EXPECT_TRUE(embedded.status.ok()) << embedded.status.error_message();
  EXPECT_EQ(embedded.messages, 1);
  grpc::ClientContext ctx;
  wv1::WorkerInfo info;
  ASSERT_TRUE(stub_->GetInfo(&ctx, wv1::GetInfoRequest(), &info).ok());
  EXPECT_EQ(info.state(), wv1::WORKER_STATE_SERVING);
}

TEST_F(WorkerServerTest, DrainRefusesNewCallsAndLetsRunningOnesFinish) {
  grpc::ClientContext ctx;
  auto reader = stub_->Generate(&ctx, MakeGenerateRequest("running", "tokens=30 delay_ms=20"));
  jetserve::v1::GenerateResponse response;
  ASSERT_TRUE(reader->Read(&response));

  grpc::ClientContext drain_ctx;
  wv1::DrainRequest drain;  // grace 0: wait indefinitely
  wv1::DrainResponse drained;
  ASSERT_TRUE(stub_->Drain(&drain_ctx, drain, &drained).ok());
  EXPECT_EQ(drained.running_requests(), 1);

  EXPECT_EQ(*HealthStatus(channel_, ""), kNotServing);
  EXPECT_EQ(*HealthStatus(channel_, "jetserve.worker.v1.Worker"), kNotServing);
  EXPECT_EQ(*HealthStatus(channel_, kModel), kNotServing);
  GenerateResult refused = RunGenerate(*stub_, MakeGenerateRequest("new", "tokens=1"));
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(refused.status.error_message(), "worker is draining");
  grpc::ClientContext embed_ctx;
  wv1::EmbedRequest embed;
  embed.mutable_request()->add_inputs("x");
  jetserve::v1::EmbedResponse vectors;
  grpc::Status embed_status = stub_->Embed(&embed_ctx, embed, &vectors);
  EXPECT_EQ(embed_status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(backend_->CountEvents("start", "new"), 0);

  grpc::ClientContext info_ctx;
  wv1::WorkerInfo info;
  ASSERT_TRUE(stub_->GetInfo(&info_ctx, wv1::GetInfoRequest(), &info).ok());
  EXPECT_EQ(info.state(), wv1::WORKER_STATE_DRAINING);

  int received = 1;
  while (reader->Read(&response)) ++received;
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(received, 30);
}

TEST_F(WorkerServerTest, DrainGracePeriodCancelsWhatIsLeft) {
  grpc::ClientContext ctx;
  auto reader = stub_->Generate(&ctx, MakeGenerateRequest("long", "tokens=100000 delay_ms=5"));
  jetserve::v1::GenerateResponse response;
  ASSERT_TRUE(reader->Read(&response));
  grpc::ClientContext drain_ctx;
  wv1::DrainRequest drain;
  drain.set_grace_period_ms(200);
  wv1::DrainResponse drained;
  ASSERT_TRUE(stub_->Drain(&drain_ctx, drain, &drained).ok());
  while (reader->Read(&response)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(backend_->WaitForEvent("cancelled", "long", absl::Seconds(5)).has_value());
  EXPECT_TRUE(server_->WaitForIdle(absl::Now() + absl::Seconds(5)));
}

TEST_F(WorkerServerTest, MetricsCountExactly) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        RunGenerate(*stub_, MakeGenerateRequest(absl::StrCat("ok", i), "tokens=5")).status.ok());
  }
  EXPECT_EQ(RunGenerate(*stub_, MakeGenerateRequest("f", "tokens=5 fail_at=2")).status.error_code(),
            grpc::StatusCode::INTERNAL);
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext ctx;
    wv1::TokenizeRequest request;
    request.mutable_request()->set_text("abc");
    jetserve::v1::TokenizeResponse response;
    ASSERT_TRUE(stub_->Tokenize(&ctx, request, &response).ok());
  }
  grpc::ClientContext ctx;
  wv1::DetokenizeRequest bad;
  bad.mutable_request()->add_token_ids(-1);
  jetserve::v1::DetokenizeResponse text;
  EXPECT_EQ(stub_->Detokenize(&ctx, bad, &text).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  WaitForNoCallsInFlight();

  auto count = [&](const char* method, const char* code) {
    return Metric("jetserve_worker_requests_total",
                  {{"model", kModel}, {"method", method}, {"code", code}});
  };
  EXPECT_EQ(count("Generate", "OK"), 3.0);
  EXPECT_EQ(count("Generate", "INTERNAL"), 1.0);
  EXPECT_EQ(count("Tokenize", "OK"), 2.0);
  EXPECT_EQ(count("Detokenize", "INVALID_ARGUMENT"), 1.0);
  EXPECT_EQ(count("Embed", "OK"), std::nullopt);
  auto duration = [&](const char* method) {
    return Metric("jetserve_worker_request_duration_seconds",
                  {{"model", kModel}, {"method", method}});
  };
  EXPECT_EQ(duration("Generate"), 4.0);
  EXPECT_EQ(duration("Tokenize"), 2.0);
  EXPECT_EQ(duration("Detokenize"), 1.0);
  EXPECT_EQ(Metric("jetserve_worker_requests_in_flight", {{"model", kModel}}), 0.0);
  EXPECT_EQ(Metric("jetserve_worker_queue_depth", {{"model", kModel}}), 0.0);
  // 3 x 5 tokens + 2 before the failure; prompts "tokens=5" (8 bytes) x 3 + 18 bytes.
  EXPECT_EQ(Metric("jetserve_worker_generated_tokens_total", {{"model", kModel}}), 17.0);
  EXPECT_EQ(Metric("jetserve_worker_prompt_tokens_total", {{"model", kModel}}), 3 * 8.0 + 18.0);
  EXPECT_EQ(Metric("jetserve_worker_time_to_first_token_seconds", {{"model", kModel}}), 4.0);
  EXPECT_EQ(Metric("jetserve_worker_time_per_output_token_seconds", {{"model", kModel}}),
            3 * 4.0 + 1.0);
  EXPECT_EQ(Metric("jetserve_worker_kv_cache_blocks", {{"model", kModel}, {"state", "free"}}),
            1024.0);
}

TEST_F(WorkerServerTest, ManyConcurrentStreamsWithCancelsAndDeadlinesAllEnd) {
  constexpr int kStreams = 48;
  std::vector<std::thread> clients;
  std::atomic<int> ok{0}, cancelled{0}, deadline{0};
  for (int i = 0; i < kStreams; ++i) {
    clients.emplace_back([&, i] {
      const std::string id = absl::StrCat("s", i);
      grpc::ClientContext ctx;
      if (i % 3 == 2)
        ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(300 + 5 * i)));
      auto reader =
          stub_->Generate(&ctx, MakeGenerateRequest(id, i % 3 == 0 ? "tokens=30 delay_ms=1"
                                                                   : "tokens=100000 delay_ms=1"));
      jetserve::v1::GenerateResponse response;
      int read = 0;
      while (reader->Read(&response)) {
        if (i % 3 == 1 && ++read == 1 + i % 7) ctx.TryCancel();
      }
      const grpc::Status status = reader->Finish();
      if (status.ok()) ok.fetch_add(1);
      if (status.error_code() == grpc::StatusCode::CANCELLED) cancelled.fetch_add(1);
      if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) deadline.fetch_add(1);
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(ok.load(), kStreams / 3);
  EXPECT_EQ(cancelled.load(), kStreams / 3);
  EXPECT_EQ(deadline.load(), kStreams / 3);
  WaitForNoCallsInFlight();
  EXPECT_TRUE(server_->WaitForIdle(absl::Now() + absl::Seconds(5)));
  for (int i = 0; i < kStreams; ++i) {
    const std::string id = absl::StrCat("s", i);
    const char* end = i % 3 == 0 ? "finished" : i % 3 == 1 ? "cancelled" : "deadline";
    std::string seen;
    for (const FakeEvent& e : backend_->events()) {
      if (e.request_id == id && e.event != "token") absl::StrAppend(&seen, e.event, "@", e.n, " ");
    }
    EXPECT_TRUE(backend_->WaitForEvent(end, id, absl::Seconds(5)).has_value())
        << id << " expected " << end << ", saw " << seen;
  }
  grpc::ClientContext ctx;
  wv1::WorkerInfo info;
  ASSERT_TRUE(stub_->GetInfo(&ctx, wv1::GetInfoRequest(), &info).ok());
  EXPECT_EQ(info.running_requests(), 0);
}

class WorkerServerUnixTest : public WorkerServerTest {
 protected:
  void SetUp() override {
    socket_path_ = absl::StrCat("/tmp/jetserve-worker-test-", getpid(), ".sock");
    StartServer("unix:" + socket_path_);
  }
  void TearDown() override { unlink(socket_path_.c_str()); }
  std::string socket_path_;
};

TEST_F(WorkerServerUnixTest, ServesOnUnixSocket) {
  EXPECT_EQ(server_->address(), "unix:" + socket_path_);
  GenerateResult r = RunGenerate(*stub_, MakeGenerateRequest("unix", "tokens=3"));
  EXPECT_TRUE(r.status.ok());
  EXPECT_EQ(r.messages.size(), 3u);
}

TEST(WorkerServerStartTest, BusyPortIsAClearError) {
  prometheus::Registry registry;
  worker::WorkerMetrics metrics(registry, kModel);
  absl::StatusOr<std::unique_ptr<worker::WorkerServer>> first = worker::WorkerServer::Start(
      std::make_unique<FakeBackend>(FakeBackendOptions{}), &metrics,
      {.listen = {.host = "127.0.0.1", .port = 0}, .model_name = kModel});
  ASSERT_OK(first);
  absl::StatusOr<std::unique_ptr<worker::WorkerServer>> second = worker::WorkerServer::Start(
      std::make_unique<FakeBackend>(FakeBackendOptions{}), &metrics,
      {.listen = {.host = "127.0.0.1", .port = (*first)->port()}, .model_name = kModel});
  EXPECT_THAT(second, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("cannot listen on")));
}

}  // namespace
}  // namespace jetserve::testing
