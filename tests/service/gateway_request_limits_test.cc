// Hostile and out-of-range requests against a real gateway (fake workers behind it): each
// documented limit is refused with the documented code before the call reaches a worker
// (the fake worker's event log shows no start), a 100 MB prompt is refused without
// harming the gateway, and a small request right after each one works.
#include <stdio.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gateway/metrics.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/service/gateway_harness.h"

namespace jetserve::testing {
namespace {

namespace v1 = ::jetserve::v1;
using ::jetserve::gateway::GrpcCodeName;
using ::testing::HasSubstr;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCheckRss = false;  // ASan's quarantine holds freed memory
#else
constexpr bool kCheckRss = true;
#endif

class GatewayRequestLimitsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    std::string config = absl::StrFormat(
        R"({"listen": "127.0.0.1:0", "workerBinary": "%s", "runtimeDir": "%s/run",
            "supervision": {"healthInterval": "0.2s", "drainGracePeriod": "1s",
                            "killGracePeriod": "1s"},
            "limits": {"maxTokens": 4096},
            "models": [{"name": "m", "path": "/models/m",
                        "local": {"args": ["--fake-event-log=%s"]}}]})",
        FakeWorkerBinary(), dir_->path(), dir_->File("m.events"));
    auto gw = GatewayProcess::Start(*dir_, config);
    ASSERT_TRUE(gw.ok()) << gw.status();
    gateway_ = gw->release();
    ASSERT_TRUE(WaitForHealth(gateway_->channel(), "m", 1, absl::Seconds(30))) << gateway_->log();
  }
  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(gateway_, nullptr); }

  // The gateway still answers: health SERVING and a small Generate streams its tokens.
  static void ExpectHealthy() {
    EXPECT_EQ(HealthOf(gateway_->channel(), "m"), 1);
    GenerateResult r = RunGenerate(gateway_->stub(), "m", "tokens=2");
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_EQ(r.text(), "[m #0][m #1]");
  }

  static grpc::Status Call(const v1::GenerateRequest& request, const std::string& id) {
    grpc::ClientContext context;
    context.AddMetadata("x-request-id", id);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    auto reader = gateway_->stub().Generate(&context, request);
    v1::GenerateResponse response;
    while (reader->Read(&response)) {
    }
    return reader->Finish();
  }

  static TempDir* dir_;
  static GatewayProcess* gateway_;
};

TempDir* GatewayRequestLimitsTest::dir_ = nullptr;
GatewayProcess* GatewayRequestLimitsTest::gateway_ = nullptr;

TEST_F(GatewayRequestLimitsTest, HundredMegabytePromptIsRefusedAndTheGatewayKeepsServing) {
  v1::GenerateRequest request;
  request.set_model("m");
  request.set_prompt(std::string(100 << 20, 'x'));
  // gRPC 1.51 assembles the whole message before refusing it (the gateway's memory peaks
  // near 100 MB per such call); five in a row must not accumulate: a leak would add
  // 500 MB.
  constexpr int kTries = 5;
  std::vector<int64_t> rss = {gateway_->RssKib()};
  for (int i = 0; i < kTries; ++i) {
    const std::string id = absl::StrCat("huge-prompt-", i);
    const grpc::Status status = Call(request, id);
    // Above limits.max_request_bytes (4 MiB): gRPC refuses the message itself.
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr("larger than max"));
    ExpectHealthy();
    EXPECT_EQ(CountEvents(dir_->File("m.events"), "start", id), 0);
    rss.push_back(gateway_->RssKib());
  }
  fprintf(stderr, "100 MB prompt x%d: gateway RSS (KiB)", kTries);
  for (int64_t v : rss) fprintf(stderr, " %lld", static_cast<long long>(v));
  fprintf(stderr, "\n");
  if (kCheckRss) {
    EXPECT_LT(rss[kTries] - rss[0], 300 * 1024);
  }

  // Under the request limit but over limits.max_prompt_bytes (1 MiB).
  request.set_prompt(std::string((1 << 20) + 1, 'x'));
  const grpc::Status over = Call(request, "big-prompt");
  EXPECT_EQ(over.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(over.error_message(), HasSubstr("prompt: at most 1048576 bytes, got 1048577"));
  ExpectHealthy();
  EXPECT_EQ(CountEvents(dir_->File("m.events"), "start", "big-prompt"), 0);
}

