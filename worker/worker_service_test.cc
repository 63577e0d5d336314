// The Backend contract as the worker enforces it, with minimal backends: unsupported
// tasks are UNIMPLEMENTED, and a backend that ignores flow control fails its call instead
// of growing the worker's memory.
#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jetserve/worker/v1/worker.grpc.pb.h"
#include "prometheus/registry.h"
#include "tests/testutil/status_matchers.h"
#include "worker/backend.h"
#include "worker/metrics.h"
#include "worker/worker_server.h"

namespace jetserve::worker {
namespace {

namespace wv1 = ::jetserve::worker::v1;
using ::testing::HasSubstr;

// Knows nothing but its name: every task falls back to Backend's UNIMPLEMENTED defaults.
class BareBackend : public Backend {
 public:
  jetserve::v1::ModelInfo Info() const override {
    jetserve::v1::ModelInfo info;
    info.set_name("bare");
    return info;
  }
  wv1::Capacity Capacity() const override {
    wv1::Capacity capacity;
    capacity.set_max_concurrent_requests(2);
    return capacity;
  }
  wv1::Memory Memory() const override { return {}; }
  BackendLoad Load() const override { return {}; }
};

// Writes as fast as it can, ignoring Writable(), until the stream refuses a message.
class FloodBackend final : public BareBackend {
 public:
  ~FloodBackend() override {
    if (producer_.joinable()) producer_.join();
  }
  void Generate(GenerateStream* stream) override {
    producer_ = std::thread([this, stream] {
      jetserve::v1::GenerateResponse response;
      response.set_text(std::string(1024, 'x'));
      while (stream->Write(response)) written_.fetch_add(1);
      stream->Finish(absl::OkStatus());
    });
  }
  std::atomic<int> written_{0};

 private:
  std::thread producer_;
};

class WorkerServiceTest : public ::testing::Test {
 protected:
  void Start(std::unique_ptr<Backend> backend, GenerateReactor::Options stream = {}) {
    metrics_ = std::make_unique<WorkerMetrics>(registry_, "bare");
    absl::StatusOr<std::unique_ptr<WorkerServer>> server = WorkerServer::Start(
        std::move(backend), metrics_.get(),
        {.listen = {.host = "127.0.0.1", .port = 0}, .model_name = "bare", .stream = stream});
    ASSERT_OK(server);
    server_ = *std::move(server);
    stub_ = wv1::Worker::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  }

  prometheus::Registry registry_;
  std::unique_ptr<WorkerMetrics> metrics_;
  std::unique_ptr<WorkerServer> server_;
  std::unique_ptr<wv1::Worker::Stub> stub_;
};

TEST_F(WorkerServiceTest, UnsupportedTasksAreUnimplemented) {
  Start(std::make_unique<BareBackend>());
  grpc::ClientContext c1;
  wv1::EmbedRequest embed;
  embed.mutable_request()->add_inputs("x");
  jetserve::v1::EmbedResponse vectors;
  grpc::Status status = stub_->Embed(&c1, embed, &vectors);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(status.error_message(), "model \"bare\" does not support Embed");

  grpc::ClientContext c2;
  auto reader = stub_->Generate(&c2, wv1::GenerateRequest());
  jetserve::v1::GenerateResponse response;
  EXPECT_FALSE(reader->Read(&response));
  status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(status.error_message(), "model \"bare\" does not support Generate");

  for (const char* method : {"Classify", "Rerank", "Tokenize", "Detokenize"}) {
    grpc::ClientContext ctx;
    jetserve::v1::TokenizeResponse tokens;
    jetserve::v1::DetokenizeResponse text;
    jetserve::v1::ClassifyResponse labels;
    jetserve::v1::RerankResponse ranked;
    const std::string m = method;
    grpc::Status s = m == "Classify"   ? stub_->Classify(&ctx, {}, &labels)
                     : m == "Rerank"   ? stub_->Rerank(&ctx, {}, &ranked)
                     : m == "Tokenize" ? stub_->Tokenize(&ctx, {}, &tokens)
                                       : stub_->Detokenize(&ctx, {}, &text);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED) << method;
    EXPECT_THAT(s.error_message(), HasSubstr(method));
  }
}

TEST_F(WorkerServiceTest, BackendIgnoringFlowControlFailsTheCall) {
  auto backend = std::make_unique<FloodBackend>();
  FloodBackend* flood = backend.get();
  Start(std::move(backend), {.max_queued = 4, .hard_limit = 64});
  grpc::ClientContext ctx;
  auto reader = stub_->Generate(&ctx, wv1::GenerateRequest());
  // Do not read until the producer has been stopped.
  const absl::Time until = absl::Now() + absl::Seconds(20);
  int last = -1;
  while (absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(100));
    const int now = flood->written_.load();
    if (now == last) break;
    last = now;
  }
  jetserve::v1::GenerateResponse response;
  while (reader->Read(&response)) {
  }
  const grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("must respect Writable()"));
  // Bounded: what the transport took, plus the hard limit.
  EXPECT_LT(flood->written_.load(), 2000);
}

TEST_F(WorkerServiceTest, DrainWithNegativeGraceIsInvalid) {
  Start(std::make_unique<BareBackend>());
  grpc::ClientContext ctx;
  wv1::DrainRequest drain;
  drain.set_grace_period_ms(-5);
  wv1::DrainResponse drained;
  grpc::Status status = stub_->Drain(&ctx, drain, &drained);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("grace_period_ms"));
}

}  // namespace
}  // namespace jetserve::worker