TEST_F(GatewayRequestLimitsTest, OutOfRangeGenerateFieldsAreInvalidArgument) {
  struct Case {
    std::string name;
    std::function<void(v1::GenerateRequest*)> edit;
    std::string message;
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<Case> cases = {
      {"nan-temperature", [&](auto* r) { r->mutable_sampling()->set_temperature(nan); },
       "sampling.temperature: must be a finite number"},
      {"inf-top-p", [&](auto* r) { r->mutable_sampling()->set_top_p(inf); },
       "sampling.top_p: must be a finite number"},
      {"negative-top-k", [](auto* r) { r->mutable_sampling()->set_top_k(-1); },
       "sampling.top_k: must be >= 0"},
      {"nan-logit-bias", [&](auto* r) { (*r->mutable_sampling()->mutable_logit_bias())[5] = nan; },
       "sampling.logit_bias: value for token 5 is not finite"},
      {"zero-max-tokens", [](auto* r) { r->mutable_stop()->set_max_tokens(0); },
       "stop.max_tokens: must be at least 1, got 0"},
      {"negative-max-tokens", [](auto* r) { r->mutable_stop()->set_max_tokens(-5); },
       "stop.max_tokens: must be at least 1, got -5"},
      {"huge-max-tokens", [](auto* r) { r->mutable_stop()->set_max_tokens(2000000000); },
       "stop.max_tokens: must be at most 4096, got 2000000000"},
      {"negative-min-tokens", [](auto* r) { r->mutable_stop()->set_min_tokens(-1); },
       "stop.min_tokens: must be >= 0"},
      {"17-stop-strings",
       [](auto* r) {
         for (int i = 0; i < 17; ++i) r->mutable_stop()->add_stop(absl::StrCat("s", i));
       },
       "stop.stop: at most 16 strings, got 17"},
      {"long-stop-string", [](auto* r) { r->mutable_stop()->add_stop(std::string(257, 'a')); },
       "stop.stop[0]: must have 1 to 256 bytes, got 257"},
      {"empty-stop-string", [](auto* r) { r->mutable_stop()->add_stop(""); },
       "stop.stop[0]: must have 1 to 256 bytes, got 0"},
      {"negative-stop-token", [](auto* r) { r->mutable_stop()->add_stop_token_ids(-3); },
       "stop.stop_token_ids: token id -3 is negative"},
      {"top-logprobs-21", [](auto* r) { r->mutable_logprobs()->set_top_logprobs(21); },
       "logprobs.top_logprobs: must be in [0, 20], got 21"},
      {"top-logprobs-negative", [](auto* r) { r->mutable_logprobs()->set_top_logprobs(-1); },
       "logprobs.top_logprobs: must be in [0, 20], got -1"},
      {"n-0", [](auto* r) { r->set_n(0); }, "n: must be in [1, 16], got 0"},
      {"n-17", [](auto* r) { r->set_n(17); }, "n: must be in [1, 16], got 17"},
      {"empty-prompt", [](auto* r) { r->set_prompt(""); }, "prompt: must not be empty"},
      {"no-input", [](auto* r) { r->clear_input(); }, "input: set prompt or chat"},
      {"empty-chat", [](auto* r) { r->mutable_chat(); }, "chat.messages: at least one message"},
  };
  for (const Case& c : cases) {
    v1::GenerateRequest request;
    request.set_model("m");
    request.set_prompt("tokens=1");
    c.edit(&request);
    const grpc::Status status = Call(request, c.name);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << c.name << ": " << std::string(GrpcCodeName(status.error_code())) << " "
        << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message)) << c.name;
    EXPECT_EQ(CountEvents(dir_->File("m.events"), "start", c.name), 0) << c.name;
  }
  ExpectHealthy();
}

TEST_F(GatewayRequestLimitsTest, InvalidUtf8PromptIsRefusedAndHarmless) {
  // proto3 strings must be UTF-8: the request does not parse. The typed client logs an
  // error and sends the bytes anyway.
  v1::GenerateRequest request;
  request.set_model("m");
  request.set_prompt(std::string("tokens=1 \xff\xfe\xc3", 12));
  const grpc::Status status = Call(request, "bad-utf8");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << std::string(GrpcCodeName(status.error_code())) << " " << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("prompt: not valid UTF-8 (byte 9 of the string"));
  EXPECT_EQ(CountEvents(dir_->File("m.events"), "start", "bad-utf8"), 0);
  ExpectHealthy();
}

// Requests that do not parse, sent as raw bytes: INVALID_ARGUMENT naming the field (not
// gRPC's UNIMPLEMENTED for a request that fails to deserialize), on every method, logged
// and counted like other refused calls; nothing reaches the worker.
TEST_F(GatewayRequestLimitsTest, RequestsThatDoNotParseAreInvalidArgument) {
  // Serializes `message` with its placeholder "@@" replaced by two bytes that are not UTF-8
  // (0xFF never occurs in UTF-8; C3 followed by '(' is a cut-short sequence).
  auto raw = [](const google::protobuf::Message& message) {
    std::string wire = message.SerializeAsString();
    const size_t at = wire.find("@@");
    EXPECT_NE(at, std::string::npos);
    if (at != std::string::npos) wire.replace(at, 2, "\xff\xc3");
    return wire;
  };
  struct Case {
    std::string id;
    std::string method;
    std::string bytes;
    std::string message;
  };
  std::vector<Case> cases;
  {
    v1::GenerateRequest r;
    r.set_model("m");
    r.set_prompt("tokens=1 @@");
    cases.push_back({"raw-prompt", "Generate", raw(r), "prompt: not valid UTF-8 (byte 9 "});
    r.mutable_chat()->add_messages()->set_content("tokens=1");
    r.mutable_chat()->add_messages()->set_content("a@@");
    cases.push_back(
        {"raw-chat", "Generate", raw(r), "chat.messages[1].content: not valid UTF-8 (byte 1 "});
    r.set_prompt("tokens=1");
    r.mutable_stop()->add_stop("@@");
    cases.push_back({"raw-stop", "Generate", raw(r), "stop.stop[0]: not valid UTF-8 (byte 0 "});
    std::string truncated = r.SerializeAsString();
    truncated.pop_back();
    cases.push_back({"raw-truncated", "Generate", truncated, "runs past the end of the message"});
  }
  {
    v1::EmbedRequest r;
    r.set_model("m");
    r.add_inputs("fine");
    r.add_inputs("x@@");
    cases.push_back({"raw-embed", "Embed", raw(r), "inputs[1]: not valid UTF-8 (byte 1 "});
  }
  {
    v1::ClassifyRequest r;
    r.set_model("m");
    r.add_inputs()->set_text("x");
    r.add_candidate_labels("@@");
    cases.push_back(
        {"raw-classify", "Classify", raw(r), "candidate_labels[0]: not valid UTF-8 (byte 0 "});
  }
  {
    v1::RerankRequest r;
    r.set_model("m");
    r.set_query("q@@");
    r.add_documents("d");
    cases.push_back({"raw-rerank", "Rerank", raw(r), "query: not valid UTF-8 (byte 1 "});
  }
  {
    v1::TokenizeRequest r;
    r.set_model("m");
    r.set_text("@@");
    cases.push_back({"raw-tokenize", "Tokenize", raw(r), "text: not valid UTF-8 (byte 0 "});
  }
  {
    v1::GetModelRequest r;
    r.set_name("m@@");
    cases.push_back({"raw-get-model", "GetModel", raw(r), "name: not valid UTF-8 (byte 1 "});
  }
  // Field 1, wire type 7: no such wire type.
  cases.push_back(
      {"raw-list", "ListModels", std::string("\x0f", 1), "request: invalid wire type 7 at byte 0"});

  for (const Case& c : cases) {
    const RawCallResult r = RawCall(gateway_->channel(), "/jetserve.v1.Jetserve/" + c.method,
                                    c.bytes, {{"x-request-id", c.id}});
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << c.id << ": " << std::string(GrpcCodeName(r.status.error_code())) << " "
        << r.status.error_message();
    EXPECT_THAT(r.status.error_message(), HasSubstr(c.message)) << c.id;
    EXPECT_EQ(r.messages, 0) << c.id;
    EXPECT_EQ(CountEvents(dir_->File("m.events"), "start", c.id), 0) << c.id;
  }
  // The routed methods log the refusal under the caller's request id.
  EXPECT_EQ(gateway_->LogLines({"\"request_id\":\"raw-embed\"", "INVALID_ARGUMENT"}).size(), 1u)
      << gateway_->log();
  EXPECT_EQ(gateway_
                ->LogLines({"\"request_id\":\"raw-chat\"", "\"method\":\"Generate\"",
                            "INVALID_ARGUMENT", "chat.messages[1].content"})
                .size(),
            1u);
  // The same bytes made valid go through: the refusal was the bytes, not the method.
  {
    v1::EmbedRequest r;
    r.set_model("m");
    r.add_inputs("fine");
    const RawCallResult ok =
        RawCall(gateway_->channel(), "/jetserve.v1.Jetserve/Embed", r.SerializeAsString());
    EXPECT_TRUE(ok.status.ok()) << ok.status.error_message();
    EXPECT_EQ(ok.messages, 1);
  }
  ExpectHealthy();
}

TEST_F(GatewayRequestLimitsTest, TextsPerEncodeCallAreBounded) {
  auto check = [](grpc::Status status, const std::string& message) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(message));
  };
  auto& stub = gateway_->stub();
  {
    v1::EmbedRequest r;
    r.set_model("m");
    v1::EmbedResponse out;
    grpc::ClientContext c1;
    check(stub.Embed(&c1, r, &out), "inputs: at least one is required");
    for (int i = 0; i < 257; ++i) r.add_inputs("x");
    grpc::ClientContext c2;
    check(stub.Embed(&c2, r, &out), "inputs: at most 256 per call, got 257");
    r.mutable_inputs()->RemoveLast();
    grpc::ClientContext c3;
    EXPECT_TRUE(stub.Embed(&c3, r, &out).ok());  // exactly 256 pass
    EXPECT_EQ(out.embeddings_size(), 256);
    r.set_dimensions(0);
    grpc::ClientContext c4;
    check(stub.Embed(&c4, r, &out), "dimensions: must be at least 1, got 0");
  }
  {
    v1::ClassifyRequest r;
    r.set_model("m");
    r.add_inputs()->set_text("x");
    for (int i = 0; i < 65; ++i) r.add_candidate_labels(absl::StrCat("l", i));
    v1::ClassifyResponse out;
    grpc::ClientContext c1;
    check(stub.Classify(&c1, r, &out), "candidate_labels: at most 64 labels, got 65");
    r.clear_candidate_labels();
    r.set_top_k(-1);
    grpc::ClientContext c2;
    check(stub.Classify(&c2, r, &out), "top_k: must be >= 0");
  }
  {
    v1::RerankRequest r;
    r.set_model("m");
    r.add_documents("d");
    v1::RerankResponse out;
    grpc::ClientContext c1;
    check(stub.Rerank(&c1, r, &out), "query: required");
    r.set_query("q");
    for (int i = 0; i < 1024; ++i) r.add_documents("d");
    grpc::ClientContext c2;
    check(stub.Rerank(&c2, r, &out), "documents: at most 1024 per call, got 1025");
    r.mutable_documents()->RemoveLast();
    r.set_top_n(-2);
    grpc::ClientContext c3;
    check(stub.Rerank(&c3, r, &out), "top_n: must be >= 0");
  }
  {
    v1::DetokenizeRequest r;
    r.set_model("m");
    r.add_token_ids(-1);
    v1::DetokenizeResponse out;
    grpc::ClientContext c1;
    check(stub.Detokenize(&c1, r, &out), "token_ids: token id -1 is negative");
  }
  ExpectHealthy();
}

}  // namespace
}  // namespace jetserve::testing
